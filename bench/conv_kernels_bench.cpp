// Google Benchmark microbenchmarks of the convolution-net kernels at the presets' shapes, batch 128, one thread:
// each conv layer's forward (im2col included), input gradient and weight gradient (with the bias gradient), the
// 2x2 max pooling and the batch normalisations.
// Counters: GFLOP/s of the convolutions (2·N·O·C·K²·OH·OW per product, the dense work, over CPU time) and
// their share of this core's FMA peak (peak%: of 92.5 GFLOP/s, the figure quoted for this machine's core with
// 256-bit FMAs; MNIST_FMA_PEAK=<GFLOP/s> sets another). BM_FmaPeak measures the 512-bit FMA peak in the same run
// (a register-only loop of independent FMAs), the ceiling the AVX-512 kernels are to be judged against: divide.
// Pooling and normalisation are memory-bound: bytes/s (read + written).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/batchnorm2d.hpp"
#include "kernels/conv2d.hpp"
#include "kernels/pool2d.hpp"

namespace {

using mnist::kernels::Conv2dShape;

constexpr std::size_t kBatch = 128;

double fma_peak() {
  const char* env = std::getenv("MNIST_FMA_PEAK");
  return env ? std::atof(env) * 1e9 : 92.5e9;
}

// Runs body once per benchmark iteration and reports the FLOP counters (flops per iteration).
template <class Body>
void timed(benchmark::State& state, double flops, const char* label, Body body) {
  for (auto _ : state) body();
  state.SetLabel(label);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] =
      benchmark::Counter(100.0 * flops / fma_peak(), benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<float> randoms(std::size_t n, float lo = -1, float hi = 1) {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

// The presets' conv layers, by index.
struct Layer {
  const char* name;
  Conv2dShape s;
};
const Layer kLayers[] = {
    {"lenet5.conv1 1->6 k5 p2 28x28", {.C = 1, .H = 28, .W = 28, .O = 6, .K = 5, .stride = 1, .padding = 2}},
    {"lenet5.conv2 6->16 k5 14x14", {.C = 6, .H = 14, .W = 14, .O = 16, .K = 5, .stride = 1, .padding = 0}},
    {"cnn.conv1 1->32 k3 p1 28x28", {.C = 1, .H = 28, .W = 28, .O = 32, .K = 3, .stride = 1, .padding = 1}},
    {"cnn.conv2 32->64 k3 p1 14x14", {.C = 32, .H = 14, .W = 14, .O = 64, .K = 3, .stride = 1, .padding = 1}},
};

struct ConvCase {
  Conv2dShape s;
  std::vector<float> x, w, b, y, cols, dy, dx, dcols, dw, db;
  explicit ConvCase(const Conv2dShape& shape)
      : s(shape), x(randoms(kBatch * s.C * s.H * s.W, 0, 1)), w(randoms(s.O * s.patch())), b(randoms(s.O)),
        y(kBatch * s.O * s.pixels()), cols(kBatch * s.patch() * s.pixels()), dy(randoms(kBatch * s.O * s.pixels())),
        dx(x.size()), dcols(s.patch() * s.pixels()), dw(w.size()), db(s.O) {
    mnist::kernels::conv2d_forward(y, cols, x, w, b, s, 0, kBatch);
  }
  double flops() const { return 2.0 * static_cast<double>(kBatch * s.O * s.patch() * s.pixels()); }
};

void BM_ConvForward(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  ConvCase c(l.s);
  timed(state, c.flops(), l.name, [&] {
    mnist::kernels::conv2d_forward(c.y, c.cols, c.x, c.w, c.b, c.s, 0, kBatch);
    benchmark::DoNotOptimize(c.y.data());
  });
}

void BM_ConvBackwardInput(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  ConvCase c(l.s);
  timed(state, c.flops(), l.name, [&] {
    mnist::kernels::conv2d_backward_input(c.dx, c.dcols, c.dy, c.w, c.s, 0, kBatch);
    benchmark::DoNotOptimize(c.dx.data());
  });
}

void BM_ConvBackwardWeight(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  ConvCase c(l.s);
  timed(state, c.flops(), l.name, [&] {
    mnist::kernels::conv2d_backward_weight(c.dw, c.db, c.dy, c.cols, c.s, kBatch, 0, c.s.O);
    benchmark::DoNotOptimize(c.dw.data());
  });
}

// Without the kept columns (each image's columns in a private buffer; the weight gradient rebuilds them from x).
void BM_ConvForwardTransient(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  ConvCase c(l.s);
  timed(state, c.flops(), l.name, [&] {
    mnist::kernels::conv2d_forward_transient(c.y, c.x, c.w, c.b, c.s, 0, kBatch);
    benchmark::DoNotOptimize(c.y.data());
  });
}

void BM_ConvBackwardWeightFromInput(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  ConvCase c(l.s);
  timed(state, c.flops(), l.name, [&] {
    mnist::kernels::conv2d_backward_weight_from_input(c.dw, c.db, c.dy, c.x, c.s, kBatch, 0, c.s.O);
    benchmark::DoNotOptimize(c.dw.data());
  });
}

// c.dy as a ReLU and a 2x2 max pooling after the layer hand it back, as in lenet5 and cnn: in every 2x2 window the
// maximum's element only, and only where the maximum is positive (25% of dy at most).
void pool_output_gradient(ConvCase& c) {
  const std::size_t OH = c.s.OH(), OW = c.s.OW();
  const std::vector<float> g = randoms(c.dy.size());
  for (std::size_t plane = 0; plane < kBatch * c.s.O; ++plane) {
    const float* y = c.y.data() + plane * OH * OW;
    float* dy = c.dy.data() + plane * OH * OW;
    std::fill(dy, dy + OH * OW, 0.0f);
    for (std::size_t py = 0; py + 1 < OH; py += 2)
      for (std::size_t px = 0; px + 1 < OW; px += 2) {
        std::size_t best = py * OW + px;
        for (std::size_t at : {py * OW + px + 1, (py + 1) * OW + px, (py + 1) * OW + px + 1})
          if (y[at] > y[best]) best = at;
        if (y[best] > 0) dy[best] = g[plane * OH * OW + best];
      }
  }
}

// The weight and input gradients with that dy: both skip its zeros (kernels/conv2d_sparse_weight.hpp,
// conv2d_sparse_input.hpp). GFLOP/s still count the dense work.
void BM_ConvBackwardWeightPooled(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  ConvCase c(l.s);
  pool_output_gradient(c);
  timed(state, c.flops(), l.name, [&] {
    mnist::kernels::conv2d_backward_weight_from_input(c.dw, c.db, c.dy, c.x, c.s, kBatch, 0, c.s.O);
    benchmark::DoNotOptimize(c.dw.data());
  });
}

void BM_ConvBackwardInputPooled(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  ConvCase c(l.s);
  pool_output_gradient(c);
  timed(state, c.flops(), l.name, [&] {
    mnist::kernels::conv2d_backward_input(c.dx, c.dcols, c.dy, c.w, c.s, 0, kBatch);
    benchmark::DoNotOptimize(c.dx.data());
  });
}

// Pooling and normalisation: Args channels, height (= width).
void BM_MaxPool2x2(benchmark::State& state) {
  const auto C = static_cast<std::size_t>(state.range(0)), H = static_cast<std::size_t>(state.range(1));
  const mnist::kernels::Pool2dShape s{.H = H, .W = H, .K = 2, .stride = 2};
  const std::size_t planes = kBatch * C, out = planes * s.OH() * s.OW();
  const std::vector<float> x = randoms(planes * H * H), dy = randoms(out);
  std::vector<float> y(out), dx(x.size());
  std::vector<std::uint32_t> argmax(out);
  for (auto _ : state) {
    mnist::kernels::maxpool2d_forward(y, argmax, x, s, 0, planes);
    mnist::kernels::maxpool2d_backward(dx, dy, argmax, s, 0, planes);
    benchmark::DoNotOptimize(dx.data());
  }
  // forward reads x, writes y and argmax; backward reads dy and argmax, writes dx
  state.counters["bytes/s"] = benchmark::Counter(4.0 * static_cast<double>(2 * x.size() + 4 * out),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_BatchNormTrain(benchmark::State& state) {
  const auto C = static_cast<std::size_t>(state.range(0)), H = static_cast<std::size_t>(state.range(1));
  const std::size_t HW = H * H;
  const std::vector<float> x = randoms(kBatch * C * HW), dy = randoms(x.size()), gamma = randoms(C), beta = randoms(C);
  std::vector<float> y(x.size()), dx(x.size()), mean(C), invstd(C), rm(C), rv(C, 1.0f), dg(C), dbeta(C);
  for (auto _ : state) {
    mnist::kernels::batchnorm2d_forward_train(y, mean, invstd, rm, rv, x, gamma, beta, kBatch, C, HW, 0.1f, 1e-5f, 0,
                                              C);
    mnist::kernels::batchnorm2d_backward(dx, dg, dbeta, dy, x, mean, invstd, gamma, kBatch, C, HW, 0, C);
    benchmark::DoNotOptimize(dx.data());
  }
  // forward: x twice for the statistics, once for y, y written; backward: x and dy twice, dx written
  state.counters["bytes/s"] =
      benchmark::Counter(4.0 * 9 * static_cast<double>(x.size()), benchmark::Counter::kIsIterationInvariantRate);
}

// The FMA peak measured in the same run: 24 independent chains of 512-bit FMAs in registers (AVX2: 12 of 256-bit),
// 2 FLOP per lane. On a shared machine the clock and the neighbours move every figure; this one moves with them.
__attribute__((target("avx512f"))) void fma_loop_avx512(float* out, long n) {
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (long k = 0; k < n; ++k)
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
  *out = _mm512_reduce_add_ps(s);
}

void BM_FmaPeak(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512f")) return state.SkipWithError("no AVX-512");
  const long n = 100000;
  float out = 0;
  timed(state, 2.0 * 16 * 24 * static_cast<double>(n), "", [&] {
    fma_loop_avx512(&out, n);
    benchmark::DoNotOptimize(out);
  });
}

void layers(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < 4; ++i) b->Arg(i);
}

}  // namespace

BENCHMARK(BM_FmaPeak)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvForward)->Apply(layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvBackwardInput)->Apply(layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvBackwardWeight)->Apply(layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvForwardTransient)->Apply(layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvBackwardWeightFromInput)->Apply(layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvBackwardWeightPooled)->Apply(layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvBackwardInputPooled)->Apply(layers)->Unit(benchmark::kMillisecond);
// lenet5 pool1, pool2; cnn pool1, pool2
BENCHMARK(BM_MaxPool2x2)->Args({6, 28})->Args({16, 10})->Args({32, 28})->Args({64, 14})->Unit(benchmark::kMillisecond);
// cnn-bn bn1, bn2
BENCHMARK(BM_BatchNormTrain)->Args({32, 28})->Args({64, 14})->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
