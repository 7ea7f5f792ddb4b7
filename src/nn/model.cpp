// Model: the flat parameter, gradient and buffer storage, PyTorch's default init, and the layers run in order.
#include "mnist/nn.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"
#include "kernels/softmax_cross_entropy.hpp"
#include "mnist/error.hpp"
#include "nn/eval_scope.hpp"
#include "nn/layer.hpp"

namespace mnist {

namespace {
// Refuses an input shorter than N images (forward, infer and layer_outputs alike).
void require_input(std::size_t values, std::size_t expected) {
  if (values < expected)
    throw Error("model input has " + std::to_string(values) + " values, expected " + std::to_string(expected));
}
}  // namespace

namespace {
// Uniform in [-bound, bound) from 24 random bits: a float draw that is the same on every platform.
float uniform(std::mt19937_64& gen, float bound) {
  const float u = static_cast<float>(gen() >> 40) * (1.0f / 16777216.0f);
  return -bound + 2.0f * bound * u;
}

// How many floats of parameters and of buffers, and how many int64 counts, a list of state-dict entries holds.
struct StateSizes {
  std::size_t params = 0, buffers = 0, counts = 0;
};
StateSizes sizes_of(const std::vector<StateEntry>& entries) {
  StateSizes n;
  for (const StateEntry& e : entries) {
    if (e.parameter)
      n.params += numel(e.shape);
    else if (e.int64)
      ++n.counts;
    else
      n.buffers += numel(e.shape);
  }
  return n;
}

// Inputs of one output of a layer with weights: Linear's in features, Conv2d's C·K·K.
std::size_t fan_in(const LayerSpec& l) {
  return l.kind == LayerSpec::Kind::Conv2d ? l.in_shape[0] * l.kernel * l.kernel : l.in;
}
}  // namespace

Model::Model() = default;
Model::~Model() = default;
Model::Model(Model&& other) noexcept = default;
Model& Model::operator=(Model&& other) noexcept = default;

Model::Model(const Model& other)
    : layers_(other.layers_), spec_(other.spec_), params_(other.params_), grads_(other.grads_),
      buffers_(other.buffers_), counts_(other.counts_), training_(other.training_), seed_(other.seed_),
      forward_steps_(other.forward_steps_) {
  build_blocks();
}

Model& Model::operator=(const Model& other) {
  if (this != &other) *this = Model(other);
  return *this;
}

Model::Model(std::vector<LayerSpec> layers, std::uint64_t seed, std::string spec)
    : layers_(std::move(layers)), spec_(std::move(spec)), seed_(seed) {
  if (layers_.empty() || layers_.back().kind != LayerSpec::Kind::Linear)
    throw UsageError("a model needs at least one layer, and a Linear layer last");
  kernels::use_single_threaded_blas();
  const StateSizes total = sizes_of(mnist::state_entries(layers_));
  params_.assign(total.params, 0.0f);
  grads_.assign(total.params, 0.0f);
  buffers_.assign(total.buffers, 0.0f);
  counts_.assign(total.counts, 0);
  // PyTorch's default init, layer by layer in the model's order, weight before bias.
  std::mt19937_64 gen(seed);
  std::size_t p = 0, b = 0;
  for (const LayerSpec& l : layers_) {
    if (l.kind == LayerSpec::Kind::Linear || l.kind == LayerSpec::Kind::Conv2d) {
      const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in(l)));
      const std::size_t n = sizes_of(mnist::state_entries({l})).params;  // weight, then bias
      for (std::size_t k = 0; k < n; ++k) params_[p + k] = uniform(gen, bound);
      p += n;
    } else if (l.kind == LayerSpec::Kind::BatchNorm2d) {
      const std::size_t C = l.in_shape[0];
      std::fill_n(params_.begin() + static_cast<std::ptrdiff_t>(p), C, 1.0f);  // weight 1, bias 0
      p += 2 * C;
      std::fill_n(buffers_.begin() + static_cast<std::ptrdiff_t>(b + C), C, 1.0f);  // running_mean 0, running_var 1
      b += 2 * C;
    }
  }
  build_blocks();
}

