// Batch normalisation over channels (torch.nn.BatchNorm2d, affine, track_running_stats), NCHW [N, C, HW].
// Per channel c the statistics run over N·HW values; each function handles channels [c0, c1), so the layer can
// split the channels into fixed chunks (a channel's sums are one fixed sequence, whatever the thread count).
#pragma once
#include <cstddef>
#include <span>

namespace mnist::kernels {

/// Training forward of channels [c0, c1): mean[c] and the biased variance var[c] of x over the batch (sums in
/// double: eight partial sums by pixel index mod 8, each in order n, then pixel, added in a fixed order), invstd[c] = 1/sqrt(var[c] + eps), y = (x − mean)·invstd·gamma[c] + beta[c];
/// then running_mean = (1 − momentum)·running_mean + momentum·mean and running_var likewise with the UNBIASED
/// variance var·M/(M−1), M = N·HW (PyTorch's update; M = 1 leaves the biased one).
void batchnorm2d_forward_train(std::span<float> y, std::span<float> mean, std::span<float> invstd,
                               std::span<float> running_mean, std::span<float> running_var,
                               std::span<const float> x, std::span<const float> gamma, std::span<const float> beta,
                               std::size_t N, std::size_t C, std::size_t HW, float momentum, float eps,
                               std::size_t c0, std::size_t c1);

/// Eval forward of channels [c0, c1): y = (x − running_mean)/sqrt(running_var + eps)·gamma + beta.
void batchnorm2d_forward_eval(std::span<float> y, std::span<const float> x, std::span<const float> running_mean,
                              std::span<const float> running_var, std::span<const float> gamma,
                              std::span<const float> beta, std::size_t N, std::size_t C, std::size_t HW, float eps,
                              std::size_t c0, std::size_t c1);

/// Backward of a training forward, channels [c0, c1), with the forward's mean and invstd: xhat = (x − mean)·invstd,
/// dbeta[c] += Σ dy, dgamma[c] += Σ dy·xhat, dx = gamma·invstd/M · (M·dy − Σdy − xhat·Σ(dy·xhat)) (overwritten).
void batchnorm2d_backward(std::span<float> dx, std::span<float> dgamma, std::span<float> dbeta,
                          std::span<const float> dy, std::span<const float> x, std::span<const float> mean,
                          std::span<const float> invstd, std::span<const float> gamma, std::size_t N, std::size_t C,
                          std::size_t HW, std::size_t c0, std::size_t c1);

}  // namespace mnist::kernels
