// Renders one of every kind of figure the io layer draws into a folder, for a person to look at
// (scripts/look_at_figures.sh). Uses Fashion-MNIST / MNIST images when they are installed, synthetic ones otherwise.
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "mnist/image.hpp"
#include "mnist/plot.hpp"

namespace fs = std::filesystem;

namespace {

// The first `count` 28x28 images of a gzip'd IDX file (header skipped), or an empty vector when unreadable.
std::vector<std::uint8_t> first_images(const fs::path& gz, std::size_t count) {
  std::vector<std::uint8_t> out(16 + count * 784);
  gzFile f = gzopen(gz.c_str(), "rb");
  if (f == nullptr) return {};
  int got = gzread(f, out.data(), static_cast<unsigned>(out.size()));
  gzclose(f);
  if (got != static_cast<int>(out.size())) return {};
  return {out.begin() + 16, out.end()};
}

std::vector<std::uint8_t> first_labels(const fs::path& gz, std::size_t count) {
  std::vector<std::uint8_t> out(8 + count);
  gzFile f = gzopen(gz.c_str(), "rb");
  if (f == nullptr) return {};
  int got = gzread(f, out.data(), static_cast<unsigned>(out.size()));
  gzclose(f);
  if (got != static_cast<int>(out.size())) return {};
  return {out.begin() + 8, out.end()};
}

mnist::Series curve(const std::string& label, std::vector<double> y) {
  mnist::Series s{label, {}, std::move(y)};
  for (std::size_t i = 0; i < s.y.size(); ++i) s.x.push_back(static_cast<double>(i + 1));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path out = argc > 1 ? argv[1] : "figures";
  fs::create_directories(out);

  // Training histories shaped like the tutorial's (logistic, 784-32-10, 784-32-10 + ReLU; 10 epochs).
  mnist::LineChart loss{"loss history", "epoch", "training loss", {}, true};
  loss.series = {curve("logistic", {0.72, 0.47, 0.43, 0.41, 0.40, 0.39, 0.385, 0.38, 0.375, 0.37}),
                 curve("hidden", {0.95, 0.50, 0.42, 0.39, 0.37, 0.36, 0.35, 0.345, 0.34, 0.335}),
                 curve("hidden-relu", {0.80, 0.38, 0.31, 0.27, 0.24, 0.22, 0.20, 0.19, 0.18, 0.17})};
  mnist::LineChart accuracy{"validation accuracy history", "epoch", "validation accuracy", {}, true};
  accuracy.series = {curve("logistic", {0.871, 0.884, 0.890, 0.893, 0.895, 0.897, 0.898, 0.899, 0.900, 0.901}),
                     curve("hidden", {0.861, 0.885, 0.893, 0.897, 0.900, 0.902, 0.903, 0.904, 0.905, 0.905}),
                     curve("hidden-relu", {0.889, 0.912, 0.924, 0.933, 0.940, 0.944, 0.948, 0.951, 0.953, 0.955})};
  mnist::plot_lines(out / "compare_loss.png", loss);
  mnist::plot_lines(out / "compare_accuracy.png", accuracy);
  loss.series.resize(1);
  accuracy.series.resize(1);
  mnist::plot_lines(out / "loss.png", loss);
  mnist::plot_lines(out / "accuracy.png", accuracy);
  mnist::LineChart long_run{"loss history", "epoch", "training loss", {curve("hidden-relu", {})}, true};
  for (int e = 0; e < 60; ++e) long_run.series[0].y.push_back(0.2 + 0.6 * std::exp(-e / 8.0));
  long_run.series[0] = curve("hidden-relu", long_run.series[0].y);
  mnist::plot_lines(out / "loss_60_epochs.png", long_run);

  mnist::LineChart relu{"ReLU", "x", "relu(x)", {{"relu", {}, {}}}, false};
  for (double x = -10; x < 10; x += 0.1) {
    relu.series[0].x.push_back(x);
    relu.series[0].y.push_back(std::max(0.0, x));
  }
  mnist::plot_lines(out / "relu.png", relu);
  mnist::LineChart diverged = accuracy;  // a run whose loss became NaN half-way
  diverged.title = "loss history (diverged at epoch 6)";
  diverged.series = {curve("adam lr=1", {0.9, 0.7, 1.5, 4.0, 9.0, std::nan(""), std::nan(""), std::nan("")}),
                     curve("sgd", {0.8, 0.5, 0.4, 0.35, 0.32, 0.3, 0.29, 0.28})};
  mnist::plot_lines(out / "diverged.png", diverged);

  // Images: real ones when available.
  std::vector<std::uint8_t> pixels = first_images("../shared/data/mnist/t10k-images-idx3-ubyte.gz", 16);
  std::vector<std::uint8_t> labels = first_labels("../shared/data/mnist/t10k-labels-idx1-ubyte.gz", 16);
  std::vector<std::uint8_t> fashion = first_images("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", 16);
  if (pixels.empty() || labels.empty()) {
    pixels.assign(16 * 784, 0);
    labels.assign(16, 0);
    for (std::size_t k = 0; k < 16; ++k)
      for (std::size_t r = 6; r < 22; ++r) pixels[k * 784 + r * 28 + 8 + k] = 255;
  }
  std::span<const std::uint8_t> all(pixels);
  mnist::plot_image(out / "image.png", all.subspan(0, 784), 28, 28, "Label: " + std::to_string(labels[0]));
  std::vector<std::span<const std::uint8_t>> grid;
  std::vector<std::string> titles;
  for (std::size_t k = 0; k < 9; ++k) {
    grid.push_back(all.subspan(k * 784, 784));
    titles.push_back("Label: " + std::to_string(labels[k]));
  }
  mnist::plot_image_grid(out / "grid_9.png", grid, 28, 28, titles);
  grid.pop_back();
  grid.pop_back();
  grid.pop_back();
  grid.pop_back();
  titles.resize(5);
  mnist::plot_image_grid(out / "grid_5.png", grid, 28, 28, titles);
  if (!fashion.empty()) mnist::plot_image(out / "fashion_image.png", std::span<const std::uint8_t>(fashion).subspan(0, 784), 28, 28, "Label: Ankle boot");
  std::cout << mnist::ascii_art(all.subspan(0, 784), 28, 28);

  // Confusion matrices: digits, and Fashion-MNIST's long class names.
  std::vector<std::vector<double>> matrix(10, std::vector<double>(10, 0));
  std::mt19937 rng(1);
  for (std::size_t t = 0; t < 10; ++t)
    for (std::size_t p = 0; p < 10; ++p) matrix[t][p] = t == p ? 900 + static_cast<double>(rng() % 200) : rng() % 25;
  std::vector<std::string> digits;
  for (int d = 0; d < 10; ++d) digits.push_back(std::to_string(d));
  mnist::plot_heatmap(out / "confusion.png", matrix, digits, "confusion matrix (test, accuracy 0.9512)");
  std::vector<std::string> fashion_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  mnist::plot_heatmap(out / "confusion_fashion.png", matrix, fashion_names, "confusion matrix (fashion-mnist test)");

  // Preprocessing: a test digit drawn big, dark on light grey paper with noise, then made MNIST-like again.
  mnist::GrayImage photo{300, 240, std::vector<std::uint8_t>(300 * 240)};
  std::normal_distribution<double> noise(0, 6);
  for (std::size_t r = 0; r < 240; ++r)
    for (std::size_t c = 0; c < 300; ++c) {
      std::size_t sr = (r - 0) * 28 / 240, sc = (c + 40 >= 300 ? 27 : (c + 40) * 28 / 340);
      double ink = pixels[sr * 28 + sc] / 255.0;
      double v = 215 - 170 * ink + noise(rng);
      photo.pixels[r * 300 + c] = static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0));
    }
  mnist::write_png(out / "photo.png", photo);
  mnist::GrayImage digit = mnist::preprocess_digit(mnist::read_image(out / "photo.png"));
  mnist::plot_image(out / "preprocessed.png", digit.pixels, 28, 28, "preprocessed photo.png");
  std::cout << "figures written to " << out << "\n";
  return 0;
}
