#include "tensor_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace mnist::cli {

// torch/_tensor_str.py's _Formatter for floating tensors at the default print options (precision 4, linewidth 80):
// whole numbers print as "1." ; otherwise "{:.4e}" when the non-zero finite magnitudes span more than 1000x or
// leave [1e-4, 1e8], else "{:.4f}"; every element right-aligned to the widest.
std::string torch_style_row(std::span<const float> values) {
  std::vector<double> magnitudes;
  bool whole = true;
  for (float v : values)
    if (std::isfinite(v)) {
      if (v != 0.0f) magnitudes.push_back(std::abs(static_cast<double>(v)));
      whole = whole && std::nearbyint(v) == v;
    }
  bool scientific = false;
  if (!magnitudes.empty()) {
    const double lo = *std::min_element(magnitudes.begin(), magnitudes.end());
    const double hi = *std::max_element(magnitudes.begin(), magnitudes.end());
    scientific = whole ? hi > 1e8 : (hi / lo > 1000.0 || hi > 1e8 || lo < 1e-4);
  }
  std::vector<std::string> cells;
  for (float v : values) {
    const double d = v;
    if (!std::isfinite(d))
      cells.push_back(std::isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
    else if (scientific)
      cells.push_back(fmt::format("{:.4e}", d));
    else if (whole)
      cells.push_back(fmt::format("{:.0f}.", d));
    else
      cells.push_back(fmt::format("{:.4f}", d));
  }
  std::size_t width = 0;
  for (const auto& cell : cells) width = std::max(width, cell.size());
  // "tensor([[" is 9 columns; PyTorch fits floor((80 - 8) / (width + 2)) elements on a line.
  const std::size_t per_line = std::max<std::size_t>(1, (80 - 8) / (width + 2));
  std::string out = "tensor([[";
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out += (i % per_line == 0) ? ",\n         " : ", ";
    out += fmt::format("{:>{}}", cells[i], width);
  }
  return out + "]])";
}

}  // namespace mnist::cli
