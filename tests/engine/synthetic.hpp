// A small synthetic Dataset for loader and fit tests: image i's first pixel is i % 256, its label i % classes.
#pragma once
#include <cstdint>
#include <vector>

#include "mnist/dataset.hpp"

namespace mnist::testing {

inline Dataset synthetic_dataset(std::size_t count, std::size_t rows = 4, std::size_t cols = 4,
                                 std::size_t classes = 10) {
  std::vector<std::uint8_t> images(count * rows * cols), labels(count);
  for (std::size_t i = 0; i < count; ++i) {
    labels[i] = static_cast<std::uint8_t>(i % classes);
    for (std::size_t p = 0; p < rows * cols; ++p)
      images[i * rows * cols + p] = static_cast<std::uint8_t>(p == 0 ? i % 256 : (i * 7 + p * 13) % 256);
    // A learnable signal: the label's pixel is bright.
    images[i * rows * cols + 1 + labels[i]] = 255;
  }
  std::vector<std::string> names;
  for (std::size_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return Dataset("synthetic", "", Split::Train, rows, cols, std::move(images), std::move(labels), std::move(names));
}

}  // namespace mnist::testing
