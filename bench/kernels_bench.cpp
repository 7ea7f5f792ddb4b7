// Google Benchmark microbenchmarks of the kernels at the tutorial's shapes (batch 128; 784->32, 32->10, 784->10),
// reporting FLOP/s (items = floating-point operations) or bytes/s.
// FLOP/s counts the DENSE work (2·N·in·out per product) for every variant, so that the sparse first layer's
// figure is directly comparable: above the dense one means it finishes the same product sooner.
// The first-layer variants run on real batches (the first 128 training images of Fashion-MNIST, and of the MNIST
// test set from ../shared) and on random dense data; a missing data set skips its benchmarks.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "kernels/dot_linear.hpp"
#include "kernels/gather.hpp"
#include "kernels/linear.hpp"
#include "kernels/softmax_cross_entropy.hpp"
#include "kernels/sparse_linear.hpp"
#include "kernels/tiled_linear.hpp"
#include "mnist/error.hpp"
#include "mnist/idx.hpp"

namespace {
std::vector<float> randoms(std::size_t n) {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

void BM_LinearForward(benchmark::State& state) {
  const auto N = static_cast<std::size_t>(state.range(0)), I = static_cast<std::size_t>(state.range(1)),
             O = static_cast<std::size_t>(state.range(2));
  mnist::kernels::use_single_threaded_blas();
  const std::vector<float> x = randoms(N * I), w = randoms(O * I), b = randoms(O);
  std::vector<float> out(N * O);
  for (auto _ : state) {
    mnist::kernels::linear_forward(out, x, w, b, N, I, O);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(static_cast<double>(2 * N * I * O), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LinearBackward(benchmark::State& state) {
  const auto N = static_cast<std::size_t>(state.range(0)), I = static_cast<std::size_t>(state.range(1)),
             O = static_cast<std::size_t>(state.range(2));
  const bool with_dinp = state.range(3) != 0;
  mnist::kernels::use_single_threaded_blas();
  const std::vector<float> x = randoms(N * I), w = randoms(O * I), dout = randoms(N * O);
  std::vector<float> dinp(with_dinp ? N * I : 0), dw(O * I), db(O);
  for (auto _ : state) {
    mnist::kernels::linear_backward(dinp, dw, db, dout, x, w, N, I, O);
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(static_cast<double>((with_dinp ? 4 : 2) * N * I * O),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// The first 128 images of an IDX file as floats / 255, or random dense floats for "dense".
enum Data { kRandom = 0, kFashion = 1, kMnist = 2 };
const char* data_name(std::int64_t d) { return d == kFashion ? "fashion" : d == kMnist ? "mnist" : "random"; }

bool batch_of(std::vector<float>& x, std::int64_t data, std::size_t N, std::size_t D) {
  if (data == kRandom) {
    x = randoms(N * D);
    return true;
  }
  const char* path = data == kFashion ? "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
                                      : "../shared/data/mnist/t10k-images-idx3-ubyte.gz";
  try {
    const mnist::IdxArray a = mnist::read_idx(path);
    x.resize(N * D);
    for (std::size_t i = 0; i < N * D; ++i) x[i] = static_cast<float>(a.bytes[i]) / 255.0f;
    return true;
  } catch (const mnist::Error&) {
    return false;
  }
}

double density(const std::vector<float>& x) {
  std::size_t nz = 0;
  for (float v : x) nz += v != 0.0f;
  return static_cast<double>(nz) / static_cast<double>(x.size());
}

// One first-layer case: Args N, in, out, data set. Holds the batch, random weights and the sparse workspace.
struct FirstLayerCase {
  std::size_t N, I, O, P;
  std::int64_t data;
  std::vector<float> x, w, b, dout, out, dw, db, wt_storage, dwt_storage, zeros, scratch_storage;
  std::vector<std::uint32_t> split, index;
  std::span<float> wt, dwt;
  mnist::kernels::SparseRows rows;
  bool ok;

  explicit FirstLayerCase(const benchmark::State& state)
      : N(static_cast<std::size_t>(state.range(0))), I(static_cast<std::size_t>(state.range(1))),
        O(static_cast<std::size_t>(state.range(2))), P(mnist::kernels::padded_width(O)), data(state.range(3)),
        w(randoms(O * I)), b(randoms(O)), dout(randoms(N * O)), out(N * O), dw(O * I), db(O), zeros(I, 0.0f),
        split(mnist::kernels::row_pairs(N) * (mnist::kernels::column_passes(I) + 1)),
        index(mnist::kernels::row_pairs(N) * I) {
    ok = batch_of(x, data, N, I);
    wt = mnist::kernels::cache_aligned(wt_storage, I * P);
    dwt = mnist::kernels::cache_aligned(dwt_storage, I * P);
    rows = {split, index, mnist::kernels::cache_aligned(scratch_storage, 2 * mnist::kernels::row_pairs(N) * P), zeros};
    mnist::kernels::use_single_threaded_blas();
  }

  // Label and FLOP/s counter (dense FLOP count, see the top of the file).
  void report(benchmark::State& state) const {
    state.SetLabel(std::string(data_name(data)) + " density " + std::to_string(density(x)).substr(0, 4));
    state.counters["FLOP/s"] =
        benchmark::Counter(static_cast<double>(2 * N * I * O), benchmark::Counter::kIsIterationInvariantRate);
  }
};

void BM_FirstLayerDenseForward(benchmark::State& state) {
  FirstLayerCase c(state);
  if (!c.ok) return state.SkipWithError("data set not found");
  for (auto _ : state) {
    mnist::kernels::linear_relu_forward(c.out, c.x, c.w, c.b, c.N, c.I, c.O);
    benchmark::DoNotOptimize(c.out.data());
  }
  c.report(state);
}

// Includes what the model does per forward besides the product: compressing the rows, transposing the weight.
void BM_FirstLayerSparseForward(benchmark::State& state) {
  FirstLayerCase c(state);
  if (!c.ok) return state.SkipWithError("data set not found");
  for (auto _ : state) {
    mnist::kernels::transpose_weight(c.wt, c.w, c.O, c.I);
    mnist::kernels::sparse_linear_forward(c.out, c.rows, c.x, c.wt, c.b, c.N, c.I, c.O, true);
    benchmark::DoNotOptimize(c.out.data());
  }
  c.report(state);
}

// The tiled dense kernels, also with the per-forward transpose of the weight.
void BM_FirstLayerTiledForward(benchmark::State& state) {
  FirstLayerCase c(state);
  if (!c.ok) return state.SkipWithError("data set not found");
  for (auto _ : state) {
    mnist::kernels::transpose_weight(c.wt, c.w, c.O, c.I);
    mnist::kernels::tiled_linear_forward(c.out, c.rows.scratch, c.x, c.wt, c.b, c.N, c.I, c.O, true);
    benchmark::DoNotOptimize(c.out.data());
  }
  c.report(state);
}

void BM_FirstLayerTiledBackward(benchmark::State& state) {
  FirstLayerCase c(state);
  if (!c.ok) return state.SkipWithError("data set not found");
  for (auto _ : state) {
    mnist::kernels::tiled_linear_backward(c.dw, c.db, c.dwt, c.rows.scratch, c.dout, c.x, c.N, c.I, c.O);
    benchmark::DoNotOptimize(c.dw.data());
  }
  c.report(state);
}

// The dot kernels (few outputs: lanes along the inputs), on the weight in its own layout: no transpose.
void BM_FirstLayerDotForward(benchmark::State& state) {
  FirstLayerCase c(state);
  if (!c.ok) return state.SkipWithError("data set not found");
  for (auto _ : state) {
    mnist::kernels::dot_linear_forward(c.out, c.x, c.w, c.b, c.N, c.I, c.O, true);
    benchmark::DoNotOptimize(c.out.data());
  }
  c.report(state);
}

void BM_FirstLayerDotBackward(benchmark::State& state) {
  FirstLayerCase c(state);
  if (!c.ok) return state.SkipWithError("data set not found");
  for (auto _ : state) {
    mnist::kernels::dot_linear_backward(c.dw, c.db, c.dout, c.x, c.N, c.I, c.O);
    benchmark::DoNotOptimize(c.dw.data());
  }
  c.report(state);
}

// The weight gradient of the first layer (no input gradient): dweight += doutᵀ · x, dbias += Σ dout.
void BM_FirstLayerDenseBackward(benchmark::State& state) {
  FirstLayerCase c(state);
  if (!c.ok) return state.SkipWithError("data set not found");
  for (auto _ : state) {
    mnist::kernels::linear_backward({}, c.dw, c.db, c.dout, c.x, c.w, c.N, c.I, c.O);
    benchmark::DoNotOptimize(c.dw.data());
  }
  c.report(state);
}

void BM_FirstLayerSparseBackward(benchmark::State& state) {
  FirstLayerCase c(state);
  if (!c.ok) return state.SkipWithError("data set not found");
  mnist::kernels::transpose_weight(c.wt, c.w, c.O, c.I);
  mnist::kernels::sparse_linear_forward(c.out, c.rows, c.x, c.wt, c.b, c.N, c.I, c.O, true);
  for (auto _ : state) {
    mnist::kernels::sparse_linear_backward(c.dw, c.db, c.dwt, c.dout, c.x, c.rows, c.N, c.I, c.O);
    benchmark::DoNotOptimize(c.dw.data());
  }
  c.report(state);
}

void first_layer_args(benchmark::internal::Benchmark* b) {
  for (int out : {32, 10})
    for (int data : {kFashion, kMnist, kRandom}) b->Args({128, 784, out, data});
  b->Args({128, 32, 10, kRandom});  // the hidden models' second layer (dense activations: `hidden`)
}

void BM_SoftmaxCrossEntropy(benchmark::State& state) {
  const std::size_t N = 128, C = 10;
  const std::vector<float> logits = randoms(N * C);
  std::vector<std::int32_t> y(N);
  for (std::size_t n = 0; n < N; ++n) y[n] = static_cast<std::int32_t>(n % C);
  std::vector<float> probs(N * C);
  // What a training step runs: the loss and its gradient in one pass.
  for (auto _ : state)
    benchmark::DoNotOptimize(mnist::kernels::softmax_cross_entropy_forward_backward(probs, logits, y, N, C));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * N));
}

// One batch of an epoch: 128 images picked at random from 60,000 (47 MB, more than the caches hold), a new
// batch every iteration as in training, so that the images' bytes come from memory as they do there.
void BM_GatherBatch(benchmark::State& state) {
  const std::size_t count = 60000, D = 784, B = 128;
  std::vector<std::uint8_t> images(count * D), labels(count);
  std::mt19937 gen(2);
  for (auto& p : images) p = static_cast<std::uint8_t>(gen());
  std::vector<std::size_t> order(count);
  for (std::size_t i = 0; i < count; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), gen);
  std::vector<float> x(B * D);
  std::vector<std::int32_t> y(B);
  std::size_t at = 0;
  for (auto _ : state) {
    if (at + B > count) at = 0;
    mnist::kernels::gather_batch(x, y, images, labels, std::span(order).subspan(at, B), B, D);
    at += B;
    benchmark::DoNotOptimize(x.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * B * D * (1 + sizeof(float))));
}
}  // namespace

BENCHMARK(BM_LinearForward)->Args({128, 784, 32})->Args({128, 32, 10})->Args({128, 784, 10});
BENCHMARK(BM_LinearBackward)->Args({128, 784, 32, 0})->Args({128, 32, 10, 1})->Args({128, 784, 10, 0});
BENCHMARK(BM_FirstLayerDenseForward)->Apply(first_layer_args);
BENCHMARK(BM_FirstLayerSparseForward)->Apply(first_layer_args);
BENCHMARK(BM_FirstLayerDenseBackward)->Apply(first_layer_args);
BENCHMARK(BM_FirstLayerSparseBackward)->Apply(first_layer_args);
BENCHMARK(BM_FirstLayerTiledForward)->Apply(first_layer_args);
BENCHMARK(BM_FirstLayerTiledBackward)->Apply(first_layer_args);
BENCHMARK(BM_FirstLayerDotForward)->Apply(first_layer_args);
BENCHMARK(BM_FirstLayerDotBackward)->Apply(first_layer_args);
BENCHMARK(BM_SoftmaxCrossEntropy);
BENCHMARK(BM_GatherBatch);
BENCHMARK_MAIN();
