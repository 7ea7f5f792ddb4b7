// The data pipeline: random_split into index subsets, and a DataLoader handing out float batches.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "mnist/dataset.hpp"

namespace mnist {

/// A view of some samples of a dataset, by index (torch.utils.data.Subset). The dataset must outlive it.
struct Subset {
  const Dataset* dataset = nullptr;  ///< the samples' owner, not owned (must outlive the subset)
  std::vector<std::size_t> indices;  ///< positions in *dataset, in the subset's order, each < dataset->size()

  /// No dataset, no samples (a DataLoader refuses it).
  Subset() = default;
  /// All of dataset, in order.
  explicit Subset(const Dataset& dataset);
  /// The first `count` samples of dataset (all of them when count >= dataset.size()).
  static Subset first(const Dataset& dataset, std::size_t count);
  /// The given samples of dataset, in that order; throws Error if an index is out of range.
  Subset(const Dataset& dataset, std::vector<std::size_t> indices);
  /// Number of samples: indices.size().
  std::size_t size() const { return indices.size(); }
};

/// Splits dataset into disjoint subsets covering it, after a seeded shuffle (deterministic for a seed).
/// By counts: counts must sum to dataset.size(). By fractions: each in [0, 1], summing to 1 (within 1e-6);
/// subset i gets floor(f_i * n) samples and the remainder is dealt one by one to the first subsets (PyTorch's
/// rule). Throws UsageError for counts or fractions that do not fit.
std::vector<Subset> random_split(const Dataset& dataset, const std::vector<std::size_t>& counts, std::uint64_t seed);
/// random_split by fractions of dataset.size(), e.g. {0.9, 0.1} (see the counts overload for the rules).
std::vector<Subset> random_split(const Dataset& dataset, const std::vector<double>& fractions, std::uint64_t seed);
/// The same over the samples of a subset (e.g. the first 2,000 images of a data set).
std::vector<Subset> random_split(const Subset& data, const std::vector<std::size_t>& counts, std::uint64_t seed);
/// random_split by fractions of data.size(), over the samples of a subset.
std::vector<Subset> random_split(const Subset& data, const std::vector<double>& fractions, std::uint64_t seed);

/// Braced lists, as in the tutorial: random_split(dataset, {0.9, 0.1}, seed) splits by fractions.
std::vector<Subset> random_split(const Dataset& dataset, std::initializer_list<double> fractions, std::uint64_t seed);
/// random_split(dataset, {54000, 6000}, seed) splits by counts; throws UsageError for a negative count.
std::vector<Subset> random_split(const Dataset& dataset, std::initializer_list<int> counts, std::uint64_t seed);
/// Counts held in std::size_t variables: random_split(dataset, {n_train, n_val}, seed).
std::vector<Subset> random_split(const Dataset& dataset, std::initializer_list<std::size_t> counts,
                                 std::uint64_t seed);
/// random_split(subset, {0.9, 0.1}, seed): fractions of a subset's samples.
std::vector<Subset> random_split(const Subset& data, std::initializer_list<double> fractions, std::uint64_t seed);
/// random_split(subset, {2000, 500}, seed): counts of a subset's samples; UsageError for a negative count.
std::vector<Subset> random_split(const Subset& data, std::initializer_list<int> counts, std::uint64_t seed);
/// random_split(subset, {n_train, n_val}, seed) with std::size_t counts.
std::vector<Subset> random_split(const Subset& data, std::initializer_list<std::size_t> counts, std::uint64_t seed);
/// Sizes random_split(..., fractions) gives for n samples.
std::vector<std::size_t> split_counts(std::size_t n, const std::vector<double>& fractions);

/// A permutation of 0..n-1 by Fisher-Yates over std::mt19937_64 with explicit bounded draws (the same on every
/// platform, unlike std::shuffle).
std::vector<std::size_t> random_permutation(std::size_t n, std::uint64_t seed);

/// Random changes to training images (never to be asked of validation or test loaders).
enum class Augment {
  none,  ///< the images as they are
  shift  ///< each image translated by dx, dy in -2..2 pixels (zero fill), drawn per sample and epoch
};
/// A translation: the pixel at (row, col) moves to (row + dy, col + dx).
struct ImageShift {
  int dx = 0;  ///< columns, -2..2
  int dy = 0;  ///< rows, -2..2
};
/// The translation Augment::shift gives the sample of dataset index `index` in `epoch`: dx and dy uniform in -2..2,
/// a function of (seed, epoch, index) alone, so that batches are the same for any thread count, batch size or
/// order, and a resumed run continues exactly.
ImageShift augment_shift(std::uint64_t seed, std::size_t epoch, std::size_t index);
/// "none" / "shift".
const char* augment_name(Augment augment);
/// The Augment named so; UsageError listing the names otherwise.
Augment parse_augment(const std::string& name);

/// How a DataLoader batches (torch.utils.data.DataLoader's batch_size, shuffle, drop_last, plus a seed).
struct LoaderOptions {
  std::size_t batch_size = 128;  ///< samples per batch, at least 1 (the last batch may be smaller)
  bool shuffle = false;          ///< visit the samples in a new random order each epoch
  std::uint64_t seed = 0;  ///< with shuffle: epoch e's order is a function of (seed, e) alone
  bool drop_last = false;  ///< drop the last batch when it is smaller than batch_size
  Augment augment = Augment::none;  ///< applied to every sample of every batch (augment_shift(seed, epoch, index))
};

/// One batch, in the loader's buffers (valid until the loader's next call).
struct Batch {
  std::span<const float> x;              ///< [size, dim] pixels / 255, row-major
  std::span<const std::int32_t> y;       ///< [size] labels
  std::span<const std::size_t> indices;  ///< [size] indices into the dataset
  std::size_t size = 0;                  ///< samples in this batch (batch_size, or fewer for the last one)
  std::size_t dim = 0;                   ///< floats per sample: the dataset's image_size()
};

/// Hands out the samples of a subset in batches: every sample exactly once per epoch (except those dropped by
/// drop_last), reshuffled each epoch when asked. Buffers are allocated once, for batch_size.
///   loader.start_epoch(e);  while (loader.next(batch)) { ... }
class DataLoader {
 public:
  /// Batches of the subset data (its indices are copied; its dataset must outlive the loader), at epoch 0.
  /// Throws UsageError for a subset without a dataset or a batch_size of 0. Allocates its batch buffers here, once.
  DataLoader(Subset data, LoaderOptions options);
  /// Batches of all of dataset (which must outlive the loader).
  DataLoader(const Dataset& dataset, LoaderOptions options) : DataLoader(Subset(dataset), options) {}

