#include "nn/linear_stack.hpp"

#include <algorithm>

#include "kernels/activation.hpp"
#include "kernels/dot_linear.hpp"
#include "kernels/linear.hpp"
#include "kernels/merged_linear.hpp"
#include "kernels/parallel.hpp"
#include "kernels/sparse_linear.hpp"
#include "kernels/tiled_linear.hpp"

namespace mnist::nn {

LinearStack::LinearStack(std::vector<LayerSpec> layers, std::span<float> params, std::span<float> grads, bool first)
    : layers_(std::move(layers)), params_(params), grads_(grads) {
  std::size_t total = 0;
  for (const LayerSpec& l : layers_) {
    offsets_.push_back(total);
    if (l.kind == LayerSpec::Kind::Linear) total += l.out * l.in + l.out;
  }
  acts_.resize(layers_.size());
  deltas_.resize(layers_.size());
  work_.resize(layers_.size());
  const LayerSpec& last = layers_.back();
  mergeable_ = first && layers_.size() == 2 && last.kind == LayerSpec::Kind::Linear &&
               last.out < layers_.front().out && last.out <= kernels::kDotMaxOutputs;
  if (mergeable_) {
    const std::size_t D = layers_.front().in, H = layers_.front().out, C = last.out;
    merged_ = {std::vector<float>(C * D), std::vector<float>(C), std::vector<float>(H * C), std::vector<float>(C * D),
               std::vector<float>(C), std::vector<float>(C * H), std::vector<float>(H)};
  }
}

// The paths whose kernels read the weight transposed (weight_t.hpp) and the output gradient padded.
template <class P>
bool transposed(P path) {
  return path == P::Pairs || path == P::Tiled;
}

// Row ranges start on multiples of 6: whole register tiles for the tiled kernels, whole pairs for the pair ones.
constexpr std::size_t kRowAlign = 6;

// A training step's forward and backward are a few parallel regions, each cut into chunks fixed by the shapes
// alone: (1) the weight transposes of every layer on the transposed kernels; (2) the forward, all layers, in row
// ranges (a row's outputs depend on that row only); then, in backward, (3) the gradients flowing back through
// every layer in the same row ranges, and (4) every layer's weight gradient in column ranges (each element one
// chain over all the batch's rows). Four hand-offs between threads per step instead of a few per layer, and no
// layer left to run on one thread while the other waits (the small 32->10 layer used to be).
std::span<const float> LinearStack::forward(std::span<const float> x, std::size_t N, const ForwardContext&) {
  prepare(x, N);
  if (merged_now_) {
    forward_merged();
    return std::span<const float>(acts_.back().data(), N * layers_.back().out);
  }
  tasks_.clear();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    if (l.kind != LayerSpec::Kind::Linear || !transposed(work_[i].path)) continue;
    const std::size_t chunks = kernels::transpose_chunks(l.out, l.in);
    for (std::size_t c = 0; c < chunks; ++c) tasks_.push_back({i, c, chunks});
  }
  auto transpose = [&](std::size_t t) {
    const Task& task = tasks_[t];
    const LayerSpec& l = layers_[task.layer];
    kernels::transpose_weight_chunk(work_[task.layer].weight_t_now,
                                    weight_of(std::span<const float>(params_.data(), params_.size()), task.layer), l.out, l.in, task.chunk,
                                    task.chunks);
  };
  kernels::parallel_for_chunks(tasks_.size(), transpose);
  row_chunks_ = kernels::product_chunks(N, layers_.front().in, layers_.front().out);
  auto rows = [&](std::size_t c) {
    const kernels::Range r = kernels::chunk_range(N, row_chunks_, c, kRowAlign);
    forward_rows(r.begin, r.end);
  };
  kernels::parallel_for_chunks(row_chunks_, rows);
  return std::span<const float>(acts_.back().data(), N * layers_.back().out);
}

