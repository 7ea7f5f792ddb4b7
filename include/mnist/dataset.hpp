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

/// Which half of a data set: the training images (60,000 for MNIST) or the test images (10,000).
enum class Split {
  Train,  ///< train-images / train-labels
  Test    ///< t10k-images / t10k-labels
};
/// "train" / "test".
std::string to_string(Split split);

/// One image and its label; the bytes are a view into the dataset that owns them.
struct Sample {
  std::span<const std::uint8_t> image;  ///< [rows * cols] pixels, row-major, 0 = background; owned by the dataset
  int label = 0;                        ///< class index in 0 .. num_classes() - 1
};

/// A split of an MNIST-format data set held in memory.
class Dataset {
 public:
  /// An empty dataset (size() == 0), to be assigned from a loaded one.
  Dataset() = default;
  /// Takes ownership of validated buffers: images.size() == count * rows * cols, labels.size() == count,
  /// every label < classes.size().
  Dataset(std::string name, std::filesystem::path root, Split split, std::size_t rows, std::size_t cols,
          std::vector<std::uint8_t> images, std::vector<std::uint8_t> labels, std::vector<std::string> classes);

  /// Number of images (and labels): 60000 for MNIST's train split.
  std::size_t size() const { return labels_.size(); }
  /// Image height in pixels (28 for the built-in data sets).
  std::size_t rows() const { return rows_; }
  /// Image width in pixels (28 for the built-in data sets).
  std::size_t cols() const { return cols_; }
  /// Pixels per image, rows() * cols(): the input width of a model (784).
  std::size_t image_size() const { return rows_ * cols_; }
  /// Number of classes, classes().size(); every label is below it.
  std::size_t num_classes() const { return classes_.size(); }

  /// Image i and its label (throws Error when i >= size()).
  Sample operator[](std::size_t i) const;
  /// Image i as a [1, rows, cols] float tensor with pixels / 255 (torchvision's ToTensor).
  Tensor to_tensor(std::size_t i) const;

  /// All pixels, one contiguous uint8 buffer [size, rows * cols], row-major, 0 = background.
  std::span<const std::uint8_t> images() const { return images_; }
  /// All labels [size], one byte each, index into classes().
  std::span<const std::uint8_t> labels() const { return labels_; }
  /// Class names, index = label ("T-shirt/top", "Trouser", ... for Fashion-MNIST; "0" .. "9" for MNIST).
  const std::vector<std::string>& classes() const { return classes_; }
  /// Title used in summary() and messages ("MNIST", "FashionMNIST", or the custom name given).
  const std::string& name() const { return name_; }
  /// Directory the files were read from.
  const std::filesystem::path& root() const { return root_; }
  /// Which split the images are (Train or Test).
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
