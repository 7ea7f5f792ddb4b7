// The first layer's sparse path (kernels/sparse_linear.hpp): the same products as the dense kernels within float
// rounding, on random and on real images; thread-count invariance to the bit; the model's switch between paths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"
#include "kernels/sparse_linear.hpp"
#include "mnist/datasets.hpp"
#include "mnist/idx.hpp"
#include "reference_math.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::kernels;
using namespace mnist::testing;

namespace {
// inp[N, D] with about `zeros` of its entries exactly 0 (the rest uniform in (0, 1]).
std::vector<float> sparse_floats(std::size_t n, double zeros, std::uint64_t seed) {
  std::vector<float> v = random_floats(n, seed, 0.0f, 1.0f);
  std::mt19937_64 gen(seed + 1);
  for (float& x : v)
    if (static_cast<double>(gen() % 1000) < zeros * 1000) x = 0.0f;
  return v;
}

struct SparseWorkspace {
  std::vector<std::uint32_t> split, index;
  std::vector<float> zeros, scratch, wt, dwt;
  SparseRows rows;
  std::span<float> weight_t, dweight_t;
  SparseWorkspace(std::size_t N, std::size_t D_in, std::size_t D_out)
      : split(row_pairs(N) * (column_passes(D_in) + 1)), index(row_pairs(N) * D_in), zeros(D_in, 0.0f) {
    const std::size_t P = padded_width(D_out);
    rows = {split, index, cache_aligned(scratch, 2 * row_pairs(N) * P), zeros};
    weight_t = cache_aligned(wt, D_in * P);
    dweight_t = cache_aligned(dwt, D_in * P);
  }
};

// Sparse forward and weight gradient against the dense kernels on inp[N, D_in].
void expect_matches_dense(const std::vector<float>& inp, std::size_t N, std::size_t D_in, std::size_t D_out,
                          const char* what) {
  const std::vector<float> w = random_floats(D_out * D_in, 5), b = random_floats(D_out, 6),
                           dout = random_floats(N * D_out, 7);
  SparseWorkspace ws(N, D_in, D_out);
  transpose_weight(ws.weight_t, w, D_out, D_in);
  for (const bool relu : {false, true}) {
    std::vector<float> dense(N * D_out), sparse(N * D_out, -99.0f);
    if (relu) linear_relu_forward(dense, inp, w, b, N, D_in, D_out);
    else linear_forward(dense, inp, w, b, N, D_in, D_out);
    sparse_linear_forward(sparse, ws.rows, inp, ws.weight_t, b, N, D_in, D_out, relu);
    EXPECT_LT(worst_rel(sparse, dense), 1e-5) << what << " forward, D_out " << D_out << " relu " << relu;
  }
  // Both accumulate into gradients that already hold something.
  std::vector<float> dw_dense(D_out * D_in, 0.5f), db_dense(D_out, 0.25f), dw_sparse = dw_dense, db_sparse = db_dense;
  linear_backward({}, dw_dense, db_dense, dout, inp, w, N, D_in, D_out);
  sparse_linear_backward(dw_sparse, db_sparse, ws.dweight_t, dout, inp, ws.rows, N, D_in, D_out);
  EXPECT_LT(worst_rel(dw_sparse, dw_dense), 1e-5) << what << " dweight, D_out " << D_out;
  EXPECT_EQ(db_sparse, db_dense) << what << " dbias, D_out " << D_out;
}
}  // namespace

TEST(SparseLinear, MatchesDenseKernelsOnRandomData) {
  // 130 rows: 65 pairs cut into two chunks; 40 outputs: two output blocks, the second one padded; 100 inputs: a
  // last pass that is not a multiple of 8 columns; 784 inputs: the tutorial's shape.
  for (const std::size_t D_out : {1, 10, 24, 32, 40})
    for (const std::size_t D_in : {100, 784}) {
      const std::size_t N = 130;
      expect_matches_dense(sparse_floats(N * D_in, 0.8, D_in), N, D_in, D_out, "80% zeros");
      expect_matches_dense(sparse_floats(N * D_in, 0.0, D_in), N, D_in, D_out, "no zeros");
    }
}

TEST(SparseLinear, OddBatchPairsItsLastRowWithZeros) {
  // 129 rows and 1 row: the last row has no partner; it must get its own sums, and nothing may be read or written
  // past the batch (the sanitized run checks the memory side).
  for (const std::size_t N : {1, 3, 129}) {
    const std::size_t D_in = 784, D_out = 32;
    expect_matches_dense(sparse_floats(N * D_in, 0.5, N), N, D_in, D_out, "odd batch");
  }
}