std::span<const float> LinearStack::backward(std::span<const float> dlogits, bool need_dx) {
  const std::size_t N = batch_;
  need_dx_ = need_dx;
  if (merged_now_) {  // (never when the input gradient is asked for: mergeable_ needs the model's first layer)
    backward_merged(dlogits);
    return {};
  }
  if (need_dx && dx_.size() < N * layers_.front().in) dx_.resize(N * layers_.front().in);
  // A single layer has only its gradient's padding to do per row: not worth a hand-off.
  const std::size_t chunks = layers_.size() > 1 || need_dx ? row_chunks_ : 1;
  auto rows = [&](std::size_t c) {
    const kernels::Range r = kernels::chunk_range(N, chunks, c, kRowAlign);
    backward_rows(dlogits, r.begin, r.end);
  };
  kernels::parallel_for_chunks(chunks, rows);
  tasks_.clear();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    if (l.kind != LayerSpec::Kind::Linear) continue;
    const Path path = work_[i].path;
    const std::size_t parts = path == Path::Tiled || path == Path::Dot ? kernels::column_chunks(N, l.in, l.out)
                                                                       : kernels::product_chunks(N, l.in, l.out);
    for (std::size_t c = 0; c < parts; ++c) tasks_.push_back({i, c, parts});
  }
  auto weights = [&](std::size_t t) { weight_gradient(dlogits, tasks_[t]); };
  kernels::parallel_for_chunks(tasks_.size(), weights);
  if (!need_dx) return {};
  return std::span<const float>(dx_).first(N * layers_.front().in);
}

namespace {
// (auto: LinearStack::Workspace is private; its members are reached through the deduced type.)
kernels::SparseRows rows_of(const auto& c, std::size_t D_in) {
  return {c.split_now, c.index_now, c.scratch_now, std::span<const float>(c.zeros).first(D_in)};
}
}  // namespace

// Merged, a batch costs C·D·(2N + 3H) multiply-adds (two N x D x C products, three C x H x D ones), as two layers
// about 2N·D·H: merged from N = 22 up at 784 -> 32 -> 10.
bool LinearStack::merges(std::size_t N) const {
  const std::size_t H = layers_.front().out, C = layers_.back().out;
  return mergeable_ && C * (2 * N + 3 * H) < 2 * N * H;
}

std::size_t LinearStack::step_multiply_adds(std::size_t N, bool need_dx) const {
  if (merges(N)) return layers_.back().out * layers_.front().in * (2 * N + 3 * layers_.front().out);
  std::size_t total = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    // forward and weight gradient; the input gradient for every layer but a first one nobody asks it of
    if (l.kind == LayerSpec::Kind::Linear) total += (i > 0 || need_dx ? 3 : 2) * N * l.in * l.out;
  }
  return total;
}

// Chooses each layer's kernels and sizes every buffer for a batch of N (growing only), on the calling thread,
// before any parallel region reads them.
void LinearStack::prepare(std::span<const float> x, std::size_t N) {
  input_ = x.data();
  batch_ = N;
  merged_now_ = merges(N);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    const bool fuse_relu = fuses_relu(i);
    std::vector<float>& out = acts_[fuse_relu ? i + 1 : i];
    if (out.size() < N * l.out) out.resize(N * l.out);
    if (i + 1 < layers_.size() && deltas_[i].size() < N * l.out) deltas_[i].resize(N * l.out);
    if (l.kind != LayerSpec::Kind::Linear || merged_now_) continue;
    Workspace& c = work_[i];
    c.path = choose_path(i, i == 0 ? x.first(N * l.in) : std::span<const float>());
    if (!transposed(c.path)) continue;
    const std::size_t P = kernels::padded_width(l.out);
    c.weight_t_now = kernels::cache_aligned(c.weight_t, l.in * P);
    c.dweight_t_now = kernels::cache_aligned(c.dweight_t, l.in * P);
    if (c.path == Path::Tiled) {
      c.scratch_now = kernels::cache_aligned(c.scratch, N * P);
      continue;
    }
    const std::size_t G = kernels::row_pairs(N), S = kernels::column_passes(l.in);
    if (c.split.size() < G * (S + 1)) c.split.resize(G * (S + 1));
    if (c.index.size() < G * l.in) c.index.resize(G * l.in);
    if (c.zeros.size() < l.in) c.zeros.assign(l.in, 0.0f);
    c.split_now = std::span(c.split).first(G * (S + 1));
    c.index_now = std::span(c.index).first(G * l.in);
    c.scratch_now = kernels::cache_aligned(c.scratch, 2 * G * P);
  }
}

