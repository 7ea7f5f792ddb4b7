#include "kernels/batchnorm2d.hpp"

#include <cmath>

namespace mnist::kernels {

// Channel c of sample n is the HW values at x[(n·C + c)·HW]. Sums in double over n, then pixel, as PyTorch's CPU
// kernel accumulates in double; the per-element transforms in float as y = x·alpha + shift (PyTorch's form).

void batchnorm2d_forward_train(std::span<float> y, std::span<float> mean, std::span<float> invstd,
                               std::span<float> running_mean, std::span<float> running_var,
                               std::span<const float> x, std::span<const float> gamma, std::span<const float> beta,
                               std::size_t N, std::size_t C, std::size_t HW, float momentum, float eps,
                               std::size_t c0, std::size_t c1) {
  const std::size_t M = N * HW;
  if (M == 0) return;
  for (std::size_t c = c0; c < c1; ++c) {
    double sum = 0;
    for (std::size_t n = 0; n < N; ++n) {
      const float* xc = x.data() + (n * C + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) sum += xc[i];
    }
    const double mu = sum / static_cast<double>(M);
    double squares = 0;  // two passes: the variance of values far from 0 does not cancel away
    for (std::size_t n = 0; n < N; ++n) {
      const float* xc = x.data() + (n * C + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) {
        const double d = xc[i] - mu;
        squares += d * d;
      }
    }
    const double var = squares / static_cast<double>(M);
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
    double sum_dy = 0, dot = 0;  // Σ dy and Σ dy·(x − mean)
    for (std::size_t n = 0; n < N; ++n) {
      const float* xc = x.data() + (n * C + c) * HW;
      const float* g = dy.data() + (n * C + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) {
        sum_dy += g[i];
        dot += g[i] * (xc[i] - mu);
      }
    }
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
