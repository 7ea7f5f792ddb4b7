// Figures: each kind renders a valid PNG of the expected size, repeatedly, and failures leave no files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/image.hpp"
#include "mnist/plot.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using mnist::testing::TempDir;

namespace {

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path().filename());
  std::sort(files.begin(), files.end());
  return files;
}

mnist::LineChart history(std::size_t models, std::size_t epochs) {
  mnist::LineChart chart{"loss history", "epoch", "training loss", {}, true};
  for (std::size_t m = 0; m < models; ++m) {
    mnist::Series s{"model " + std::to_string(m), {}, {}};
    for (std::size_t e = 1; e <= epochs; ++e) {
      s.x.push_back(static_cast<double>(e));
      s.y.push_back(1.0 / static_cast<double>(e + m));
    }
    chart.series.push_back(s);
  }
  return chart;
}

// Fraction of pixels darker than mid grey.
double dark_fraction(const mnist::GrayImage& image) {
  auto dark = std::count_if(image.pixels.begin(), image.pixels.end(), [](std::uint8_t v) { return v < 128; });
  return static_cast<double>(dark) / static_cast<double>(image.pixels.size());
}

}  // namespace

TEST(Plot, LineChartsAreValidPngsOfTheRequestedSize) {
  TempDir dir;
  mnist::plot_lines(dir / "one.png", history(1, 10));
  mnist::plot_lines(dir / "three.png", history(3, 2), 640, 480);
  mnist::plot_lines(dir / "single_epoch.png", history(2, 1));
  mnist::LineChart relu{"ReLU", "x", "relu(x)", {{"relu", {}, {}}}, false};
  for (int i = -100; i < 100; ++i) {
    relu.series[0].x.push_back(i / 10.0);
    relu.series[0].y.push_back(std::max(0.0, i / 10.0));
  }
  mnist::plot_lines(dir / "relu.png", relu);

  mnist::GrayImage one = mnist::read_image(dir / "one.png");
  EXPECT_EQ(one.width, 800u);
  EXPECT_EQ(one.height, 560u);
  mnist::GrayImage three = mnist::read_image(dir / "three.png");
  EXPECT_EQ(three.width, 640u);
  EXPECT_EQ(three.height, 480u);
  EXPECT_EQ(mnist::read_image(dir / "relu.png").width, 800u);
  // White background with something drawn on it.
  EXPECT_GT(dark_fraction(one), 0.005);
  EXPECT_LT(dark_fraction(one), 0.3);
  EXPECT_EQ(files_in(dir.path()),
            (std::vector<fs::path>{"one.png", "relu.png", "single_epoch.png", "three.png"}));  // no temporaries
}

TEST(Plot, ImagesGridsAndHeatmapsRender) {
  TempDir dir;
  std::vector<std::uint8_t> digit(28 * 28, 0);
  for (std::size_t r = 4; r < 24; ++r) digit[r * 28 + 14] = 255;
  mnist::plot_image(dir / "image.png", digit, 28, 28, "Label: 1");
  mnist::GrayImage image = mnist::read_image(dir / "image.png");
  EXPECT_EQ(image.width, 480u);
  EXPECT_EQ(image.height, 500u);
  EXPECT_GT(dark_fraction(image), 0.4);  // mostly the black digit background

  std::vector<std::span<const std::uint8_t>> images(5, std::span<const std::uint8_t>(digit));
  std::vector<std::string> titles(5, "Label: 1");
  mnist::plot_image_grid(dir / "grid.png", images, 28, 28, titles);
  mnist::GrayImage grid = mnist::read_image(dir / "grid.png");
  EXPECT_EQ(grid.width, 450u);  // 3 columns x 2 rows of 150 x 165
  EXPECT_EQ(grid.height, 330u);

  std::vector<std::vector<double>> matrix(10, std::vector<double>(10, 3));
  for (std::size_t i = 0; i < 10; ++i) matrix[i][i] = 950;
  std::vector<std::string> labels = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  mnist::plot_heatmap(dir / "confusion.png", matrix, labels, "confusion matrix");
  mnist::GrayImage heatmap = mnist::read_image(dir / "confusion.png");
  EXPECT_EQ(heatmap.width, 820u);
  EXPECT_EQ(heatmap.height, 860u);
  EXPECT_EQ(files_in(dir.path()), (std::vector<fs::path>{"confusion.png", "grid.png", "image.png"}));
}

