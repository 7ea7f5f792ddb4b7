// A Linear layer that skips the input columns that are zero in both rows of a pair of rows: the model's first
// layer (pixels) and small hidden layers (see Model::use_compressed).
//
// MNIST images are ~81% zero pixels, Fashion-MNIST ~50%, and a zero input contributes nothing to the output nor to
// the weight gradient. A kernel that skips single zeros works row by row and loads a weight row for every product
// (load-bound: measured no faster than the dense product at Fashion-MNIST's density). Pairs of rows keep the
// weight row in registers for two rows and skip the columns where both are zero (MNIST: 30% of the columns kept,
// Fashion-MNIST: 69%), so they win at both densities, and still at density 1 where they are a plain dense kernel.
// So each pair of the batch is first listed: the columns where either row is nonzero; the forward and the weight
// gradient then loop over those only, reading the two rows' values in place.
//
// The weight is used transposed and padded, weight_t[D_in, P] with P = D_out rounded up to 8, so that one input
// value multiplies a contiguous run of P weights (one to four AVX vectors per 32 outputs).
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

namespace mnist::kernels {

/// n floats of storage starting on a 64-byte (cache line) boundary, growing storage when needed (never shrinking).
/// weight_t, dweight_t and scratch rows are read and written as whole AVX vectors: unaligned, every other vector
/// straddles two cache lines, and a straddling store costs about twice as much.
std::span<float> cache_aligned(std::vector<float>& storage, std::size_t n);

/// The pair kernels pay when at most this share of the first layer's inputs is nonzero; above it, the dense
/// product (BLAS) is as fast or faster. Measured with bench/kernels_bench.cpp (BM_FirstLayer*, batch 128, 784
/// inputs, one core, best of 3 alternating runs), forward + weight gradient, pairs vs dense in microseconds:
/// MNIST (17% nonzero, 30% of a pair's columns listed) 107 vs 196 for 32 outputs and 79 vs 108 for 10;
/// Fashion-MNIST (48%, 69% listed) 183 vs 195 for 32 and 130 vs 107 for 10: a tie or a loss. MNIST-like data takes
/// the pair kernels, Fashion-MNIST-like data the dense ones.
constexpr double kSparseMaxDensity = 0.25;

/// Number of entries of x that are not zero (NaN counts): decides between the pair and the dense kernels.
std::size_t count_nonzero(std::span<const float> x);

/// Padded width of weight_t's rows: D_out rounded up to a multiple of 8 floats (one AVX vector).
std::size_t padded_width(std::size_t D_out);

/// Input columns per pass: the forward and the weight gradient sweep the batch once per block of this many
/// columns, so that the block's rows of weight_t (or dweight_t), 128 x 32 floats = 16 KiB, stay in L1 while every
/// pair of the batch uses them instead of the whole 100 KiB being re-read from L2 for every pair (measured on
/// Fashion-MNIST rows: 3.8 instead of 5.3 cycles per nonzero input).
constexpr std::size_t kColumnsPerPass = 128;
/// Passes over D columns: ceil(D / kColumnsPerPass).
std::size_t column_passes(std::size_t D);

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

/// weight_t[D_in, P] = weight[D_out, D_in]ᵀ with the padding columns [D_out, P) set to 0.
void transpose_weight(std::span<float> weight_t, std::span<const float> weight, std::size_t D_out, std::size_t D_in);

/// Lists the pairs of inp[N, D_in] into rows (NaN counts as nonzero, ±0 as zero), then
/// out[N, D_out] = inp · weightᵀ + bias, and max(·, 0) when relu. weight is given as weight_t[D_in, P].
/// rows stays valid for sparse_linear_backward as long as inp does not change.
void sparse_linear_forward(std::span<float> out, SparseRows rows, std::span<const float> inp,
                           std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                           std::size_t D_in, std::size_t D_out, bool relu);

/// Given dout[N, D_out], the forward's inp[N, D_in] and the rows it listed:
///   dweight[D_out, D_in] += doutᵀ · inp   and   dbias[D_out] += column sums of dout   (accumulate, like .grad).
/// dweight_t[D_in, P] is scratch (overwritten).
void sparse_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                            std::span<const float> dout, std::span<const float> inp, SparseRows rows, std::size_t N,
                            std::size_t D_in, std::size_t D_out);

}  // namespace mnist::kernels
