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


// Σ x of channel c over the share's N samples.
double channel_sum(std::span<const float> x, std::size_t N, std::size_t C, std::size_t HW, std::size_t c) {
  Lanes sum;
  for (std::size_t n = 0; n < N; ++n) {
    const float* xc = x.data() + (n * C + c) * HW;
    add_plane(sum, HW, [&](std::size_t i) { return static_cast<double>(xc[i]); });
  }
  return sum.total();
}

// Σ (x − mu)² of channel c: two passes, so that the variance of values far from 0 does not cancel away.
double channel_squares(std::span<const float> x, double mu, std::size_t N, std::size_t C, std::size_t HW,
                       std::size_t c) {
  Lanes sq;
  for (std::size_t n = 0; n < N; ++n) {
    const float* xc = x.data() + (n * C + c) * HW;
    add_plane(sq, HW, [&](std::size_t i) {
      const double d = xc[i] - mu;
      return d * d;
    });
  }
  return sq.total();
}

// Channel c's statistics from its mean and squares over M values; y of the share's N samples.
void channel_normalise(std::span<float> y, std::span<float> mean, std::span<float> invstd,
                       std::span<float> running_mean, std::span<float> running_var, std::span<const float> x,
                       std::span<const float> gamma, std::span<const float> beta, double mu, double squares,
                       std::size_t M, std::size_t N, std::size_t C, std::size_t HW, float momentum, float eps,
                       std::size_t c) {
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

// Σ dy and Σ dy·(x − mu) of channel c over the share.
void channel_grad_sums(double& sum_dy, double& dot, std::span<const float> dy, std::span<const float> x, double mu,
                       std::size_t N, std::size_t C, std::size_t HW, std::size_t c) {
  Lanes sum_g, dot_g;
  for (std::size_t n = 0; n < N; ++n) {
    const float* xc = x.data() + (n * C + c) * HW;
    const float* g = dy.data() + (n * C + c) * HW;
    add_plane(sum_g, HW, [&](std::size_t i) { return static_cast<double>(g[i]); });
    add_plane(dot_g, HW, [&](std::size_t i) { return g[i] * (xc[i] - mu); });
  }
  sum_dy = sum_g.total();
  dot = dot_g.total();
}

// dgamma, dbeta += the share's sums; dx of the share from the whole batch's sums over M values.
void channel_dx(std::span<float> dx, std::span<float> dgamma, std::span<float> dbeta, std::span<const float> dy,
                std::span<const float> x, double mu, double is, float gamma, double local_sum_dy, double local_dot,
                double sum_dy, double dot, std::size_t M, std::size_t N, std::size_t C, std::size_t HW,
                std::size_t c) {
  dbeta[c] += static_cast<float>(local_sum_dy);
  dgamma[c] += static_cast<float>(local_dot * is);
  // dx = (dy − Σdy/M − (x − mean)·k)·invstd·gamma with k = Σ dy·(x − mean)·invstd²/M, as
  // dx = gamma·invstd/M·(M·dy − Σdy − xhat·Σ dy·xhat): folded into dx = dy·a + x·b + d.
  const double k = dot * is * is / static_cast<double>(M), scale = is * gamma;
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
}  // namespace

void batchnorm2d_forward_train(std::span<float> y, std::span<float> mean, std::span<float> invstd,
                               std::span<float> running_mean, std::span<float> running_var,
                               std::span<const float> x, std::span<const float> gamma, std::span<const float> beta,
                               std::size_t N, std::size_t C, std::size_t HW, float momentum, float eps,
                               std::size_t c0, std::size_t c1) {
  const std::size_t M = N * HW;
  if (M == 0) return;
  for (std::size_t c = c0; c < c1; ++c) {  // channel by channel: its values stay in cache for the three passes
    const double mu = channel_sum(x, N, C, HW, c) / static_cast<double>(M);
    channel_normalise(y, mean, invstd, running_mean, running_var, x, gamma, beta, mu,
                      channel_squares(x, mu, N, C, HW, c), M, N, C, HW, momentum, eps, c);
  }
}

void batchnorm2d_channel_sums(std::span<double> sum, std::span<const float> x, std::size_t N, std::size_t C,
                              std::size_t HW, std::size_t c0, std::size_t c1) {
  for (std::size_t c = c0; c < c1; ++c) sum[c] = channel_sum(x, N, C, HW, c);
}

void batchnorm2d_channel_squares(std::span<double> squares, std::span<const float> x, std::span<const double> mean,
                                 std::size_t N, std::size_t C, std::size_t HW, std::size_t c0, std::size_t c1) {
  for (std::size_t c = c0; c < c1; ++c) squares[c] = channel_squares(x, mean[c], N, C, HW, c);
}

void batchnorm2d_normalise_train(std::span<float> y, std::span<float> mean_out, std::span<float> invstd,
                                 std::span<float> running_mean, std::span<float> running_var,
                                 std::span<const float> x, std::span<const float> gamma, std::span<const float> beta,
                                 std::span<const double> mean, std::span<const double> squares, std::size_t M,
                                 std::size_t N, std::size_t C, std::size_t HW, float momentum, float eps,
                                 std::size_t c0, std::size_t c1) {
  if (M == 0) return;
  for (std::size_t c = c0; c < c1; ++c)
    channel_normalise(y, mean_out, invstd, running_mean, running_var, x, gamma, beta, mean[c], squares[c], M, N, C,
                      HW, momentum, eps, c);
}

ChannelAffine batchnorm2d_eval_affine(std::span<const float> running_mean, std::span<const float> running_var,
                                      std::span<const float> gamma, std::span<const float> beta, float eps,
                                      std::size_t c) {
  const double is = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + static_cast<double>(eps));
  return {static_cast<float>(is * gamma[c]), static_cast<float>(beta[c] - running_mean[c] * is * gamma[c])};
}

