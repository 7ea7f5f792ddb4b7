// Kernels: hand-checkable results, finite-difference gradient checks in double, numerical edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "kernels/activation.hpp"
#include "kernels/gather.hpp"
#include "kernels/linear.hpp"
#include "kernels/softmax_cross_entropy.hpp"
#include "reference_math.hpp"

using namespace mnist;
using namespace mnist::kernels;
using namespace mnist::testing;

TEST(LinearKernel, HandCheckableForward) {
  // inp [2, 3], weight [2, 3], bias [2]
  const std::vector<float> inp{1, 2, 3, -1, 0, 1}, w{1, 1, 1, 0.5f, 0, -1}, b{10, 20};
  std::vector<float> out(4, -99);
  linear_forward(out, inp, w, b, 2, 3, 2);
  EXPECT_EQ(out, (std::vector<float>{16, 17.5f, 10, 18.5f}));
}

TEST(LinearKernel, BackwardMatchesFiniteDifferences) {
  const std::size_t N = 5, I = 7, O = 4;
  const std::vector<float> inp = random_floats(N * I, 1), w = random_floats(O * I, 2), b = random_floats(O, 3);
  const std::vector<float> R = random_floats(N * O, 4);  // L = sum(out ⊙ R), so dout = R
  std::vector<float> dinp(N * I), dw(O * I, 0.0f), db(O, 0.0f);
  linear_backward(dinp, dw, db, R, inp, w, N, I, O);
  auto loss = [&](std::vector<double> x, std::vector<double> ww, std::vector<double> bb) {
    const std::vector<double> out = ref_linear(x, ww, bb, N, I, O);
    double s = 0;
    for (std::size_t k = 0; k < out.size(); ++k) s += out[k] * R[k];
    return s;
  };
  const double h = 1e-6;
  double worst = 0;
  // Perturb each of the three inputs at every position (small enough to do exhaustively).
  std::vector<double> x = to_double(inp), ww = to_double(w), bb = to_double(b);
  for (int which = 0; which < 3; ++which) {
    std::vector<double>& t = which == 0 ? x : which == 1 ? ww : bb;
    const std::vector<float>& g = which == 0 ? dinp : which == 1 ? dw : db;
    for (std::size_t k = 0; k < t.size(); ++k) {
      const double saved = t[k];
      t[k] = saved + h;
      const double up = loss(x, ww, bb);
      t[k] = saved - h;
      const double down = loss(x, ww, bb);
      t[k] = saved;
      const double fd = (up - down) / (2 * h);
      worst = std::max(worst, rel_error(g[k], fd));
    }
  }
  std::printf("linear: largest relative error %.3g\n", worst);
  EXPECT_LT(worst, 1e-5);
}

TEST(LinearKernel, BackwardAccumulatesWeightGradients) {
  const std::size_t N = 3, I = 4, O = 2;
  const std::vector<float> inp = random_floats(N * I, 5), w = random_floats(O * I, 6), dout = random_floats(N * O, 7);
  std::vector<float> dinp(N * I), dw(O * I, 0.0f), db(O, 0.0f);
  linear_backward(dinp, dw, db, dout, inp, w, N, I, O);
  const std::vector<float> dw1 = dw, db1 = db, dinp1 = dinp;
  linear_backward(dinp, dw, db, dout, inp, w, N, I, O);
  for (std::size_t k = 0; k < dw.size(); ++k) EXPECT_FLOAT_EQ(dw[k], 2 * dw1[k]);
  for (std::size_t k = 0; k < db.size(); ++k) EXPECT_FLOAT_EQ(db[k], 2 * db1[k]);
  EXPECT_EQ(dinp, dinp1);  // the input gradient is written, not accumulated
}

