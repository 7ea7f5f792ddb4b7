// Grayscale image figures (one image, or a grid), in the manner of matplotlib's imshow(cmap='gray').
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "io/plot_figure.hpp"
#include "mnist/error.hpp"
#include "mnist/plot.hpp"

namespace mnist {
namespace {

struct Viewport {
  double x0, x1, y0, y1;  // normalised page coordinates
};

// Draws pixels ([rows][cols], 0 black) in the largest square-pixel viewport inside vp, row 0 at the top, with
// the title above it and, when `axes`, pixel-index ticks like imshow's.
void draw_image(plstream& pls, std::span<const std::uint8_t> pixels, std::size_t rows, std::size_t cols,
                const Viewport& vp, const std::string& title, bool axes, double title_scale) {
  // plimage treats its nx x ny values as grid nodes and paints the (nx-1) x (ny-1) cells between them, each with
  // the value at its lower-left node; so pass one extra (repeated) column and row. Its y runs upwards (and it
  // misplaces cells in a downward window), so row r goes to y = rows - 1 - r.
  std::size_t nx = cols + 1, ny = rows + 1;
  std::vector<PLFLT> values(nx * ny);
  std::vector<const PLFLT*> columns(nx);
  for (std::size_t x = 0; x < nx; ++x) {
    std::size_t c = std::min(x, cols - 1);
    for (std::size_t y = 0; y < ny; ++y) values[x * ny + y] = pixels[(rows - 1 - std::min(y, rows - 1)) * cols + c];
    columns[x] = &values[x * ny];
  }
  auto w = static_cast<double>(cols), h = static_cast<double>(rows);
  pls.vpas(vp.x0, vp.x1, vp.y0, vp.y1, h / w);
  pls.wind(-0.5, w - 0.5, -0.5, h - 0.5);  // pixel centres on whole numbers, as imshow has them
  pls.image(columns.data(), static_cast<PLINT>(nx), static_cast<PLINT>(ny), -0.5, w - 0.5, -0.5, h - 0.5, 0, 255,
            -0.5, w - 0.5, -0.5, h - 0.5);
  // Axes in imshow's orientation: row 0 at the top.
  pls.wind(-0.5, w - 0.5, h - 0.5, -0.5);
  pls.col0(io::kBlack);
  if (axes)
    pls.box("bcnsti", 0, 0, "bcnstiv", 0, 0);  // ticks outside, where they do not hide pixels
  else
    pls.box("bc", 0, 0, "bc", 0, 0);
  pls.schr(0, title_scale);
  pls.mtex("t", axes ? 1.0 : 0.9, 0.5, 0.5, title.c_str());
}

void check_pixels(const std::filesystem::path& png, std::span<const std::uint8_t> pixels, std::size_t rows,
                  std::size_t cols) {
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
    throw Error(png.string() + ": cannot plot a " + std::to_string(rows) + "x" + std::to_string(cols) + " image");
  if (pixels.size() != rows * cols)
    throw Error(png.string() + ": image has " + std::to_string(pixels.size()) + " pixels, expected " +
                std::to_string(rows) + "x" + std::to_string(cols));
}

}  // namespace

void plot_image(const std::filesystem::path& png, std::span<const std::uint8_t> pixels, std::size_t rows,
                std::size_t cols, const std::string& title) {
  check_pixels(png, pixels, rows, cols);
  io::render_png(png, 480, 500, [&](plstream& pls) {
    io::use_gray_colormap(pls);
    pls.adv(0);
    pls.schr(0, 1.2);
    draw_image(pls, pixels, rows, cols, {0.1, 0.95, 0.07, 0.89}, title, true, 2.0);
  });
}

void plot_image_grid(const std::filesystem::path& png, const std::vector<std::span<const std::uint8_t>>& images,
                     std::size_t rows, std::size_t cols, const std::vector<std::string>& titles) {
  if (images.empty()) throw Error(png.string() + ": no images to plot");
  if (titles.size() != images.size())
    throw Error(png.string() + ": " + std::to_string(images.size()) + " images but " + std::to_string(titles.size()) +
                " titles");
  if (images.size() > 400) throw Error(png.string() + ": too many images for one figure (at most 400)");
  for (const auto& image : images) check_pixels(png, image, rows, cols);

  // A near-square grid, a little wider than tall; each cell ~150 pixels wide.
  auto n = images.size();
  auto grid_cols = static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  std::size_t grid_rows = (n + grid_cols - 1) / grid_cols;
  const int cell_w = 150, cell_h = 165;
  int width = std::max(200, static_cast<int>(grid_cols) * cell_w);
  int height = std::max(200, static_cast<int>(grid_rows) * cell_h);

  io::render_png(png, width, height, [&](plstream& pls) {
    io::use_gray_colormap(pls);
    pls.adv(0);
    for (std::size_t i = 0; i < n; ++i) {
      double gx = static_cast<double>(i % grid_cols), gy = static_cast<double>(i / grid_cols);
      double cw = 1.0 / static_cast<double>(grid_cols), ch = 1.0 / static_cast<double>(grid_rows);
      Viewport cell{gx * cw + 0.06 * cw, (gx + 1) * cw - 0.06 * cw, 1 - (gy + 1) * ch + 0.04 * ch,
                    1 - gy * ch - 0.22 * ch};
      draw_image(pls, images[i], rows, cols, cell, titles[i], false, 1.15);
    }
  });
}

}  // namespace mnist
