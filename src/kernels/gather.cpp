#include "kernels/gather.hpp"

namespace mnist::kernels {

void gather_batch(std::span<float> out_x, std::span<std::int32_t> out_y, std::span<const std::uint8_t> images_u8,
                  std::span<const std::uint8_t> labels_u8, std::span<const std::size_t> indices, std::size_t B,
                  std::size_t D) {
  // Division (not multiplication by 1/255) so the floats equal torchvision's ToTensor bit for bit.
  for (std::size_t b = 0; b < B; ++b) {
    const std::uint8_t* src = images_u8.data() + indices[b] * D;
    float* dst = out_x.data() + b * D;
    for (std::size_t d = 0; d < D; ++d) dst[d] = static_cast<float>(src[d]) / 255.0f;
    out_y[b] = labels_u8[indices[b]];
  }
}

}  // namespace mnist::kernels
