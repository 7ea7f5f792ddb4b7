// Google Benchmark microbenchmarks of the kernels at the tutorial's shapes (batch 128; 784->32, 32->10, 784->10),
// reporting FLOP/s (items = floating-point operations) or bytes/s.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/gather.hpp"
#include "kernels/linear.hpp"
#include "kernels/softmax_cross_entropy.hpp"

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

void BM_SoftmaxCrossEntropy(benchmark::State& state) {
  const std::size_t N = 128, C = 10;
  const std::vector<float> logits = randoms(N * C);
  std::vector<std::int32_t> y(N);
  for (std::size_t n = 0; n < N; ++n) y[n] = static_cast<std::int32_t>(n % C);
  std::vector<float> probs(N * C);
  for (auto _ : state) {
    benchmark::DoNotOptimize(mnist::kernels::softmax_cross_entropy_forward(probs, logits, y, N, C));
    mnist::kernels::softmax_cross_entropy_backward(probs, probs, y, N, C);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * N));
}

void BM_GatherBatch(benchmark::State& state) {
  const std::size_t count = 60000, D = 784, B = 128;
  std::vector<std::uint8_t> images(count * D), labels(count);
  std::mt19937 gen(2);
  for (auto& p : images) p = static_cast<std::uint8_t>(gen());
  std::vector<std::size_t> idx(B);
  for (auto& i : idx) i = gen() % count;
  std::vector<float> x(B * D);
  std::vector<std::int32_t> y(B);
  for (auto _ : state) {
    mnist::kernels::gather_batch(x, y, images, labels, idx, B, D);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * B * D * (1 + sizeof(float))));
}
}  // namespace

BENCHMARK(BM_LinearForward)->Args({128, 784, 32})->Args({128, 32, 10})->Args({128, 784, 10});
BENCHMARK(BM_LinearBackward)->Args({128, 784, 32, 0})->Args({128, 32, 10, 1})->Args({128, 784, 10, 0});
BENCHMARK(BM_SoftmaxCrossEntropy);
BENCHMARK(BM_GatherBatch);
BENCHMARK_MAIN();
