// BatchNorm2d as a layer (src/kernels/batchnorm2d.hpp) over fixed channel ranges: in training mode it normalises
// with the batch's statistics, updates running_mean/running_var (momentum 0.1, unbiased variance) and counts the
// batch in num_batches_tracked; in eval mode it uses the running statistics. eps 1e-5, as PyTorch.
// When the batch is split across processes (ForwardContext::cross_process_sum), the statistics are the whole
// batch's, as PyTorch's SyncBatchNorm: the per-channel partial sums are summed across the processes between the
// kernels' two steps (forward: Σx, then Σ(x − mean)²; backward: Σdy and Σdy·(x − mean)).
#include <algorithm>
#include <functional>

#include "kernels/batchnorm2d.hpp"
#include "kernels/parallel.hpp"
#include "mnist/error.hpp"
#include "nn/layers_impl.hpp"

namespace mnist::nn {
namespace {

constexpr float kMomentum = 0.1f;

class BatchNorm2dLayer final : public Layer {
 public:
  BatchNorm2dLayer(const LayerSpec& l, const LayerState& state)
      : state_(state), C_(l.in_shape[0]), HW_(l.in_shape[1] * l.in_shape[2]), mean_(C_), invstd_(C_) {}

  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext& ctx) override {
    x_ = x.first(N * C_ * HW_);
    N_ = N;
    trained_ = ctx.training;
    // A copy, not the model's: the backward must not depend on the model staying where it was, nor on the sum
    // being reset in between (fit() clears it when it returns).
    sum_ = ctx.training && ctx.cross_process_sum ? *ctx.cross_process_sum : nullptr;
    grow(y_, N * C_ * HW_);
    if (sum_)
      forward_synchronised();
    else
      for_channels([&](std::size_t c0, std::size_t c1) {
        if (ctx.training)
          kernels::batchnorm2d_forward_train(y_, mean_, invstd_, running_mean(), running_var(), x_, gamma(), beta(),
                                             N_, C_, HW_, kMomentum, kBatchNormEps, c0, c1);
        else
          kernels::batchnorm2d_forward_eval(y_, x_, running_mean(), running_var(), gamma(), beta(), N_, C_, HW_,
                                            kBatchNormEps, c0, c1);
      });
    if (ctx.training) ++state_.counts[0];
    return std::span<const float>(y_).first(N * C_ * HW_);
  }

  std::span<const float> backward(std::span<const float> dy, bool need_dx) override {
    if (!trained_) throw Error("BatchNorm2d: backward after an eval-mode forward (train the model in train mode)");
    grow(dx_, N_ * C_ * HW_);
    const std::span<float> dgamma = state_.grads.first(C_), dbeta = state_.grads.subspan(C_, C_);
    if (sum_) {
      // This share's Σdy and Σdy·(x − mean) per channel, then the whole batch's.
      local_.assign(2 * C_, 0.0);
      for_channels([&](std::size_t c0, std::size_t c1) {
        kernels::batchnorm2d_backward_sums(local_, dy, x_, mean_, N_, C_, HW_, c0, c1);
      });
      total_ = local_;
      sum_(total_);
      for_channels([&](std::size_t c0, std::size_t c1) {
        kernels::batchnorm2d_backward_apply(dx_, dgamma, dbeta, dy, x_, mean_, invstd_, gamma(), local_, total_, M_,
                                            N_, C_, HW_, c0, c1);
      });
    } else {
      for_channels([&](std::size_t c0, std::size_t c1) {
        kernels::batchnorm2d_backward(dx_, dgamma, dbeta, dy, x_, mean_, invstd_, gamma(), N_, C_, HW_, c0, c1);
      });
    }
    if (!need_dx) return {};
    return std::span<const float>(dx_).first(N_ * C_ * HW_);
  }

 private:
  LayerState state_;
  std::size_t C_, HW_, N_ = 0;
  bool trained_ = false;
  std::span<const float> x_;
  std::vector<float> y_, dx_, mean_, invstd_;
  std::function<void(std::span<double>)> sum_;  // the last training forward's cross-process sum, or empty
  std::size_t M_ = 0;                                             // values per channel in the whole batch
  std::vector<double> moments_, squares_, local_, total_;         // [C + 1], [C], [2C], [2C]

  std::span<float> gamma() { return state_.params.first(C_); }
  std::span<float> beta() { return state_.params.subspan(C_, C_); }
  std::span<float> running_mean() { return state_.buffers.first(C_); }
  std::span<float> running_var() { return state_.buffers.subspan(C_, C_); }

  // f(c0, c1) over fixed channel ranges, in parallel.
  template <class F>
  void for_channels(F f) {
    const std::size_t chunks = std::min<std::size_t>(C_, 4);
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(C_, chunks, c);
      f(r.begin, r.end);
    };
    kernels::parallel_for_chunks(chunks, run);
  }

  // The training forward with the whole batch's statistics: Σx and the value count summed over the processes give
  // the mean, then Σ(x − mean)² the variance. An empty share (N = 0) adds zeros and takes part all the same.
  void forward_synchronised() {
    moments_.assign(C_ + 1, 0.0);
    for_channels([&](std::size_t c0, std::size_t c1) {
      kernels::batchnorm2d_channel_sums(moments_, x_, N_, C_, HW_, c0, c1);
    });
    moments_[C_] = static_cast<double>(N_ * HW_);
    sum_(moments_);
    M_ = static_cast<std::size_t>(moments_[C_]);
    for (std::size_t c = 0; c < C_; ++c) moments_[c] /= moments_[C_] > 0 ? moments_[C_] : 1.0;
    const std::span<const double> mean(moments_.data(), C_);
    squares_.assign(C_, 0.0);
    for_channels([&](std::size_t c0, std::size_t c1) {
      kernels::batchnorm2d_channel_squares(squares_, x_, mean, N_, C_, HW_, c0, c1);
    });
    sum_(squares_);
    for_channels([&](std::size_t c0, std::size_t c1) {
      kernels::batchnorm2d_normalise_train(y_, mean_, invstd_, running_mean(), running_var(), x_, gamma(), beta(),
                                           mean, squares_, M_, N_, C_, HW_, kMomentum, kBatchNormEps, c0, c1);
    });
  }
};

}  // namespace

std::unique_ptr<Layer> make_batchnorm2d(const LayerSpec& spec, const LayerState& state) {
  return std::make_unique<BatchNorm2dLayer>(spec, state);
}

}  // namespace mnist::nn
