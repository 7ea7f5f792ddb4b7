// MaxPool2d and AvgPool2d as layers: the kernels of src/kernels/pool2d.hpp over fixed ranges of the batch's
// N·C planes (each plane independent, so the chunking changes nothing but speed). A ReLU followed by a MaxPool2d
// runs as one layer (relu_maxpool2d_*): the same bits, without the ReLU's passes over the unpooled activations.
#include <algorithm>
#include <cstdint>

#include "kernels/parallel.hpp"
#include "kernels/pool2d.hpp"
#include "nn/layers_impl.hpp"

namespace mnist::nn {
namespace {

class Pool2dLayer final : public Layer {
 public:
  Pool2dLayer(const LayerSpec& l, bool relu_first)
      : max_(l.kind == LayerSpec::Kind::MaxPool2d), relu_first_(relu_first), C_(l.in_shape[0]), s_(pool_shape(l)) {}

  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext&) override {
    planes_ = N * C_;
    grow(y_, planes_ * s_.OH() * s_.OW());
    if (max_ && argmax_.size() < planes_ * s_.OH() * s_.OW()) argmax_.resize(planes_ * s_.OH() * s_.OW());
    const std::size_t chunks = plane_chunks(planes_);
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(planes_, chunks, c);
      if (relu_first_)
        kernels::relu_maxpool2d_forward(y_, argmax_, x, s_, r.begin, r.end);
      else if (max_)
        kernels::maxpool2d_forward(y_, argmax_, x, s_, r.begin, r.end);
      else
        kernels::avgpool2d_forward(y_, x, s_, r.begin, r.end);
    };
    kernels::parallel_for_chunks(chunks, run);
    return std::span<const float>(y_).first(planes_ * s_.OH() * s_.OW());
  }

  std::span<const float> backward(std::span<const float> dy, bool need_dx) override {
    if (!need_dx) return {};
    grow(dx_, planes_ * s_.H * s_.W);
    const std::size_t chunks = plane_chunks(planes_);
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(planes_, chunks, c);
      if (relu_first_)
        kernels::relu_maxpool2d_backward(dx_, dy, y_, argmax_, s_, r.begin, r.end);
      else if (max_)
        kernels::maxpool2d_backward(dx_, dy, argmax_, s_, r.begin, r.end);
      else
        kernels::avgpool2d_backward(dx_, dy, s_, r.begin, r.end);
    };
    kernels::parallel_for_chunks(chunks, run);
    return std::span<const float>(dx_).first(planes_ * s_.H * s_.W);
  }

 private:
  bool max_, relu_first_;
  std::size_t C_, planes_ = 0;
  kernels::Pool2dShape s_;
  std::vector<float> y_, dx_;
  std::vector<std::uint32_t> argmax_;
};

}  // namespace

kernels::Pool2dShape pool_shape(const LayerSpec& pool) {
  return {.H = pool.in_shape[1], .W = pool.in_shape[2], .K = pool.kernel, .stride = pool.stride};
}

std::size_t plane_chunks(std::size_t planes) {
  constexpr std::size_t kPlanesPerChunk = 64;
  return std::max<std::size_t>(1, (planes + kPlanesPerChunk - 1) / kPlanesPerChunk);
}

std::unique_ptr<Layer> make_pool2d(const LayerSpec& spec) { return std::make_unique<Pool2dLayer>(spec, false); }

std::unique_ptr<Layer> make_relu_maxpool2d(const LayerSpec& pool) {
  return std::make_unique<Pool2dLayer>(pool, true);
}

}  // namespace mnist::nn
