// fit() and evaluate(): the tutorial's definitions of the histories, callbacks, stopping, determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "mnist/train.hpp"
#include "synthetic.hpp"

using namespace mnist;
using namespace mnist::testing;

namespace {
struct Pipeline {
  Dataset ds = synthetic_dataset(600);
  std::vector<Subset> parts = random_split(ds, std::vector<double>{0.8, 0.2}, 1);
  DataLoader train{parts[0], {.batch_size = 50, .shuffle = true, .seed = 2}};
  DataLoader val{parts[1], {.batch_size = 50}};
};
}  // namespace

TEST(Fit, HistoriesFollowTheTutorialsDefinitions) {
  Pipeline s;
  Model m = make_model("16-12-relu-10", 3);
  SGD sgd(m, {.lr = 0.5});
  std::size_t batches = 0, epochs = 0;
  FitOptions o;
  o.epochs = 4;
  o.on_batch = [&](BatchEvent& e) {
    EXPECT_EQ(e.num_batches, 10u);
    ++batches;
  };
  o.on_epoch = [&](EpochEvent& e) {
    EXPECT_EQ(e.epochs, 4u);
    ++epochs;
  };
  const History h = fit(m, s.train, s.val, sgd, o);
  EXPECT_EQ(batches, 40u);
  EXPECT_EQ(epochs, 4u);
  ASSERT_EQ(h.epochs.size(), 4u);
  ASSERT_EQ(h.step_losses.size(), 40u);
  for (std::size_t e = 0; e < 4; ++e) {
    const double mean = std::accumulate(h.step_losses.begin() + static_cast<std::ptrdiff_t>(e * 10),
                                        h.step_losses.begin() + static_cast<std::ptrdiff_t>(e * 10 + 10), 0.0) / 10;
    EXPECT_NEAR(h.epochs[e].train_loss, mean, 1e-6);
    EXPECT_EQ(h.epochs[e].val_total, 120u);
    EXPECT_GE(h.epochs[e].seconds, 0.0);
  }
  EXPECT_LT(h.epochs.back().train_loss, h.epochs.front().train_loss);
  const EvalResult r = evaluate(m, s.val);
  EXPECT_EQ(r.correct, h.epochs.back().val_correct);
  EXPECT_NEAR(r.batch_mean_accuracy, h.epochs.back().val_accuracy, 1e-12);
  EXPECT_EQ(r.predictions.size(), 120u);
  EXPECT_EQ(h.loss_history().size(), 4u);
  EXPECT_EQ(h.val_history()[3], h.epochs[3].val_accuracy);
  EXPECT_FALSE(h.stopped);
}

TEST(Fit, BatchMeanAccuracyDiffersFromExactWithUnequalBatches) {
  // 120 validation samples in batches of 50, 50, 20: the tutorial's metric weights the last batch more.
  Pipeline s;
  Model m = make_model("16-10", 1);
  const EvalResult r = evaluate(m, s.val);
  std::size_t correct = 0;
  double batch_sum = 0;
  for (std::size_t start = 0, k = 0; start < 120; start += 50, ++k) {
    const std::size_t n = std::min<std::size_t>(50, 120 - start);
    std::size_t c = 0;
    for (std::size_t i = start; i < start + n; ++i) c += r.predictions[i] == r.labels[i];
    correct += c;
    batch_sum += static_cast<double>(c) / static_cast<double>(n);
  }
  EXPECT_EQ(r.correct, correct);
  EXPECT_DOUBLE_EQ(r.accuracy, static_cast<double>(correct) / 120.0);
  EXPECT_DOUBLE_EQ(r.batch_mean_accuracy, batch_sum / 3.0);
}

TEST(Fit, SameSeedSameHistoryToTheLastBit) {
  Pipeline a, b;
  Model ma = make_model("16-12-relu-10", 3), mb = make_model("16-12-relu-10", 3);
  const History ha = fit(3, 0.5, ma, a.train, a.val), hb = fit(3, 0.5, mb, b.train, b.val);
  EXPECT_EQ(ha.step_losses, hb.step_losses);
  EXPECT_TRUE(std::equal(ma.parameters().begin(), ma.parameters().end(), mb.parameters().begin()));
}

TEST(Fit, CallbacksAndTheStopFlagEndTrainingEarly) {
  Pipeline s;
  Model m = make_model("16-10", 3);
  SGD sgd(m, {.lr = 0.1});
  FitOptions o;
  o.epochs = 5;
  o.on_batch = [](BatchEvent& e) { e.stop = e.epoch == 1 && e.batch == 3; };
  History h = fit(m, s.train, s.val, sgd, o);
  EXPECT_TRUE(h.stopped);
  EXPECT_EQ(h.epochs.size(), 1u);
  EXPECT_EQ(h.step_losses.size(), 14u);

  o.on_batch = nullptr;
  o.on_epoch = [](EpochEvent& e) { e.stop = e.stats->epoch == 2; };
  h = fit(m, s.train, s.val, sgd, o);
  EXPECT_TRUE(h.stopped);
  EXPECT_EQ(h.epochs.size(), 3u);

  std::atomic<bool> flag{true};
  o.on_epoch = nullptr;
  o.stop_flag = &flag;
  h = fit(m, s.train, s.val, sgd, o);
  EXPECT_TRUE(h.stopped);
  EXPECT_EQ(h.step_losses.size(), 1u);
}