template <class T>
std::span<T> LinearStack::weight_of(std::span<T> flat, std::size_t layer) const {
  return flat.subspan(offsets_[layer], layers_[layer].out * layers_[layer].in);
}

template <class T>
std::span<T> LinearStack::bias_of(std::span<T> flat, std::size_t layer) const {
  return flat.subspan(offsets_[layer] + layers_[layer].out * layers_[layer].in, layers_[layer].out);
}

std::span<const float> LinearStack::layer_input(std::size_t layer) const {
  const std::size_t n = batch_ * layers_[layer].in;
  return std::span<const float>(layer == 0 ? input_ : acts_[layer - 1].data(), n);
}

std::span<const float> LinearStack::layer_dout(std::span<const float> dlogits, std::size_t layer) const {
  const std::size_t n = batch_ * layers_[layer].out;
  return layer + 1 == layers_.size() ? dlogits.first(n) : std::span<const float>(deltas_[layer]).first(n);
}

// A Linear layer followed by a ReLU (the forward then writes the ReLU's output directly, see forward_rows).
bool LinearStack::fuses_relu(std::size_t layer) const {
  return layers_[layer].kind == LayerSpec::Kind::Linear && layer + 1 < layers_.size() &&
         layers_[layer + 1].kind == LayerSpec::Kind::ReLU;
}

// Rows [r0, r1) through every layer. A Linear followed by a ReLU writes the ReLU's output directly (bias and ReLU
// fused into the product's epilogue); the pre-activation is never needed: ReLU's backward only looks at its output.
void LinearStack::forward_rows(std::size_t r0, std::size_t r1) {
  const std::size_t N = batch_;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    const std::span<const float> inp = layer_input(i);
    const bool fuse_relu = fuses_relu(i);
    const std::span<float> out = std::span(acts_[fuse_relu ? i + 1 : i]).first(N * l.out);
    if (l.kind != LayerSpec::Kind::Linear) {
      kernels::relu_forward(out.subspan(r0 * l.out), inp.subspan(r0 * l.in), (r1 - r0) * l.out);
      continue;
    }
    const Workspace& c = work_[i];
    const std::span<const float> w = weight_of(std::span<const float>(params_.data(), params_.size()), i);
    const std::span<const float> b = bias_of(std::span<const float>(params_.data(), params_.size()), i);
    if (c.path == Path::Blas)
      kernels::linear_forward_rows(out, inp, w, b, r0, r1, l.in, l.out, fuse_relu);
    else if (c.path == Path::Dot)
      kernels::dot_linear_forward_rows(out, inp, w, b, r0, r1, l.in, l.out, fuse_relu);
    else if (c.path == Path::Tiled)
      kernels::tiled_linear_forward_rows(out, c.scratch_now, inp, c.weight_t_now, b, r0, r1, l.in, l.out, fuse_relu);
    else
      kernels::sparse_linear_forward_rows(out, rows_of(c, l.in), inp, c.weight_t_now, b, N, l.in, l.out, fuse_relu,
                                          r0, r1);
    if (fuse_relu) ++i;
  }
}

