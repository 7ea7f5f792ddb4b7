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

// A batch split across processes (data-parallel training with synchronised statistics) runs each half in two
// steps, the partial sums of every process summed (allreduced) between them. One process's share may be empty
// (N = 0); M is the whole batch's value count per channel. With one process these give the fused functions' bits.

/// sum[c] = Σ x over this share's N·HW values of channel c (lanes as the training forward), channels [c0, c1).
void batchnorm2d_channel_sums(std::span<double> sum, std::span<const float> x, std::size_t N, std::size_t C,
                              std::size_t HW, std::size_t c0, std::size_t c1);

/// squares[c] = Σ (x − mean[c])² over this share, channels [c0, c1) (mean: the whole batch's, in double).
void batchnorm2d_channel_squares(std::span<double> squares, std::span<const float> x, std::span<const double> mean,
                                 std::size_t N, std::size_t C, std::size_t HW, std::size_t c0, std::size_t c1);

/// The training forward from the whole batch's mean[c] and squares[c] over M values: mean_out, invstd, the
/// running statistics and y of this share's N samples, as batchnorm2d_forward_train computes them.
void batchnorm2d_normalise_train(std::span<float> y, std::span<float> mean_out, std::span<float> invstd,
                                 std::span<float> running_mean, std::span<float> running_var,
                                 std::span<const float> x, std::span<const float> gamma, std::span<const float> beta,
                                 std::span<const double> mean, std::span<const double> squares, std::size_t M,
                                 std::size_t N, std::size_t C, std::size_t HW, float momentum, float eps,
                                 std::size_t c0, std::size_t c1);

/// Backward's partial sums of this share, channels [c0, c1): sums[2c] = Σ dy, sums[2c + 1] = Σ dy·(x − mean).
void batchnorm2d_backward_sums(std::span<double> sums, std::span<const float> dy, std::span<const float> x,
                               std::span<const float> mean, std::size_t N, std::size_t C, std::size_t HW,
                               std::size_t c0, std::size_t c1);

/// Backward from the sums: dgamma, dbeta += this share's (local, so that the gradient allreduce adds the shares),
/// dx of this share from the whole batch's (total, over M values), as batchnorm2d_backward computes them.
void batchnorm2d_backward_apply(std::span<float> dx, std::span<float> dgamma, std::span<float> dbeta,
                                std::span<const float> dy, std::span<const float> x, std::span<const float> mean,
                                std::span<const float> invstd, std::span<const float> gamma,
                                std::span<const double> local, std::span<const double> total, std::size_t M,
                                std::size_t N, std::size_t C, std::size_t HW, std::size_t c0, std::size_t c1);

/// Batch norm's eval transform of one channel, y = x·alpha + shift.
struct ChannelAffine {
  float alpha = 1.0f, shift = 0.0f;
};
/// Eval mode's transform of channel c as y = x·alpha + shift (PyTorch's form), what batchnorm2d_forward_eval applies.
ChannelAffine batchnorm2d_eval_affine(std::span<const float> running_mean, std::span<const float> running_var,
                                      std::span<const float> gamma, std::span<const float> beta, float eps,
                                      std::size_t c);
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
