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

class Model;

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

/// A float image for plot_image_panels: a kernel, a feature map, an input image.
struct FloatImage {
  std::string title;          ///< drawn above the image ("" for none)
  std::size_t rows = 0;       ///< height
  std::size_t cols = 0;       ///< width
  std::vector<float> values;  ///< [rows][cols]
};

/// A titled grid of float images in one figure.
struct ImagePanel {
  std::string title;               ///< drawn above the grid
  std::vector<FloatImage> images;  ///< at most 400; each non-empty, at most 4096 x 4096
  /// Diverging (blue - white - red, one symmetric scale ±max|v| shared by the panel: weights, where the sign
  /// matters) or grayscale (each image scaled from its own minimum, black, to its maximum, white: activations).
  bool diverging = false;
  std::size_t columns = 8;  ///< images per row
};

/// Panels stacked top to bottom under a figure title, e.g. a conv layer's filters and one image's feature maps.
/// Non-finite values are drawn as the scale's middle. Throws Error naming png for an empty or oversized figure.
void plot_image_panels(const std::filesystem::path& png, const std::string& title,
                       const std::vector<ImagePanel>& panels);

/// The index of the model's first Conv2d layer in model.layers(), or model.layers().size() when it has none.
std::size_t first_conv_layer(const Model& model);

/// The filters figure of a conv net: the first Conv2d layer's kernels (one K x K image per output and input
/// channel, diverging colours), then one image (pixels [rows][cols] 0..255, the model's input, scaled to [0, 1] as in
/// training) and its feature maps after that layer, and after the ReLU when one follows it. The model runs in eval
/// mode. Throws UsageError when the model has no Conv2d layer (or none before its first Linear), Error when the
/// image does not fit the model's input.
void plot_conv_filters(const std::filesystem::path& png, Model& model, const std::string& model_name,
                       std::span<const std::uint8_t> pixels, const std::string& image_title);

/// Most classes plot_heatmap draws (beyond, the cells' counts would not be legible).
constexpr std::size_t kMaxHeatmapClasses = 100;

/// A confusion matrix: matrix[true][predicted], drawn as a heatmap with the count in each cell; x axis
/// "predicted", y axis "true", labels naming the classes (one per row/column, at most kMaxHeatmapClasses).
void plot_heatmap(const std::filesystem::path& png, const std::vector<std::vector<double>>& matrix,
                  const std::vector<std::string>& labels, const std::string& title);

}  // namespace mnist