// Rows [r0, r1) of the gradient flowing back from the logits to the first layer's output, and of each transposed
// layer's output gradient laid out (padded) for its weight-gradient kernel.
void LinearStack::backward_rows(std::span<const float> dlogits, std::size_t r0, std::size_t r1) {
  const std::size_t N = batch_, n = r1 - r0;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const LayerSpec& l = layers_[i];
    const std::span<const float> dout = layer_dout(dlogits, i);
    const Workspace& c = work_[i];
    if (l.kind == LayerSpec::Kind::Linear && transposed(c.path)) {
      // The pair kernels read whole pairs: an odd batch's last chunk pads one row of zeros more.
      const std::size_t P = kernels::padded_width(l.out);
      const std::size_t end = c.path == Path::Pairs && r1 == N ? 2 * kernels::row_pairs(N) : r1;
      kernels::pad_rows(c.scratch_now.subspan(r0 * P), dout.subspan(r0 * l.out), N - r0, end - r0, l.out);
    }
    if (i == 0 && !need_dx_) break;
    const std::span<float> dinp = std::span(i == 0 ? dx_ : deltas_[i - 1]).subspan(r0 * l.in, n * l.in);
    if (l.kind == LayerSpec::Kind::Linear)
      kernels::linear_backward_input(dinp, dout.subspan(r0 * l.out, n * l.out),
                                     weight_of(std::span<const float>(params_.data(), params_.size()), i), n, l.in, l.out);
    else
      kernels::relu_backward(dinp, dout.subspan(r0 * l.out, n * l.out),
                             std::span<const float>(acts_[i]).subspan(r0 * l.out, n * l.out), n * l.out);
  }
}

// Chunk task.chunk of layer task.layer's weight and bias gradients (accumulated into grads_).
void LinearStack::weight_gradient(std::span<const float> dlogits, const Task& task) {
  const std::size_t i = task.layer, N = batch_;
  const LayerSpec& l = layers_[i];
  const Workspace& c = work_[i];
  const std::span<float> dweight = weight_of(grads_, i);
  const std::span<float> dbias = bias_of(grads_, i);
  const std::span<const float> dout = layer_dout(dlogits, i), inp = layer_input(i);
  if (c.path == Path::Blas)
    kernels::linear_backward_weight_chunk(dweight, dbias, dout, inp, N, l.in, l.out, task.chunk, task.chunks);
  else if (c.path == Path::Dot)
    kernels::dot_linear_backward_chunk(dweight, dbias, dout, inp, N, l.in, l.out, task.chunk, task.chunks);
  else if (c.path == Path::Tiled)
    kernels::tiled_linear_backward_chunk(dweight, dbias, c.dweight_t_now, c.scratch_now, inp, N, l.in, l.out,
                                         task.chunk, task.chunks);
  else
    kernels::sparse_linear_backward_chunk(dweight, dbias, c.dweight_t_now, dout, inp, rows_of(c, l.in), N, l.in,
                                          l.out, task.chunk, task.chunks);
}

// The two layers as one (src/kernels/merged_linear.hpp): the merged weight in input-column chunks, then the
// logits on the dot kernels in the forward's row ranges.
void LinearStack::forward_merged() {
  const std::size_t N = batch_, D = layers_.front().in, H = layers_.front().out, C = layers_.back().out;
  const std::span<const float> p(params_.data(), params_.size());
  const std::span<const float> w1 = weight_of(p, 0), b1 = bias_of(p, 0), w2 = weight_of(p, 1), b2 = bias_of(p, 1);
  Merged& m = merged_;
  kernels::transpose_small(m.w2t, w2, C, H);
  kernels::merge_bias(m.bias, w2, b1, b2, H, C);
  auto weight = [&](std::size_t t) { kernels::merge_weights_task(m.weight, m.w2t, w1, D, H, C, t); };
  kernels::parallel_for_chunks(kernels::merge_weights_tasks(D, H, C), weight);
  row_chunks_ = kernels::product_chunks(N, D, C);
  const std::span<float> logits = std::span(acts_.back()).first(N * C);
  auto rows = [&](std::size_t c) {
    const kernels::Range r = kernels::chunk_range(N, row_chunks_, c, kRowAlign);
    kernels::dot_linear_forward_rows(logits, std::span<const float>(input_, N * D), m.weight, m.bias, r.begin,
                                     r.end, D, C, false);
  };
  kernels::parallel_for_chunks(row_chunks_, rows);
}

