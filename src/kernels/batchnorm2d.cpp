#include "kernels/batchnorm2d.hpp"

#include <cmath>

namespace mnist::kernels {

// Channel c of sample n is the HW values at x[(n·C + c)·HW]. Sums in double, as PyTorch's CPU kernel accumulates;
// the per-element transforms in float as y = x·alpha + shift (PyTorch's form).

namespace {
// Eight partial sums, lane = pixel index mod 8, each over n, then pixel, in order; added in one fixed order at the
// end. One chain would wait on the adder's latency at every element (measured: 3-4x slower); this order is fixed by
// the shapes, so a channel's sums are the same bits whoever computes them.
struct Lanes {
  double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double total() const { return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); }
};

// sum += Σ f(i) over the plane's HW pixels, lane i mod 8.
template <class F>
void add_plane(Lanes& sum, std::size_t HW, F f) {
  std::size_t i = 0;
  for (; i + 8 <= HW; i += 8)
    for (std::size_t k = 0; k < 8; ++k) sum.l[k] += f(i + k);
  for (; i < HW; ++i) sum.l[i % 8] += f(i);
}
}  // namespace

void batchnorm2d_forward_train(std::span<float> y, std::span<float> mean, std::span<float> invstd,
                               std::span<float> running_mean, std::span<float> running_var,
                               std::span<const float> x, std::span<const float> gamma, std::span<const float> beta,
                               std::size_t N, std::size_t C, std::size_t HW, float momentum, float eps,
                               std::size_t c0, std::size_t c1) {
  const std::size_t M = N * HW;
  if (M == 0) return;
  for (std::size_t c = c0; c < c1; ++c) {
    Lanes sum, sq;
    for (std::size_t n = 0; n < N; ++n) {
      const float* xc = x.data() + (n * C + c) * HW;
      add_plane(sum, HW, [&](std::size_t i) { return static_cast<double>(xc[i]); });
    }
    const double mu = sum.total() / static_cast<double>(M);
    for (std::size_t n = 0; n < N; ++n) {  // two passes: the variance of values far from 0 does not cancel away
      const float* xc = x.data() + (n * C + c) * HW;
      add_plane(sq, HW, [&](std::size_t i) {
        const double d = xc[i] - mu;
        return d * d;
      });
    }
    const double squares = sq.total(), var = squares / static_cast<double>(M);
    const double is = 1.0 / std::sqrt(var + static_cast<double>(eps));
    mean[c] = static_cast<float>(mu);
    invstd[c] = static_cast<float>(is);
    const double unbiased = M > 1 ? squares / static_cast<double>(M - 1) : var;
    const double m = momentum;
    running_mean[c] = static_cast<float>((1 - m) * running_mean[c] + m * mu);
    running_var[c] = static_cast<float>((1 - m) * running_var[c] + m * unbiased);
    const auto alpha = static_cast<float>(is * gamma[c]);
    const auto shift = static_cast<float>(beta[c] - mu * is * gamma[c]);
    for (std::size_t n = 0; n < N; ++n) {
      const float* xc = x.data() + (n * C + c) * HW;
      float* yc = y.data() + (n * C + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) yc[i] = xc[i] * alpha + shift;
    }
  }
}

void batchnorm2d_forward_eval(std::span<float> y, std::span<const float> x, std::span<const float> running_mean,
                              std::span<const float> running_var, std::span<const float> gamma,
                              std::span<const float> beta, std::size_t N, std::size_t C, std::size_t HW, float eps,
                              std::size_t c0, std::size_t c1) {
  for (std::size_t c = c0; c < c1; ++c) {
    const double is = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + static_cast<double>(eps));
    const auto alpha = static_cast<float>(is * gamma[c]);
    const auto shift = static_cast<float>(beta[c] - running_mean[c] * is * gamma[c]);
    for (std::size_t n = 0; n < N; ++n) {
      const float* xc = x.data() + (n * C + c) * HW;
      float* yc = y.data() + (n * C + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) yc[i] = xc[i] * alpha + shift;
    }
  }
}

void batchnorm2d_backward(std::span<float> dx, std::span<float> dgamma, std::span<float> dbeta,
                          std::span<const float> dy, std::span<const float> x, std::span<const float> mean,
                          std::span<const float> invstd, std::span<const float> gamma, std::size_t N, std::size_t C,
                          std::size_t HW, std::size_t c0, std::size_t c1) {
  const std::size_t M = N * HW;
  if (M == 0) return;
  for (std::size_t c = c0; c < c1; ++c) {
    const double mu = mean[c], is = invstd[c];
    Lanes sum_g, dot_g;  // Σ dy and Σ dy·(x − mean)
    for (std::size_t n = 0; n < N; ++n) {
      const float* xc = x.data() + (n * C + c) * HW;
      const float* g = dy.data() + (n * C + c) * HW;
      add_plane(sum_g, HW, [&](std::size_t i) { return static_cast<double>(g[i]); });
      add_plane(dot_g, HW, [&](std::size_t i) { return g[i] * (xc[i] - mu); });
    }
    const double sum_dy = sum_g.total(), dot = dot_g.total();
    dbeta[c] += static_cast<float>(sum_dy);
    dgamma[c] += static_cast<float>(dot * is);
    // dx = (dy − Σdy/M − (x − mean)·k)·invstd·gamma with k = Σ dy·(x − mean)·invstd²/M, as
    // dx = gamma·invstd/M·(M·dy − Σdy − xhat·Σ dy·xhat): folded into dx = dy·a + x·b + d.
    const double k = dot * is * is / static_cast<double>(M), scale = is * gamma[c];
    const auto a = static_cast<float>(scale);
    const auto b = static_cast<float>(-k * scale);
    const auto d = static_cast<float>((mu * k - sum_dy / static_cast<double>(M)) * scale);
    for (std::size_t n = 0; n < N; ++n) {
      const float* xc = x.data() + (n * C + c) * HW;
      const float* g = dy.data() + (n * C + c) * HW;
      float* dxc = dx.data() + (n * C + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) dxc[i] = g[i] * a + (xc[i] * b + d);
    }
  }
}

}  // namespace mnist::kernels