namespace {
// Each layer's slices of the flat buffers, in state-dict order, handed to the layer objects.
std::vector<nn::LayerState> states_of(const std::vector<LayerSpec>& layers, std::span<float> params,
                                      std::span<float> grads, std::span<float> buffers,
                                      std::span<std::int64_t> counts) {
  std::vector<nn::LayerState> states(layers.size());
  std::size_t p = 0, b = 0, c = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const StateSizes n = sizes_of(mnist::state_entries({layers[i]}));
    const std::size_t np = n.params, nb = n.buffers, nc = n.counts;
    states[i] = {params.subspan(p, np), grads.subspan(p, np), buffers.subspan(b, nb), counts.subspan(c, nc)};
    p += np;
    b += nb;
    c += nc;
  }
  return states;
}
}  // namespace

void Model::build_blocks() {
  blocks_ = nn::build_layers(layers_, states_of(layers_, params_, grads_, buffers_, counts_), true, &head_block_);
}

std::size_t Model::input_size() const { return layers_.empty() ? 0 : layers_.front().in; }
Shape Model::input_shape() const { return layers_.empty() ? Shape{} : layers_.front().in_shape; }
std::size_t Model::num_classes() const { return layers_.empty() ? 0 : layers_.back().out; }

std::size_t Model::step_multiply_adds(std::size_t N) const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < blocks_.size(); ++i) total += blocks_[i]->step_multiply_adds(N, i > 0);
  return total;
}

std::vector<StateEntry> Model::state_entries() const { return mnist::state_entries(layers_); }

std::vector<NamedParameter> Model::named_parameters() {
  std::vector<NamedParameter> out;
  std::size_t offset = 0;
  for (const StateEntry& e : state_entries()) {
    if (!e.parameter) continue;
    const std::size_t n = numel(e.shape);
    out.push_back({e.name, e.shape, offset, std::span(params_).subspan(offset, n), std::span(grads_).subspan(offset, n)});
    offset += n;
  }
  return out;
}

std::vector<NamedBuffer> Model::named_buffers() {
  std::vector<NamedBuffer> out;
  std::size_t b = 0, c = 0;
  for (const StateEntry& e : state_entries()) {
    if (e.parameter) continue;
    if (e.int64) {
      out.push_back({e.name, e.shape, {}, std::span(counts_).subspan(c++, 1)});
    } else {
      const std::size_t n = numel(e.shape);
      out.push_back({e.name, e.shape, std::span(buffers_).subspan(b, n), {}});
      b += n;
    }
  }
  return out;
}

std::vector<std::pair<std::string, Shape>> Model::parameter_shapes() const { return mnist::parameter_shapes(layers_); }

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

std::span<const float> Model::forward(std::span<const float> x, std::size_t N, std::size_t first_sample) {
  require_input(x.size(), N * input_size());
  if (blocks_.empty()) throw Error("Model::forward on an empty model");
  const nn::ForwardContext ctx{training_, seed_, forward_steps_, first_sample,
                               cross_process_sum_ ? &cross_process_sum_ : nullptr};
  if (training_) ++forward_steps_;
  batch_ = N;
  forwarded_ = true;
  std::span<const float> h = x.first(N * input_size());
  for (const std::unique_ptr<nn::Layer>& block : blocks_) h = block->forward(h, N, ctx);
  return h;
}

void Model::backward(std::span<const float> dlogits) {
  const std::size_t N = batch_;
  if (!forwarded_) throw Error("Model::backward called before forward");
  if (dlogits.size() < N * num_classes())
    throw Error("Model::backward: dlogits has " + std::to_string(dlogits.size()) + " values, expected " +
                std::to_string(N * num_classes()) + " (the last forward's " + std::to_string(N) + " rows)");
  std::span<const float> dy = dlogits.first(N * num_classes());
  for (std::size_t i = blocks_.size(); i-- > 0;) dy = blocks_[i]->backward(dy, i > 0);
}

namespace {
// Images per piece of a conv net's layers before its first Linear in infer(): cnn's first activations for 128
// images take 13 MB, and the ReLU, pooling and BatchNorm passes over them went to memory (38% of inference time);
// 16 measured faster than 8, 32 and 128; since the head runs on all rows, 4 and 8 measure the same as 16
// (docs/performance.md#conv-presets).
constexpr std::size_t kConvPiece = 16;
}  // namespace

bool Model::has_conv() const {
  return std::any_of(layers_.begin(), layers_.end(),
                     [](const LayerSpec& l) { return l.kind == LayerSpec::Kind::Conv2d; });
}

