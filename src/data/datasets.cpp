// The built-in data sets, where their files are looked for, and loading a split from a directory.
#include "mnist/datasets.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "mnist/download.hpp"
#include "mnist/error.hpp"
#include "mnist/idx.hpp"
#include "util/files.hpp"

namespace fs = std::filesystem;

namespace mnist {
namespace {

// Where Debian's dataset packages (dataset-fashion-mnist) install their files.
const fs::path kSystemRoot = "/usr/share/datasets";

const std::vector<DatasetInfo>& builtin_datasets() {
  // Mirrors and MD5s of the published .gz files, as torchvision lists them. MNIST's S3 mirror comes first
  // because LeCun's site often answers 403.
  static const std::vector<DatasetInfo> all = {
      {"mnist",
       "MNIST",
       {"0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven", "8 - eight",
        "9 - nine"},
       {"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
       {{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
        {"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"},
        {"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"},
        {"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"}}},
      {"fashion-mnist",
       "FashionMNIST",
       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
       {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
       {{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
        {"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"},
        {"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"},
        {"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"}}},
      {"kmnist",
       "KMNIST",
       {"o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"},
       {"http://codh.rois.ac.jp/kmnist/dataset/kmnist/"},
       {{"train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"},
        {"train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"},
        {"t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"},
        {"t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"}}},
  };
  return all;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// The names a split's file may have: "train-images-idx3-ubyte", "train-images.idx3-ubyte", each with ".gz" or not.
std::vector<std::string> candidate_names(Split split, const std::string& kind, const std::string& idx) {
  std::string stem = (split == Split::Train ? "train-" : "t10k-") + kind;
  return {stem + "-" + idx + "-ubyte.gz", stem + "-" + idx + "-ubyte", stem + "." + idx + "-ubyte.gz",
          stem + "." + idx + "-ubyte"};
}

std::optional<fs::path> find_file(const fs::path& dir, Split split, const std::string& kind, const std::string& idx) {
  std::error_code ec;
  for (const auto& name : candidate_names(split, kind, idx))
    if (fs::is_regular_file(dir / name, ec)) return dir / name;
  return std::nullopt;
}

fs::path require_file(const fs::path& dir, Split split, const std::string& kind, const std::string& idx) {
  if (auto found = find_file(dir, split, kind, idx)) return *found;
  auto names = candidate_names(split, kind, idx);
  for (const auto& name : names) util::refuse_special_file(dir / name);  // say "is a FIFO", not "no file"
  throw Error(fmt::format("{}: no {} {} file (looked for {} and {}, with or without .gz)", dir.string(),
                          to_string(split), kind, names[1], names[3]));
}

bool has_split_files(const fs::path& dir, Split split) {
  return find_file(dir, split, "images", "idx3") && find_file(dir, split, "labels", "idx1");
}

std::vector<std::string> numbered_classes(std::size_t count) {
  std::vector<std::string> classes;
  for (std::size_t i = 0; i < count; ++i) classes.push_back(std::to_string(i));
  return classes;
}

// Fetches into dir every file of the data set that is not there yet.
void download_missing(const DatasetInfo& info, const fs::path& dir, const std::vector<std::string>& mirrors) {
  std::error_code ec;
  const bool made = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create directory: {}", dir.string(), ec.message()));
  // Every missing file is attempted even when one fails, so that what can be had is there afterwards.
  std::string failures;
  for (const auto& file : info.files) {
    bool images = file.name.find("images") != std::string::npos;
    Split split = file.name.rfind("train", 0) == 0 ? Split::Train : Split::Test;
    if (find_file(dir, split, images ? "images" : "labels", images ? "idx3" : "idx1")) continue;
    try {
      download_file(mirrors.empty() ? info.mirrors : mirrors, file.name, file.md5, dir);
    } catch (const Error& e) {
      failures += (failures.empty() ? "" : "; ") + std::string(e.what());
    }
  }
  if (!failures.empty()) {
    if (made && fs::is_empty(dir, ec)) fs::remove(dir, ec);  // nothing fetched: no empty data/<name> left behind
    throw Error(failures);
  }
}

Dataset builtin(const std::string& name, const fs::path& root, bool train, bool download) {
  Split split = train ? Split::Train : Split::Test;
  if (has_split_files(root, split)) return load_dataset_dir(root, split, name);
  DataOptions options;
  options.dataset = name;
  options.local_root = root;
  options.download = download;
  return load_dataset(options, split);
}

}  // namespace

const DatasetInfo& dataset_info(std::string_view name) {
  for (const auto& info : builtin_datasets())
    if (info.name == name) return info;
  throw UsageError(fmt::format("unknown dataset '{}' (valid: {})", name, join(dataset_names(), ", ")));
}

bool is_dataset_name(std::string_view name) {
  const auto& all = builtin_datasets();
  return std::any_of(all.begin(), all.end(), [name](const DatasetInfo& info) { return info.name == name; });
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& info : builtin_datasets()) names.push_back(info.name);
  return names;
}

bool has_dataset_files(const fs::path& dir) {
  return has_split_files(dir, Split::Train) && has_split_files(dir, Split::Test);
}

Dataset load_dataset_dir(const fs::path& dir, Split split, const std::string& name) {
  const DatasetInfo* info = name == "custom" ? nullptr : &dataset_info(name);
  fs::path images_path = require_file(dir, split, "images", "idx3");
  fs::path labels_path = require_file(dir, split, "labels", "idx1");

  // Labels first: they are small, and a bad labels file is reported before the images are inflated.
  IdxArray labels = read_idx(labels_path);
  if (labels.dims.size() != 1)
    throw Error(fmt::format("{}: expected 1 dimension (labels), found {}", labels_path.string(), labels.dims.size()));
  IdxArray images = read_idx(images_path);
  if (images.dims.size() != 3)
    throw Error(fmt::format("{}: expected 3 dimensions (images x rows x cols), found {}", images_path.string(),
                            images.dims.size()));
  std::size_t count = images.dims[0], rows = images.dims[1], cols = images.dims[2];
  if (info && (rows != 28 || cols != 28))
    throw Error(fmt::format("{}: images are {}x{}, but {} images are 28x28 (use --dataset custom for other sizes)",
                            images_path.string(), rows, cols, info->title));
  if (labels.dims[0] != count)
    throw Error(fmt::format("{} holds {} images but {} holds {} labels", images_path.string(), count,
                            labels_path.string(), labels.dims[0]));

  std::uint8_t max_label = labels.bytes.empty() ? 0 : *std::max_element(labels.bytes.begin(), labels.bytes.end());
  std::vector<std::string> classes = info ? info->classes : numbered_classes(std::max<std::size_t>(10, max_label + 1u));
  if (max_label >= classes.size()) {
    auto at = std::find_if(labels.bytes.begin(), labels.bytes.end(), [&](std::uint8_t v) { return v >= classes.size(); });
    throw Error(fmt::format("{}: label {} at index {} is out of range ({} has {} classes)", labels_path.string(), *at,
                            at - labels.bytes.begin(), info ? info->title : name, classes.size()));
  }
  return Dataset(name, dir, split, rows, cols, std::move(images.bytes), std::move(labels.bytes), std::move(classes));
}

void check_splits_agree(const Dataset& train, const Dataset& test) {
  // The file a split was read from (its directory, when the files are no longer there).
  const auto file = [](const Dataset& d, const std::string& kind, const std::string& idx) {
    const std::optional<fs::path> found = find_file(d.root(), d.split(), kind, idx);
    return (found ? *found : d.root()).string();
  };
  if (test.rows() != train.rows() || test.cols() != train.cols())
    throw Error(fmt::format("{}: {} images are {}x{}, but the {} images ({}) are {}x{}; both splits must have the same "
                            "image size",
                            file(test, "images", "idx3"), to_string(test.split()), test.rows(), test.cols(),
                            to_string(train.split()), file(train, "images", "idx3"), train.rows(), train.cols()));
  const auto labels = test.labels();
  const auto at = std::find_if(labels.begin(), labels.end(), [&](std::uint8_t v) { return v >= train.num_classes(); });
  if (at != labels.end())
    throw Error(fmt::format("{}: label {} at index {} is not a class of the {} split ({} has {} classes, 0 to {})",
                            file(test, "labels", "idx1"), *at, at - labels.begin(), to_string(train.split()),
                            file(train, "labels", "idx1"), train.num_classes(), train.num_classes() - 1));
}

fs::path locate_dataset(const DataOptions& options) {
  if (options.dataset == "custom") {
    if (!options.data_dir) throw UsageError("--dataset custom needs --data-dir DIR (the directory of the four files)");
  } else {
    dataset_info(options.dataset);  // throws UsageError for an unknown name
  }
  if (options.data_dir) {
    std::error_code ec;
    if (!fs::is_directory(*options.data_dir, ec))
      throw Error(fmt::format("--data-dir {}: not a directory", options.data_dir->string()));
    return *options.data_dir;
  }
  const DatasetInfo& info = dataset_info(options.dataset);
  fs::path local = options.local_root / info.name;
  fs::path system = kSystemRoot / info.name;
  if (has_dataset_files(local)) return local;
  if (has_dataset_files(system)) return system;
  if (options.download) {
    download_missing(info, local, options.mirrors);
    return local;
  }
  std::string apt = info.name == "fashion-mnist" ? "sudo apt-get install dataset-fashion-mnist"
                                                 : "sudo apt-get install dataset-fashion-mnist and --dataset fashion-mnist";
  throw Error(fmt::format("{} not found (searched {}/ and {}/); remedies: --download to fetch it into {}/, {}, or "
                          "--data-dir DIR for a directory holding its four files",
                          info.title, local.string(), system.string(), local.string(), apt));
}

Dataset load_dataset(const DataOptions& options, Split split) {
  fs::path dir = locate_dataset(options);
  return load_dataset_dir(dir, split, options.dataset);
}

Dataset MNIST(const fs::path& root, bool train, bool download) { return builtin("mnist", root, train, download); }
Dataset FashionMNIST(const fs::path& root, bool train, bool download) {
  return builtin("fashion-mnist", root, train, download);
}
Dataset KMNIST(const fs::path& root, bool train, bool download) { return builtin("kmnist", root, train, download); }

}  // namespace mnist
