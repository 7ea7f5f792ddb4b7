// random_split and DataLoader: coverage, disjointness, determinism, shuffling, last batches, conversion.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "mnist/error.hpp"
#include "mnist/loader.hpp"
#include "mnist/nn.hpp"
#include "synthetic.hpp"

using namespace mnist;
using namespace mnist::testing;

namespace {
std::vector<std::size_t> epoch_indices(DataLoader& loader, std::size_t epoch, std::vector<std::size_t>* sizes = nullptr) {
  std::vector<std::size_t> seen;
  loader.start_epoch(epoch);
  Batch b;
  while (loader.next(b)) {
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    if (sizes) sizes->push_back(b.size);
  }
  return seen;
}
}  // namespace

TEST(RandomSplit, DisjointCoveringDeterministic) {
  const Dataset ds = synthetic_dataset(1001);
  const std::vector<double> fractions{0.9, 0.1};
  const std::vector<Subset> parts = random_split(ds, fractions, 42);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].size(), 901u);  // floor(900.9) = 900, plus the remainder dealt to the first
  EXPECT_EQ(parts[1].size(), 100u);
  std::vector<std::size_t> all = parts[0].indices;
  all.insert(all.end(), parts[1].indices.begin(), parts[1].indices.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i);
  EXPECT_EQ(random_split(ds, fractions, 42)[1].indices, parts[1].indices);
  EXPECT_NE(random_split(ds, fractions, 43)[1].indices, parts[1].indices);
  EXPECT_FALSE(std::is_sorted(parts[0].indices.begin(), parts[0].indices.end()));  // shuffled
}

TEST(RandomSplit, ByCountsAndOfASubset) {
  const Dataset ds = synthetic_dataset(100);
  const std::vector<std::size_t> counts{50, 30, 20};
  const std::vector<Subset> parts = random_split(ds, counts, 1);
  EXPECT_EQ(parts[0].size() + parts[1].size() + parts[2].size(), 100u);
  const Subset first = Subset::first(ds, 40);
  const std::vector<Subset> sub = random_split(first, std::vector<double>{0.75, 0.25}, 3);
  EXPECT_EQ(sub[0].size(), 30u);
  for (const Subset& s : sub)
    for (std::size_t i : s.indices) EXPECT_LT(i, 40u);
}

TEST(RandomSplit, RejectsBadSizes) {
  const Dataset ds = synthetic_dataset(10);
  EXPECT_THROW(random_split(ds, std::vector<std::size_t>{5, 6}, 0), UsageError);
  EXPECT_THROW(random_split(ds, std::vector<double>{0.5, 0.6}, 0), UsageError);
  EXPECT_THROW(random_split(ds, std::vector<double>{1.5, -0.5}, 0), UsageError);
  EXPECT_THROW(random_split(ds, std::vector<double>{}, 0), UsageError);
  EXPECT_THROW(Subset(ds, {3, 10}), Error);
  EXPECT_EQ(split_counts(10, {0.33, 0.33, 0.34}), (std::vector<std::size_t>{4, 3, 3}));
}

TEST(DataLoader, EveryIndexOncePerEpochWithPartialLastBatch) {
  const Dataset ds = synthetic_dataset(300);
  DataLoader loader(ds, {.batch_size = 128, .shuffle = true, .seed = 5});
  EXPECT_EQ(loader.num_batches(), 3u);
  EXPECT_EQ(loader.size(), 300u);
  for (std::size_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<std::size_t> sizes;
    std::vector<std::size_t> seen = epoch_indices(loader, epoch, &sizes);
    EXPECT_EQ(sizes, (std::vector<std::size_t>{128, 128, 44}));
    std::sort(seen.begin(), seen.end());
    for (std::size_t i = 0; i < 300; ++i) ASSERT_EQ(seen[i], i);
  }
}

TEST(DataLoader, ShuffleDiffersBetweenEpochsAndIsReproducible) {
  const Dataset ds = synthetic_dataset(200);
  DataLoader a(ds, {.batch_size = 32, .shuffle = true, .seed = 9});
  DataLoader b(ds, {.batch_size = 32, .shuffle = true, .seed = 9});
  DataLoader c(ds, {.batch_size = 32, .shuffle = true, .seed = 10});
  const auto a0 = epoch_indices(a, 0), a1 = epoch_indices(a, 1);
  EXPECT_NE(a0, a1);
  EXPECT_EQ(epoch_indices(b, 1), a1);  // epoch 1 without having run epoch 0: resumable
  EXPECT_EQ(epoch_indices(b, 0), a0);
  EXPECT_NE(epoch_indices(c, 0), a0);
  DataLoader plain(ds, {.batch_size = 32});
  const auto p = epoch_indices(plain, 3);
  EXPECT_TRUE(std::is_sorted(p.begin(), p.end()));
}

TEST(DataLoader, DropLastAndSubsetOrder) {
  const Dataset ds = synthetic_dataset(300);
  DataLoader loader(ds, {.batch_size = 128, .drop_last = true});
  std::vector<std::size_t> sizes;
  epoch_indices(loader, 0, &sizes);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{128, 128}));
  EXPECT_EQ(loader.num_batches(), 2u);
  EXPECT_EQ(loader.size(), 256u);
  // A subset without shuffle is visited in the subset's own order (the PyTorch fidelity test relies on it).
  DataLoader ordered(Subset(ds, {7, 3, 299, 0}), {.batch_size = 3});
  EXPECT_EQ(epoch_indices(ordered, 0), (std::vector<std::size_t>{7, 3, 299, 0}));
  EXPECT_THROW(DataLoader(ds, {.batch_size = 0}), UsageError);
}

