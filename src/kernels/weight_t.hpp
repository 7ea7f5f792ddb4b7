// The weight of a Linear layer transposed and padded, weight_t[D_in, P] with P = D_out rounded up to 8, as the
// pair kernels (sparse_linear.hpp) and the tiled dense kernels (tiled_linear.hpp) read it: one input column's
// weights are a contiguous run of P floats, whole AVX vectors.
#pragma once
#include <cstddef>
#include <span>
#include <vector>

#include "kernels/cpu.hpp"

namespace mnist::kernels {

/// Padded width of weight_t's rows: D_out rounded up to a multiple of 8 floats (one AVX vector).
std::size_t padded_width(std::size_t D_out);

/// n floats of storage starting on a 64-byte (cache line) boundary, growing storage when needed (never shrinking).
/// weight_t, dweight_t and scratch rows are read and written as whole AVX vectors: unaligned, every other vector
/// straddles two cache lines, and a straddling store costs about twice as much.
std::span<float> cache_aligned(std::vector<float>& storage, std::size_t n);

/// Input columns per pass: the kernels sweep the batch once per block of this many columns, so that the block's
/// rows of weight_t (or dweight_t), 128 x 32 floats = 16 KiB, stay in L1 while every row of the batch uses them
/// instead of the whole 100 KiB being re-read from L2 for every row (measured on Fashion-MNIST rows: 3.8 instead
/// of 5.3 cycles per nonzero input for a row-by-row kernel; the tiled dense forward: 75 us with 128-column passes,
/// 87 us with none).
constexpr std::size_t kColumnsPerPass = 128;
/// Passes over D columns: ceil(D / kColumnsPerPass).
std::size_t column_passes(std::size_t D);

/// weight_t[D_in, P] = weight[D_out, D_in]ᵀ with the padding columns [D_out, P) set to 0.
void transpose_weight(std::span<float> weight_t, std::span<const float> weight, std::size_t D_out, std::size_t D_in);
/// The column ranges transpose_weight cuts the work into: two fixed halves when there is enough to share (once per
/// forward, it is otherwise one of the few serial steps of a training step), else one.
std::size_t transpose_chunks(std::size_t D_out, std::size_t D_in);
/// Range c of transpose_chunks(D_out, D_in), on the calling thread: for a caller that runs several layers'
/// transposes in one parallel region.
void transpose_weight_chunk(std::span<float> weight_t, std::span<const float> weight, std::size_t D_out,
                            std::size_t D_in, std::size_t c, std::size_t chunks);

/// dweight[o, k] += dweight_t[k, o] for o < D_out and the columns k in [k0, k1): a gradient computed in the
/// transposed layout added to the parameter's own.
void add_transposed(std::span<float> dweight, std::span<const float> dweight_t, std::size_t k0, std::size_t k1,
                    std::size_t D_in, std::size_t D_out);

/// padded[rows, P] = src[N, D] with zeros in the padding columns [D, P) and the padding rows [N, rows): a gradient
/// laid out so that the kernels read whole vectors.
void pad_rows(std::span<float> padded, std::span<const float> src, std::size_t N, std::size_t rows, std::size_t D);

/// out[n, :] = padded[n, :D_out] + bias, then max(·, 0) when relu, for rows n in [n0, n1): the forward's epilogue.
void unpad_rows(std::span<float> out, std::span<const float> padded, std::span<const float> bias, std::size_t n0,
                std::size_t n1, std::size_t D_out, bool relu);

}  // namespace mnist::kernels
