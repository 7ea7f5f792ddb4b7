#include "kernels/pool2d.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mnist::kernels {

void maxpool2d_forward(std::span<float> y_, std::span<std::uint32_t> argmax_, std::span<const float> x_,
                       const Pool2dShape& s, std::size_t p0, std::size_t p1) {
  const std::size_t OH = s.OH(), OW = s.OW(), in = s.H * s.W, out = OH * OW;
  for (std::size_t plane = p0; plane < p1; ++plane) {
    const float* x = x_.data() + plane * in;
    float* y = y_.data() + plane * out;
    std::uint32_t* argmax = argmax_.data() + plane * out;
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox) {
        // PyTorch's loop: start below everything at the window's first index; a larger value or a NaN takes over,
        // so ties keep the first maximum and a NaN (the last one) wins.
        const std::size_t first = oy * s.stride * s.W + ox * s.stride;
        float best = -std::numeric_limits<float>::infinity();
        std::size_t at = first;
        for (std::size_t ky = 0; ky < s.K; ++ky)
          for (std::size_t kx = 0; kx < s.K; ++kx) {
            const std::size_t i = first + ky * s.W + kx;
            const float v = x[i];
            if (v > best || std::isnan(v)) {
              best = v;
              at = i;
            }
          }
        y[oy * OW + ox] = best;
        argmax[oy * OW + ox] = static_cast<std::uint32_t>(at);
      }
  }
}

void maxpool2d_backward(std::span<float> dx_, std::span<const float> dy_, std::span<const std::uint32_t> argmax_,
                        const Pool2dShape& s, std::size_t p0, std::size_t p1) {
  const std::size_t in = s.H * s.W, out = s.OH() * s.OW();
  for (std::size_t plane = p0; plane < p1; ++plane) {
    float* dx = dx_.data() + plane * in;
    const float* dy = dy_.data() + plane * out;
    const std::uint32_t* argmax = argmax_.data() + plane * out;
    std::fill(dx, dx + in, 0.0f);
    for (std::size_t o = 0; o < out; ++o) dx[argmax[o]] += dy[o];
  }
}

void avgpool2d_forward(std::span<float> y_, std::span<const float> x_, const Pool2dShape& s, std::size_t p0,
                       std::size_t p1) {
  const std::size_t OH = s.OH(), OW = s.OW(), in = s.H * s.W, out = OH * OW;
  const auto count = static_cast<float>(s.K * s.K);
  for (std::size_t plane = p0; plane < p1; ++plane) {
    const float* x = x_.data() + plane * in;
    float* y = y_.data() + plane * out;
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox) {
        const float* w = x + oy * s.stride * s.W + ox * s.stride;
        float sum = 0.0f;  // row-major window order, then one division (PyTorch's sum / divide_factor)
        for (std::size_t ky = 0; ky < s.K; ++ky)
          for (std::size_t kx = 0; kx < s.K; ++kx) sum += w[ky * s.W + kx];
        y[oy * OW + ox] = sum / count;
      }
  }
}

void avgpool2d_backward(std::span<float> dx_, std::span<const float> dy_, const Pool2dShape& s, std::size_t p0,
                        std::size_t p1) {
  const std::size_t OH = s.OH(), OW = s.OW(), in = s.H * s.W, out = OH * OW;
  const auto count = static_cast<float>(s.K * s.K);
  for (std::size_t plane = p0; plane < p1; ++plane) {
    float* dx = dx_.data() + plane * in;
    const float* dy = dy_.data() + plane * out;
    std::fill(dx, dx + in, 0.0f);
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox) {
        const float g = dy[oy * OW + ox] / count;
        float* w = dx + oy * s.stride * s.W + ox * s.stride;
        for (std::size_t ky = 0; ky < s.K; ++ky)
          for (std::size_t kx = 0; kx < s.K; ++kx) w[ky * s.W + kx] += g;
      }
  }
}

}  // namespace mnist::kernels
