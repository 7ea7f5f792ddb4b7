// Text tables of a confusion matrix and of per-class precision/recall, aligned for a terminal.
#pragma once
#include <string>
#include <vector>

#include "mnist/metrics.hpp"

namespace mnist::cli {

/// One row per class ("0 T-shirt/top") with precision, recall, F1 and support, then the macro average.
std::string per_class_table(const ConfusionMatrix& matrix, const std::vector<std::string>& classes);

/// Rows: true class ("0 T-shirt/top"); columns: predicted class, headed by the class names when they are short,
/// else by the class numbers.
std::string confusion_table(const ConfusionMatrix& matrix, const std::vector<std::string>& classes);

}  // namespace mnist::cli
