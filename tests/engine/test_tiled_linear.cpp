// The tiled dense kernels of the first layer (kernels/tiled_linear.hpp): the same products as the BLAS kernels
// within float rounding at every tile and block edge, on real Fashion-MNIST images; one fixed summation order per
// output whatever the tiling or the thread count (bit-identical); and the transposed-weight helpers they share with
// the pair kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"
#include "kernels/tiled_linear.hpp"
#include "kernels/weight_t.hpp"
#include "mnist/idx.hpp"
#include "linear_products.hpp"
#include "reference_math.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::kernels;
using namespace mnist::testing;

namespace {
struct TiledWorkspace {
  std::vector<float> wt_storage, dwt_storage, scratch_storage;
  std::span<float> weight_t, dweight_t, scratch;
  // The workspace starts dirty (NaN), as the model's is after an earlier step: nothing may be read before it is
  // written.
  TiledWorkspace(std::size_t N, std::size_t D_in, std::size_t D_out)
      : weight_t(cache_aligned(wt_storage, D_in * padded_width(D_out))),
        dweight_t(cache_aligned(dwt_storage, D_in * padded_width(D_out))),
        scratch(cache_aligned(scratch_storage, N * padded_width(D_out))) {
    for (std::vector<float>* v : {&wt_storage, &dwt_storage, &scratch_storage})
      std::fill(v->begin(), v->end(), std::numeric_limits<float>::quiet_NaN());
  }
};

// Forward (with or without ReLU) and weight gradient of the tiled kernels.
LinearProducts tiled(const std::vector<float>& inp, const std::vector<float>& w, const std::vector<float>& b,
                     const std::vector<float>& dout, std::size_t N, std::size_t D_in, std::size_t D_out, bool relu) {
  TiledWorkspace ws(N, D_in, D_out);
  LinearProducts p = fresh_products(N, D_in, D_out);
  transpose_weight(ws.weight_t, w, D_out, D_in);
  tiled_linear_forward(p.out, ws.scratch, inp, ws.weight_t, b, N, D_in, D_out, relu);
  tiled_linear_backward(p.dweight, p.dbias, ws.dweight_t, ws.scratch, dout, inp, N, D_in, D_out);
  return p;
}
}  // namespace

TEST(TiledLinear, MatchesBlasAtEveryTileAndBlockEdge) {
  // Rows: fewer than a tile, one tile, a tile and one, two chunks with leftovers. Outputs: one vector, a 16-wide
  // block, a block and a half, two blocks, two and a half (padding at every place). Inputs: a last pass that is not
  // 128 columns nor a multiple of 6 or 8, and the tutorial's 784.
  for (const std::size_t N : {1, 5, 6, 7, 130})
    for (const std::size_t D_out : {1, 8, 10, 16, 24, 32, 40})
      for (const std::size_t D_in : {100, 784})
        expect_matches_blas(tiled, random_floats(N * D_in, N + D_in, 0.0f, 1.0f), N, D_in, D_out);
}

TEST(TiledLinear, MatchesBlasOnRealFashionMnistImages) {
  const std::vector<float> x = test_images(fashion_mnist_dir(), 128);
  if (x.empty()) GTEST_SKIP() << "/usr/share/datasets/fashion-mnist not found";
  for (const std::size_t D_out : {10, 32}) expect_matches_blas(tiled, x, 128, 784, D_out);
}

TEST(TiledLinear, EachRowGetsTheSameBitsAloneOrInABatch) {
  // A row's outputs are one chain over the columns in order, whether a 6-row tile or a single-row tile computes
  // them; so the batch's row 3 alone equals row 3 of the batch.
  const std::size_t N = 12, D_in = 784, D_out = 32;
  const std::vector<float> inp = random_floats(N * D_in, 1), w = random_floats(D_out * D_in, 2),
                           b = random_floats(D_out, 3), dout = random_floats(N * D_out, 4);
  const LinearProducts batch = tiled(inp, w, b, dout, N, D_in, D_out, false);
  const std::vector<float> row3(inp.begin() + 3 * D_in, inp.begin() + 4 * D_in),
      dout3(dout.begin() + 3 * D_out, dout.begin() + 4 * D_out);
  const LinearProducts alone = tiled(row3, w, b, dout3, 1, D_in, D_out, false);
  EXPECT_EQ(alone.out, std::vector<float>(batch.out.begin() + 3 * D_out, batch.out.begin() + 4 * D_out));
}

TEST(TiledLinear, SameBitsOnOneAndTwoThreads) { expect_same_bits_on_one_and_two_threads(tiled, 32); }

TEST(TiledLinear, AddTransposedAddsEveryColumnOfItsRange) {
  // dweight_t [D_in, P] added into dweight [D_out, D_in] for columns [k0, k1): 8x8 blocks and the leftovers.
  for (const std::size_t D_out : {3, 8, 10, 32})
    for (const std::size_t k0 : {0, 48}) {
      const std::size_t D_in = 100, k1 = 97, P = padded_width(D_out);
      std::vector<float> storage;
      const std::span<float> dwt = cache_aligned(storage, D_in * P);
      for (std::size_t i = 0; i < dwt.size(); ++i) dwt[i] = static_cast<float>(i);
      std::vector<float> dw(D_out * D_in, 1.0f);
      add_transposed(dw, dwt, k0, k1, D_in, D_out);
      for (std::size_t o = 0; o < D_out; ++o)
        for (std::size_t k = 0; k < D_in; ++k)
          ASSERT_EQ(dw[o * D_in + k], k >= k0 && k < k1 ? 1.0f + dwt[k * P + o] : 1.0f)
              << "D_out " << D_out << " k0 " << k0 << " o " << o << " k " << k;
    }
}
