// BatchNorm2d as a layer (src/kernels/batchnorm2d.hpp) over fixed channel ranges: in training mode it normalises
// with the batch's statistics, updates running_mean/running_var (momentum 0.1, unbiased variance) and counts the
// batch in num_batches_tracked; in eval mode it uses the running statistics. eps 1e-5, as PyTorch.
#include <algorithm>

#include "kernels/batchnorm2d.hpp"
#include "kernels/parallel.hpp"
#include "mnist/error.hpp"
#include "nn/layers_impl.hpp"

namespace mnist::nn {
namespace {

constexpr float kMomentum = 0.1f;
constexpr float kEps = 1e-5f;

class BatchNorm2dLayer final : public Layer {
 public:
  BatchNorm2dLayer(const LayerSpec& l, const LayerState& state)
      : state_(state), C_(l.in_shape[0]), HW_(l.in_shape[1] * l.in_shape[2]), mean_(C_), invstd_(C_) {}

  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext& ctx) override {
    x_ = x.first(N * C_ * HW_);
    N_ = N;
    trained_ = ctx.training;
    grow(y_, N * C_ * HW_);
    const std::span<float> gamma = state_.params.first(C_), beta = state_.params.subspan(C_, C_);
    const std::span<float> running_mean = state_.buffers.first(C_), running_var = state_.buffers.subspan(C_, C_);
    const std::size_t chunks = channel_chunks();
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(C_, chunks, c);
      if (ctx.training)
        kernels::batchnorm2d_forward_train(y_, mean_, invstd_, running_mean, running_var, x_, gamma, beta, N, C_, HW_,
                                           kMomentum, kEps, r.begin, r.end);
      else
        kernels::batchnorm2d_forward_eval(y_, x_, running_mean, running_var, gamma, beta, N, C_, HW_, kEps, r.begin,
                                          r.end);
    };
    kernels::parallel_for_chunks(chunks, run);
    if (ctx.training) ++state_.counts[0];
    return std::span<const float>(y_).first(N * C_ * HW_);
  }

  std::span<const float> backward(std::span<const float> dy, bool need_dx) override {
    if (!trained_) throw Error("BatchNorm2d: backward after an eval-mode forward (train the model in train mode)");
    grow(dx_, N_ * C_ * HW_);
    const std::span<float> dgamma = state_.grads.first(C_), dbeta = state_.grads.subspan(C_, C_);
    const std::size_t chunks = channel_chunks();
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(C_, chunks, c);
      kernels::batchnorm2d_backward(dx_, dgamma, dbeta, dy, x_, mean_, invstd_, state_.params.first(C_), N_, C_, HW_,
                                    r.begin, r.end);
    };
    kernels::parallel_for_chunks(chunks, run);
    if (!need_dx) return {};
    return std::span<const float>(dx_).first(N_ * C_ * HW_);
  }

 private:
  LayerState state_;
  std::size_t C_, HW_, N_ = 0;
  bool trained_ = false;
  std::span<const float> x_;
  std::vector<float> y_, dx_, mean_, invstd_;
  std::size_t channel_chunks() const { return std::min<std::size_t>(C_, 4); }
};

}  // namespace

std::unique_ptr<Layer> make_batchnorm2d(const LayerSpec& spec, const LayerState& state) {
  return std::make_unique<BatchNorm2dLayer>(spec, state);
}

}  // namespace mnist::nn