TEST(SparseLinear, MatchesDenseKernelsOnRealMnistImages) {
  const auto dir = mnist_test_dir();
  if (!dir) GTEST_SKIP() << "../shared/data/mnist not found";
  const IdxArray images = read_idx(*dir / "t10k-images-idx3-ubyte.gz");
  const std::size_t N = 128, D = 784;
  std::vector<float> x(N * D);
  for (std::size_t i = 0; i < N * D; ++i) x[i] = static_cast<float>(images.bytes[i]) / 255.0f;
  EXPECT_LT(static_cast<double>(count_nonzero(x)) / static_cast<double>(x.size()), kSparseMaxDensity);
  for (const std::size_t D_out : {10, 32}) expect_matches_dense(x, N, D, D_out, "MNIST t10k[0:128]");
}

TEST(SparseLinear, SameBitsOnOneAndTwoThreads) {
  const std::size_t N = 128, D_in = 784, D_out = 32;
  const std::vector<float> inp = sparse_floats(N * D_in, 0.8, 3), w = random_floats(D_out * D_in, 4),
                           b = random_floats(D_out, 5), dout = random_floats(N * D_out, 6);
  std::vector<float> out[2], dw[2], db[2];
  for (int threads : {1, 2}) {
    mnist::set_num_threads(threads);
    SparseWorkspace ws(N, D_in, D_out);
    transpose_weight(ws.weight_t, w, D_out, D_in);
    auto& o = out[threads - 1];
    o.assign(N * D_out, 0.0f);
    sparse_linear_forward(o, ws.rows, inp, ws.weight_t, b, N, D_in, D_out, true);
    dw[threads - 1].assign(D_out * D_in, 0.0f);
    db[threads - 1].assign(D_out, 0.0f);
    sparse_linear_backward(dw[threads - 1], db[threads - 1], ws.dweight_t, dout, inp, ws.rows, N, D_in, D_out);
  }
  mnist::set_num_threads(1);
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(dw[0], dw[1]);
  EXPECT_EQ(db[0], db[1]);
}

TEST(SparseLinear, NanAndInfinityInputsPropagateLikeTheDenseProduct) {
  const std::size_t N = 2, D_in = 16, D_out = 3;
  std::vector<float> inp(N * D_in, 0.0f);
  inp[3] = std::numeric_limits<float>::quiet_NaN();
  inp[D_in + 5] = std::numeric_limits<float>::infinity();
  const std::vector<float> w = random_floats(D_out * D_in, 1, 0.1f, 1.0f), b(D_out, 0.0f);
  SparseWorkspace ws(N, D_in, D_out);
  transpose_weight(ws.weight_t, w, D_out, D_in);
  std::vector<float> out(N * D_out);
  sparse_linear_forward(out, ws.rows, inp, ws.weight_t, b, N, D_in, D_out, false);
  for (std::size_t o = 0; o < D_out; ++o) {
    EXPECT_TRUE(std::isnan(out[o])) << o;
    EXPECT_TRUE(std::isinf(out[D_out + o])) << o;
  }
}

TEST(SparseLinear, TransposeWeightPadsWithZeros) {
  const std::vector<float> w{1, 2, 3, 4, 5, 6};  // [2, 3]
  std::vector<float> wt(3 * 8, -1.0f);
  transpose_weight(wt, w, 2, 3);
  const std::vector<float> expected{1, 4, 0, 0, 0, 0, 0, 0, 2, 5, 0, 0, 0, 0, 0, 0, 3, 6, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(wt, expected);
}

TEST(SparseLinear, TransposeWeightMatchesTheDefinitionForTilesAndLeftovers) {
  // 8x8 tiles plus leftover rows (D_out 10, 17) and columns (D_in 20, 3).
  for (const std::size_t D_out : {8, 10, 17})
    for (const std::size_t D_in : {3, 16, 20}) {
      const std::vector<float> w = random_floats(D_out * D_in, D_out * 100 + D_in);
      const std::size_t P = padded_width(D_out);
      std::vector<float> wt(D_in * P, -1.0f);
      transpose_weight(wt, w, D_out, D_in);
      for (std::size_t k = 0; k < D_in; ++k)
        for (std::size_t o = 0; o < P; ++o)
          ASSERT_EQ(wt[k * P + o], o < D_out ? w[o * D_in + k] : 0.0f) << D_out << "x" << D_in << " at " << k << "," << o;
    }
}

TEST(SparseLinear, CacheAlignedStartsOnA64ByteBoundary) {
  std::vector<float> storage;
  for (const std::size_t n : {1, 100, 25088}) {
    const std::span<float> s = cache_aligned(storage, n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.data()) % 64, 0u);
    EXPECT_EQ(s.size(), n);
    EXPECT_GE(s.data(), storage.data());
    EXPECT_LE(s.data() + n, storage.data() + storage.size());
  }
}
