#include "mnist/loss.hpp"

#include <string>

#include "kernels/softmax_cross_entropy.hpp"
#include "mnist/error.hpp"

namespace mnist {

namespace {
void check_labels(std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  for (std::size_t n = 0; n < N; ++n)
    if (labels[n] < 0 || static_cast<std::size_t>(labels[n]) >= C)
      throw Error("label " + std::to_string(labels[n]) + " of sample " + std::to_string(n) +
                  " is not a class of a model with " + std::to_string(C) + " outputs");
}
}  // namespace

double cross_entropy(std::span<float> probs, std::span<const float> logits, std::span<const std::int32_t> labels,
                     std::size_t N, std::size_t C) {
  check_labels(labels, N, C);
  return kernels::softmax_cross_entropy_forward(probs, logits, labels, N, C);
}

double cross_entropy_with_grad(std::span<float> dlogits, std::span<const float> logits,
                               std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  check_labels(labels, N, C);
  return kernels::softmax_cross_entropy_forward_backward(dlogits, logits, labels, N, C);
}

void cross_entropy_backward(std::span<float> dlogits, std::span<const float> probs,
                            std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  kernels::softmax_cross_entropy_backward(dlogits, probs, labels, N, C);
}

std::size_t count_correct(std::span<const float> logits, std::span<const std::int32_t> labels, std::size_t N,
                          std::size_t C) {
  std::size_t correct = 0;
  std::int32_t best = 0;
  for (std::size_t n = 0; n < N; ++n) {
    kernels::argmax_rows(std::span(&best, 1), logits.subspan(n * C, C), 1, C);
    correct += best == labels[n];
  }
  return correct;
}

double accuracy(std::span<const std::int32_t> labels, std::span<const std::int32_t> predictions) {
  if (labels.empty()) return 0.0;
  std::size_t correct = 0;
  for (std::size_t n = 0; n < labels.size(); ++n) correct += labels[n] == predictions[n];
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

}  // namespace mnist
