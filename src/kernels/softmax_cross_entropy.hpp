// Softmax and cross-entropy from logits, fused: one pass computes the probabilities the backward pass needs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace mnist::kernels {

/// probs[N, C] = softmax of each row of logits[N, C] (max-subtracted: finite for any finite logits).
void softmax_forward(std::span<float> probs, std::span<const float> logits, std::size_t N, std::size_t C);

/// Writes probs[N, C] = softmax(logits[N, C]) and returns the mean over rows of
/// -log softmax(logits)[n, labels[n]], computed as logsumexp(row) - row[label] so that logits of ±1e4 stay
/// finite. labels[N] must be < C. Returns 0 for N == 0.
double softmax_cross_entropy_forward(std::span<float> probs, std::span<const float> logits,
                                     std::span<const std::int32_t> labels, std::size_t N, std::size_t C);

/// dlogits[N, C] = (probs - onehot(labels)) / N: the gradient of the mean loss (overwrites; may alias probs).
void softmax_cross_entropy_backward(std::span<float> dlogits, std::span<const float> probs,
                                    std::span<const std::int32_t> labels, std::size_t N, std::size_t C);

/// out[n] = index of the largest value of row n of values[N, C] (first one on ties, like torch.argmax).
void argmax_rows(std::span<std::int32_t> out, std::span<const float> values, std::size_t N, std::size_t C);

}  // namespace mnist::kernels