void batchnorm2d_forward_eval(std::span<float> y, std::span<const float> x, std::span<const float> running_mean,
                              std::span<const float> running_var, std::span<const float> gamma,
                              std::span<const float> beta, std::size_t N, std::size_t C, std::size_t HW, float eps,
                              std::size_t c0, std::size_t c1) {
  for (std::size_t c = c0; c < c1; ++c) {
    const auto [alpha, shift] = batchnorm2d_eval_affine(running_mean, running_var, gamma, beta, eps, c);
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
    double sum_dy = 0, dot = 0;
    channel_grad_sums(sum_dy, dot, dy, x, mean[c], N, C, HW, c);
    channel_dx(dx, dgamma, dbeta, dy, x, mean[c], invstd[c], gamma[c], sum_dy, dot, sum_dy, dot, M, N, C, HW, c);
  }
}

void batchnorm2d_backward_sums(std::span<double> sums, std::span<const float> dy, std::span<const float> x,
                               std::span<const float> mean, std::size_t N, std::size_t C, std::size_t HW,
                               std::size_t c0, std::size_t c1) {
  for (std::size_t c = c0; c < c1; ++c) channel_grad_sums(sums[2 * c], sums[2 * c + 1], dy, x, mean[c], N, C, HW, c);
}

void batchnorm2d_backward_apply(std::span<float> dx, std::span<float> dgamma, std::span<float> dbeta,
                                std::span<const float> dy, std::span<const float> x, std::span<const float> mean,
                                std::span<const float> invstd, std::span<const float> gamma,
                                std::span<const double> local, std::span<const double> total, std::size_t M,
                                std::size_t N, std::size_t C, std::size_t HW, std::size_t c0, std::size_t c1) {
  if (M == 0) return;
  for (std::size_t c = c0; c < c1; ++c)
    channel_dx(dx, dgamma, dbeta, dy, x, mean[c], invstd[c], gamma[c], local[2 * c], local[2 * c + 1], total[2 * c],
               total[2 * c + 1], M, N, C, HW, c);
}

}  // namespace mnist::kernels
