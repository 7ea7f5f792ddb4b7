#include "mnist/nn.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/activation.hpp"
#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"
#include "kernels/softmax_cross_entropy.hpp"
#include "kernels/sparse_linear.hpp"
#include "kernels/tiled_linear.hpp"
#include "mnist/error.hpp"

namespace mnist {

namespace {
// Uniform in [-bound, bound) from 24 random bits: a float draw that is the same on every platform.
float uniform(std::mt19937_64& gen, float bound) {
  const float u = static_cast<float>(gen() >> 40) * (1.0f / 16777216.0f);
  return -bound + 2.0f * bound * u;
}
}  // namespace

Model::Model(std::vector<LayerSpec> layers, std::uint64_t seed, std::string spec)
    : layers_(std::move(layers)), spec_(std::move(spec)) {
  if (layers_.empty() || layers_.front().kind != LayerSpec::Kind::Linear)
    throw UsageError("a model needs at least one Linear layer, first");
  kernels::use_single_threaded_blas();
  std::size_t total = 0;
  for (const LayerSpec& l : layers_) {
    offsets_.push_back(total);
    if (l.kind == LayerSpec::Kind::Linear) total += l.out * l.in + l.out;
  }
  params_.assign(total, 0.0f);
  grads_.assign(total, 0.0f);
  acts_.resize(layers_.size());
  work_.resize(layers_.size());
  std::mt19937_64 gen(seed);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    if (l.kind != LayerSpec::Kind::Linear) continue;
    const float bound = 1.0f / std::sqrt(static_cast<float>(l.in));
    for (std::size_t k = 0; k < l.out * l.in + l.out; ++k) params_[offsets_[i] + k] = uniform(gen, bound);
  }
}

std::size_t Model::input_size() const { return layers_.empty() ? 0 : layers_.front().in; }
std::size_t Model::num_classes() const { return layers_.empty() ? 0 : layers_.back().out; }

std::vector<NamedParameter> Model::named_parameters() {
  std::vector<NamedParameter> out;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    if (l.kind != LayerSpec::Kind::Linear) continue;
    const std::size_t w = offsets_[i], b = w + l.out * l.in;
    out.push_back({l.name + ".weight", {l.out, l.in}, w, std::span(params_).subspan(w, l.out * l.in),
                   std::span(grads_).subspan(w, l.out * l.in)});
    out.push_back({l.name + ".bias", {l.out}, b, std::span(params_).subspan(b, l.out),
                   std::span(grads_).subspan(b, l.out)});
  }
  return out;
}

std::vector<std::pair<std::string, Shape>> Model::parameter_shapes() const {
  std::vector<std::pair<std::string, Shape>> out;
  for (const LayerSpec& l : layers_) {
    if (l.kind != LayerSpec::Kind::Linear) continue;
    out.emplace_back(l.name + ".weight", Shape{l.out, l.in});
    out.emplace_back(l.name + ".bias", Shape{l.out});
  }
  return out;
}

void set_num_threads(int threads) { kernels::set_num_threads(threads); }
int num_threads() { return kernels::num_threads(); }

void Model::zero_grad() {
  // Two fixed halves for a large model (as SGD::step): with two threads, one of the serial steps less.
  const std::size_t chunks = grads_.size() >= 16384 ? 2 : 1;
  auto chunk = [&](std::size_t c) {
    const kernels::Range r = kernels::chunk_range(grads_.size(), chunks, c, 16);
    std::fill(grads_.begin() + static_cast<std::ptrdiff_t>(r.begin),
              grads_.begin() + static_cast<std::ptrdiff_t>(r.end), 0.0f);
  };
  kernels::parallel_for_chunks(chunks, chunk);
}

