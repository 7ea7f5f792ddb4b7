#include "mnist/metrics.hpp"

#include <string>

#include "mnist/error.hpp"

namespace mnist {

ConfusionMatrix::ConfusionMatrix(std::span<const std::int32_t> labels, std::span<const std::int32_t> predictions,
                                 std::size_t num_classes)
    : num_classes_(num_classes) {
  if (num_classes == 0) throw Error("confusion matrix: there must be at least one class");
  if (labels.size() != predictions.size())
    throw Error("confusion matrix: " + std::to_string(labels.size()) + " labels but " +
                std::to_string(predictions.size()) + " predictions");
  counts_.assign(num_classes * num_classes, 0);
  const auto in_range = [num_classes](std::int32_t c) {
    return c >= 0 && static_cast<std::size_t>(c) < num_classes;
  };
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!in_range(labels[i]) || !in_range(predictions[i]))
      throw Error("confusion matrix: sample " + std::to_string(i) + " has label " + std::to_string(labels[i]) +
                  " and prediction " + std::to_string(predictions[i]) + ", but the classes are 0 to " +
                  std::to_string(num_classes - 1));
    ++counts_[static_cast<std::size_t>(labels[i]) * num_classes + static_cast<std::size_t>(predictions[i])];
  }
  total_ = labels.size();
}

std::size_t ConfusionMatrix::correct() const {
  std::size_t sum = 0;
  for (std::size_t c = 0; c < num_classes_; ++c) sum += count(c, c);
  return sum;
}

double ConfusionMatrix::accuracy() const {
  return total_ == 0 ? 0.0 : static_cast<double>(correct()) / static_cast<double>(total_);
}

std::size_t ConfusionMatrix::support(std::size_t c) const {
  std::size_t sum = 0;
  for (std::size_t p = 0; p < num_classes_; ++p) sum += count(c, p);
  return sum;
}

std::size_t ConfusionMatrix::predicted(std::size_t c) const {
  std::size_t sum = 0;
  for (std::size_t t = 0; t < num_classes_; ++t) sum += count(t, c);
  return sum;
}

double ConfusionMatrix::precision(std::size_t c) const {
  const std::size_t n = predicted(c);
  return n == 0 ? 0.0 : static_cast<double>(count(c, c)) / static_cast<double>(n);
}

double ConfusionMatrix::recall(std::size_t c) const {
  const std::size_t n = support(c);
  return n == 0 ? 0.0 : static_cast<double>(count(c, c)) / static_cast<double>(n);
}

double ConfusionMatrix::f1(std::size_t c) const {
  const double p = precision(c), r = recall(c);
  return p + r == 0.0 ? 0.0 : 2.0 * p * r / (p + r);
}

std::vector<std::vector<double>> ConfusionMatrix::rows() const {
  std::vector<std::vector<double>> out(num_classes_, std::vector<double>(num_classes_));
  for (std::size_t t = 0; t < num_classes_; ++t)
    for (std::size_t p = 0; p < num_classes_; ++p) out[t][p] = static_cast<double>(count(t, p));
  return out;
}

}  // namespace mnist
