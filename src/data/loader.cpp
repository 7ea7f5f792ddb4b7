#include "mnist/loader.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/gather.hpp"
#include "mnist/error.hpp"

namespace mnist {

namespace {
// Uniform integer in [0, bound) by rejection: unbiased and specified here, so the same everywhere.
std::uint64_t below(std::mt19937_64& gen, std::uint64_t bound) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  for (;;) {
    const std::uint64_t r = gen();
    if (r < limit) return r % bound;
  }
}

// Mixes (seed, epoch) into one generator seed (splitmix64's finaliser), so epochs need no shared state.
std::uint64_t mix(std::uint64_t seed, std::uint64_t epoch) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (epoch + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

ImageShift augment_shift(std::uint64_t seed, std::size_t epoch, std::size_t index) {
  // A stream of its own (the salt), apart from the shuffle's mix(seed, epoch).
  const std::uint64_t h = mix(mix(seed ^ 0x5348494654ULL, epoch), index);
  // 25 equally likely (dx, dy) pairs; the bias of 2^64 mod 25 over 2^64 draws is below 1e-18.
  const int k = static_cast<int>(h % 25);
  return ImageShift{k % 5 - 2, k / 5 - 2};
}

const char* augment_name(Augment augment) { return augment == Augment::shift ? "shift" : "none"; }

Augment parse_augment(const std::string& name) {
  if (name == "none") return Augment::none;
  if (name == "shift") return Augment::shift;
  throw UsageError("unknown augmentation '" + name.substr(0, 40) + "'; give none or shift");
}

std::vector<std::size_t> random_permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), std::size_t{0});
  std::mt19937_64 gen(seed);
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[below(gen, i)]);
  return p;
}

Subset::Subset(const Dataset& ds) : dataset(&ds), indices(ds.size()) {
  std::iota(indices.begin(), indices.end(), std::size_t{0});
}

Subset::Subset(const Dataset& ds, std::vector<std::size_t> idx) : dataset(&ds), indices(std::move(idx)) {
  for (std::size_t i : indices)
    if (i >= ds.size())
      throw Error("subset index " + std::to_string(i) + " is out of range for dataset " + ds.name() + " of " +
                  std::to_string(ds.size()) + " samples");
}

Subset Subset::first(const Dataset& ds, std::size_t count) {
  Subset s(ds);
  s.indices.resize(std::min(count, ds.size()));
  return s;
}

std::vector<Subset> random_split(const Subset& data, const std::vector<std::size_t>& counts, std::uint64_t seed) {
  const std::size_t total = std::accumulate(counts.begin(), counts.end(), std::size_t{0});
  if (total != data.size())
    throw UsageError("random_split: split sizes sum to " + std::to_string(total) + " but there are " +
                     std::to_string(data.size()) + " samples");
  const std::vector<std::size_t> perm = random_permutation(data.size(), seed);
  std::vector<Subset> out;
  std::size_t start = 0;
  for (std::size_t c : counts) {
    Subset part;
    part.dataset = data.dataset;
    for (std::size_t k = start; k < start + c; ++k) part.indices.push_back(data.indices[perm[k]]);
    out.push_back(std::move(part));
    start += c;
  }
  return out;
}

std::vector<Subset> random_split(const Subset& data, const std::vector<double>& fractions, std::uint64_t seed) {
  return random_split(data, split_counts(data.size(), fractions), seed);
}

std::vector<Subset> random_split(const Dataset& dataset, const std::vector<std::size_t>& counts,
                                 std::uint64_t seed) {
  return random_split(Subset(dataset), counts, seed);
}

std::vector<std::size_t> split_counts(std::size_t n, const std::vector<double>& fractions) {
  double sum = 0.0;
  for (double f : fractions) {
    if (!(f >= 0.0 && f <= 1.0))
      throw UsageError("random_split: fraction " + std::to_string(f) + " is not in [0, 1]");
    sum += f;
  }
  if (fractions.empty() || std::abs(sum - 1.0) > 1e-6)
    throw UsageError("random_split: fractions sum to " + std::to_string(sum) + ", they must sum to 1");
  std::vector<std::size_t> counts;
  std::size_t used = 0;
  for (double f : fractions) {
    counts.push_back(static_cast<std::size_t>(std::floor(f * static_cast<double>(n))));
    used += counts.back();
  }
  for (std::size_t i = 0; used < n; i = (i + 1) % counts.size(), ++used) ++counts[i];
  return counts;
}

std::vector<Subset> random_split(const Dataset& dataset, const std::vector<double>& fractions, std::uint64_t seed) {
  return random_split(dataset, split_counts(dataset.size(), fractions), seed);
}

DataLoader::DataLoader(Subset data, LoaderOptions options) : data_(std::move(data)), options_(options) {
  if (data_.dataset == nullptr) throw UsageError("DataLoader: no dataset");
  if (options_.batch_size == 0) throw UsageError("DataLoader: batch size must be at least 1");
  dim_ = data_.dataset->image_size();
  x_.resize(options_.batch_size * dim_);
  y_.resize(options_.batch_size);
  if (options_.augment != Augment::none) scratch_.resize(dim_);
  start_epoch(0);
}

std::size_t DataLoader::size() const {
  const std::size_t n = data_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b * b : n;
}

std::size_t DataLoader::num_batches() const {
  const std::size_t n = data_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::start_epoch(std::size_t epoch) {
  order_ = data_.indices;
  if (options_.shuffle) {
    const std::vector<std::size_t> perm = random_permutation(order_.size(), mix(options_.seed, epoch));
    for (std::size_t i = 0; i < perm.size(); ++i) order_[i] = data_.indices[perm[i]];
  }
  cursor_ = 0;
  epoch_ = epoch;
}

bool DataLoader::next(Batch& batch) {
  const std::size_t remaining = order_.size() - cursor_;
  const std::size_t B = std::min(options_.batch_size, remaining);
  if (B == 0 || (options_.drop_last && B < options_.batch_size)) return false;
  const std::span<const std::size_t> idx(order_.data() + cursor_, B);
  kernels::gather_batch(x_, y_, data_.dataset->images(), data_.dataset->labels(), idx, B, dim_);
  if (options_.augment == Augment::shift) {
    const std::size_t rows = data_.dataset->rows(), cols = data_.dataset->cols();
    for (std::size_t n = 0; n < B; ++n) {
      const std::span<float> image(x_.data() + n * dim_, dim_);
      std::copy(image.begin(), image.end(), scratch_.begin());
      const ImageShift s = augment_shift(options_.seed, epoch_, idx[n]);
      kernels::shift_image(image, scratch_, rows, cols, s.dx, s.dy);
    }
  }
  batch.x = std::span<const float>(x_.data(), B * dim_);
  batch.y = std::span<const std::int32_t>(y_.data(), B);
  batch.indices = idx;
  batch.size = B;
  batch.dim = dim_;
  cursor_ += B;
  return true;
}

}  // namespace mnist
