// Checks shared by the image decoders, made before any pixel buffer is allocated.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "mnist/error.hpp"
#include "mnist/image.hpp"

namespace mnist::io {

/// Throws Error naming the image when a side is zero or the image is larger than the library accepts.
inline void check_image_size(std::size_t width, std::size_t height, std::string_view name) {
  if (width == 0 || height == 0)
    throw Error(std::string(name) + ": image has a zero dimension (" + std::to_string(width) + "x" +
                std::to_string(height) + ")");
  if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels)
    throw Error(std::string(name) + ": image is too large (" + std::to_string(width) + "x" + std::to_string(height) +
                "; at most " + std::to_string(kMaxImageSide) + " pixels a side and " +
                std::to_string(kMaxImagePixels >> 20) + " Mpixel)");
}

}  // namespace mnist::io