// The batch's gradient of the merged weight and bias (g, s) on the dot kernels in column chunks, then the two
// layers' gradients from them.
void LinearStack::backward_merged(std::span<const float> dlogits) {
  const std::size_t N = batch_, D = layers_.front().in, H = layers_.front().out, C = layers_.back().out;
  Merged& m = merged_;
  const std::span<const float> x(input_, N * D), dy = dlogits.first(N * C);
  const std::size_t chunks = kernels::column_chunks(N, D, C);
  auto batch = [&](std::size_t c) {
    kernels::dot_linear_backward_chunk(m.g, m.s, dy, x, N, D, C, c, chunks, kernels::Write::Overwrite);
  };
  kernels::parallel_for_chunks(chunks, batch);
  const std::span<const float> p(params_.data(), params_.size());
  const std::span<const float> w1 = weight_of(p, 0), b1 = bias_of(p, 0), w2 = weight_of(p, 1);
  const std::span<float> g = grads_;
  auto layers = [&](std::size_t u) {
    kernels::merged_backward_task(weight_of(g, 0), m.t, m.zeros, m.g, w1, w2, D, H, C, u);
  };
  kernels::parallel_for_chunks(kernels::merged_backward_tasks(D, H, C), layers);
  kernels::merged_backward_finish(weight_of(g, 1), bias_of(g, 0), bias_of(g, 1), m.t, m.s, w2, b1, H, C);
}

// Which kernels each Linear layer runs on, decided per forward from the data and shapes alone, never from the
// thread count (all measured with bench/kernels_bench.cpp, BM_FirstLayer*):
// - the first layer reads pixels: with at most kDotMaxOutputs outputs, the dot kernels whatever the pixels (784 -> 10,
//   forward + weight gradient: Fashion-MNIST 65-82 us against 107-118 us tiled, whose 16 lanes carry 6 of padding;
//   MNIST 63-79 us against 93-97 us for the pairs); else the pair kernels when at most kSparseMaxDensity of the
//   pixels are nonzero (MNIST: 19%); otherwise (Fashion-MNIST: 50%) the tiled dense kernels for at most
//   kTiledMaxOutputs outputs (measured at 32: 109 + 100 us, dot 119-133 + 100-120), BLAS for wider layers;
// - a later layer with few inputs (a hidden layer of at most kSmallInputs units): the tiled kernels. Its product is
//   tiny (128x32 by 32x10), where a BLAS call costs more in set-up than in arithmetic: forward + weight gradient
//   5.2 us tiled, 6.7 us BLAS, 9.8 us pairs (dense activations). Wider hidden layers: BLAS.
constexpr std::size_t kSmallInputs = 64;
constexpr std::size_t kTiledMaxOutputs = 64;

LinearStack::Path LinearStack::choose_path(std::size_t layer, std::span<const float> inp) const {
  const LayerSpec& l = layers_[layer];
  if (layer > 0) return l.in <= kSmallInputs ? Path::Tiled : Path::Blas;
  if (l.out <= kernels::kDotMaxOutputs) return Path::Dot;
  // The density of the batch's first rows (at most 16: a sample of the same images the batch draws from) is
  // enough to pick the faster path, for a tenth of the cost of counting the whole batch.
  const std::span<const float> sample = inp.first(std::min(inp.size(), 16 * l.in));
  if (static_cast<double>(kernels::count_nonzero(sample)) <=
      kernels::kSparseMaxDensity * static_cast<double>(sample.size()))
    return Path::Pairs;
  return l.out <= kTiledMaxOutputs ? Path::Tiled : Path::Blas;
}

}  // namespace mnist::nn
