#include "support/dataset_dirs.hpp"

#include <stdexcept>

#include "mnist/datasets.hpp"
#include "support/test_support.hpp"

namespace mnist::testing {

void write_dataset_dir(const std::filesystem::path& dir, std::size_t rows, std::size_t cols,
                       const std::vector<std::uint8_t>& train_images, const std::vector<std::uint8_t>& train_labels,
                       const std::vector<std::uint8_t>& test_images, const std::vector<std::uint8_t>& test_labels) {
  std::filesystem::create_directories(dir);
  const auto r = static_cast<std::uint32_t>(rows), c = static_cast<std::uint32_t>(cols);
  write_file(dir / "train-images-idx3-ubyte",
             idx_bytes(0x08, {static_cast<std::uint32_t>(train_labels.size()), r, c}, train_images));
  write_file(dir / "train-labels-idx1-ubyte",
             idx_bytes(0x08, {static_cast<std::uint32_t>(train_labels.size())}, train_labels));
  write_file(dir / "t10k-images-idx3-ubyte",
             idx_bytes(0x08, {static_cast<std::uint32_t>(test_labels.size()), r, c}, test_images));
  write_file(dir / "t10k-labels-idx1-ubyte",
             idx_bytes(0x08, {static_cast<std::uint32_t>(test_labels.size())}, test_labels));
}

void slice(const Dataset& data, std::size_t begin, std::size_t count, std::vector<std::uint8_t>& images,
           std::vector<std::uint8_t>& labels) {
  auto all_images = data.images();
  auto all_labels = data.labels();
  images.assign(all_images.begin() + static_cast<std::ptrdiff_t>(begin * data.image_size()),
                all_images.begin() + static_cast<std::ptrdiff_t>((begin + count) * data.image_size()));
  labels.assign(all_labels.begin() + static_cast<std::ptrdiff_t>(begin),
                all_labels.begin() + static_cast<std::ptrdiff_t>(begin + count));
}

void write_fashion_mnist_subset(const std::filesystem::path& dir) {
  const auto fashion = fashion_mnist_dir();
  if (!fashion) throw std::runtime_error("write_fashion_mnist_subset: Fashion-MNIST is not installed");
  Dataset all = load_dataset_dir(*fashion, Split::Test, "fashion-mnist");
  std::vector<std::uint8_t> train_images, train_labels, test_images, test_labels;
  slice(all, 0, 3000, train_images, train_labels);
  slice(all, 3000, 1000, test_images, test_labels);
  write_dataset_dir(dir, 28, 28, train_images, train_labels, test_images, test_labels);
}

}  // namespace mnist::testing
