// Loss and metrics of the tutorial: softmax cross-entropy from logits, accuracy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace mnist {

/// Mean softmax cross-entropy of logits[N, C] against labels[N] (F.cross_entropy). Writes the softmax into
/// probs[N, C] for cross_entropy_backward. Finite for logits of ±1e4. Throws Error for a label >= C.
double cross_entropy(std::span<float> probs, std::span<const float> logits, std::span<const std::int32_t> labels,
                     std::size_t N, std::size_t C);
/// dlogits[N, C] = gradient of the mean loss = (probs - onehot(labels)) / N.
void cross_entropy_backward(std::span<float> dlogits, std::span<const float> probs,
                            std::span<const std::int32_t> labels, std::size_t N, std::size_t C);

/// cross_entropy and cross_entropy_backward in one pass, as a training step needs them: returns the mean loss and
/// writes dlogits[N, C] = its gradient (the same values, bit for bit). Throws Error for a label >= C.
double cross_entropy_with_grad(std::span<float> dlogits, std::span<const float> logits,
                               std::span<const std::int32_t> labels, std::size_t N, std::size_t C);
/// Number of rows whose argmax of logits[N, C] equals the label.
std::size_t count_correct(std::span<const float> logits, std::span<const std::int32_t> labels, std::size_t N,
                          std::size_t C);
/// Fraction of predictions equal to the labels (the tutorial's accuracy(y_true, y_pred)); 0 for no samples.
double accuracy(std::span<const std::int32_t> labels, std::span<const std::int32_t> predictions);

}  // namespace mnist
