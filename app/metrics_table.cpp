#include "metrics_table.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "model_data.hpp"

namespace mnist::cli {
namespace {

std::size_t widest_label(const std::vector<std::string>& classes, std::size_t n, std::size_t at_least) {
  std::size_t width = at_least;
  for (std::size_t c = 0; c < n; ++c) width = std::max(width, class_label(classes, c).size());
  return width;
}

}  // namespace

std::string per_class_table(const ConfusionMatrix& matrix, const std::vector<std::string>& classes) {
  const std::size_t n = matrix.num_classes();
  const std::size_t label_width = widest_label(classes, n, 13);
  std::string out = fmt::format("  {:<{}}  {:>9}  {:>7}  {:>7}  {:>7}\n", "class", label_width, "precision", "recall",
                                "f1", "support");
  double precision_sum = 0, recall_sum = 0, f1_sum = 0;
  for (std::size_t c = 0; c < n; ++c) {
    out += fmt::format("  {:<{}}  {:>9.4f}  {:>7.4f}  {:>7.4f}  {:>7}\n", class_label(classes, c), label_width,
                       matrix.precision(c), matrix.recall(c), matrix.f1(c), matrix.support(c));
    precision_sum += matrix.precision(c);
    recall_sum += matrix.recall(c);
    f1_sum += matrix.f1(c);
  }
  const auto classes_count = static_cast<double>(n);
  out += fmt::format("  {:<{}}  {:>9.4f}  {:>7.4f}  {:>7.4f}  {:>7}\n", "macro average", label_width,
                     precision_sum / classes_count, recall_sum / classes_count, f1_sum / classes_count,
                     matrix.total());
  return out;
}

std::string confusion_table(const ConfusionMatrix& matrix, const std::vector<std::string>& classes) {
  const std::size_t n = matrix.num_classes();
  std::size_t count_width = 1;
  for (std::size_t t = 0; t < n; ++t)
    for (std::size_t p = 0; p < n; ++p) count_width = std::max(count_width, std::to_string(matrix.count(t, p)).size());
  std::size_t name_width = 0;
  for (std::size_t c = 0; c < n; ++c) name_width = std::max(name_width, class_name(classes, c).size());
  // Names head the columns when they are about as narrow as the counts (MNIST's digits, KMNIST's syllables);
  // Fashion-MNIST's "T-shirt/top" would triple the width, so those columns are numbered like the rows.
  const bool named_columns = name_width <= std::max<std::size_t>(count_width, 5);
  const std::size_t column_width = std::max(count_width, named_columns ? name_width : std::to_string(n - 1).size());
  const std::size_t label_width = widest_label(classes, n, 4);

  std::string out = fmt::format("  {:<{}}", "true", label_width);
  for (std::size_t p = 0; p < n; ++p)
    out += fmt::format(" {:>{}}", named_columns ? class_name(classes, p) : std::to_string(p), column_width);
  out += "\n";
  for (std::size_t t = 0; t < n; ++t) {
    out += fmt::format("  {:<{}}", class_label(classes, t), label_width);
    for (std::size_t p = 0; p < n; ++p) out += fmt::format(" {:>{}}", matrix.count(t, p), column_width);
    out += "\n";
  }
  return out;
}

}  // namespace mnist::cli
