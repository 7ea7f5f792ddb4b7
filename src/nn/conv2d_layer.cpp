// Conv2d as a layer: im2col + GEMM kernels (src/kernels/conv2d.hpp) over fixed image ranges forward and for the
// input gradient. The weight gradient runs over output-channel or patch-row ranges (one per thread), each element
// summed over the whole batch in image order, or, for layers of at most 16 output channels, over the same image
// ranges as the forward, their partial sums added in range order. Either way any thread count gives the same bits.
#include "nn/layers_impl.hpp"

#include <algorithm>

#include "kernels/conv2d.hpp"
#include "kernels/parallel.hpp"

namespace mnist::nn {
namespace {

// Images per chunk: enough work per hand-off, and the chunks fixed by the batch size alone.
constexpr std::size_t kImagesPerChunk = 8;

class Conv2dLayer final : public Layer {
 public:
  Conv2dLayer(const LayerSpec& l, const LayerState& state) : state_(state) {
    s_.C = l.in_shape[0];
    s_.H = l.in_shape[1];
    s_.W = l.in_shape[2];
    s_.O = l.out_shape[0];
    s_.K = l.kernel;
    s_.stride = l.stride;
    s_.padding = l.padding;
    keep_columns_ = kernels::conv2d_keeps_columns(s_);
    by_images_ = s_.O <= 16 && s_.patch() + 1 >= s_.O;
  }

  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext& ctx) override {
    x_ = x.first(N * s_.C * s_.H * s_.W);
    N_ = N;
    grow(y_, N * s_.O * s_.pixels());  // [N, O, OH, OW]
    // Few input channels: keep the batch's columns [N, C·K·K, OH·OW] for the weight gradient; many: rebuild them
    // from x there (the same bits; which is faster was measured per shape, kernels::conv2d_keeps_columns). In eval
    // mode nothing is kept: the columns stay in cache, and a backward (rare after eval) rebuilds them.
    kept_ = keep_columns_ && ctx.training;
    if (kept_) grow(cols_, N * s_.patch() * s_.pixels());
    const std::size_t chunks = image_chunks(N);
    auto run = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(N, chunks, c);
      if (kept_)
        kernels::conv2d_forward(y_, cols_, x_, weight(state_.params), bias(state_.params), s_, r.begin, r.end);
      else
        kernels::conv2d_forward_transient(y_, x_, weight(state_.params), bias(state_.params), s_, r.begin, r.end);
    };
    kernels::parallel_for_chunks(chunks, run);
    return std::span<const float>(y_).first(N * s_.O * s_.pixels());
  }

  std::size_t step_multiply_adds(std::size_t N, bool need_dx) const override {
    return (need_dx ? 3 : 2) * N * s_.O * s_.pixels() * s_.patch();  // forward, weight gradient, input gradient
  }

