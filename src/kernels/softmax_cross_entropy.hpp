// Softmax and cross-entropy from logits, fused: one pass computes the probabilities the backward pass needs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace mnist::kernels {

/// e^x as the softmax computes it, for x = logit - max <= 0: on the vector path when `vector` (and the CPU has
/// AVX2), else on the scalar one. Both give the same bits, within about 1 ulp of e^x; 0 below -87, NaN stays NaN.
float softmax_exp(float x, bool vector);

/// probs[N, C] = softmax of each row of logits[N, C] (max-subtracted: finite for any finite logits).
void softmax_forward(std::span<float> probs, std::span<const float> logits, std::size_t N, std::size_t C);

/// Writes probs[N, C] = softmax(logits[N, C]) and returns the mean over rows of
/// -log softmax(logits)[n, labels[n]], computed as logsumexp(row) - row[label] so that logits of ±1e4 stay
/// finite. labels[N] must be < C. Returns 0 for N == 0.
double softmax_cross_entropy_forward(std::span<float> probs, std::span<const float> logits,
                                     std::span<const std::int32_t> labels, std::size_t N, std::size_t C);

/// Both in one pass over the rows (one hand-off between threads instead of two): returns the mean loss and writes
/// dlogits[N, C] = its gradient, the same values softmax_cross_entropy_forward then _backward give.
double softmax_cross_entropy_forward_backward(std::span<float> dlogits, std::span<const float> logits,
                                              std::span<const std::int32_t> labels, std::size_t N, std::size_t C);

/// dlogits[N, C] = (probs - onehot(labels)) / N: the gradient of the mean loss (overwrites; may alias probs).
void softmax_cross_entropy_backward(std::span<float> dlogits, std::span<const float> probs,
                                    std::span<const std::int32_t> labels, std::size_t N, std::size_t C);

/// out[n] = index of the largest value of row n of values[N, C] (first one on ties, like torch.argmax).
void argmax_rows(std::span<std::int32_t> out, std::span<const float> values, std::size_t N, std::size_t C);

}  // namespace mnist::kernels
