#include "io/png_codec.hpp"

#include <png.h>

#include <cstring>
#include <string>

#include "io/image_checks.hpp"
#include "mnist/error.hpp"

namespace mnist::io {
namespace {

// png_image owns libpng state until png_image_free; this frees it on every path, exceptions included.
struct PngImageGuard {
  png_image image;
  PngImageGuard() {
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
  }
  ~PngImageGuard() { png_image_free(&image); }
  PngImageGuard(const PngImageGuard&) = delete;
  PngImageGuard& operator=(const PngImageGuard&) = delete;
};

[[noreturn]] void fail(std::string_view name, const char* what, const png_image& image) {
  std::string detail = image.message[0] != '\0' ? std::string(image.message) : std::string("unknown libpng error");
  throw Error(std::string(name) + ": " + what + ": " + detail);
}

}  // namespace

bool looks_like_png(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0;
}

GrayImage decode_png(std::span<const std::uint8_t> bytes, std::string_view name) {
  PngImageGuard guard;
  png_image& image = guard.image;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()))
    fail(name, "corrupt PNG header", image);
  check_image_size(image.width, image.height, name);

  image.format = PNG_FORMAT_GRAY;  // 8-bit, sRGB-encoded; libpng reduces 16-bit and converts colour for us
  GrayImage out;
  out.width = image.width;
  out.height = image.height;
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  png_color white{255, 255, 255};  // transparent pixels are composited on this
  if (!png_image_finish_read(&image, &white, out.pixels.data(), 0, nullptr))
    fail(name, "corrupt or truncated PNG", image);
  if (image.warning_or_error & PNG_IMAGE_ERROR) fail(name, "corrupt or truncated PNG", image);
  return out;
}

std::vector<std::uint8_t> encode_png(const GrayImage& img, std::string_view name) {
  check_image_size(img.width, img.height, name);
  if (img.pixels.size() != img.width * img.height)
    throw Error(std::string(name) + ": image has " + std::to_string(img.pixels.size()) + " pixels, expected " +
                std::to_string(img.width) + "x" + std::to_string(img.height));
  PngImageGuard guard;
  png_image& image = guard.image;
  image.width = static_cast<png_uint_32>(img.width);
  image.height = static_cast<png_uint_32>(img.height);
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  // First call measures, second call writes.
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, img.pixels.data(), 0, nullptr))
    fail(name, "cannot encode PNG", image);
  std::vector<std::uint8_t> bytes(size);
  if (!png_image_write_to_memory(&image, bytes.data(), &size, 0, img.pixels.data(), 0, nullptr))
    fail(name, "cannot encode PNG", image);
  bytes.resize(size);
  return bytes;
}

}  // namespace mnist::io
