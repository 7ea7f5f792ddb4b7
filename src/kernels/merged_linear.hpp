// Two Linear layers with nothing between them (the tutorial's "hidden" model, 784 -> 32 -> 10) compute one linear
// map, and its narrow form is cheaper than the two layers:
//   y = (x W1ᵀ + b1) W2ᵀ + b2 = x Wᵀ + b   with   W = W2 W1 [C, D_in],  b = W2 b1 + b2 [C],
// and, given dy [N, C] (the gradient of the loss with respect to y), g = dyᵀ x [C, D_in] and s = column sums of dy:
//   dW1 = W2ᵀ g,   db1 = W2ᵀ s,   dW2 = g W1ᵀ + s b1ᵀ,   db2 = s.
// Per batch of 128 at 784 -> 32 -> 10 that is 2.8 million multiply-adds (two 128 x 784 x 10 products, three
// 10 x 32 x 784 ones) instead of 6.5 million. The results equal the two layers' within float rounding (the sums are
// taken in another order), not to the bit; each is a fixed sequence of operations, the same for any thread count.
//
// Every product here has the dot kernels' shape (dot_linear.hpp): lanes along the 784 input columns, and few rows
// or outputs. (OpenBLAS's sgemm at these shapes, K = 10 or M = 10, took 25% of a training run: packing dominates.)
// The model runs x Wᵀ + b and g, s on the dot kernels directly; these are the rest.
#pragma once
#include <cstddef>
#include <span>

namespace mnist::kernels {

/// Tasks of merge_weights_task (input-column chunks of W, fixed by the shapes).
std::size_t merge_weights_tasks(std::size_t D_in, std::size_t H, std::size_t C);

/// Task t of merge_weights_tasks: weight[C, D_in] = w2[C, H] · w1[H, D_in] on the task's input columns, given
/// w2t = w2ᵀ [H, C] (see transpose_small); each element a sum over h in increasing order. On the calling thread.
void merge_weights_task(std::span<float> weight, std::span<const float> w2t, std::span<const float> w1,
                        std::size_t D_in, std::size_t H, std::size_t C, std::size_t t);

/// bias[C] = w2[C, H] · b1[H] + b2[C].
void merge_bias(std::span<float> bias, std::span<const float> w2, std::span<const float> b1,
                std::span<const float> b2, std::size_t H, std::size_t C);

/// dst[cols, rows] = src[rows, cols]ᵀ.
void transpose_small(std::span<float> dst, std::span<const float> src, std::size_t rows, std::size_t cols);

/// Tasks of merged_backward_task: input-column chunks of dW1 += W2ᵀ g, then row chunks of t = g W1ᵀ [C, H]
/// (twice the work each).
std::size_t merged_backward_tasks(std::size_t D_in, std::size_t H, std::size_t C);

/// Task u of merged_backward_tasks, given g [C, D_in], w1 [H, D_in], w2 [C, H]: dw1[H, D_in] += its columns of
/// w2ᵀ g, or t[C, H] = its rows of g w1ᵀ (zeros: H zeros, its bias). On the calling thread.
void merged_backward_task(std::span<float> dw1, std::span<float> t, std::span<const float> zeros,
                          std::span<const float> g, std::span<const float> w1, std::span<const float> w2,
                          std::size_t D_in, std::size_t H, std::size_t C, std::size_t u);

/// The rest, once t is complete: dw2[C, H] += t + s b1ᵀ, db2[C] += s, db1[H] += w2ᵀ s (accumulate, like .grad).
void merged_backward_finish(std::span<float> dw2, std::span<float> db1, std::span<float> db2,
                            std::span<const float> t, std::span<const float> s, std::span<const float> w2,
                            std::span<const float> b1, std::size_t H, std::size_t C);

}  // namespace mnist::kernels
