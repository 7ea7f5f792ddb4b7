// Image reading/writing, error paths and MNIST-style preprocessing. Fixtures are made here with libpng/libjpeg.
#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/image.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using mnist::GrayImage;
using mnist::testing::TempDir;
using mnist::testing::read_file;
using mnist::testing::write_file;

namespace {

// A PNG through libpng's simplified writer: format is a PNG_FORMAT_* value, pixels match it.
std::vector<std::uint8_t> png_bytes(std::uint32_t width, std::uint32_t height, std::uint32_t format,
                                    const void* pixels, const void* colormap = nullptr, std::uint32_t entries = 0) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = format;
  image.colormap_entries = entries;
  png_alloc_size_t size = 0;
  EXPECT_TRUE(png_image_write_to_memory(&image, nullptr, &size, 0, pixels, 0, colormap)) << image.message;
  std::vector<std::uint8_t> bytes(size);
  EXPECT_TRUE(png_image_write_to_memory(&image, bytes.data(), &size, 0, pixels, 0, colormap)) << image.message;
  bytes.resize(size);
  return bytes;
}

// A JPEG through libjpeg: components 1 (gray) or 3 (RGB), pixels interleaved row-major.
std::vector<std::uint8_t> jpeg_bytes(unsigned width, unsigned height, int components,
                                     const std::vector<std::uint8_t>& pixels, bool progressive = false) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 95, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < height) {
    JSAMPROW row = const_cast<JSAMPROW>(&pixels[cinfo.next_scanline * width * static_cast<unsigned>(components)]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<std::uint8_t> bytes(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return bytes;
}

GrayImage random_image(std::size_t width, std::size_t height, unsigned seed) {
  std::mt19937 rng(seed);
  GrayImage image{width, height, std::vector<std::uint8_t>(width * height)};
  for (auto& p : image.pixels) p = static_cast<std::uint8_t>(rng());
  return image;
}

std::vector<std::uint8_t> gray_gradient(unsigned width, unsigned height) {
  std::vector<std::uint8_t> pixels(width * height);
  for (unsigned r = 0; r < height; ++r)
    for (unsigned c = 0; c < width; ++c) pixels[r * width + c] = static_cast<std::uint8_t>((r * 7 + c * 5) % 256);
  return pixels;
}

// Expects read_image(path) to throw mnist::Error whose message names the file and contains `what`.
void expect_read_error(const fs::path& path, const std::string& what) {
  try {
    mnist::read_image(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const mnist::Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path().filename());
  std::sort(files.begin(), files.end());
  return files;
}

// Rewrites an IHDR chunk's width and height (and its CRC) in PNG bytes.
void set_png_size(std::vector<std::uint8_t>& png, std::uint32_t width, std::uint32_t height) {
  // Signature (8), length (4), "IHDR" (4), then width and height big-endian; CRC over type + 13 data bytes.
  for (int i = 0; i < 4; ++i) {
    png[16 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(width >> (24 - 8 * i));
    png[20 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(height >> (24 - 8 * i));
  }
  uLong crc = crc32(0, &png[12], 17);
  for (int i = 0; i < 4; ++i) png[29 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
}

}  // namespace

TEST(ImageIo, PngRoundTripIsExact) {
  TempDir dir;
  GrayImage image = random_image(37, 23, 1);
  mnist::write_png(dir / "a.png", image);
  GrayImage back = mnist::read_image(dir / "a.png");
  EXPECT_EQ(back.width, 37u);
  EXPECT_EQ(back.height, 23u);
  EXPECT_EQ(back.pixels, image.pixels);
  EXPECT_EQ(files_in(dir.path()), std::vector<fs::path>{"a.png"});  // no temporary left behind
}

TEST(ImageIo, FormatIsDetectedByContentNotExtension) {
  TempDir dir;
  GrayImage image = random_image(8, 5, 2);
  mnist::write_png(dir / "looks_like.jpg", image);
  EXPECT_EQ(mnist::read_image(dir / "looks_like.jpg").pixels, image.pixels);
  write_file(dir / "really.png", jpeg_bytes(16, 8, 1, gray_gradient(16, 8)));
  EXPECT_EQ(mnist::read_image(dir / "really.png").width, 16u);
}

TEST(ImageIo, SixteenBitGrayPngIsReducedTo8Bit) {
  std::vector<std::uint16_t> pixels = {0, 1000, 20000, 65535};  // linear light
  GrayImage image = mnist::decode_image(png_bytes(4, 1, PNG_FORMAT_LINEAR_Y, pixels.data()), "g16.png");
  ASSERT_EQ(image.pixels.size(), 4u);
  EXPECT_EQ(image.pixels[0], 0);
  EXPECT_EQ(image.pixels[3], 255);
  EXPECT_LT(image.pixels[1], image.pixels[2]);
  EXPECT_GT(image.pixels[1], 0);
}

TEST(ImageIo, RgbaPngIsGrayscaledAndCompositedOnWhite) {
  std::vector<std::uint8_t> pixels = {
      0,   0,   0,   255,  // opaque black
      255, 255, 255, 255,  // opaque white
      0,   0,   0,   0,    // fully transparent (black): white background shows
      255, 0,   0,   255,  // opaque red: luma, darker than mid grey's sRGB value of white
      0,   0,   0,   128,  // half-transparent black over white
  };
  GrayImage image = mnist::decode_image(png_bytes(5, 1, PNG_FORMAT_RGBA, pixels.data()), "rgba.png");
  ASSERT_EQ(image.pixels.size(), 5u);
  EXPECT_EQ(image.pixels[0], 0);
  EXPECT_EQ(image.pixels[1], 255);
  EXPECT_EQ(image.pixels[2], 255);
  EXPECT_GT(image.pixels[3], 30);
  EXPECT_LT(image.pixels[3], 160);
  EXPECT_GT(image.pixels[4], 80);
  EXPECT_LT(image.pixels[4], 240);
}

TEST(ImageIo, PalettePngIsExpanded) {
  std::vector<std::uint8_t> palette = {0, 0, 0, 255, 255, 255, 128, 128, 128};
  std::vector<std::uint8_t> indices = {0, 1, 2, 1, 0, 2};
  GrayImage image = mnist::decode_image(
      png_bytes(3, 2, PNG_FORMAT_RGB_COLORMAP, indices.data(), palette.data(), 3), "palette.png");
  EXPECT_EQ(image.pixels, (std::vector<std::uint8_t>{0, 255, 128, 255, 0, 128}));
}

TEST(ImageIo, GrayAndColourJpegsDecode) {
  std::vector<std::uint8_t> gradient = gray_gradient(40, 24);
  GrayImage gray = mnist::decode_image(jpeg_bytes(40, 24, 1, gradient), "gray.jpg");
  ASSERT_EQ(gray.width, 40u);
  ASSERT_EQ(gray.height, 24u);
  int worst = 0;
  for (std::size_t i = 0; i < gradient.size(); ++i) worst = std::max(worst, std::abs(gray.pixels[i] - gradient[i]));
  EXPECT_LE(worst, 12);

  std::vector<std::uint8_t> rgb;  // uniform mid grey and pure green halves
  for (int i = 0; i < 32 * 16; ++i) {
    bool left = (i % 32) < 16;
    rgb.insert(rgb.end(), {static_cast<std::uint8_t>(left ? 128 : 0), static_cast<std::uint8_t>(left ? 128 : 255),
                           static_cast<std::uint8_t>(left ? 128 : 0)});
  }
  GrayImage colour = mnist::decode_image(jpeg_bytes(32, 16, 3, rgb, true), "colour.jpg");
  EXPECT_NEAR(colour.pixels[8 * 32 + 4], 128, 4);
  EXPECT_NEAR(colour.pixels[8 * 32 + 28], 150, 8);  // luma of green: 0.587 * 255
}

TEST(ImageIo, BadFilesGiveOneLineErrorsNamingTheFile) {
  TempDir dir;
  std::vector<std::uint8_t> png = png_bytes(30, 30, PNG_FORMAT_GRAY, random_image(30, 30, 3).pixels.data());
  std::vector<std::uint8_t> jpeg = jpeg_bytes(64, 64, 1, gray_gradient(64, 64));

  write_file(dir / "empty.png", {});
  expect_read_error(dir / "empty.png", "empty");
  write_file(dir / "text.png", {'h', 'e', 'l', 'l', 'o', '\n'});
  expect_read_error(dir / "text.png", "not a PNG or JPEG");
  expect_read_error(dir / "missing.png", "cannot open");
  fs::create_directory(dir / "folder.png");
  expect_read_error(dir / "folder.png", "directory");

  write_file(dir / "truncated.png", std::vector<std::uint8_t>(png.begin(), png.begin() + static_cast<long>(png.size() / 2)));
  expect_read_error(dir / "truncated.png", "PNG");
  write_file(dir / "header_only.png", std::vector<std::uint8_t>(png.begin(), png.begin() + 20));
  expect_read_error(dir / "header_only.png", "PNG");
  std::vector<std::uint8_t> corrupt = png;
  for (std::size_t i = 45; i < 60; ++i) corrupt[i] ^= 0x5A;  // inside IDAT: CRC and zlib stream break
  write_file(dir / "corrupt.png", corrupt);
  expect_read_error(dir / "corrupt.png", "PNG");

  write_file(dir / "truncated.jpg", std::vector<std::uint8_t>(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2)));
  expect_read_error(dir / "truncated.jpg", "JPEG");
  write_file(dir / "magic_only.jpg", {0xFF, 0xD8, 0xFF});
  expect_read_error(dir / "magic_only.jpg", "JPEG");
}

TEST(ImageIo, ClaimedDimensionsAreCheckedBeforeAllocating) {
  TempDir dir;
  std::vector<std::uint8_t> png = png_bytes(4, 4, PNG_FORMAT_GRAY, std::vector<std::uint8_t>(16, 7).data());
  set_png_size(png, 100000, 100000);  // 10^10 pixels claimed by a file of ~80 bytes
  write_file(dir / "huge.png", png);
  expect_read_error(dir / "huge.png", "too large");
  set_png_size(png, 20000, 10);  // one side over the limit
  write_file(dir / "wide.png", png);
  expect_read_error(dir / "wide.png", "too large");
  set_png_size(png, 0, 4);
  write_file(dir / "zero.png", png);
  expect_read_error(dir / "zero.png", "PNG");  // libpng itself rejects a zero width as an invalid header

  std::vector<std::uint8_t> jpeg = jpeg_bytes(16, 16, 1, gray_gradient(16, 16));
  std::size_t sof = 0;  // the baseline start-of-frame marker FF C0
  while (sof + 1 < jpeg.size() && !(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;
  ASSERT_LT(sof + 9, jpeg.size());
  std::size_t at = sof + 5;  // FF C0, length (2), precision (1), then height and width
  jpeg[at] = 0xEA, jpeg[at + 1] = 0x60, jpeg[at + 2] = 0xEA, jpeg[at + 3] = 0x60;  // 60000 x 60000
  write_file(dir / "huge.jpg", jpeg);
  expect_read_error(dir / "huge.jpg", "too large");
}

TEST(ImageIo, DamagedBytesNeverCrash) {
  std::vector<std::uint8_t> png = png_bytes(24, 24, PNG_FORMAT_GRAY, random_image(24, 24, 4).pixels.data());
  std::vector<std::uint8_t> jpeg = jpeg_bytes(24, 24, 3, std::vector<std::uint8_t>(24 * 24 * 3, 90));
  std::mt19937 rng(5);
  int errors = 0;
  for (const auto* original : {&png, &jpeg})
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<std::uint8_t> bytes = *original;
      for (int k = 0; k < 4; ++k) bytes[3 + rng() % (bytes.size() - 3)] = static_cast<std::uint8_t>(rng());
      if (trial % 3 == 0) bytes.resize(3 + rng() % (bytes.size() - 3));
      try {
        GrayImage image = mnist::decode_image(bytes, "fuzz");
        EXPECT_EQ(image.pixels.size(), image.width * image.height);
      } catch (const mnist::Error& e) {
        EXPECT_NE(std::string(e.what()).find("fuzz"), std::string::npos);
        ++errors;
      }
    }
  EXPECT_GT(errors, 100);  // the damage is real: most variants are rejected
}

TEST(ImageIo, FailedWritesThrowAndLeaveNothing) {
  TempDir dir;
  GrayImage image = random_image(5, 5, 6);
  fs::create_directory(dir / "target.png");
  EXPECT_THROW(mnist::write_png(dir / "target.png", image), mnist::Error);
  EXPECT_THROW(mnist::write_png(dir / "no" / "such" / "dir.png", image), mnist::Error);
  EXPECT_THROW(mnist::write_png(dir / "bad.png", GrayImage{5, 5, std::vector<std::uint8_t>(3)}), mnist::Error);
  EXPECT_THROW(mnist::write_png(dir / "empty.png", GrayImage{}), mnist::Error);
  EXPECT_EQ(files_in(dir.path()), std::vector<fs::path>{"target.png"});
  EXPECT_TRUE(fs::is_empty(dir / "target.png"));
}

namespace {

struct InkStats {
  double row_centre, col_centre;
  std::size_t box_height, box_width;
};

InkStats ink_stats(const GrayImage& image) {
  double mass = 0, rows = 0, cols = 0;
  std::size_t top = image.height, bottom = 0, left = image.width, right = 0;
  for (std::size_t r = 0; r < image.height; ++r)
    for (std::size_t c = 0; c < image.width; ++c) {
      double v = image.pixels[r * image.width + c];
      mass += v, rows += v * static_cast<double>(r), cols += v * static_cast<double>(c);
      if (v > 0) top = std::min(top, r), bottom = std::max(bottom, r), left = std::min(left, c), right = std::max(right, c);
    }
  return {rows / mass, cols / mass, bottom - top + 1, right - left + 1};
}

// A big dark "7" on light, slightly noisy paper, off-centre towards the top left.
GrayImage photo_of_a_seven() {
  GrayImage photo{400, 300, std::vector<std::uint8_t>(400 * 300)};
  std::mt19937 rng(7);
  for (std::size_t r = 0; r < 300; ++r)
    for (std::size_t c = 0; c < 400; ++c) {
      bool bar = r >= 30 && r < 55 && c >= 40 && c < 220;
      double along = (static_cast<double>(r) - 30) / 200;  // diagonal from (30, 220) down to (230, 120)
      double stroke_c = 220 - 100 * along;
      bool diagonal = r >= 30 && r < 230 && static_cast<double>(c) > stroke_c - 25 && static_cast<double>(c) <= stroke_c;
      int v = (bar || diagonal) ? 40 : 210;
      photo.pixels[r * 400 + c] = static_cast<std::uint8_t>(std::clamp(v + static_cast<int>(rng() % 21) - 10, 0, 255));
    }
  return photo;
}

}  // namespace

TEST(Preprocess, PhotoOfADigitBecomesAnMnistStyleImage) {
  GrayImage digit = mnist::preprocess_digit(photo_of_a_seven());
  ASSERT_EQ(digit.width, 28u);
  ASSERT_EQ(digit.height, 28u);
  InkStats s = ink_stats(digit);
  EXPECT_NEAR(s.row_centre, 14.0, 1.0);
  EXPECT_NEAR(s.col_centre, 14.0, 1.0);
  EXPECT_LE(s.box_height, 20u);
  EXPECT_LE(s.box_width, 20u);
  EXPECT_GE(s.box_height, 19u);  // the longer side fills the 20-pixel box
  EXPECT_EQ(*std::max_element(digit.pixels.begin(), digit.pixels.end()), 255);  // ink white at full strength
  EXPECT_EQ(digit.pixels[0], 0);  // background black: the light paper was inverted
  EXPECT_EQ(digit.pixels[27 * 28 + 27], 0);
}

TEST(Preprocess, KeepsAspectRatioAndHandlesSmallInputs) {
  GrayImage bar{50, 300, std::vector<std::uint8_t>(50 * 300, 0)};  // a thin upright "1", white on black
  for (std::size_t r = 50; r < 250; ++r)
    for (std::size_t c = 20; c < 30; ++c) bar.pixels[r * 50 + c] = 255;
  InkStats s = ink_stats(mnist::preprocess_digit(bar));
  EXPECT_LE(s.box_height, 20u);
  EXPECT_LE(s.box_width, 3u);
  EXPECT_NEAR(s.col_centre, 14.0, 1.0);

  GrayImage tiny{6, 6, std::vector<std::uint8_t>(36, 255)};  // enlarged, not just copied
  tiny.pixels[2 * 6 + 3] = tiny.pixels[3 * 6 + 3] = 0;
  s = ink_stats(mnist::preprocess_digit(tiny));
  EXPECT_GE(s.box_height, 15u);
  EXPECT_NEAR(s.row_centre, 14.0, 1.0);
}

TEST(Preprocess, BlankImagesAreRejected) {
  EXPECT_THROW(mnist::preprocess_digit(GrayImage{30, 30, std::vector<std::uint8_t>(900, 255)}), mnist::Error);
  EXPECT_THROW(mnist::preprocess_digit(GrayImage{30, 30, std::vector<std::uint8_t>(900, 0)}), mnist::Error);
  GrayImage faint{30, 30, std::vector<std::uint8_t>(900, 200)};
  faint.pixels[400] = 190;  // barely darker than the paper: not a digit
  EXPECT_THROW(mnist::preprocess_digit(faint), mnist::Error);
  EXPECT_THROW(mnist::preprocess_digit(GrayImage{3, 3, {}}), mnist::Error);
}

TEST(Preprocess, RealMnistDigitsComeBackUnchanged) {
  // An MNIST image already is what preprocessing produces: it must come back almost unchanged.
  auto dir = mnist::testing::mnist_test_dir();
  if (!dir) GTEST_SKIP() << "../shared/data/mnist not present";
  gzFile f = gzopen((*dir / "t10k-images-idx3-ubyte.gz").c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::vector<std::uint8_t> bytes(16 + 20 * 784);
  ASSERT_EQ(gzread(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
  for (std::size_t k = 0; k < 20; ++k) {
    GrayImage original{28, 28, std::vector<std::uint8_t>(bytes.begin() + static_cast<long>(16 + k * 784),
                                                       bytes.begin() + static_cast<long>(16 + (k + 1) * 784))};
    GrayImage again = mnist::preprocess_digit(original);
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < 784; ++i)
      diff += std::abs(again.pixels[i] - original.pixels[i]), norm += original.pixels[i];
    EXPECT_LT(diff / norm, 0.02) << "image " << k;  // measured: at most 0.006 on the first 20
    InkStats s = ink_stats(again);
    EXPECT_NEAR(s.row_centre, 14.0, 1.0);
    EXPECT_NEAR(s.col_centre, 14.0, 1.0);
  }
}

TEST(AsciiArt, TwoCharactersPerPixelOnAShadeRamp) {
  std::vector<std::uint8_t> pixels = {0, 255, 128, 30, 200, 0};
  EXPECT_EQ(mnist::ascii_art(pixels, 2, 3), "  @@++\n..##  \n");
  EXPECT_THROW(mnist::ascii_art(pixels, 2, 2), mnist::Error);
}
