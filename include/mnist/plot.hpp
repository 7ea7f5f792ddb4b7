// Figures as PNG files, drawn with PLplot's cairo driver and written atomically (temporary file, then rename).
// Every function may be called any number of times in one process; calls are serialised (PLplot keeps global state).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace mnist {

/// One line of a chart.
struct Series {
  std::string label;        ///< legend entry (shown when the chart has more than one series)
  std::vector<double> x;     ///< abscissae, same length as y
  std::vector<double> y;     ///< ordinates; a non-finite value breaks the line (a diverged run)
};

/// A line chart for plot_lines, e.g. the tutorial's loss or validation-accuracy history against the epoch.
struct LineChart {
  std::string title;            ///< drawn above the plot
  std::string x_label;          ///< x-axis title, e.g. "epoch"
  std::string y_label;          ///< y-axis title, e.g. "loss"
  std::vector<Series> series;   ///< the lines, one colour each, drawn in order
  bool integer_x = true;  ///< x values are counts (epochs from 1): ticks on whole numbers, a marker on each point
};

/// A line chart: title, axis labels, light grid, one colour per series, a legend when there is more than one.
void plot_lines(const std::filesystem::path& png, const LineChart& chart, int width = 800, int height = 560);

/// One grayscale image (0 black, 255 white) with a title, like matplotlib's imshow(cmap='gray'). pixels is [rows][cols].
void plot_image(const std::filesystem::path& png, std::span<const std::uint8_t> pixels, std::size_t rows,
                std::size_t cols, const std::string& title);

/// Several images of the same size rows x cols, laid out in a near-square grid, each with its title.
void plot_image_grid(const std::filesystem::path& png, const std::vector<std::span<const std::uint8_t>>& images,
                     std::size_t rows, std::size_t cols, const std::vector<std::string>& titles);

/// Most classes plot_heatmap draws (beyond, the cells' counts would not be legible).
constexpr std::size_t kMaxHeatmapClasses = 100;

/// A confusion matrix: matrix[true][predicted], drawn as a heatmap with the count in each cell; x axis
/// "predicted", y axis "true", labels naming the classes (one per row/column, at most kMaxHeatmapClasses).
void plot_heatmap(const std::filesystem::path& png, const std::vector<std::vector<double>>& matrix,
                  const std::vector<std::string>& labels, const std::string& title);

}  // namespace mnist
