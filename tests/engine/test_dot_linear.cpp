// The dot kernels of few-output layers (kernels/dot_linear.hpp): the same products as the BLAS kernels within float
// rounding at every tile edge (rows in pairs, outputs in fives, input columns in 8- and 16-wide vectors and a
// scalar tail), on real Fashion-MNIST images; one fixed summation order per output whatever the row range, column
// chunk or thread count (bit-identical); gradients accumulate like .grad.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/dot_linear.hpp"
#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"
#include "mnist/idx.hpp"
#include "linear_products.hpp"
#include "reference_math.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::kernels;
using namespace mnist::testing;

namespace {
// Forward (with or without ReLU) and weight gradient of the dot kernels.
LinearProducts dot(const std::vector<float>& inp, const std::vector<float>& w, const std::vector<float>& b,
                   const std::vector<float>& dout, std::size_t N, std::size_t D_in, std::size_t D_out, bool relu) {
  LinearProducts p = fresh_products(N, D_in, D_out);
  dot_linear_forward(p.out, inp, w, b, N, D_in, D_out, relu);
  dot_linear_backward(p.dweight, p.dbias, dout, inp, N, D_in, D_out);
  return p;
}
}  // namespace

TEST(DotLinear, MatchesBlasAtEveryTileEdge) {
  // Rows: one, a pair and one, two chunks with an odd row left. Outputs: 1, a group of five and one, two groups,
  // and 12 (two groups and two). Inputs: fewer than a vector, a vector and a tail, 16-wide blocks plus one 8-wide
  // vector plus a tail (100), and the tutorial's 784.
  for (const std::size_t N : {1, 3, 129})
    for (const std::size_t D_out : {1, 6, 10, 12})
      for (const std::size_t D_in : {5, 13, 100, 784})
        expect_matches_blas(dot, random_floats(N * D_in, N + D_in, 0.0f, 1.0f), N, D_in, D_out);
}

TEST(DotLinear, MatchesBlasOnRealFashionMnistImages) {
  const std::vector<float> x = test_images(fashion_mnist_dir(), 128);
  if (x.empty()) GTEST_SKIP() << "/usr/share/datasets/fashion-mnist not found";
  expect_matches_blas(dot, x, 128, 784, 10);
}

TEST(DotLinear, RowRangesAndColumnChunksGiveTheSameBits) {
  // The model runs rows [r0, r1) of every layer in one region and the weight gradient in claimed column chunks: a
  // row's outputs and a weight's gradient must not depend on which range or chunk computed them.
  const std::size_t N = 9, D_in = 100, D_out = 10;
  const std::vector<float> inp = random_floats(N * D_in, 1), w = random_floats(D_out * D_in, 2),
                           b = random_floats(D_out, 3), dout = random_floats(N * D_out, 4);
  std::vector<float> whole(N * D_out), parts(N * D_out);
  dot_linear_forward_rows(whole, inp, w, b, 0, N, D_in, D_out, true);
  dot_linear_forward_rows(parts, inp, w, b, 0, 3, D_in, D_out, true);
  dot_linear_forward_rows(parts, inp, w, b, 3, 4, D_in, D_out, true);
  dot_linear_forward_rows(parts, inp, w, b, 4, N, D_in, D_out, true);
  EXPECT_EQ(whole, parts);
  std::vector<float> dw1(D_out * D_in, 0.0f), db1(D_out, 0.0f), dw4(D_out * D_in, 0.0f), db4(D_out, 0.0f);
  dot_linear_backward_chunk(dw1, db1, dout, inp, N, D_in, D_out, 0, 1);
  for (std::size_t c = 0; c < 4; ++c) dot_linear_backward_chunk(dw4, db4, dout, inp, N, D_in, D_out, c, 4);
  EXPECT_EQ(dw1, dw4);
  EXPECT_EQ(db1, db4);
}

TEST(DotLinear, GradientsAccumulate) {
  const std::size_t N = 7, D_in = 40, D_out = 10;
  const std::vector<float> inp = random_floats(N * D_in, 5), w = random_floats(D_out * D_in, 6),
                           b = random_floats(D_out, 7), dout = random_floats(N * D_out, 8);
  std::vector<float> dw(D_out * D_in, 0.0f), db(D_out, 0.0f);
  dot_linear_backward(dw, db, dout, inp, N, D_in, D_out);
  const std::vector<float> once = dw, once_b = db;
  dot_linear_backward(dw, db, dout, inp, N, D_in, D_out);
  // A weight's gradient is summed, then added (exactly twice the first); the bias's rows are added one by one
  // onto what is there (add_column_sums, as every kernel path does), so only within rounding.
  for (std::size_t i = 0; i < dw.size(); ++i) ASSERT_EQ(dw[i], 2.0f * once[i]) << i;
  for (std::size_t i = 0; i < db.size(); ++i) ASSERT_FLOAT_EQ(db[i], 2.0f * once_b[i]) << i;
}

TEST(DotLinear, SameBitsOnOneAndTwoThreads) { expect_same_bits_on_one_and_two_threads(dot, 10); }

TEST(DotLinear, OverwriteEqualsClearingThenAccumulatingAndAnEmptyBiasIsSkipped) {
  // Write::Overwrite (the merged layers' fresh products) must give the bits of clearing to 0 and accumulating, on
  // the vector tiles and the scalar tail (D_in 100 = 6 x 16 + 4), over whatever the buffers held.
  const std::size_t N = 9, D_in = 100, D_out = 12;
  const std::vector<float> inp = random_floats(N * D_in, 9), dout = random_floats(N * D_out, 10);
  std::vector<float> cleared(D_out * D_in, 0.0f), cleared_b(D_out, 0.0f);
  std::vector<float> over = random_floats(D_out * D_in, 11), over_b = random_floats(D_out, 12);
  for (std::size_t c = 0; c < 4; ++c) {
    dot_linear_backward_chunk(cleared, cleared_b, dout, inp, N, D_in, D_out, c, 4);
    dot_linear_backward_chunk(over, over_b, dout, inp, N, D_in, D_out, c, 4, Write::Overwrite);
  }
  auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  EXPECT_TRUE(same_bits(cleared, over));
  EXPECT_TRUE(same_bits(cleared_b, over_b));
  // Without a bias buffer the weight gradient is the same and nothing else is written.
  std::vector<float> no_bias(D_out * D_in, 0.0f);
  dot_linear_backward_chunk(no_bias, {}, dout, inp, N, D_in, D_out, 0, 1);
  EXPECT_TRUE(same_bits(cleared, no_bias));
}
