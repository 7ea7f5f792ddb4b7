// The layers without parameters that act element by element: ReLU, Dropout and Flatten (which only renames the
// shape: NCHW rows are already the flat features PyTorch's Flatten gives).
#include <algorithm>

#include "kernels/activation.hpp"
#include "kernels/dropout.hpp"
#include "kernels/parallel.hpp"
#include "nn/layers_impl.hpp"

namespace mnist::nn {
namespace {

// Elements per chunk of an elementwise parallel region.
constexpr std::size_t kElementsPerChunk = 1 << 16;
std::size_t element_chunks(std::size_t n) { return std::max<std::size_t>(1, (n + kElementsPerChunk - 1) / kElementsPerChunk); }

class ReluLayer final : public Layer {
 public:
  explicit ReluLayer(const LayerSpec& l) : width_(l.out) {}
  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext&) override {
    n_ = N * width_;
    grow(y_, n_);
    const std::size_t chunks = element_chunks(n_);
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(n_, chunks, c, 16);
      kernels::relu_forward(std::span(y_).subspan(r.begin), x.subspan(r.begin), r.end - r.begin);
    };
    kernels::parallel_for_chunks(chunks, run);
    return std::span<const float>(y_).first(n_);
  }
  std::span<const float> backward(std::span<const float> dy, bool need_dx) override {
    if (!need_dx) return {};
    grow(dx_, n_);
    const std::size_t chunks = element_chunks(n_);
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(n_, chunks, c, 16);
      kernels::relu_backward(std::span(dx_).subspan(r.begin), dy.subspan(r.begin),
                             std::span<const float>(y_).subspan(r.begin), r.end - r.begin);
    };
    kernels::parallel_for_chunks(chunks, run);
    return std::span<const float>(dx_).first(n_);
  }

 private:
  std::size_t width_, n_ = 0;
  std::vector<float> y_, dx_;
};

// A mask is a function of (model seed, layer index, training step, element's index in the step's whole batch): the
// same for any thread count and any number of data-parallel ranks, and a resumed run continues the sequence from its
// step count.
class DropoutLayer final : public Layer {
 public:
  DropoutLayer(const LayerSpec& l, std::size_t index) : width_(l.out), p_(l.p), index_(index) {}
  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext& ctx) override {
    n_ = N * width_;
    dropped_ = ctx.training && p_ > 0.0f;
    if (!dropped_) return x.first(n_);  // eval mode: the identity
    grow(y_, n_);
    grow(mask_, n_);
    const std::uint64_t seed = mix(mix(ctx.seed ^ 0x6a09e667f3bcc908ULL, index_), ctx.step);
    const std::size_t chunks = element_chunks(n_), first = ctx.first_sample * width_;
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(n_, chunks, c);
      kernels::dropout_forward(y_, mask_, x, p_, seed, r.begin, r.end, first);
    };
    kernels::parallel_for_chunks(chunks, run);
    return std::span<const float>(y_).first(n_);
  }
  std::span<const float> backward(std::span<const float> dy, bool need_dx) override {
    if (!need_dx) return {};
    if (!dropped_) return dy.first(n_);
    grow(dx_, n_);
    const std::size_t chunks = element_chunks(n_);
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(n_, chunks, c);
      kernels::dropout_backward(dx_, dy, mask_, r.begin, r.end);
    };
    kernels::parallel_for_chunks(chunks, run);
    return std::span<const float>(dx_).first(n_);
  }

 private:
  std::size_t width_, n_ = 0;
  float p_;
  std::size_t index_;
  bool dropped_ = false;
  std::vector<float> y_, mask_, dx_;
  // splitmix64's finaliser over a + b: a well-mixed seed from two counters.
  static std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
    std::uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

class FlattenLayer final : public Layer {
 public:
  explicit FlattenLayer(const LayerSpec& l) : width_(l.out) {}
  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext&) override {
    n_ = N * width_;
    return x.first(n_);
  }
  std::span<const float> backward(std::span<const float> dy, bool need_dx) override {
    return need_dx ? dy.first(n_) : std::span<const float>();
  }

 private:
  std::size_t width_, n_ = 0;
};

}  // namespace

std::unique_ptr<Layer> make_relu(const LayerSpec& spec) { return std::make_unique<ReluLayer>(spec); }
std::unique_ptr<Layer> make_dropout(const LayerSpec& spec, std::size_t index) {
  return std::make_unique<DropoutLayer>(spec, index);
}
std::unique_ptr<Layer> make_flatten(const LayerSpec& spec) { return std::make_unique<FlattenLayer>(spec); }

}  // namespace mnist::nn
