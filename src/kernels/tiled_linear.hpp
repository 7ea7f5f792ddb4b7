// A dense Linear layer on the transposed weight (weight_t.hpp), for the first layer when its inputs are not sparse
// enough for the pair kernels (Fashion-MNIST) and its outputs are few (10 or 32), and for small hidden layers.
//
// BLAS's sgemm packs both operands into its own layout on every call, which at these shapes (128x784 by 784x32)
// costs about a third of its multiply time, and its micro-kernel is made for large outputs. Here the weight is
// transposed once per step (it serves the forward of every batch row), the batch rows are read in place, and the
// register tile is 6 rows x 16 outputs (12 accumulators: enough independent FMA chains to hide their latency, and
// one weight load serves 6 rows): measured on Fashion-MNIST batches in one process (bench/kernels_bench.cpp,
// BM_FirstLayer*), about a fifth faster than OpenBLAS for both the forward and the weight gradient.
//
// Every output is one FMA chain in a fixed order (forward: over the input columns in increasing order; weight
// gradient: over the batch rows in increasing order), whatever the tile or the thread that computes it, so results
// are the same for any thread count. On a CPU without AVX2+FMA a scalar version computes the same chains.
#pragma once
#include <cstddef>
#include <span>

#include "kernels/weight_t.hpp"

namespace mnist::kernels {

/// out[N, D_out] = inp[N, D_in] · weightᵀ + bias, and max(·, 0) when relu; weight given as weight_t[D_in, P].
/// scratch [N, P] (cache_aligned) holds the running sums.
void tiled_linear_forward(std::span<float> out, std::span<float> scratch, std::span<const float> inp,
                          std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                          std::size_t D_in, std::size_t D_out, bool relu);

/// Rows [r0, r1) of tiled_linear_forward, on the calling thread, for a caller that runs row ranges of every layer
/// in one parallel region.
void tiled_linear_forward_rows(std::span<float> out, std::span<float> scratch, std::span<const float> inp,
                               std::span<const float> weight_t, std::span<const float> bias, std::size_t r0,
                               std::size_t r1, std::size_t D_in, std::size_t D_out, bool relu);

/// dweight[D_out, D_in] += doutᵀ · inp and dbias[D_out] += column sums of dout (accumulate, like .grad).
/// dweight_t [D_in, P] and scratch [N, P] (cache_aligned) are workspace.
void tiled_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                           std::span<float> scratch, std::span<const float> dout, std::span<const float> inp,
                           std::size_t N, std::size_t D_in, std::size_t D_out);

/// Range c of column_chunks(N, D_in, D_out) (kernels/parallel.hpp), and dbias when c == 0, on the calling thread,
/// given dout padded: padded_dout[N, P] = pad_rows(·, dout, N, N, D_out).
void tiled_linear_backward_chunk(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                                 std::span<const float> padded_dout, std::span<const float> inp, std::size_t N,
                                 std::size_t D_in, std::size_t D_out, std::size_t c, std::size_t chunks);

}  // namespace mnist::kernels