  /// Number of samples visited per epoch and number of batches.
  std::size_t size() const;
  /// Batches per epoch: ceil(size() / batch_size), or floor with drop_last.
  std::size_t num_batches() const;
  /// Samples per full batch (options().batch_size).
  std::size_t batch_size() const { return options_.batch_size; }
  /// Floats per sample (the dataset's image_size(), 784 for 28x28): a model's input width.
  std::size_t sample_dim() const { return dim_; }
  /// The dataset's number of classes: a model's output width.
  std::size_t num_classes() const { return data_.dataset->num_classes(); }
  /// The samples this loader hands out.
  const Subset& subset() const { return data_; }
  /// The options it was built with.
  const LoaderOptions& options() const { return options_; }

  /// Begins epoch `epoch` (0-based): fixes its order (a permutation of the subset when shuffling).
  void start_epoch(std::size_t epoch);
  /// Fills batch with the next batch of the epoch; false at the end of the epoch.
  bool next(Batch& batch);
  /// Indices (into the dataset) in the order of the current epoch.
  std::span<const std::size_t> order() const { return order_; }

 private:
  Subset data_;
  LoaderOptions options_;
  std::size_t dim_ = 0;
  std::vector<std::size_t> order_;
  std::size_t cursor_ = 0;
  std::size_t epoch_ = 0;      // the current epoch (augmentation draws depend on it)
  std::vector<float> x_;
  std::vector<float> scratch_;  // [dim] one unshifted image, with augmentation
  std::vector<std::int32_t> y_;
};

}  // namespace mnist
