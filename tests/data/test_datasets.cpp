// Datasets: loading a split from a directory (generated files for every error path), the built-in data sets,
// where their files are looked for, and the real Fashion-MNIST and MNIST files.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <numeric>

#include "mnist/datasets.hpp"
#include "mnist/error.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace mnist;
using namespace mnist::testing;

namespace {

std::uint32_t u32(std::size_t v) { return static_cast<std::uint32_t>(v); }

// Writes a split's two files (gzip'd) into dir: count images of rows x cols where pixel k of image i = i + k.
void write_split(const fs::path& dir, const std::string& prefix, std::size_t count, std::size_t rows, std::size_t cols,
                 std::vector<std::uint8_t> labels) {
  std::vector<std::uint8_t> pixels(count * rows * cols);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t k = 0; k < rows * cols; ++k) pixels[i * rows * cols + k] = static_cast<std::uint8_t>(i + k);
  write_gzip(dir / (prefix + "-images-idx3-ubyte.gz"), idx_bytes(0x08, {u32(count), u32(rows), u32(cols)}, pixels));
  write_gzip(dir / (prefix + "-labels-idx1-ubyte.gz"), idx_bytes(0x08, {u32(labels.size())}, labels));
}

std::string load_error(const fs::path& dir, Split split, const std::string& name) {
  try {
    load_dataset_dir(dir, split, name);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

std::string locate_error(const DataOptions& options) {
  try {
    locate_dataset(options);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

std::vector<std::size_t> class_counts(const Dataset& data) {
  std::vector<std::size_t> counts(data.num_classes(), 0);
  for (auto label : data.labels()) ++counts[label];
  return counts;
}

double zero_fraction(const Dataset& data) {
  auto pixels = data.images();
  return static_cast<double>(std::count(pixels.begin(), pixels.end(), 0)) / static_cast<double>(pixels.size());
}

}  // namespace

TEST(Datasets, BuiltInNamesAndInfo) {
  EXPECT_EQ(dataset_names(), (std::vector<std::string>{"mnist", "fashion-mnist", "kmnist"}));
  const auto& fashion = dataset_info("fashion-mnist");
  EXPECT_EQ(fashion.title, "FashionMNIST");
  EXPECT_EQ(fashion.classes.at(9), "Ankle boot");
  const auto& mnist = dataset_info("mnist");
  ASSERT_EQ(mnist.files.size(), 4u);
  EXPECT_EQ(mnist.files[2].name, "t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(mnist.files[2].md5, "9fb629c4189551a2d022fa330f9573f3");
  EXPECT_NE(mnist.mirrors.at(0).find("ossci-datasets"), std::string::npos);  // LeCun's site second: often 403
  EXPECT_EQ(dataset_info("kmnist").classes.at(0), "o");
  try {
    dataset_info("cifar");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("mnist, fashion-mnist, kmnist"), std::string::npos) << e.what();
  }
}

TEST(Datasets, CustomRootAnySizeWithSamplesTensorsAndSummary) {
  TempDir dir;
  write_split(dir.path(), "t10k", 3, 5, 7, {2, 0, 1});
  Dataset data = load_dataset_dir(dir.path(), Split::Test);
  EXPECT_EQ(data.size(), 3u);
  EXPECT_EQ(data.rows(), 5u);
  EXPECT_EQ(data.cols(), 7u);
  EXPECT_EQ(data.num_classes(), 10u);
  EXPECT_EQ(data.classes().at(3), "3");
  Sample s = data[2];
  EXPECT_EQ(s.label, 1);
  ASSERT_EQ(s.image.size(), 35u);
  EXPECT_EQ(s.image[4], 6);
  Tensor t = data.to_tensor(2);
  EXPECT_EQ(t.shape(), (Shape{1, 5, 7}));
  EXPECT_FLOAT_EQ(t[4], 6.0f / 255.0f);
  EXPECT_THROW(data[3], Error);
  EXPECT_EQ(data.summary(), "Dataset custom\n    Number of datapoints: 3\n    Root location: " + dir.path().string() +
                                "\n    Split: Test");
}

TEST(Datasets, CustomRootNamesClassesByCount) {
  TempDir dir;
  write_split(dir.path(), "train", 2, 4, 4, {12, 3});
  Dataset data = load_dataset_dir(dir.path(), Split::Train, "custom");
  EXPECT_EQ(data.num_classes(), 13u);
  EXPECT_EQ(data.classes().back(), "12");
}

TEST(Datasets, AcceptsDottedSpellingAndRawFiles) {
  TempDir dir;
  write_file(dir / "train-images.idx3-ubyte", idx_bytes(0x08, {1, 28, 28}, std::vector<std::uint8_t>(784, 9)));
  write_file(dir / "train-labels.idx1-ubyte", idx_bytes(0x08, {1}, {4}));
  Dataset data = load_dataset_dir(dir.path(), Split::Train, "fashion-mnist");
  EXPECT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].label, 4);
  EXPECT_EQ(data.classes().at(4), "Coat");
}

TEST(Datasets, BuiltInNamesRequire28x28) {
  TempDir dir;
  write_split(dir.path(), "train", 2, 5, 7, {0, 1});
  std::string message = load_error(dir.path(), Split::Train, "mnist");
  EXPECT_NE(message.find("5x7"), std::string::npos) << message;
  EXPECT_NE(message.find("28x28"), std::string::npos) << message;
}

TEST(Datasets, RejectsWrongNumberOfDimensions) {
  TempDir dir;
  write_gzip(dir / "train-images-idx3-ubyte.gz", idx_bytes(0x08, {2, 784}, std::vector<std::uint8_t>(2 * 784)));
  write_gzip(dir / "train-labels-idx1-ubyte.gz", idx_bytes(0x08, {2}, {0, 1}));
  std::string message = load_error(dir.path(), Split::Train, "mnist");
  EXPECT_NE(message.find("expected 3 dimensions"), std::string::npos) << message;

  write_split(dir.path(), "t10k", 2, 28, 28, {0, 1});
  write_gzip(dir / "t10k-labels-idx1-ubyte.gz", idx_bytes(0x08, {2, 1}, {0, 1}));
  message = load_error(dir.path(), Split::Test, "mnist");
  EXPECT_NE(message.find("expected 1 dimension"), std::string::npos) << message;
}

TEST(Datasets, RejectsCountMismatch) {
  TempDir dir;
  write_split(dir.path(), "train", 3, 28, 28, {0, 1});
  std::string message = load_error(dir.path(), Split::Train, "mnist");
  EXPECT_NE(message.find("holds 3 images"), std::string::npos) << message;
  EXPECT_NE(message.find("holds 2 labels"), std::string::npos) << message;
}

TEST(Datasets, RejectsLabelOutOfRange) {
  TempDir dir;
  write_split(dir.path(), "train", 3, 28, 28, {0, 10, 1});
  std::string message = load_error(dir.path(), Split::Train, "fashion-mnist");
  EXPECT_NE(message.find("label 10 at index 1"), std::string::npos) << message;
  EXPECT_NE(message.find("10 classes"), std::string::npos) << message;
}

TEST(Datasets, MissingFilesAreNamed) {
  TempDir dir;
  std::string message = load_error(dir.path(), Split::Test, "mnist");
  EXPECT_NE(message.find("t10k-images-idx3-ubyte"), std::string::npos) << message;
  EXPECT_NE(message.find("t10k-images.idx3-ubyte"), std::string::npos) << message;
}

TEST(Datasets, LocateSearchOrder) {
  TempDir dir;
  // --data-dir wins, whatever it holds (missing files are reported when a split is loaded).
  DataOptions options;
  options.dataset = "kmnist";
  options.data_dir = dir.path();
  EXPECT_EQ(locate_dataset(options), dir.path());
  options.data_dir = dir / "absent";
  EXPECT_NE(locate_error(options).find("not a directory"), std::string::npos);

  // Then ./data/<name>/ when it holds the four files.
  options.data_dir.reset();
  options.local_root = dir / "data";
  fs::create_directories(dir / "data" / "kmnist");
  write_split(dir / "data" / "kmnist", "train", 1, 28, 28, {3});
  std::string message = locate_error(options);  // only two of the four files: not a data set yet
  EXPECT_NE(message.find("KMNIST not found"), std::string::npos) << message;
  EXPECT_NE(message.find((dir / "data" / "kmnist").string()), std::string::npos) << message;
  EXPECT_NE(message.find("/usr/share/datasets/kmnist"), std::string::npos) << message;
  EXPECT_NE(message.find("--download"), std::string::npos) << message;
  EXPECT_NE(message.find("apt-get install dataset-fashion-mnist"), std::string::npos) << message;
  EXPECT_NE(message.find("--data-dir"), std::string::npos) << message;
  write_split(dir / "data" / "kmnist", "t10k", 2, 28, 28, {3, 4});
  EXPECT_EQ(locate_dataset(options), dir / "data" / "kmnist");
  Dataset test = load_dataset(options, Split::Test);
  EXPECT_EQ(test.size(), 2u);
  EXPECT_EQ(test.classes().at(4), "na");
  EXPECT_EQ(KMNIST(dir / "data", false).size(), 2u);  // torchvision-style: root holding kmnist/
  EXPECT_EQ(KMNIST(dir / "data" / "kmnist", true).size(), 1u);  // or the directory of the files itself
}

TEST(Datasets, CustomNeedsDataDirAndUnknownNamesAreUsageErrors) {
  DataOptions options;
  options.dataset = "custom";
  EXPECT_THROW(locate_dataset(options), UsageError);
  options.dataset = "emnist";
  EXPECT_THROW(locate_dataset(options), UsageError);
}

TEST(RealData, FashionMnistFromDebianPackage) {
  auto dir = fashion_mnist_dir();
  if (!dir) GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  TempDir empty;
  DataOptions options;
  options.dataset = "fashion-mnist";
  options.local_root = empty.path();  // nothing local: the search must find Debian's copy
  EXPECT_EQ(locate_dataset(options), *dir);
  Dataset train = load_dataset(options, Split::Train);
  Dataset test = FashionMNIST(*dir, false);
  EXPECT_EQ(train.size(), 60000u);
  EXPECT_EQ(test.size(), 10000u);
  EXPECT_EQ(train.rows(), 28u);
  EXPECT_EQ(train.cols(), 28u);
  std::vector<int> first;
  for (std::size_t i = 0; i < 5; ++i) first.push_back(train[i].label);
  EXPECT_EQ(first, (std::vector<int>{9, 0, 0, 3, 0}));
  EXPECT_EQ(class_counts(train), std::vector<std::size_t>(10, 6000));
  EXPECT_EQ(class_counts(test), std::vector<std::size_t>(10, 1000));
  EXPECT_NEAR(zero_fraction(train), 0.502, 0.001);
  EXPECT_NE(train.summary().find("Dataset FashionMNIST\n    Number of datapoints: 60000"), std::string::npos);
}

TEST(RealData, MnistTestSetFromShared) {
  auto dir = mnist_test_dir();
  if (!dir) GTEST_SKIP() << "../shared/data/mnist absent: real MNIST test set not checked";
  Dataset test = MNIST(*dir, false);
  EXPECT_EQ(test.size(), 10000u);
  std::vector<int> first;
  for (std::size_t i = 0; i < 5; ++i) first.push_back(test[i].label);
  EXPECT_EQ(first, (std::vector<int>{7, 2, 1, 0, 4}));
  EXPECT_EQ(class_counts(test), (std::vector<std::size_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  EXPECT_NEAR(zero_fraction(test), 0.807, 0.001);
  EXPECT_EQ(test.classes().at(7), "7 - seven");
  // Pixel values as torchvision's ToTensor gives them.
  Tensor t = test.to_tensor(0);
  EXPECT_EQ(t.shape(), (Shape{1, 28, 28}));
  float max = *std::max_element(t.span().begin(), t.span().end());
  EXPECT_FLOAT_EQ(max, 1.0f);
}

namespace {
std::size_t status_kb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  std::size_t kb = 0;
  while (status >> key)
    if (key == field) {
      status >> kb;
      break;
    }
  return kb;
}
}  // namespace

// The figures the issue asks for: time to load the four Fashion-MNIST .gz files and the memory they take.
TEST(RealData, FashionMnistLoadTimeAndMemory) {
  auto dir = fashion_mnist_dir();
  if (!dir) GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  std::size_t before = status_kb("VmHWM:");
  std::clock_t cpu_start = std::clock();
  auto start = std::chrono::steady_clock::now();
  Dataset train = load_dataset_dir(*dir, Split::Train, "fashion-mnist");
  Dataset test = load_dataset_dir(*dir, Split::Test, "fashion-mnist");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  double peak_mb = static_cast<double>(status_kb("VmHWM:") - before) / 1024.0;
  double data_mb = static_cast<double>(train.images().size() + train.labels().size() + test.images().size() +
                                       test.labels().size()) / (1024.0 * 1024.0);
  std::printf("Fashion-MNIST, four .gz files: %.3f s wall, %.3f s CPU, peak resident memory +%.1f MiB (data %.1f MiB)\n",
              seconds, cpu_seconds, peak_mb, data_mb);
  RecordProperty("load_seconds", std::to_string(seconds));
  RecordProperty("peak_rss_mib", std::to_string(peak_mb));
#if !defined(__SANITIZE_ADDRESS__)
  // Nothing but the pixels and labels: no whole-file copies, no intermediate buffers.
  EXPECT_LT(peak_mb, 60.0 * 1e6 / (1024.0 * 1024.0));
#endif
}