  std::span<const float> backward(std::span<const float> dy, bool need_dx) override {
    const std::size_t N = N_;
    dy = dy.first(N * s_.O * s_.pixels());
    if (by_images_) {
      weight_gradient_by_images(dy, N);
    } else {
      // One range per thread. Unlike the image chunks this may follow the thread count: every dw/db element is one
      // chain over the whole batch whatever the range (kernels/conv2d.hpp), so the bits do not move. More ranges
      // than threads would only cost: each range re-reads (or rebuilds, or transposes) every image's columns. Where
      // the kernel runs the output channels across vector lanes (C·K·K + 1 >= O), a range of fewer than 16 channels
      // leaves lanes idle and still runs every patch row, so such a layer splits its patch rows instead, each range
      // with all the channels.
      const std::size_t threads = static_cast<std::size_t>(kernels::active_threads()), R = s_.patch() + 1;
      const bool by_rows = R >= s_.O && s_.O < 16 * threads;
      const std::size_t ranges = std::min(by_rows ? R : s_.O, threads);
      auto weights = [&](std::size_t c) {
        const kernels::Range r = kernels::chunk_range(by_rows ? R : s_.O, ranges, c);
        const std::size_t o0 = by_rows ? 0 : r.begin, o1 = by_rows ? s_.O : r.end;
        const std::size_t r0 = by_rows ? r.begin : 0, r1 = by_rows ? r.end : kernels::kAllRows;
        weight_gradient(weight(state_.grads), bias(state_.grads), dy, 0, N, o0, o1, r0, r1);
      };
      kernels::parallel_for_chunks(ranges, weights);
    }
    if (!need_dx) return {};
    grow(dx_, N * s_.C * s_.H * s_.W);
    const std::size_t chunks = image_chunks(N), per = s_.patch() * s_.pixels();
    grow(dcols_, chunks * per);  // one private scratch per chunk
    auto inputs = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(N, chunks, c);
      kernels::conv2d_backward_input(dx_, std::span(dcols_).subspan(c * per, per), dy, weight(state_.params), s_,
                                     r.begin, r.end);
    };
    kernels::parallel_for_chunks(chunks, inputs);
    return std::span<const float>(dx_).first(N * s_.C * s_.H * s_.W);
  }

 private:
  LayerState state_;
  kernels::Conv2dShape s_;
  std::span<const float> x_;
  std::size_t N_ = 0;
  bool keep_columns_ = true;  // the shape's choice for training forwards
  bool kept_ = false;         // the last forward kept its columns in cols_
  bool by_images_ = false;    // the weight gradient sums per image chunk, then the chunks (fixed by the shape)
  std::vector<float> y_, cols_, dx_, dcols_, dw_parts_;

  // [dw | db] rows o0 .. o1 − 1, patch rows r0 .. r1 − 1, += the gradient of images [n0, n1).
  void weight_gradient(std::span<float> dw, std::span<float> db, std::span<const float> dy, std::size_t n0,
                       std::size_t n1, std::size_t o0, std::size_t o1, std::size_t r0, std::size_t r1) {
    const std::size_t N = n1 - n0, out = s_.O * s_.pixels();
    dy = dy.subspan(n0 * out, N * out);
    if (kept_) {
      const std::size_t cols = s_.patch() * s_.pixels();
      kernels::conv2d_backward_weight(dw, db, dy, std::span<const float>(cols_).subspan(n0 * cols, N * cols), s_, N,
                                      o0, o1, r0, r1);
    } else {
      const std::size_t image = s_.C * s_.H * s_.W;
      kernels::conv2d_backward_weight_from_input(dw, db, dy, x_.subspan(n0 * image, N * image), s_, N, o0, o1, r0,
                                                 r1);
    }
  }

  // Layers of at most 16 output channels (stride 1: on the patch-rows path, the channels across one vector's
  // lanes) lose by either split across threads: by channels lanes go idle, by rows each thread still runs the whole
  // batch. Split by images, each thread runs its own images (the ones it wrote in the forward, in its core's cache)
  // at the 1-thread cost per image. Every image chunk sums its images into a zeroed partial [dw | db], then the
  // partials are added in chunk order: fixed by the batch size alone, so any thread count gives the same bits.
  void weight_gradient_by_images(std::span<const float> dy, std::size_t N) {
    const std::size_t chunks = image_chunks(N), W = s_.O * s_.patch(), size = W + s_.O;
    grow(dw_parts_, chunks * size);
    auto part = [&](std::size_t c) {
      const kernels::Range r = kernels::chunk_range(N, chunks, c);
      const std::span<float> p = std::span(dw_parts_).subspan(c * size, size);
      std::fill(p.begin(), p.end(), 0.0f);
      weight_gradient(p.first(W), p.subspan(W), dy, r.begin, r.end, 0, s_.O, 0, kernels::kAllRows);
    };
    kernels::parallel_for_chunks(chunks, part);
    const std::span<float> g = state_.grads.first(size);  // [dw | db], contiguous in the flat buffer
    for (std::size_t c = 0; c < chunks; ++c) {
      const float* p = dw_parts_.data() + c * size;
      for (std::size_t i = 0; i < size; ++i) g[i] += p[i];
    }
  }

  static std::size_t image_chunks(std::size_t N) { return std::max<std::size_t>(1, (N + kImagesPerChunk - 1) / kImagesPerChunk); }
  template <class T>
  std::span<T> weight(std::span<T> flat) const { return flat.first(s_.O * s_.patch()); }
  template <class T>
  std::span<T> bias(std::span<T> flat) const { return flat.subspan(s_.O * s_.patch(), s_.O); }
};

}  // namespace

std::unique_ptr<Layer> make_conv2d(const LayerSpec& spec, const LayerState& state) {
  return std::make_unique<Conv2dLayer>(spec, state);
}

}  // namespace mnist::nn
