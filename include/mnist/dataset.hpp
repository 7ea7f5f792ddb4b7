// MNIST-format datasets: images kept as one contiguous uint8 buffer, labels as bytes.
// (Interface fixed here so the loader and the CLI can be written against it; src/data implements it.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mnist/tensor.hpp"

namespace mnist {

enum class Split { Train, Test };
std::string to_string(Split split);  // "train" / "test"

/// One image and its label; the bytes are a view into the dataset that owns them.
struct Sample {
  std::span<const std::uint8_t> image;  // [rows * cols], row-major, 0 = background
  int label = 0;
};

/// A split of an MNIST-format data set held in memory.
class Dataset {
 public:
  Dataset() = default;
  /// Takes ownership of validated buffers: images.size() == count * rows * cols, labels.size() == count,
  /// every label < classes.size().
  Dataset(std::string name, std::filesystem::path root, Split split, std::size_t rows, std::size_t cols,
          std::vector<std::uint8_t> images, std::vector<std::uint8_t> labels, std::vector<std::string> classes);

  std::size_t size() const { return labels_.size(); }
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t image_size() const { return rows_ * cols_; }
  std::size_t num_classes() const { return classes_.size(); }

  /// Image i and its label (throws Error when i >= size()).
  Sample operator[](std::size_t i) const;
  /// Image i as a [1, rows, cols] float tensor with pixels / 255 (torchvision's ToTensor).
  Tensor to_tensor(std::size_t i) const;

  std::span<const std::uint8_t> images() const { return images_; }  // [size, rows * cols]
  std::span<const std::uint8_t> labels() const { return labels_; }  // [size]
  const std::vector<std::string>& classes() const { return classes_; }
  const std::string& name() const { return name_; }
  const std::filesystem::path& root() const { return root_; }
  Split split() const { return split_; }

  /// A printable summary in the spirit of torchvision's repr:
  ///   Dataset FashionMNIST
  ///       Number of datapoints: 60000
  ///       Root location: /usr/share/datasets/fashion-mnist
  ///       Split: Train
  std::string summary() const;

 private:
  std::string name_;
  std::filesystem::path root_;
  Split split_ = Split::Train;
  std::size_t rows_ = 0, cols_ = 0;
  std::vector<std::uint8_t> images_;
  std::vector<std::uint8_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace mnist