TEST(Plot, ImagePixelsLandWhereTheyBelong) {
  // One white pixel in each corner of a black image: all four corners of the drawn image must be light, which
  // catches a renderer that drops the last row or column or shifts the picture by a pixel.
  TempDir dir;
  std::vector<std::uint8_t> corners(28 * 28, 0);
  corners[0] = corners[27] = corners[27 * 28] = corners[27 * 28 + 27] = 255;
  mnist::plot_image(dir / "corners.png", corners, 28, 28, "corners");
  mnist::GrayImage png = mnist::read_image(dir / "corners.png");
  // The drawn image is the largest dark square; find it from the middle of the figure outwards.
  std::size_t mid_r = png.height / 2, mid_c = png.width / 2;
  auto at = [&](std::size_t r, std::size_t c) { return png.pixels[r * png.width + c]; };
  std::size_t left = mid_c, right = mid_c, top = mid_r, bottom = mid_r;
  while (left > 0 && at(mid_r, left - 1) < 60) --left;
  while (right + 1 < png.width && at(mid_r, right + 1) < 60) ++right;
  while (top > 0 && at(top - 1, mid_c) < 60) --top;
  while (bottom + 1 < png.height && at(bottom + 1, mid_c) < 60) ++bottom;
  double cell = static_cast<double>(right - left + 1) / 28;
  ASSERT_GT(cell, 8);
  EXPECT_NEAR(static_cast<double>(bottom - top + 1) / 28, cell, 1.0);
  auto centre = [&](int r, int c) {
    return at(top + static_cast<std::size_t>((r + 0.5) * cell), left + static_cast<std::size_t>((c + 0.5) * cell));
  };
  EXPECT_GT(centre(0, 0), 200);
  EXPECT_GT(centre(0, 27), 200);
  EXPECT_GT(centre(27, 0), 200);
  EXPECT_GT(centre(27, 27), 200);
  EXPECT_LT(centre(1, 1), 60);
  EXPECT_LT(centre(26, 26), 60);
}

TEST(Plot, ManyFiguresInOneProcess) {
  TempDir dir;
  for (int i = 0; i < 15; ++i) mnist::plot_lines(dir / "loss.png", history(1 + i % 3, 5));
  EXPECT_EQ(mnist::read_image(dir / "loss.png").width, 800u);
  EXPECT_EQ(files_in(dir.path()), std::vector<fs::path>{"loss.png"});
}

TEST(Plot, BadInputsAndFailedWritesThrowAndLeaveNothing) {
  TempDir dir;
  fs::create_directory(dir / "taken.png");
  EXPECT_THROW(mnist::plot_lines(dir / "taken.png", history(1, 3)), mnist::Error);
  EXPECT_THROW(mnist::plot_lines(dir / "missing" / "loss.png", history(1, 3)), mnist::Error);
  EXPECT_THROW(mnist::plot_lines(dir / "none.png", history(0, 3)), mnist::Error);
  mnist::LineChart ragged = history(1, 3);
  ragged.series[0].y.pop_back();
  EXPECT_THROW(mnist::plot_lines(dir / "ragged.png", ragged), mnist::Error);
  EXPECT_THROW(mnist::plot_lines(dir / "tiny.png", history(1, 3), 4, 4), mnist::Error);

  std::vector<std::uint8_t> pixels(10, 0);
  EXPECT_THROW(mnist::plot_image(dir / "short.png", pixels, 28, 28, "x"), mnist::Error);
  EXPECT_THROW(mnist::plot_image_grid(dir / "grid.png", {pixels}, 2, 5, {}), mnist::Error);
  EXPECT_THROW(mnist::plot_heatmap(dir / "ragged.png", {{1, 2}, {3}}, {"a", "b"}, "t"), mnist::Error);
  EXPECT_THROW(mnist::plot_heatmap(dir / "labels.png", {{1, 2}, {3, 4}}, {"a"}, "t"), mnist::Error);
  EXPECT_THROW(mnist::plot_heatmap(dir / "taken.png", {{1, 2}, {3, 4}}, {"a", "b"}, "t"), mnist::Error);
  EXPECT_EQ(files_in(dir.path()), std::vector<fs::path>{"taken.png"});
  EXPECT_TRUE(fs::is_empty(dir / "taken.png"));
}
