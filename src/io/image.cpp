// Reading and writing images: format detection by content, atomic PNG output, terminal rendering.
#include "mnist/image.hpp"

#include <string>

#include "io/jpeg_codec.hpp"
#include "io/png_codec.hpp"
#include "mnist/error.hpp"
#include "util/files.hpp"

namespace mnist {

GrayImage decode_image(std::span<const std::uint8_t> bytes, std::string_view name) {
  if (bytes.empty()) throw Error(std::string(name) + ": empty file, expected a PNG or JPEG image");
  if (io::looks_like_png(bytes)) return io::decode_png(bytes, name);
  if (io::looks_like_jpeg(bytes)) return io::decode_jpeg(bytes, name);
  throw Error(std::string(name) + ": not a PNG or JPEG image");
}

GrayImage read_image(const std::filesystem::path& path) {
  std::vector<std::uint8_t> bytes = util::read_file_bytes(path);
  return decode_image(bytes, path.string());
}

void write_png(const std::filesystem::path& path, const GrayImage& image) {
  std::vector<std::uint8_t> bytes = io::encode_png(image, path.string());
  util::write_file_atomically(path, bytes);
}

std::string ascii_art(std::span<const std::uint8_t> pixels, std::size_t rows, std::size_t cols) {
  if (pixels.size() != rows * cols)
    throw Error("ascii_art: " + std::to_string(pixels.size()) + " pixels for a " + std::to_string(rows) + "x" +
                std::to_string(cols) + " image");
  static constexpr std::string_view ramp = " .:-=+*#%@";  // darkest to brightest
  std::string art;
  art.reserve(rows * (2 * cols + 1));
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      char shade = ramp[pixels[r * cols + c] * ramp.size() / 256];
      art += shade;
      art += shade;
    }
    art += '\n';
  }
  return art;
}

}  // namespace mnist
