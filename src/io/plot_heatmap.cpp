// Confusion-matrix heatmap: rows are true classes (top to bottom), columns predicted classes, counts in the cells.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "io/plot_figure.hpp"
#include "mnist/error.hpp"
#include "mnist/plot.hpp"

namespace mnist {
namespace {

// Whole counts print as integers; rates (normalised matrices) with two decimals.
std::string cell_text(double v) {
  char buffer[32];
  if (std::floor(v) == v && std::abs(v) < 1e15)
    std::snprintf(buffer, sizeof buffer, "%.0f", v);
  else
    std::snprintf(buffer, sizeof buffer, "%.2f", v);
  return buffer;
}

// matplotlib's "Blues": near white for 0, dark blue for the largest count.
void use_blues_colormap(plstream& pls) {
  PLFLT pos[] = {0.0, 0.5, 1.0};
  PLFLT r[] = {247 / 255.0, 107 / 255.0, 8 / 255.0};
  PLFLT g[] = {251 / 255.0, 174 / 255.0, 48 / 255.0};
  PLFLT b[] = {255 / 255.0, 214 / 255.0, 107 / 255.0};
  pls.scmap1n(256);
  pls.scmap1l(true, 3, pos, r, g, b, nullptr);
}

}  // namespace

void plot_heatmap(const std::filesystem::path& png, const std::vector<std::vector<double>>& matrix,
                  const std::vector<std::string>& labels, const std::string& title) {
  std::size_t n = matrix.size();
  if (n == 0 || n > kMaxHeatmapClasses)
    throw Error(png.string() + ": confusion matrix must have 1 to " + std::to_string(kMaxHeatmapClasses) +
                " classes, has " + std::to_string(n));
  for (const auto& row : matrix)
    if (row.size() != n)
      throw Error(png.string() + ": confusion matrix is not square (" + std::to_string(n) + " rows, a row of " +
                  std::to_string(row.size()) + ")");
  if (labels.size() != n)
    throw Error(png.string() + ": " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " classes");

  double peak = 0;
  std::size_t widest_count = 1;
  for (const auto& row : matrix)
    for (double v : row) {
      peak = std::max(peak, std::isfinite(v) ? v : 0.0);
      widest_count = std::max(widest_count, cell_text(v).size());
    }
  std::size_t longest = 0;
  for (const auto& label : labels) longest = std::max(longest, label.size());
  bool vertical_x_labels = longest > 3;  // class names would overlap side by side

  // Layout in pixels on a fixed 820x860 page (PLplot's cairo text grows with the page, so a fixed page keeps
  // these measurements true): a line of text at character scale 1 is ~17 px high, a character ~10 px wide.
  const double width = 820, height = 860;
  const double line_px = 17.0, char_px = 10.0, label_scale = 1.0, axis_title_scale = 1.15;
  auto dn = static_cast<double>(n);
  double label_px = static_cast<double>(longest) * char_px * label_scale;
  double left = label_px + 15 + 2.6 * line_px * axis_title_scale;
  double bottom = (vertical_x_labels ? label_px + 15 : line_px * 2) + 2.2 * line_px * axis_title_scale;
  double top = 70, right = 30;
  double plot = std::min(width - left - right, height - top - bottom);
  left = (width - plot + left - right) / 2;  // centre the square plot horizontally in the room it leaves
  double cell = plot / dn;

  io::render_png(png, static_cast<int>(width), static_cast<int>(height), [&](plstream& pls) {
    use_blues_colormap(pls);
    pls.adv(0);
    pls.vpor(left / width, (left + plot) / width, bottom / height, (bottom + plot) / height);
    pls.wind(-0.5, dn - 0.5, dn - 0.5, -0.5);  // y runs downwards: true class 0 on the top row

    // One filled square per cell (plimage resamples cells onto a grid that does not line up with the labels).
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < n; ++c) {
        double v = std::isfinite(matrix[r][c]) ? matrix[r][c] : 0.0;
        pls.col1(peak > 0 ? std::clamp(v / peak, 0.0, 1.0) : 0.0);
        double x = static_cast<double>(c), y = static_cast<double>(r);
        PLFLT xs[] = {x - 0.5, x + 0.5, x + 0.5, x - 0.5}, ys[] = {y - 0.5, y - 0.5, y + 0.5, y + 0.5};
        pls.fill(4, xs, ys);
      }
    pls.col0(io::kBlack);
    pls.box("bc", 0, 0, "bc", 0, 0);
    double count_scale = std::min(1.0, 0.8 * cell / (static_cast<double>(widest_count) * char_px));
    pls.schr(0, count_scale);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < n; ++c) {
        bool dark_cell = peak > 0 && matrix[r][c] > 0.55 * peak;
        pls.col0(dark_cell ? io::kWhite : io::kBlack);
        pls.ptex(static_cast<double>(c), static_cast<double>(r) + 0.12, 1, 0, 0.5, cell_text(matrix[r][c]).c_str());
      }
    pls.col0(io::kBlack);
    pls.schr(0, label_scale);
    for (std::size_t i = 0; i < n; ++i) {
      double at = (static_cast<double>(i) + 0.5) / dn;
      if (vertical_x_labels)
        pls.mtex("bv", 0.6, at, 1.0, labels[i].c_str());
      else
        pls.mtex("b", 1.5, at, 0.5, labels[i].c_str());
      pls.mtex("lv", 0.6, 1 - at, 1.0, labels[i].c_str());
    }
    pls.schr(0, axis_title_scale);
    double unit = line_px * axis_title_scale;  // mtex displacements are in lines of the current size
    double x_title = ((vertical_x_labels ? label_px + 15 : line_px * 2) + unit) / unit;
    pls.mtex("b", x_title, 0.5, 0.5, "predicted");
    pls.mtex("l", (label_px + 15 + unit * 1.1) / unit, 0.5, 0.5, "true");
    pls.schr(0, 1.4);
    pls.mtex("t", 1.2, 0.5, 0.5, title.c_str());
  });
}

}  // namespace mnist
