// PNG through libpng's simplified API, which reports errors as return values (no longjmp through our frames).
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mnist/image.hpp"

namespace mnist::io {

/// True when bytes start with the PNG signature.
bool looks_like_png(std::span<const std::uint8_t> bytes);

/// Any PNG (bit depth 1-16, gray/RGB/palette, with or without alpha) as 8-bit gray; alpha composited on white.
GrayImage decode_png(std::span<const std::uint8_t> bytes, std::string_view name_for_errors);

/// The bytes of an 8-bit grayscale PNG holding image.
std::vector<std::uint8_t> encode_png(const GrayImage& image, std::string_view name_for_errors);

}  // namespace mnist::io
