// JPEG decoding through libjpeg, with its fatal errors turned into mnist::Error.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "mnist/image.hpp"

namespace mnist::io {

/// True when bytes start with a JPEG start-of-image marker (FF D8 FF).
bool looks_like_jpeg(std::span<const std::uint8_t> bytes);

/// A baseline or progressive JPEG (grayscale or YCbCr) as 8-bit gray (its luma).
GrayImage decode_jpeg(std::span<const std::uint8_t> bytes, std::string_view name_for_errors);

}  // namespace mnist::io
