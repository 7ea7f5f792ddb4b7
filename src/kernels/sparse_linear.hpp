// A Linear layer that skips the input columns that are zero in both rows of a pair of rows: the model's first
// layer on MNIST-like pixels (see choose_path in src/nn/model.cpp).
//
// MNIST images are ~81% zero pixels, Fashion-MNIST ~50%, and a zero input contributes nothing to the output nor to
// the weight gradient. A kernel that skips single zeros works row by row and loads a weight row for every product
// (load-bound: measured no faster than the dense product at Fashion-MNIST's density). Pairs of rows share each
// weight row load between two rows and skip the columns where both are zero (MNIST: 30% of the columns kept,
// Fashion-MNIST: 69%): on MNIST they take about 60% of the time of the tiled dense kernels (tiled_linear.hpp).
// So each pair of the batch is first listed: the columns where either row is nonzero; the forward and the weight
// gradient then loop over those only, reading the two rows' values in place.
//
// The weight is used transposed and padded (weight_t.hpp), so that one input value multiplies a contiguous run of
// P weights (one to four AVX vectors per 32 outputs), and the columns are swept in passes that keep their weights
// in L1.
//
// Every output is a sum in an order fixed by the data alone (forward: per column pass, the pair's listed columns
// in increasing order split round-robin over a few accumulators added in a fixed order, then the passes in order;
// weight gradient: over the batch's pairs in order, a pair's first row first), so results are the same for any
// thread count. A listed column that is zero in one of the two rows adds 0 · w to that row, as the dense product
// does. On a CPU with AVX2+FMA the loops are vectorised; elsewhere a scalar version computes the same sums with
// std::fma in the same order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/weight_t.hpp"

namespace mnist::kernels {

/// The pair kernels pay when at most this share of the first layer's inputs is nonzero; above it, the tiled dense
/// kernels (tiled_linear.hpp) are faster. Measured with bench/kernels_bench.cpp (BM_FirstLayer*, batch 128, 784
/// inputs, one core, best of 3 runs), forward + weight gradient, pairs vs tiled in microseconds: MNIST (17%
/// nonzero, 30% of a pair's columns listed) 97 vs 166 for 32 outputs and 69 vs 84 for 10; Fashion-MNIST (48%, 69%
/// listed) about 183 vs 168 for 32 and 130 vs 94 for 10. MNIST-like data takes the pair kernels, Fashion-MNIST-like
/// data the tiled ones. (Layers of at most 12 outputs take the dot kernels, dot_linear.hpp, on either: faster
/// than both at 10.)
constexpr double kSparseMaxDensity = 0.25;

/// Number of entries of x that are not zero (NaN counts): decides between the pair and the tiled kernels.
std::size_t count_nonzero(std::span<const float> x);

/// Pairs of rows of a batch of N: rows 2g and 2g + 1 (the last pair of an odd batch pairs its row with zeros).
std::size_t row_pairs(std::size_t N);

/// The column lists of a batch [N, D], G = row_pairs(N) pairs. Pair g's listed columns (either row nonzero) are
/// index[g*D + i] for i in [split[g*(S+1)], split[g*(S+1) + S]) (S = column_passes(D)), in increasing order; those
/// of pass s (columns [s*kColumnsPerPass, (s+1)*kColumnsPerPass)) start at split[g*(S+1) + s]. Each pair owns a
/// region of D entries, so pairs are listed in parallel.
struct SparseRows {
  std::span<std::uint32_t> split;  // [G * (S + 1)]
  std::span<std::uint32_t> index;  // [G * D] listed columns
  std::span<float> scratch;        // [2G * P] partial sums (forward), dout padded to P columns (backward)
  std::span<const float> zeros;    // [D] all 0: the partner of an odd batch's last row
};

/// Lists the pairs of inp[N, D_in] into rows (NaN counts as nonzero, ±0 as zero), then
/// out[N, D_out] = inp · weightᵀ + bias, and max(·, 0) when relu. weight is given as weight_t[D_in, P].
/// rows stays valid for sparse_linear_backward as long as inp does not change.
void sparse_linear_forward(std::span<float> out, SparseRows rows, std::span<const float> inp,
                           std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                           std::size_t D_in, std::size_t D_out, bool relu);

/// Rows [r0, r1) of sparse_linear_forward (r0 even: whole pairs), on the calling thread, for a caller that runs row
/// ranges of every layer in one parallel region.
void sparse_linear_forward_rows(std::span<float> out, SparseRows rows, std::span<const float> inp,
                                std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                                std::size_t D_in, std::size_t D_out, bool relu, std::size_t r0, std::size_t r1);

/// Given dout[N, D_out], the forward's inp[N, D_in] and the rows it listed:
///   dweight[D_out, D_in] += doutᵀ · inp   and   dbias[D_out] += column sums of dout   (accumulate, like .grad).
/// dweight_t[D_in, P] is scratch (overwritten).
void sparse_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                            std::span<const float> dout, std::span<const float> inp, SparseRows rows, std::size_t N,
                            std::size_t D_in, std::size_t D_out);

/// Chunk c (of product_chunks(N, D_in, D_out)) of sparse_linear_backward's work, on the calling thread, given dout
/// already in rows.scratch as pad_rows(rows.scratch, dout, N, 2 * row_pairs(N), D_out) writes it.
void sparse_linear_backward_chunk(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                                  std::span<const float> dout, std::span<const float> inp, SparseRows rows,
                                  std::size_t N, std::size_t D_in, std::size_t D_out, std::size_t c,
                                  std::size_t chunks);

}  // namespace mnist::kernels
