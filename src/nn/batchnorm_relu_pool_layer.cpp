// BatchNorm2d, ReLU and MaxPool2d in a row (cnn-bn's order) as one layer. In training mode it is the layers it
// holds, batch norm and then the pooling that applies the ReLU as it reads: batch norm's statistics and backward
// need its output. In eval mode one pass (batchnorm_relu_maxpool2d_forward) reads the convolution's output and
// writes the pooled one, bit for bit the three layers, without batch norm's pass over the unpooled activations.
#include "kernels/parallel.hpp"
#include "kernels/pool2d.hpp"
#include "mnist/error.hpp"
#include "nn/layers_impl.hpp"

namespace mnist::nn {
namespace {

class BatchNormReluMaxPoolLayer final : public Layer {
 public:
  BatchNormReluMaxPoolLayer(const LayerSpec& norm, const LayerState& state, const LayerSpec& pool)
      : norm_(make_batchnorm2d(norm, state)), pool_(make_relu_maxpool2d(pool)), state_(state),
        C_(norm.in_shape[0]), s_(pool_shape(pool)), affine_(C_) {}

  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext& ctx) override {
    trained_ = ctx.training;
    if (ctx.training) return pool_->forward(norm_->forward(x, N, ctx), N, ctx);
    // params: weight (gamma) [C], bias (beta) [C]; buffers: running_mean [C], running_var [C].
    const std::span<const float> gamma = state_.params.first(C_), beta = state_.params.subspan(C_, C_);
    const std::span<const float> mean = state_.buffers.first(C_), var = state_.buffers.subspan(C_, C_);
    for (std::size_t c = 0; c < C_; ++c)
      affine_[c] = kernels::batchnorm2d_eval_affine(mean, var, gamma, beta, kBatchNormEps, c);
    const std::size_t planes = N * C_, out = planes * s_.OH() * s_.OW();
    grow(y_, out);
    if (argmax_.size() < out) argmax_.resize(out);
    const std::size_t chunks = plane_chunks(planes);
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(planes, chunks, c);
      kernels::batchnorm_relu_maxpool2d_forward(y_, argmax_, x, affine_, s_, r.begin, r.end);
    };
    kernels::parallel_for_chunks(chunks, run);
    return std::span<const float>(y_).first(out);
  }

  std::span<const float> backward(std::span<const float> dy, bool need_dx) override {
    if (!trained_) throw Error("BatchNorm2d: backward after an eval-mode forward (train the model in train mode)");
    return norm_->backward(pool_->backward(dy, true), need_dx);
  }

 private:
  std::unique_ptr<Layer> norm_, pool_;
  LayerState state_;
  std::size_t C_;
  kernels::Pool2dShape s_;
  std::vector<kernels::ChannelAffine> affine_;  // [C] of the last eval forward
  std::vector<float> y_;
  std::vector<std::uint32_t> argmax_;
  bool trained_ = false;
};

}  // namespace

std::unique_ptr<Layer> make_batchnorm_relu_maxpool2d(const LayerSpec& norm, const LayerState& state,
                                                     const LayerSpec& pool) {
  return std::make_unique<BatchNormReluMaxPoolLayer>(norm, state, pool);
}

}  // namespace mnist::nn