std::size_t Model::inference_chunk() const { return has_conv() ? 128 : 512; }

std::span<const float> Model::infer(std::span<const float> x, std::size_t N) {
  const nn::EvalScope eval(*this);
  if (blocks_.empty()) throw Error("Model::infer on an empty model");
  if (!has_conv() || head_block_ == 0 || N <= kConvPiece) {
    const std::span<const float> logits = forward(x, N);
    batch_ = 0;
    forwarded_ = false;
    return logits;
  }
  require_input(x.size(), N * input_size());
  const nn::ForwardContext ctx{false, seed_, forward_steps_};
  const std::size_t D = input_size();
  std::size_t F = 0;  // the first Linear's inputs
  for (const LayerSpec& l : layers_)
    if (l.kind == LayerSpec::Kind::Linear) {
      F = l.in;
      break;
    }
  if (features_.size() < N * F) features_.resize(N * F);
  for (std::size_t s = 0; s < N; s += kConvPiece) {
    const std::size_t m = std::min(kConvPiece, N - s);
    std::span<const float> h = x.subspan(s * D, m * D);
    for (std::size_t b = 0; b < head_block_; ++b) h = blocks_[b]->forward(h, m, ctx);
    std::copy(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(m * F),
              features_.begin() + static_cast<std::ptrdiff_t>(s * F));
  }
  std::span<const float> h(features_.data(), N * F);
  for (std::size_t b = head_block_; b < blocks_.size(); ++b) h = blocks_[b]->forward(h, N, ctx);
  batch_ = 0;  // the blocks before the head hold only the last piece: no backward may follow
  forwarded_ = false;
  return h;
}


std::vector<Tensor> Model::layer_outputs(std::span<const float> x, std::size_t N, std::size_t count) {
  if (count > layers_.size())
    throw Error("Model::layer_outputs: " + std::to_string(count) + " layers asked, the model has " +
                std::to_string(layers_.size()));
  for (std::size_t i = 0; i < count; ++i)
    if (layers_[i].kind == LayerSpec::Kind::Linear)  // its run is one block: no per-layer output to show
      throw Error("Model::layer_outputs: layer " + layers_[i].name + " is a Linear layer");
  require_input(x.size(), N * input_size());
  // Layer objects of their own, unfused: before the first Linear, block i is then layer i (the model's blocks run a
  // ReLU and the pooling after it as one).
  const std::vector<LayerSpec> first(layers_.begin(), layers_.begin() + static_cast<std::ptrdiff_t>(count));
  const std::vector<std::unique_ptr<nn::Layer>> blocks =
      nn::build_layers(first, states_of(first, params_, grads_, buffers_, counts_), false);
  const nn::EvalScope eval(*this);
  const nn::ForwardContext ctx{false, seed_, forward_steps_};
  std::vector<Tensor> out;
  std::span<const float> h = x.first(N * input_size());
  for (std::size_t i = 0; i < count; ++i) {
    h = blocks[i]->forward(h, N, ctx);
    Shape shape{N};
    shape.insert(shape.end(), layers_[i].out_shape.begin(), layers_[i].out_shape.end());
    out.emplace_back(shape, std::vector<float>(h.begin(), h.end()));
  }
  return out;
}

Tensor Model::predict_proba(std::span<const float> x, std::size_t N) {
  const nn::EvalScope eval(*this);
  const std::size_t C = num_classes(), D = input_size(), chunk = inference_chunk();
  Tensor probs({N, C});
  for (std::size_t s = 0; s < N; s += chunk) {
    const std::size_t n = std::min(chunk, N - s);
    const std::span<const float> logits = infer(x.subspan(s * D, n * D), n);
    kernels::softmax_forward(probs.span().subspan(s * C, n * C), logits, n, C);
  }
  return probs;
}

std::vector<std::int32_t> Model::predict(std::span<const float> x, std::size_t N) {
  const nn::EvalScope eval(*this);
  const std::size_t C = num_classes(), D = input_size(), chunk = inference_chunk();
  std::vector<std::int32_t> out(N);
  for (std::size_t s = 0; s < N; s += chunk) {
    const std::size_t n = std::min(chunk, N - s);
    kernels::argmax_rows(std::span(out).subspan(s, n), infer(x.subspan(s * D, n * D), n), n, C);
  }
  return out;
}

}  // namespace mnist
