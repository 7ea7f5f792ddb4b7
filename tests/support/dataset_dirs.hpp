// Small data directories (the four IDX files the CLI's --data-dir reads) built from real or synthetic images.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "mnist/dataset.hpp"

namespace mnist::testing {

/// Writes the four IDX files of a data set (uncompressed) into dir: train and test images [n, rows, cols] + labels.
void write_dataset_dir(const std::filesystem::path& dir, std::size_t rows, std::size_t cols,
                       const std::vector<std::uint8_t>& train_images, const std::vector<std::uint8_t>& train_labels,
                       const std::vector<std::uint8_t>& test_images, const std::vector<std::uint8_t>& test_labels);

/// The images and labels of samples [begin, begin + count) of a data set.
void slice(const Dataset& data, std::size_t begin, std::size_t count, std::vector<std::uint8_t>& images,
           std::vector<std::uint8_t>& labels);

/// A real but small Fashion-MNIST data directory at dir: test images 0..2999 as its train split and 3000..3999 as
/// its test split (small enough for a CLI test to train on in seconds). Needs fashion_mnist_dir(): a test without it
/// GTEST_SKIP()s instead.
void write_fashion_mnist_subset(const std::filesystem::path& dir);

}  // namespace mnist::testing
