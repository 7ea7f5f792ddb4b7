// Writes the seed corpora of the fuzz targets from valid files, one directory per target:
//   fuzz_make_seeds OUT_DIR [SHARED_DIR]
// OUT_DIR/idx, idx_gz, safetensors, image, model_spec. Everything is generated here with the library's own
// writers (and libpng/libjpeg for the image kinds the library does not write); with SHARED_DIR (../shared) it
// adds snippets of the real MNIST files and the PyTorch reference checkpoints. Deterministic: same files each run.
#include <cstddef>
#include <cstdio>  // before jpeglib.h, which uses size_t and FILE without including them
#include <cstdlib>

#include <jpeglib.h>
#include <png.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "gzip_bytes.hpp"
#include "mnist/idx.hpp"
#include "mnist/image.hpp"
#include "mnist/nn.hpp"
#include "mnist/safetensors.hpp"
#include "util/files.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

void put(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::cerr << "cannot write " << path << "\n";
    std::exit(1);
  }
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes idx(std::uint8_t type, const std::vector<std::uint32_t>& dims, const Bytes& payload) {
  Bytes out = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(d >> shift));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 37 + i / 28 * 11) % 256);
  return b;
}

using mnist::fuzz::gzip_bytes;

// A hand-made safetensors file: header JSON as given (padded to 8), then the data bytes.
Bytes safetensors(std::string header, const Bytes& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  Bytes out(8);
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// A digit-like blob: a bright ring on dark, w x h, `channels` interleaved (gray, gray+alpha, RGB, RGBA).
Bytes blob(std::size_t w, std::size_t h, std::size_t channels) {
  Bytes px(w * h * channels);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) {
      double dx = (static_cast<double>(x) + 0.5) / static_cast<double>(w) - 0.5;
      double dy = (static_cast<double>(y) + 0.5) / static_cast<double>(h) - 0.5;
      double r2 = dx * dx + dy * dy;
      auto v = static_cast<std::uint8_t>(r2 > 0.04 && r2 < 0.12 ? 240 : 10);
      for (std::size_t c = 0; c < channels; ++c) px[(y * w + x) * channels + c] = c == 3 || (channels == 2 && c == 1) ? 200 : v;
    }
  return px;
}

Bytes png(std::size_t w, std::size_t h, png_uint_32 format) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(w);
  image.height = static_cast<png_uint_32>(h);
  image.format = format;
  const std::size_t channels = PNG_IMAGE_SAMPLE_CHANNELS(format), component = PNG_IMAGE_SAMPLE_COMPONENT_SIZE(format);
  Bytes px = blob(w, h, channels);
  Bytes wide(px.size() * component);
  for (std::size_t i = 0; i < px.size(); ++i)
    for (std::size_t k = 0; k < component; ++k) wide[i * component + k] = px[i];
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, wide.data(), 0, nullptr)) std::abort();
  Bytes out(size);
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, wide.data(), 0, nullptr)) std::abort();
  out.resize(size);
  return out;
}

Bytes jpeg(std::size_t w, std::size_t h, bool rgb, bool progressive, int quality) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* mem = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &mem, &size);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = rgb ? 3 : 1;
  c.in_color_space = rgb ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  Bytes px = blob(w, h, rgb ? 3 : 1);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = px.data() + c.next_scanline * w * (rgb ? 3 : 1);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes out(mem, mem + size);
  std::free(mem);
  return out;
}

