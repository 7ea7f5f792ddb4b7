// Classification metrics beyond accuracy: the confusion matrix and per-class precision and recall, computed from
// the labels and predictions evaluate() returns (EvalResult::labels / ::predictions).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mnist {

/// counts[true][predicted] over a set of samples, for classes 0 .. num_classes-1.
class ConfusionMatrix {
 public:
  ConfusionMatrix() = default;
  /// Counts each (labels[i], predictions[i]) pair. Throws Error when the spans differ in length, num_classes is 0,
  /// or a label or prediction is not a class in 0 .. num_classes-1 (naming the sample).
  ConfusionMatrix(std::span<const std::int32_t> labels, std::span<const std::int32_t> predictions,
                  std::size_t num_classes);

  /// Number of classes: the matrix is num_classes x num_classes.
  std::size_t num_classes() const { return num_classes_; }
  /// Samples of class true_class predicted as predicted_class.
  std::size_t count(std::size_t true_class, std::size_t predicted_class) const {
    return counts_[true_class * num_classes_ + predicted_class];
  }
  /// All samples (the sum of every cell).
  std::size_t total() const { return total_; }
  /// Samples on the diagonal.
  std::size_t correct() const;
  /// correct() / total(); 0 for no samples.
  double accuracy() const;
  /// Samples whose true class is c (the row sum): the class's support.
  std::size_t support(std::size_t c) const;
  /// Samples predicted as c (the column sum).
  std::size_t predicted(std::size_t c) const;
  /// Of the samples predicted as c, the fraction that are c; 0 when none is predicted as c (scikit-learn's
  /// zero_division=0).
  double precision(std::size_t c) const;
  /// Of the samples of class c, the fraction predicted as c; 0 when the class has no samples.
  double recall(std::size_t c) const;
  /// Harmonic mean of precision and recall; 0 when both are 0.
  double f1(std::size_t c) const;
  /// The counts as rows of doubles (true class per row), the form plot_heatmap takes.
  std::vector<std::vector<double>> rows() const;

 private:
  std::size_t num_classes_ = 0;
  std::size_t total_ = 0;
  std::vector<std::size_t> counts_;  // [num_classes, num_classes], row = true class
};

}  // namespace mnist
