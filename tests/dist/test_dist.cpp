// Data parallelism in one process: the rule that splits a batch across ranks, the one-process communicator, and
// fit() given it (the same History and parameters, bit for bit, as without it).
#include <gtest/gtest.h>

#include <cstring>

#include "engine/synthetic.hpp"
#include "mnist/dist.hpp"
#include "mnist/train.hpp"

using namespace mnist;

TEST(Shard, SplitsEveryBatchIntoConsecutiveNearlyEqualShares) {
  for (std::size_t batch : {1u, 2u, 7u, 100u, 128u})
    for (int ranks : {1, 2, 3, 4, 8}) {
      std::size_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const dist::Shard s = dist::shard_of(batch, r, ranks);
        EXPECT_EQ(s.begin, next) << batch << " " << ranks << " " << r;
        EXPECT_TRUE(s.count == batch / ranks || s.count == batch / ranks + 1);
        // The longer shares come first.
        EXPECT_EQ(s.count, batch / ranks + (static_cast<std::size_t>(r) < batch % ranks ? 1 : 0));
        next += s.count;
      }
      EXPECT_EQ(next, batch);
    }
  EXPECT_EQ(dist::shard_of(100, 2, 3).begin, 67u);
  EXPECT_EQ(dist::shard_of(100, 2, 3).count, 33u);
  EXPECT_EQ(dist::shard_of(2, 2, 3).count, 0u);  // fewer samples than ranks: some ranks sit the batch out
}

TEST(SingleProcess, CollectivesLeaveTheValuesAndAgreementHolds) {
  dist::SingleProcess one;
  EXPECT_EQ(one.rank(), 0);
  EXPECT_EQ(one.size(), 1);
  std::vector<float> v{1.5f, -2.0f};
  one.allreduce_sum(v);
  EXPECT_EQ(v, (std::vector<float>{1.5f, -2.0f}));
  const std::uint64_t mine[2] = {7, 9};
  EXPECT_EQ(one.allgather(mine), (std::vector<std::uint64_t>{7, 9}));
  EXPECT_NO_THROW(dist::check_agreement(one, {{"the data", 1}, {"the settings", 2}}));
}

TEST(Hash, DistinguishesContentAndChains) {
  EXPECT_NE(dist::hash_text("lr=0.1"), dist::hash_text("lr=0.2"));
  EXPECT_EQ(dist::hash_text("ab"), dist::hash_text("b", dist::hash_text("a")));
  const float a[2] = {1.0f, 2.0f}, b[2] = {1.0f, 2.0000002f};
  EXPECT_NE(dist::hash_floats(a), dist::hash_floats(b));
  EXPECT_NE(dist::binary_hash(), 0u);
  EXPECT_EQ(dist::binary_hash(), dist::binary_hash());
}

TEST(Launcher, WithoutMpirunThisIsOneProcess) {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) GTEST_SKIP() << "running under mpirun";
  EXPECT_EQ(dist::launcher_world_size(), 1);
  EXPECT_EQ(dist::launcher_rank(), 0);
  EXPECT_EQ(dist::world().size(), 1);
  EXPECT_FALSE(dist::world_is_distributed());
}

TEST(Fit, AOneProcessCommunicatorChangesNothing) {
  const Dataset ds = mnist::testing::synthetic_dataset(600);
  const std::vector<Subset> parts = random_split(ds, std::vector<double>{0.8, 0.2}, 1);
  auto train_once = [&](dist::Communicator* comm, Model& m) {
    DataLoader train{parts[0], {.batch_size = 50, .shuffle = true, .seed = 2}};
    DataLoader val{parts[1], {.batch_size = 50}};
    SGD sgd(m, {.lr = 0.5, .momentum = 0.9});
    FitOptions o;
    o.epochs = 3;
    o.comm = comm;
    return fit(m, train, val, sgd, o);
  };
  Model a = make_model("16-12-relu-10", 3), b = make_model("16-12-relu-10", 3);
  dist::SingleProcess one;
  const History ha = train_once(nullptr, a), hb = train_once(&one, b);
  EXPECT_EQ(ha.step_losses, hb.step_losses);
  ASSERT_EQ(ha.epochs.size(), hb.epochs.size());
  for (std::size_t e = 0; e < ha.epochs.size(); ++e) {
    EXPECT_EQ(ha.epochs[e].val_loss, hb.epochs[e].val_loss);
    EXPECT_EQ(ha.epochs[e].val_accuracy, hb.epochs[e].val_accuracy);
  }
  ASSERT_EQ(a.parameters().size(), b.parameters().size());
  EXPECT_EQ(std::memcmp(a.parameters().data(), b.parameters().data(), a.parameters().size_bytes()), 0);
  DataLoader val{parts[1], {.batch_size = 50}};
  const EvalResult plain = evaluate(a, val), through = evaluate(a, val, one);
  EXPECT_EQ(plain.loss, through.loss);
  EXPECT_EQ(plain.correct, through.correct);
}
