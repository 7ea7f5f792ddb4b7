// Grayscale images: reading PNG/JPEG of any kind, writing PNG, MNIST-style preprocessing, terminal art.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mnist {

/// An 8-bit grayscale image, row-major, 0 = black, 255 = white.
struct GrayImage {
  std::size_t width = 0;             ///< columns, in pixels
  std::size_t height = 0;            ///< rows, in pixels
  std::vector<std::uint8_t> pixels;  ///< [height][width], row-major, width * height bytes
};

/// Largest width or height read_image/decode_image accept, checked before any pixel is allocated.
inline constexpr std::size_t kMaxImageSide = 16384;
/// Largest pixel count (width * height) read_image/decode_image accept: 64 Mi pixels.
inline constexpr std::size_t kMaxImagePixels = std::size_t{64} << 20;

/// Reads a PNG or JPEG (recognised by its first bytes, not its extension) of any bit depth or colour type as
/// 8-bit grayscale; transparency is composited on white. Throws mnist::Error naming the file when it cannot be
/// read, is not an image, is truncated or corrupt, or has a zero or oversized dimension.
GrayImage read_image(const std::filesystem::path& path);

/// Same as read_image on bytes already in memory; name_for_errors is the name used in error messages.
GrayImage decode_image(std::span<const std::uint8_t> bytes, std::string_view name_for_errors);

/// Writes an 8-bit grayscale PNG, atomically (temporary file, then rename). Throws mnist::Error naming the file.
void write_png(const std::filesystem::path& path, const GrayImage& image);

/// Makes a photo or scan of one digit look like an MNIST image, the way MNIST itself was made: dark background
/// (inverted when the border of the picture is light), the ink cropped to its bounding box, scaled with
/// anti-aliasing to fit 20x20 keeping its aspect ratio, and placed in 28x28 with its centre of mass at (14, 14).
/// Throws mnist::Error when the image is blank (no ink stands out from the background).
GrayImage preprocess_digit(const GrayImage& image);

/// The image drawn with a shade ramp (" .:-=+*#%@", darkest first), two characters per pixel so that it looks
/// square; one line per row, each ending in '\n'. pixels is [rows][cols].
std::string ascii_art(std::span<const std::uint8_t> pixels, std::size_t rows, std::size_t cols);

}  // namespace mnist
