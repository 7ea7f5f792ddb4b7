// Elementwise activation kernels.
#pragma once
#include <cstddef>
#include <span>

namespace mnist::kernels {

/// out[n] = max(inp[n], 0) for n < count (out may alias inp).
void relu_forward(std::span<float> out, std::span<const float> inp, std::size_t count);

/// dinp[n] = out[n] > 0 ? dout[n] : 0, with out the forward's output (PyTorch's convention: gradient 0 at 0).
/// dinp may alias dout.
void relu_backward(std::span<float> dinp, std::span<const float> dout, std::span<const float> out, std::size_t count);

}  // namespace mnist::kernels
