// A Linear layer that skips zero inputs: the model's first layer when its pixels are mostly zero, and small hidden
// layers (see Model::use_compressed).
//
// MNIST images are ~81% zero pixels, Fashion-MNIST ~50%. The first layer is almost all of a small MLP's work
// (784·32 of the 784·32 + 32·10 multiply-adds per image), and a zero input contributes nothing to its output nor
// to its weight gradient. So each row of the batch is first compressed to its nonzero entries (column, value),
// and the forward and the weight gradient loop over those only.
//
// The weight is used transposed and padded, weight_t[D_in, P] with P = D_out rounded up to 8, so that one input
// value multiplies a contiguous run of P weights (one to four AVX vectors per 32 outputs).
//
// Every output is a sum in an order fixed by the data alone (forward: per column pass, the row's entries in
// increasing column split round-robin over a few accumulators added in a fixed order, then the passes in order;
// weight gradient: over the batch's rows in order), so results are the same for any thread count. On a CPU with
// AVX2+FMA the loops are vectorised; elsewhere a scalar version computes the same sums with std::fma in the same
// order.
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

/// The sparse kernels pay when at most this share of the inputs is nonzero; above it, the dense product (BLAS)
/// is faster. Measured with bench/kernels_bench.cpp (BM_FirstLayer*, batch 128, 784 inputs, one core), forward
/// plus weight gradient, sparse vs dense in microseconds: MNIST (17% nonzero) 134 vs 207 for 32 outputs and
/// 91 vs 117 for 10; Fashion-MNIST (48%) 262 vs 243 and 201 vs 128. Interpolated, the break-even is at 39% (32
/// outputs) and 26% (10 outputs): MNIST-like data takes the sparse path, Fashion-MNIST-like data the dense one.
constexpr double kSparseMaxDensity = 0.25;

/// Number of entries of x that are not zero (NaN counts): decides between the sparse and the dense path.
std::size_t count_nonzero(std::span<const float> x);

/// Padded width of weight_t's rows: D_out rounded up to a multiple of 8 floats (one AVX vector).
std::size_t padded_width(std::size_t D_out);

/// Input columns per pass: the forward and the weight gradient sweep the batch once per block of this many
/// columns, so that the block's rows of weight_t (or dweight_t), 128 x 32 floats = 16 KiB, can stay in L1 while
/// every row of the batch uses them instead of the whole 100 KiB being re-read from L2 for every row. (Measured on
/// a loaded machine, the change was within noise; the 64-byte alignment made the clear difference.)
constexpr std::size_t kColumnsPerPass = 128;
/// Passes over D columns: ceil(D / kColumnsPerPass).
std::size_t column_passes(std::size_t D);

/// A batch [N, D] compressed row by row. Row n's nonzero entries are index/value[n*D + i] for i in
/// [split[n*(S+1)], split[n*(S+1) + S]) (S = column_passes(D)), in increasing column order; those of pass s
/// (columns [s*kColumnsPerPass, (s+1)*kColumnsPerPass)) start at split[n*(S+1) + s]. Each row owns a region of
/// D entries, so rows are compressed in parallel.
struct SparseRows {
  std::span<std::uint32_t> split;  // [N * (S + 1)]
  std::span<std::uint32_t> index;  // [N * D] column of each entry
  std::span<float> value;          // [N * D] its value
  std::span<float> scratch;        // [N * P] partial sums (forward), dout padded to P columns (backward)
};

/// weight_t[D_in, P] = weight[D_out, D_in]ᵀ with the padding columns [D_out, P) set to 0.
void transpose_weight(std::span<float> weight_t, std::span<const float> weight, std::size_t D_out, std::size_t D_in);

/// Compresses inp[N, D_in] into rows (NaN counts as nonzero, ±0 as zero), then
/// out[N, D_out] = inp · weightᵀ + bias, and max(·, 0) when relu. weight is given as weight_t[D_in, P].
/// rows stays valid for sparse_linear_backward as long as inp does not change.
void sparse_linear_forward(std::span<float> out, SparseRows rows, std::span<const float> inp,
                           std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                           std::size_t D_in, std::size_t D_out, bool relu);

/// Given dout[N, D_out] and the rows compressed by the forward:
///   dweight[D_out, D_in] += doutᵀ · inp   and   dbias[D_out] += column sums of dout   (accumulate, like .grad).
/// dweight_t[D_in, P] is scratch (overwritten).
void sparse_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                            std::span<const float> dout, SparseRows rows, std::size_t N, std::size_t D_in,
                            std::size_t D_out);

}  // namespace mnist::kernels