Bytes state_dict(const std::string& spec) {
  mnist::Model model = mnist::make_model(spec, 7);
  mnist::SafetensorsWriter w;
  for (const mnist::NamedParameter& p : model.named_parameters()) w.add(p.name, p.shape, std::span<const float>(p.value));
  w.set_metadata("model", spec);
  w.set_metadata("epoch", "3");
  return w.bytes();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: fuzz_make_seeds OUT_DIR [SHARED_DIR]\n";
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path shared = argc > 2 ? fs::path(argv[2]) : fs::path();

  // IDX: generated arrays of every rank the reader accepts, and (below) slices of the real files.
  std::vector<std::pair<std::string, Bytes>> idx_seeds = {
      {"labels20", idx(0x08, {20}, pattern(20))},
      {"one", idx(0x08, {1}, {7})},
      {"images2x28x28", idx(0x08, {2, 28, 28}, pattern(2 * 784))},
      {"images3x4x5", idx(0x08, {3, 4, 5}, pattern(60))},
      {"rank4", idx(0x08, {2, 2, 3, 2}, pattern(24))},
      {"float32", idx(0x0D, {2}, pattern(8))},
  };
  if (!shared.empty() && fs::exists(shared / "data/mnist/t10k-images-idx3-ubyte.gz")) {
    const mnist::IdxArray images = mnist::read_idx(shared / "data/mnist/t10k-images-idx3-ubyte.gz");
    const mnist::IdxArray labels = mnist::read_idx(shared / "data/mnist/t10k-labels-idx1-ubyte.gz");
    idx_seeds.push_back({"t10k-images-first3", idx(0x08, {3, 28, 28}, Bytes(images.bytes.begin(), images.bytes.begin() + 3 * 784))});
    idx_seeds.push_back({"t10k-labels-first100", idx(0x08, {100}, Bytes(labels.bytes.begin(), labels.bytes.begin() + 100))});
    const Bytes real_labels = mnist::util::read_file_bytes(shared / "data/mnist/t10k-labels-idx1-ubyte.gz");
    put(out / "idx_gz/t10k-labels-idx1-ubyte.gz", real_labels);
  }
  for (const auto& [name, bytes] : idx_seeds) {
    put(out / "idx" / name, bytes);
    put(out / "idx_gz" / (name + ".gz"), gzip_bytes(bytes, 6));
    put(out / "idx_gz" / (name + ".stored.gz"), gzip_bytes(bytes, 0));
  }
  Bytes two_members = gzip_bytes(idx_seeds[0].second, 9);
  {
    Bytes second = gzip_bytes(Bytes{}, 9);
    two_members.insert(two_members.end(), second.begin(), second.end());
  }
  put(out / "idx_gz/two-members.gz", two_members);

  // safetensors: the library's checkpoints of small models, hand-made files of every dtype, empty tensors.
  for (const std::string spec : {"4-3-2", "4-3-relu-2", "2-2-relu-2-relu-2", "8-3"})
    put(out / "safetensors" / ("state-" + spec), state_dict(spec));
  {
    mnist::SafetensorsWriter w;
    std::vector<float> f = {1.5f, -2.0f, 0.0f, 3.25f};
    std::vector<std::int64_t> order = {3, 1, 0, 2};
    w.add("values", {2, 2}, std::span<const float>(f));
    w.add("train_order", {1, 4}, std::span<const std::int64_t>(order));
    w.set_metadata("lr", "0.1");
    put(out / "safetensors/writer-f32-i64", w.bytes());
  }
  put(out / "safetensors/dtypes",
      safetensors(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],)"
                  R"("data_offsets":[8,16]},"c":{"dtype":"U8","shape":[2,2],"data_offsets":[16,20]},)"
                  R"("__metadata__":{"k":"v"}})",
                  pattern(20)));
  put(out / "safetensors/empty-tensors",
      safetensors(R"({"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],)"
                  R"("data_offsets":[0,4]}})",
                  pattern(4)));
  put(out / "safetensors/nothing", safetensors("{}", {}));
  if (!shared.empty())
    for (const std::string name : {"logistic", "hidden", "hidden-relu"}) {
      const fs::path ref = shared / "reference/pytorch-sgd" / (name + ".safetensors");
      if (fs::exists(ref)) put(out / "safetensors" / ("reference-" + name), mnist::util::read_file_bytes(ref));
    }

  // Images: the library's own PNG writer, libpng's other formats, libjpeg baseline/progressive, gray/RGB.
  {
    mnist::GrayImage g{28, 28, blob(28, 28, 1)};
    const fs::path p = out / "image/writer-28x28.png";
    fs::create_directories(p.parent_path());
    mnist::write_png(p, g);
    mnist::write_png(out / "image/writer-1x1.png", mnist::GrayImage{1, 1, {200}});
    mnist::write_png(out / "image/writer-7x3.png", mnist::GrayImage{7, 3, blob(7, 3, 1)});
  }
  put(out / "image/rgb-16x12.png", png(16, 12, PNG_FORMAT_RGB));
  put(out / "image/rgba-9x9.png", png(9, 9, PNG_FORMAT_RGBA));
  put(out / "image/ga-8x5.png", png(8, 5, PNG_FORMAT_GA));
  put(out / "image/gray16-6x6.png", png(6, 6, PNG_FORMAT_LINEAR_Y));
  put(out / "image/gray-28x28-q90.jpg", jpeg(28, 28, false, false, 90));
  put(out / "image/rgb-20x16-q75.jpg", jpeg(20, 16, true, false, 75));
  put(out / "image/gray-17x9-progressive.jpg", jpeg(17, 9, false, true, 80));
  put(out / "image/rgb-12x12-progressive.jpg", jpeg(12, 12, true, true, 60));
  put(out / "image/gray-1x1.jpg", jpeg(1, 1, false, false, 50));

  // Model specs: presets, the grammar's shapes, and near misses.
  const std::vector<std::string> specs = {"logistic", "hidden", "hidden-relu", "784-10", "784-32-10",
                                          "784-32-relu-10", "784-128-relu-64-relu-10", "4-3-2", "2-ReLU-3",
                                          "784-relu-10", "10", "", "784--10", "784-1000000-10", "0-1"};
  for (std::size_t i = 0; i < specs.size(); ++i) put(out / "model_spec" / ("spec" + std::to_string(i)), text(specs[i]));
  std::cout << "seed corpora written to " << out.string() << "\n";
  return 0;
}