std::span<const float> Model::forward(std::span<const float> x, std::size_t N) {
  if (x.size() < N * input_size())
    throw Error("model input has " + std::to_string(x.size()) + " values, expected " +
                std::to_string(N * input_size()));
  input_ = x.data();
  batch_ = N;
  const float* inp = x.data();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    // A Linear followed by a ReLU writes the ReLU's output directly (bias and ReLU fused into the product's
    // epilogue); the pre-activation is never needed: ReLU's backward only looks at its output.
    const bool fuse_relu = l.kind == LayerSpec::Kind::Linear && i + 1 < layers_.size() &&
                           layers_[i + 1].kind == LayerSpec::Kind::ReLU;
    std::vector<float>& out = acts_[fuse_relu ? i + 1 : i];
    if (out.size() < N * l.out) out.resize(N * l.out);
    if (l.kind == LayerSpec::Kind::Linear) {
      const std::span<const float> w(params_.data() + offsets_[i], l.out * l.in);
      const std::span<const float> b(params_.data() + offsets_[i] + l.out * l.in, l.out);
      const std::span<const float> layer_in(inp, N * l.in);
      work_[i].path = choose_path(i, layer_in);
      if (work_[i].path != Path::Blas) transposed_forward(i, out, layer_in, w, b, N, fuse_relu);
      else if (fuse_relu) kernels::linear_relu_forward(out, layer_in, w, b, N, l.in, l.out);
      else kernels::linear_forward(out, layer_in, w, b, N, l.in, l.out);
      if (fuse_relu) ++i;
    } else {
      kernels::relu_forward(out, std::span(inp, N * l.in), N * l.in);
    }
    inp = out.data();
  }
  return std::span<const float>(acts_.back().data(), N * num_classes());
}

void Model::backward(std::span<const float> dlogits) {
  const std::size_t N = batch_;
  if (input_ == nullptr) throw Error("Model::backward called before forward");
  std::size_t widest = 0;
  for (const LayerSpec& l : layers_) widest = std::max(widest, l.out);
  if (delta_a_.size() < N * widest) {
    delta_a_.resize(N * widest);
    delta_b_.resize(N * widest);
  }
  // The gradient flowing back alternates between two buffers; dlogits itself is only read.
  const float* dout = dlogits.data();
  float* next = delta_a_.data();
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const LayerSpec& l = layers_[i];
    const float* inp = i == 0 ? input_ : acts_[i - 1].data();
    const bool need_dinp = i > 0;
    std::span<float> dinp = need_dinp ? std::span<float>(next, N * l.in) : std::span<float>();
    if (l.kind == LayerSpec::Kind::Linear && work_[i].path != Path::Blas) {
      transposed_backward(i, dinp, std::span(dout, N * l.out), std::span(inp, N * l.in), N);
    } else if (l.kind == LayerSpec::Kind::Linear) {
      const std::size_t w = offsets_[i], b = w + l.out * l.in;
      kernels::linear_backward(dinp, std::span(grads_).subspan(w, l.out * l.in), std::span(grads_).subspan(b, l.out),
                               std::span(dout, N * l.out), std::span(inp, N * l.in),
                               std::span<const float>(params_).subspan(w, l.out * l.in), N, l.in, l.out);
    } else if (need_dinp) {
      kernels::relu_backward(dinp, std::span(dout, N * l.out), std::span<const float>(acts_[i].data(), N * l.out),
                             N * l.out);
    }
    if (!need_dinp) break;
    dout = next;
    next = next == delta_a_.data() ? delta_b_.data() : delta_a_.data();
  }
}

// Which kernels each Linear layer runs on, decided per forward from the data and shapes alone, never from the
// thread count (all measured with bench/kernels_bench.cpp, BM_FirstLayer*):
// - the first layer reads pixels: the pair kernels when at most kSparseMaxDensity of them are nonzero (MNIST: 19%);
//   otherwise (Fashion-MNIST: 50%) the tiled dense kernels when it has at most kTiledMaxOutputs outputs (the shapes
//   they were measured at, 10 and 32), BLAS for wider layers;
// - a later layer with few inputs (a hidden layer of at most kSmallInputs units): the tiled kernels. Its product is
//   tiny (128x32 by 32x10), where a BLAS call costs more in set-up than in arithmetic: forward + weight gradient
//   5.2 us tiled, 6.7 us BLAS, 9.8 us pairs (dense activations). Wider hidden layers: BLAS.
constexpr std::size_t kSmallInputs = 64;
constexpr std::size_t kTiledMaxOutputs = 64;

