// Dataset: a split held in memory as one contiguous uint8 image buffer and a label byte per image.
#include "mnist/dataset.hpp"

#include <fmt/format.h>

#include "mnist/datasets.hpp"
#include "mnist/error.hpp"

namespace mnist {

std::string to_string(Split split) { return split == Split::Train ? "train" : "test"; }

Dataset::Dataset(std::string name, std::filesystem::path root, Split split, std::size_t rows, std::size_t cols,
                 std::vector<std::uint8_t> images, std::vector<std::uint8_t> labels, std::vector<std::string> classes)
    : name_(std::move(name)),
      root_(std::move(root)),
      split_(split),
      rows_(rows),
      cols_(cols),
      images_(std::move(images)),
      labels_(std::move(labels)),
      classes_(std::move(classes)) {
  if (images_.size() != labels_.size() * rows_ * cols_)
    throw Error(fmt::format("dataset {}: {} image bytes do not make {} images of {}x{}", name_, images_.size(),
                            labels_.size(), rows_, cols_));
  for (std::size_t i = 0; i < labels_.size(); ++i)
    if (labels_[i] >= classes_.size())
      throw Error(fmt::format("dataset {}: label {} of image {} is out of range for {} classes", name_, labels_[i], i,
                              classes_.size()));
}

Sample Dataset::operator[](std::size_t i) const {
  if (i >= size())
    throw Error(fmt::format("index {} is out of range: the {} split of {} has {} images", i, to_string(split_), name_,
                            size()));
  return {std::span<const std::uint8_t>(images_).subspan(i * image_size(), image_size()), labels_[i]};
}

Tensor Dataset::to_tensor(std::size_t i) const {
  Sample sample = (*this)[i];
  std::vector<float> values(sample.image.size());
  for (std::size_t k = 0; k < values.size(); ++k) values[k] = static_cast<float>(sample.image[k]) / 255.0f;
  return Tensor({1, rows_, cols_}, std::move(values));
}

std::string Dataset::summary() const {
  std::string title = name_;
  if (is_dataset_name(name_)) title = dataset_info(name_).title;
  return fmt::format("Dataset {}\n    Number of datapoints: {}\n    Root location: {}\n    Split: {}", title, size(),
                     root_.string(), split_ == Split::Train ? "Train" : "Test");
}

}  // namespace mnist
