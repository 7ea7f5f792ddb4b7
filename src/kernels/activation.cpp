#include "kernels/activation.hpp"

namespace mnist::kernels {

void relu_forward(std::span<float> out, std::span<const float> inp, std::size_t count) {
  for (std::size_t n = 0; n < count; ++n) out[n] = inp[n] > 0.0f ? inp[n] : 0.0f;
}

void relu_backward(std::span<float> dinp, std::span<const float> dout, std::span<const float> out,
                   std::size_t count) {
  for (std::size_t n = 0; n < count; ++n) dinp[n] = out[n] > 0.0f ? dout[n] : 0.0f;
}

}  // namespace mnist::kernels