// The input gradient alone, on both of its paths: the small-layer loop (<= 4096 weights: a hidden layer's 32 <- 10;
// 32-wide blocks, 8-wide blocks and a scalar tail) and sgemm above; against double sums, and rows [2, N) computed
// alone (as the model's row ranges do) give the same bits as in the whole batch.
TEST(LinearKernel, InputGradientOnBothPathsMatchesDoubleAndIsRowLocal) {
  struct Shape {
    std::size_t N, I, O;
  };
  for (const Shape sh : {Shape{13, 32, 10}, Shape{9, 40, 3}, Shape{7, 17, 5}, Shape{4, 8, 1}, Shape{3, 64, 64},
                         Shape{3, 65, 64}, Shape{5, 128, 10}}) {
    SCOPED_TRACE(std::to_string(sh.N) + "x" + std::to_string(sh.I) + "x" + std::to_string(sh.O));
    const std::vector<float> dout = random_floats(sh.N * sh.O, 11), w = random_floats(sh.O * sh.I, 12);
    std::vector<float> dinp(sh.N * sh.I, std::nanf("")), part(sh.N * sh.I, std::nanf(""));
    linear_backward_input(dinp, dout, w, sh.N, sh.I, sh.O);
    double worst = 0;
    for (std::size_t n = 0; n < sh.N; ++n)
      for (std::size_t k = 0; k < sh.I; ++k) {
        double ref = 0;
        for (std::size_t o = 0; o < sh.O; ++o)
          ref += static_cast<double>(dout[n * sh.O + o]) * static_cast<double>(w[o * sh.I + k]);
        worst = std::max(worst, std::abs(dinp[n * sh.I + k] - ref) / std::max(1.0, std::abs(ref)));
      }
    EXPECT_LT(worst, 1e-5);
    linear_backward_input(std::span(part).subspan(2 * sh.I), std::span(dout).subspan(2 * sh.O), w, sh.N - 2, sh.I,
                          sh.O);
    for (std::size_t k = 2 * sh.I; k < part.size(); ++k) ASSERT_EQ(part[k], dinp[k]) << k;
  }
}

TEST(ReluKernel, ForwardAndFiniteDifferenceBackward) {
  const std::vector<float> x{-2, -0.5f, 0.25f, 3, -1e-3f, 7};
  std::vector<float> y(6), dx(6);
  relu_forward(y, x, 6);
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0.25f, 3, 0, 7}));
  const std::vector<float> R{1, 2, 3, 4, 5, 6};
  relu_backward(dx, R, y, 6);
  double worst = 0;
  const double h = 1e-6;
  for (std::size_t k = 0; k < x.size(); ++k) {
    auto f = [&](double v) { return (v > 0 ? v : 0) * R[k]; };
    const double fd = (f(x[k] + h) - f(x[k] - h)) / (2 * h);
    worst = std::max(worst, rel_error(dx[k], fd));
  }
  std::printf("relu: largest relative error %.3g\n", worst);
  EXPECT_LT(worst, 1e-6);
}

TEST(SoftmaxCrossEntropy, BackwardMatchesFiniteDifferences) {
  const std::size_t N = 6, C = 10;
  const std::vector<float> logits = random_floats(N * C, 8, -3, 3);
  const std::vector<std::int32_t> y = random_labels(N, C, 9);
  std::vector<float> probs(N * C), dlogits(N * C);
  const double loss = softmax_cross_entropy_forward(probs, logits, y, N, C);
  EXPECT_NEAR(loss, ref_cross_entropy(to_double(logits), y, N, C), 1e-6);
  softmax_cross_entropy_backward(dlogits, probs, y, N, C);
  std::vector<double> z = to_double(logits);
  double worst = 0;
  const double h = 1e-6;
  for (std::size_t k = 0; k < z.size(); ++k) {
    const double saved = z[k];
    z[k] = saved + h;
    const double up = ref_cross_entropy(z, y, N, C);
    z[k] = saved - h;
    const double down = ref_cross_entropy(z, y, N, C);
    z[k] = saved;
    worst = std::max(worst, rel_error(dlogits[k], (up - down) / (2 * h)));
  }
  std::printf("softmax cross-entropy: largest relative error %.3g\n", worst);
  EXPECT_LT(worst, 1e-5);
}

TEST(SoftmaxCrossEntropy, FiniteForHugeLogitsAndBatchOfOne) {
  const std::vector<float> logits{1e4f, -1e4f, 0.0f, 1e4f, 5.0f, -1e4f};
  std::vector<float> probs(6);
  // Row 0: label 1 sits 2e4 below the max: loss 2e4 exactly, no inf/nan.
  const double loss = softmax_cross_entropy_forward(probs, std::span(logits).first(3), std::vector<std::int32_t>{1}, 1, 3);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, 2e4, 1e-3);
  EXPECT_FLOAT_EQ(probs[0], 1.0f);
  EXPECT_EQ(probs[1], 0.0f);
  const double loss2 = softmax_cross_entropy_forward(probs, logits, std::vector<std::int32_t>{0, 0}, 2, 3);
  EXPECT_TRUE(std::isfinite(loss2));
  std::vector<float> d(6);
  softmax_cross_entropy_backward(d, probs, std::vector<std::int32_t>{0, 0}, 2, 3);
  for (float v : d) EXPECT_TRUE(std::isfinite(v));
}

