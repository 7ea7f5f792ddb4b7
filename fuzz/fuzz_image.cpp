// libFuzzer target: decode_image (PNG or JPEG, recognised by content) on any bytes, then the preprocessing that
// `mnist predict` applies. Only mnist::Error may come out; a decoded image has the size it claims, within limits.
#include <cstdint>
#include <cstdlib>

#include "mnist/error.hpp"
#include "mnist/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const mnist::GrayImage image = mnist::decode_image({data, size}, "fuzz.img");
    if (image.width == 0 || image.height == 0 || image.width > mnist::kMaxImageSide ||
        image.height > mnist::kMaxImageSide || image.pixels.size() != image.width * image.height)
      std::abort();
    const mnist::GrayImage digit = mnist::preprocess_digit(image);
    if (digit.width != 28 || digit.height != 28 || digit.pixels.size() != 784) std::abort();
  } catch (const mnist::Error&) {
  }
  return 0;
}