TEST(DataLoader, BatchesHoldPixelsOver255AndLabels) {
  const Dataset ds = synthetic_dataset(20);
  DataLoader loader(Subset(ds, {13, 2}), {.batch_size = 8});
  Batch b;
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next(b));
  EXPECT_EQ(b.size, 2u);
  EXPECT_EQ(b.dim, 16u);
  EXPECT_EQ(b.x.size(), 32u);
  EXPECT_EQ(b.y[0], 3);
  EXPECT_EQ(b.y[1], 2);
  for (std::size_t p = 0; p < 16; ++p) {
    EXPECT_EQ(b.x[p], static_cast<float>(ds.images()[13 * 16 + p]) / 255.0f);
    EXPECT_EQ(b.x[16 + p], static_cast<float>(ds.images()[2 * 16 + p]) / 255.0f);
  }
  EXPECT_FALSE(loader.next(b));
}

namespace {
// The first epoch's batches of a loader, all their floats in order.
std::vector<float> epoch_pixels(DataLoader& loader, std::size_t epoch) {
  std::vector<float> out;
  loader.start_epoch(epoch);
  Batch b;
  while (loader.next(b)) out.insert(out.end(), b.x.begin(), b.x.end());
  return out;
}
}  // namespace

TEST(Augment, ShiftedImagesAreExactShiftsWithZeroFill) {
  const Dataset ds = synthetic_dataset(300, 6, 5);
  DataLoader plain(Subset(ds), {.batch_size = 32, .shuffle = true, .seed = 4});
  DataLoader shifted(Subset(ds), {.batch_size = 32, .shuffle = true, .seed = 4, .augment = Augment::shift});
  std::set<std::pair<int, int>> seen;
  std::size_t moved = 0;
  for (std::size_t epoch : {0u, 3u}) {
    plain.start_epoch(epoch);
    shifted.start_epoch(epoch);
    Batch p, s;
    while (plain.next(p)) {
      ASSERT_TRUE(shifted.next(s));
      ASSERT_EQ(std::vector<std::size_t>(p.indices.begin(), p.indices.end()),
                std::vector<std::size_t>(s.indices.begin(), s.indices.end()));
      for (std::size_t n = 0; n < p.size; ++n) {
        const ImageShift sh = augment_shift(4, epoch, p.indices[n]);
        ASSERT_GE(sh.dx, -2);
        ASSERT_LE(sh.dx, 2);
        ASSERT_GE(sh.dy, -2);
        ASSERT_LE(sh.dy, 2);
        seen.insert({sh.dx, sh.dy});
        moved += sh.dx != 0 || sh.dy != 0;
        for (int r = 0; r < 6; ++r)
          for (int c = 0; c < 5; ++c) {
            const int sr = r - sh.dy, sc = c - sh.dx;
            const float want = sr >= 0 && sr < 6 && sc >= 0 && sc < 5 ? p.x[n * 30 + sr * 5 + sc] : 0.0f;
            ASSERT_EQ(s.x[n * 30 + r * 5 + c], want) << "sample " << p.indices[n] << " at " << r << "," << c;
          }
      }
    }
    EXPECT_FALSE(shifted.next(s));
  }
  EXPECT_EQ(seen.size(), 25u) << "every (dx, dy) in -2..2 x -2..2 occurs";
  EXPECT_GT(moved, 500u);  // 24 of 25 draws move the image
  // A new draw each epoch, and the labels untouched.
  EXPECT_NE(epoch_pixels(shifted, 0), epoch_pixels(shifted, 1));
}

TEST(Augment, SameBatchesForAnyThreadCountAndValidationUntouched) {
  const Dataset ds = synthetic_dataset(500, 28, 28);
  DataLoader a(Subset(ds), {.batch_size = 64, .shuffle = true, .seed = 9, .augment = Augment::shift});
  set_num_threads(1);
  const std::vector<float> one = epoch_pixels(a, 2);
  set_num_threads(2);
  const std::vector<float> two = epoch_pixels(a, 2);
  EXPECT_EQ(one, two);
  // A new loader, another batch size: each sample's shift is its own.
  DataLoader b(Subset(ds), {.batch_size = 7, .shuffle = true, .seed = 9, .augment = Augment::shift});
  EXPECT_EQ(epoch_pixels(b, 2), one);
  // The default loader (validation, test) leaves images as they are.
  DataLoader val(Subset(ds), {.batch_size = 64});
  DataLoader val2(Subset(ds), {.batch_size = 64});
  EXPECT_EQ(epoch_pixels(val, 0), epoch_pixels(val2, 5));
  Batch v;
  val.start_epoch(0);
  ASSERT_TRUE(val.next(v));
  for (std::size_t p = 0; p < 784; ++p) ASSERT_EQ(v.x[p], static_cast<float>(ds.images()[p]) / 255.0f);
  EXPECT_THROW(parse_augment("flip"), UsageError);
}
