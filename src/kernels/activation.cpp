#include "kernels/activation.hpp"

namespace mnist::kernels {

void relu_forward(std::span<float> out, std::span<const float> inp, std::size_t count) {
  for (std::size_t n = 0; n < count; ++n) out[n] = inp[n] > 0.0f ? inp[n] : 0.0f;
}

void relu_backward(std::span<float> dinp, std::span<const float> dout, std::span<const float> out,
                   std::size_t count) {
  // dout[n] is read whatever the sign: written as `out[n] > 0 ? dout[n] : 0`, the read is conditional, the
  // compiler keeps a branch per element, and half of them are mispredicted (measured: 3.3% of a training run).
  for (std::size_t n = 0; n < count; ++n) {
    const float d = dout[n];
    dinp[n] = out[n] > 0.0f ? d : 0.0f;
  }
}

}  // namespace mnist::kernels
