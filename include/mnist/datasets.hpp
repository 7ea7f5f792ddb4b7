// The built-in MNIST-format data sets (mnist, fashion-mnist, kmnist), where their files are found, and loading
// them, in the spirit of torchvision.datasets.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mnist/dataset.hpp"

namespace mnist {

/// One of the four files of a data set, with the MD5 of its published .gz.
struct DatasetFile {
  std::string name;  ///< published file name, e.g. "train-images-idx3-ubyte.gz"
  std::string md5;   ///< MD5 of that .gz as 32 lowercase hex digits
};

/// What the library knows of a built-in data set: its names, classes, download mirrors and files.
struct DatasetInfo {
  std::string name;                  ///< CLI / directory name: "mnist", "fashion-mnist", "kmnist"
  std::string title;                 ///< torchvision's class name: "MNIST", "FashionMNIST", "KMNIST"
  std::vector<std::string> classes;  ///< class names, index = label
  std::vector<std::string> mirrors;  ///< base URLs, tried in order (each ends in '/')
  std::vector<DatasetFile> files;    ///< train images, train labels, test images, test labels (in that order)
};

/// The built-in data set of that name; throws UsageError listing the valid names.
const DatasetInfo& dataset_info(std::string_view name);
/// "mnist", "fashion-mnist", "kmnist"
std::vector<std::string> dataset_names();
/// Whether name is one of dataset_names().
bool is_dataset_name(std::string_view name);

/// Loads the split's two files (train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz], or t10k-...; the
/// "train-images.idx3-ubyte" spelling too) from dir. A built-in name imposes 28x28 images and its class names;
/// "custom" accepts any HxW and names the classes "0", "1", ... (at least 10, more if the labels need them).
Dataset load_dataset_dir(const std::filesystem::path& dir, Split split, const std::string& name = "custom");

/// Checks that a test split fits the train split it is used with (a model trained on train is evaluated on test):
/// the same image size, and every test label one of train's classes. Throws Error naming the test split's file
/// (images or labels, under test.root()) and both values otherwise.
void check_splits_agree(const Dataset& train, const Dataset& test);

/// True when dir holds the four files of a data set (either spelling, gzip'd or not).
bool has_dataset_files(const std::filesystem::path& dir);

/// Which data set to load and where to look for it (the CLI's --dataset, --data-dir, --download, --mirror).
struct DataOptions {
  std::string dataset = "mnist";                  ///< a built-in name, or "custom" (needs data_dir)
  std::optional<std::filesystem::path> data_dir;  ///< the four files directly in this directory (searched alone)
  bool download = false;                          ///< fetch into local_root/\<name\>/ when not found
  std::vector<std::string> mirrors;               ///< base URLs replacing the built-in list when non-empty
  std::filesystem::path local_root = "data";      ///< the project-local data directory: local_root/\<name\>/
};

/// Where the data set's files are: data_dir when given; else local_root/\<name\>/; else
/// /usr/share/datasets/\<name\>/ (Debian's dataset packages); else, with download, fetched into local_root/\<name\>/.
/// When nothing is found, the Error lists the places searched and the remedies.
std::filesystem::path locate_dataset(const DataOptions& options);
/// locate_dataset, then load_dataset_dir for the split.
Dataset load_dataset(const DataOptions& options, Split split);

/// torchvision-style conveniences: root is either the directory holding the four files or a directory holding
/// \<name\>/ (e.g. "data" for data/mnist/); with download, missing files are fetched into root/\<name\>/.
/// train selects Split::Train (true) or Split::Test. Throws Error when the files are missing or invalid.
Dataset MNIST(const std::filesystem::path& root = "data", bool train = true, bool download = false);
/// Fashion-MNIST (Zalando's clothing images, 10 classes) the same way as MNIST(); also found in
/// /usr/share/datasets/fashion-mnist/ when root holds no copy.
Dataset FashionMNIST(const std::filesystem::path& root = "data", bool train = true, bool download = false);
/// Kuzushiji-MNIST (cursive Japanese characters, 10 classes) the same way as MNIST().
Dataset KMNIST(const std::filesystem::path& root = "data", bool train = true, bool download = false);

}  // namespace mnist
