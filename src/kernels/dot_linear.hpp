// A dense Linear layer with few outputs (logistic regression's 784 -> 10) on the weight in PyTorch's own layout.
//
// The tiled kernels (tiled_linear.hpp) put outputs in the vector lanes: 10 outputs fill two 8-lane vectors, and
// 6 of every 16 multiply-adds are padding. Here the vector lanes run along the INPUT columns instead, which have no
// waste (784 = 98 vectors): the forward keeps 2 rows x 5 outputs running dot products of 8 lanes each (10
// accumulators, 7 loads per 10 FMAs) and adds each one's lanes at the end; the weight gradient keeps 5 outputs x
// 16 input columns (10 accumulators) running down the batch rows. No transpose of the weight or of its gradient
// either way.
//
// Every output is a sum in an order fixed by the data alone, whatever the tile, chunk or thread that computes it:
// forward: lane l of a row's dot product sums the columns k = l (mod 8) below the last whole vector in order, the
// lanes are added as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)), then the leftover columns are added in order and then
// the bias; weight gradient: over the batch rows in order. On a CPU without AVX2+FMA a scalar version computes the
// same sums with std::fma.
#pragma once
#include <cstddef>
#include <span>

namespace mnist::kernels {

/// A first layer with at most this many outputs takes the dot kernels whatever its pixels (see choose_path in
/// src/nn/model.cpp): the tiled kernels' vectors then carry a quarter or more of padding, and at 10 outputs the dot
/// kernels also beat the pair kernels on MNIST's sparse pixels.
constexpr std::size_t kDotMaxOutputs = 12;

/// Rows [r0, r1) of out[N, D_out] = inp[N, D_in] · weight[D_out, D_in]ᵀ + bias, then max(·, 0) when relu, on the
/// calling thread.
void dot_linear_forward_rows(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                             std::span<const float> bias, std::size_t r0, std::size_t r1, std::size_t D_in,
                             std::size_t D_out, bool relu);

/// out = inp · weightᵀ + bias (and ReLU when relu) for all N rows, in the thread pool's fixed row chunks.
void dot_linear_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                        std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out, bool relu);

/// Whether a weight-gradient kernel adds its result to dweight and dbias, as .grad does, or writes over them (a
/// product wanted fresh, without clearing its buffer first: the merged layers, merged_linear.hpp). The same bits as
/// clearing to 0 and accumulating.
enum class Write { Accumulate, Overwrite };

/// Range c of column_chunks(N, D_in, D_out) (kernels/parallel.hpp): dweight[:, cols] += doutᵀ · inp[:, cols] (and
/// dbias += column sums of dout when c == 0, unless dbias is empty), on the calling thread; = instead of += with
/// Write::Overwrite.
void dot_linear_backward_chunk(std::span<float> dweight, std::span<float> dbias, std::span<const float> dout,
                               std::span<const float> inp, std::size_t N, std::size_t D_in, std::size_t D_out,
                               std::size_t c, std::size_t chunks, Write write = Write::Accumulate);

/// dweight += doutᵀ · inp and dbias += column sums of dout, in the thread pool's fixed chunks.
void dot_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<const float> dout,
                         std::span<const float> inp, std::size_t N, std::size_t D_in, std::size_t D_out);

}  // namespace mnist::kernels