TEST(SoftmaxCrossEntropy, UniformLogitsGiveLogC) {
  const std::vector<float> logits(4 * 10, 0.5f);
  std::vector<float> probs(40);
  const double loss = softmax_cross_entropy_forward(probs, logits, std::vector<std::int32_t>{0, 3, 9, 2}, 4, 10);
  EXPECT_NEAR(loss, std::log(10.0), 1e-6);
  for (float p : probs) EXPECT_FLOAT_EQ(p, 0.1f);
}

// The softmax's own exp (vectorised: glibc's expf is one call per element): within 2 ulp of e^x over its whole
// domain [-87, 0] on a fine grid, the same bits on the vector and the scalar path, exact at 0, 0 below -87, NaN kept.
TEST(SoftmaxCrossEntropy, ExpIsAccurateAndTheSameOnBothPaths) {
  double worst = 0;
  for (int i = 0; i <= 870000; ++i) {
    const float x = -static_cast<float>(i) * 1e-4f;
    const float v = softmax_exp(x, true), s = softmax_exp(x, false);
    ASSERT_EQ(v, s) << "x " << x;
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(v - want) / want);
  }
  std::printf("softmax exp: largest relative error %.3g\n", worst);
  EXPECT_LT(worst, 2.5e-7);  // 2 ulp
  EXPECT_EQ(softmax_exp(0.0f, true), 1.0f);
  EXPECT_EQ(softmax_exp(-87.5f, true), 0.0f);
  EXPECT_EQ(softmax_exp(-std::numeric_limits<float>::infinity(), true), 0.0f);
  EXPECT_EQ(softmax_exp(-std::numeric_limits<float>::infinity(), false), 0.0f);
  EXPECT_TRUE(std::isnan(softmax_exp(std::nanf(""), true)));
  EXPECT_TRUE(std::isnan(softmax_exp(std::nanf(""), false)));
}

// What a training step calls (one pass, one hand-off) equals the forward then the backward, bit for bit, on
// batches that the two fixed row halves split evenly and unevenly.
TEST(SoftmaxCrossEntropy, ForwardBackwardInOnePassEqualsTheTwo) {
  for (const std::size_t N : {1, 64, 65, 128}) {
    const std::size_t C = 10;
    const std::vector<float> logits = random_floats(N * C, 21, -5, 5);
    const std::vector<std::int32_t> y = random_labels(N, C, 22);
    std::vector<float> probs(N * C), two(N * C), one(N * C, std::nanf(""));
    const double loss_two = softmax_cross_entropy_forward(probs, logits, y, N, C);
    softmax_cross_entropy_backward(two, probs, y, N, C);
    const double loss_one = softmax_cross_entropy_forward_backward(one, logits, y, N, C);
    EXPECT_EQ(loss_one, loss_two) << N;
    EXPECT_EQ(one, two) << N;
  }
}

TEST(SoftmaxCrossEntropy, NanLogitMakesItsRowNan) {
  std::vector<float> logits{0.5f, std::nanf(""), -1.0f, 2.0f, 1.0f, 0.0f}, probs(6);
  const double loss = softmax_cross_entropy_forward(probs, logits, std::vector<std::int32_t>{0, 1}, 2, 3);
  EXPECT_TRUE(std::isnan(loss));
  for (std::size_t c = 0; c < 3; ++c) EXPECT_TRUE(std::isnan(probs[c])) << c;
  for (std::size_t c = 3; c < 6; ++c) EXPECT_TRUE(std::isfinite(probs[c])) << c;
}

TEST(Argmax, FirstOnTies) {
  const std::vector<float> v{1, 3, 3, 0, -1, -1, -5, -1};
  std::vector<std::int32_t> out(2);
  argmax_rows(out, v, 2, 4);
  EXPECT_EQ(out, (std::vector<std::int32_t>{1, 0}));
}

TEST(GatherBatch, ConvertsBytesAndPicksIndices) {
  const std::vector<std::uint8_t> images{0, 255, 51, 1, 2, 3, 10, 20, 30};  // [3, 3]
  const std::vector<std::uint8_t> labels{7, 8, 9};
  const std::vector<std::size_t> idx{2, 0};
  std::vector<float> x(6);
  std::vector<std::int32_t> y(2);
  gather_batch(x, y, images, labels, idx, 2, 3);
  EXPECT_EQ(y, (std::vector<std::int32_t>{9, 7}));
  EXPECT_EQ(x[0], 10.0f / 255.0f);
  EXPECT_EQ(x[3], 0.0f);
  EXPECT_EQ(x[4], 1.0f);
  EXPECT_EQ(x[5], 51.0f / 255.0f);
}
