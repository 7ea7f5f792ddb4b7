// Panels of float images (a conv layer's kernels, feature maps) stacked in one figure: diverging or grayscale.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "io/plot_figure.hpp"
#include "mnist/error.hpp"
#include "mnist/plot.hpp"

namespace mnist {
namespace {

// Page geometry in pixels: each grid cell is square plus a strip for its title.
constexpr int kCell = 96, kCellTitle = 16, kPanelTitle = 34, kFigureTitle = 44, kMargin = 12;

// Colour map 1 from blue (negative) through white (0) to red (positive), as matplotlib's "bwr".
void use_diverging_colormap(plstream& pls) {
  PLFLT pos[3] = {0.0, 0.5, 1.0}, r[3] = {0.0, 1.0, 1.0}, g[3] = {0.0, 1.0, 0.0}, b[3] = {1.0, 1.0, 0.0};
  pls.scmap1n(256);
  pls.scmap1l(true, 3, pos, r, g, b, nullptr);
}

std::size_t grid_rows(const ImagePanel& p) {
  const std::size_t cols = std::min(p.columns, p.images.size());
  return (p.images.size() + cols - 1) / cols;
}

// The image in world coordinates of its pixels (row 0 at the top) inside the square-pixel viewport within the cell.
void draw_float_image(plstream& pls, const FloatImage& im, double lo, double hi, double x0, double x1, double y0,
                      double y1) {
  // As plot_image: plimage paints the cells between nx x ny nodes from their lower-left node, so one extra
  // repeated row and column; y runs upwards.
  const std::size_t nx = im.cols + 1, ny = im.rows + 1;
  std::vector<PLFLT> values(nx * ny);
  std::vector<const PLFLT*> columns(nx);
  const double mid = (lo + hi) / 2;
  for (std::size_t x = 0; x < nx; ++x) {
    const std::size_t c = std::min(x, im.cols - 1);
    for (std::size_t y = 0; y < ny; ++y) {
      const float v = im.values[(im.rows - 1 - std::min(y, im.rows - 1)) * im.cols + c];
      values[x * ny + y] = std::isfinite(v) ? std::clamp(static_cast<double>(v), lo, hi) : mid;
    }
    columns[x] = &values[x * ny];
  }
  const auto w = static_cast<double>(im.cols), h = static_cast<double>(im.rows);
  pls.vpas(x0, x1, y0, y1, h / w);
  pls.wind(-0.5, w - 0.5, -0.5, h - 0.5);
  // imagefr, not image: image scales the colours to each image's own data range, which would undo the panel's
  // shared diverging scale (and turn a constant map grey); imagefr maps [lo, hi] onto the colour map.
  pls.imagefr(columns.data(), static_cast<PLINT>(nx), static_cast<PLINT>(ny), -0.5, w - 0.5, -0.5, h - 0.5, lo, hi,
              lo, hi, nullptr, nullptr);
  pls.col0(io::kBlack);
  pls.box("bc", 0, 0, "bc", 0, 0);
  if (!im.title.empty()) {
    pls.schr(0, 0.5);
    pls.mtex("t", 0.4, 0.5, 0.5, im.title.c_str());
  }
}

// A line of text centred in the page strip [y0, y1] (normalised, from the bottom).
void draw_text(plstream& pls, double y0, double y1, double scale, const std::string& text) {
  pls.vpor(0.0, 1.0, y0, y1);
  pls.wind(0.0, 1.0, 0.0, 1.0);
  pls.col0(io::kBlack);
  pls.schr(0, scale);
  pls.ptex(0.5, 0.3, 1.0, 0.0, 0.5, text.c_str());
}

}  // namespace

void plot_image_panels(const std::filesystem::path& png, const std::string& title,
                       const std::vector<ImagePanel>& panels) {
  if (panels.empty()) throw Error(png.string() + ": no panels to plot");
  std::size_t max_cols = 1, total_rows = 0;
  for (const ImagePanel& p : panels) {
    if (p.images.empty() || p.columns == 0) throw Error(png.string() + ": panel '" + p.title + "' has no images");
    if (p.images.size() > 400) throw Error(png.string() + ": too many images for one panel (at most 400)");
    for (const FloatImage& im : p.images)
      if (im.rows == 0 || im.cols == 0 || im.rows > 4096 || im.cols > 4096 || im.values.size() != im.rows * im.cols)
        throw Error(png.string() + ": cannot plot a " + std::to_string(im.rows) + "x" + std::to_string(im.cols) +
                    " image of " + std::to_string(im.values.size()) + " values");
    max_cols = std::max(max_cols, std::min(p.columns, p.images.size()));
    total_rows += grid_rows(p);
  }
  if (total_rows > 200) throw Error(png.string() + ": too many rows of images for one figure (at most 200)");
  const int width = std::max(480, 2 * kMargin + static_cast<int>(max_cols) * kCell);
  const int height = kFigureTitle + kMargin +
                     static_cast<int>(panels.size()) * kPanelTitle +
                     static_cast<int>(total_rows) * (kCell + kCellTitle);
  const auto W = static_cast<double>(width), H = static_cast<double>(height);

  io::render_png(png, width, height, [&](plstream& pls) {
    pls.adv(0);
    double top = H;  // pixels from the bottom of the page to the top of what is left
    draw_text(pls, (top - kFigureTitle) / H, top / H, 0.9, title);
    top -= kFigureTitle;
    for (const ImagePanel& p : panels) {
      draw_text(pls, (top - kPanelTitle) / H, top / H, 0.7, p.title);
      top -= kPanelTitle;
      double shared = 0;  // the diverging scale: the panel's largest magnitude
      if (p.diverging) {
        for (const FloatImage& im : p.images)
          for (float v : im.values)
            if (std::isfinite(v)) shared = std::max(shared, std::fabs(static_cast<double>(v)));
        if (shared == 0) shared = 1;
        use_diverging_colormap(pls);
      } else {
        io::use_gray_colormap(pls);
      }
      const std::size_t cols = std::min(p.columns, p.images.size());
      const double left = (W - static_cast<double>(cols) * kCell) / 2;  // the grid centred
      for (std::size_t i = 0; i < p.images.size(); ++i) {
        const FloatImage& im = p.images[i];
        double lo = -shared, hi = shared;
        if (!p.diverging) {
          lo = INFINITY;
          hi = -INFINITY;
          for (float v : im.values)
            if (std::isfinite(v)) {
              lo = std::min(lo, static_cast<double>(v));
              hi = std::max(hi, static_cast<double>(v));
            }
          if (!(lo < hi)) {  // constant (or empty of finite values): drawn black
            lo = std::isfinite(lo) ? lo : 0;
            hi = lo + 1;
          }
        }
        const double gx = static_cast<double>(i % cols), gy = static_cast<double>(i / cols);
        const double cell_top = top - gy * (kCell + kCellTitle) - kCellTitle;
        const double pad = 6;
        draw_float_image(pls, im, lo, hi, (left + gx * kCell + pad) / W, (left + (gx + 1) * kCell - pad) / W,
                         (cell_top - kCell + pad) / H, cell_top / H);
      }
      top -= static_cast<double>(grid_rows(p)) * (kCell + kCellTitle);
    }
  });
}

}  // namespace mnist