Model::Path Model::choose_path(std::size_t layer, std::span<const float> inp) const {
  const LayerSpec& l = layers_[layer];
  if (layer > 0) return l.in <= kSmallInputs ? Path::Tiled : Path::Blas;
  // The density of the batch's first rows (at most 16: a sample of the same images the batch draws from) is
  // enough to pick the faster path, for a tenth of the cost of counting the whole batch.
  const std::span<const float> sample = inp.first(std::min(inp.size(), 16 * l.in));
  if (static_cast<double>(kernels::count_nonzero(sample)) <=
      kernels::kSparseMaxDensity * static_cast<double>(sample.size()))
    return Path::Pairs;
  return l.out <= kTiledMaxOutputs ? Path::Tiled : Path::Blas;
}

namespace {
// (auto: Model::Workspace is private; its members are reached through the deduced type.)
kernels::SparseRows rows_of(auto& c, std::size_t N, std::size_t D_in, std::size_t D_out) {
  const std::size_t G = kernels::row_pairs(N), S = kernels::column_passes(D_in);
  if (c.split.size() < G * (S + 1)) c.split.resize(G * (S + 1));
  if (c.index.size() < G * D_in) c.index.resize(G * D_in);
  if (c.zeros.size() < D_in) c.zeros.assign(D_in, 0.0f);
  return {std::span(c.split).first(G * (S + 1)), std::span(c.index).first(G * D_in),
          kernels::cache_aligned(c.scratch, 2 * G * kernels::padded_width(D_out)),
          std::span<const float>(c.zeros).first(D_in)};
}
}  // namespace

void Model::transposed_forward(std::size_t layer, std::span<float> out, std::span<const float> inp,
                               std::span<const float> weight, std::span<const float> bias, std::size_t N,
                               bool relu) {
  const LayerSpec& l = layers_[layer];
  Workspace& c = work_[layer];
  const std::size_t P = kernels::padded_width(l.out);
  const std::span<float> weight_t = kernels::cache_aligned(c.weight_t, l.in * P);
  kernels::transpose_weight(weight_t, weight, l.out, l.in);
  if (c.path == Path::Pairs)
    kernels::sparse_linear_forward(out, rows_of(c, N, l.in, l.out), inp, weight_t, bias, N, l.in, l.out, relu);
  else
    kernels::tiled_linear_forward(out, kernels::cache_aligned(c.scratch, N * P), inp, weight_t, bias, N, l.in, l.out,
                                  relu);
}

void Model::transposed_backward(std::size_t layer, std::span<float> dinp, std::span<const float> dout,
                                std::span<const float> inp, std::size_t N) {
  const LayerSpec& l = layers_[layer];
  Workspace& c = work_[layer];
  const std::size_t w = offsets_[layer], b = w + l.out * l.in, P = kernels::padded_width(l.out);
  const std::span<float> dweight = std::span(grads_).subspan(w, l.out * l.in);
  const std::span<float> dbias = std::span(grads_).subspan(b, l.out);
  const std::span<float> dweight_t = kernels::cache_aligned(c.dweight_t, l.in * P);
  if (c.path == Path::Pairs)
    kernels::sparse_linear_backward(dweight, dbias, dweight_t, dout, inp, rows_of(c, N, l.in, l.out), N, l.in, l.out);
  else
    kernels::tiled_linear_backward(dweight, dbias, dweight_t, kernels::cache_aligned(c.scratch, N * P), dout, inp, N,
                                   l.in, l.out);
  if (!dinp.empty())
    kernels::linear_backward_input(dinp, dout, std::span<const float>(params_).subspan(w, l.out * l.in), N, l.in,
                                   l.out);
}

Tensor Model::predict_proba(std::span<const float> x, std::size_t N) {
  const std::size_t C = num_classes(), D = input_size(), chunk = 512;
  Tensor probs({N, C});
  for (std::size_t s = 0; s < N; s += chunk) {
    const std::size_t n = std::min(chunk, N - s);
    const std::span<const float> logits = forward(x.subspan(s * D, n * D), n);
    kernels::softmax_forward(probs.span().subspan(s * C, n * C), logits, n, C);
  }
  return probs;
}

std::vector<std::int32_t> Model::predict(std::span<const float> x, std::size_t N) {
  const std::size_t C = num_classes(), D = input_size(), chunk = 512;
  std::vector<std::int32_t> out(N);
  for (std::size_t s = 0; s < N; s += chunk) {
    const std::size_t n = std::min(chunk, N - s);
    kernels::argmax_rows(std::span(out).subspan(s, n), forward(x.subspan(s * D, n * D), n), n, C);
  }
  return out;
}

}  // namespace mnist
