// Learning-rate schedules against torch.optim.lr_scheduler's formulas, each computed here independently (the
// recursive/chainable forms PyTorch's step() uses, or its documented values), and fit() applying them per batch.
#include <gtest/gtest.h>

#include <cmath>

#include "mnist/error.hpp"
#include "mnist/schedule.hpp"
#include "mnist/train.hpp"
#include "synthetic.hpp"

using namespace mnist;
using namespace mnist::testing;

namespace {
constexpr double kPi = 3.14159265358979323846;
void expect_close(double a, double b, double rel, const std::string& what) {
  EXPECT_LE(std::abs(a - b), rel * std::max(std::abs(b), 1e-300) + 1e-18) << what << ": " << a << " vs " << b;
}
}  // namespace

TEST(Schedule, StepLrFollowsStepLRsChainableForm) {
  const LrSchedule s = step_lr(0.1, 3, 0.5);
  double lr = 0.1;  // StepLR.get_lr: multiplied by gamma when epoch % step_size == 0 (epoch > 0)
  for (std::size_t e = 0; e < 12; ++e) {
    if (e > 0 && e % 3 == 0) lr *= 0.5;
    expect_close(s.lr(e, e * 7 + 3), lr, 1e-15, "epoch " + std::to_string(e));
  }
  EXPECT_EQ(s.lr(2, 0), 0.1);
  EXPECT_EQ(s.lr(3, 0), 0.05);
  EXPECT_FALSE(s.per_batch());
}

TEST(Schedule, CosineFollowsCosineAnnealingLRsRecursiveForm) {
  const double base = 0.05, eta_min = 0.001;
  const std::size_t T = 7;
  const LrSchedule s = cosine_lr(base, T, eta_min);
  double lr = base;  // CosineAnnealingLR.get_lr
  for (std::size_t e = 0; e <= 3 * T; ++e) {
    if (e > 0) {
      const double E = static_cast<double>(e), Tm = static_cast<double>(T);
      if ((static_cast<long>(e) - 1 - static_cast<long>(T)) % static_cast<long>(2 * T) == 0)
        lr = lr + (base - eta_min) * (1 - std::cos(kPi / Tm)) / 2;
      else
        lr = (1 + std::cos(kPi * E / Tm)) / (1 + std::cos(kPi * (E - 1) / Tm)) * (lr - eta_min) + eta_min;
    }
    expect_close(s.lr(e, 0), lr, 1e-12, "epoch " + std::to_string(e));
  }
  EXPECT_EQ(s.lr(0, 0), base);
  expect_close(s.lr(T, 0), eta_min, 1e-15, "T_max");
}

TEST(Schedule, OneCycleFollowsOneCycleLRsPhases) {
  // OneCycleLR(max_lr=1, total_steps=20, pct_start=0.3): initial_lr 0.04, min_lr 4e-6; phase 1 ends at step 5.
  const LrSchedule s = one_cycle_lr(1.0, 20);
  EXPECT_TRUE(s.per_batch());
  const double initial = 1.0 / 25, min_lr = initial / 1e4;
  const auto cos_anneal = [](double start, double end, double pct) { return end + (start - end) / 2 * (std::cos(kPi * pct) + 1); };
  for (std::size_t t = 0; t < 20; ++t) {
    const double T = static_cast<double>(t);
    const double want = T <= 5.0 ? cos_anneal(initial, 1.0, T / 5.0) : cos_anneal(1.0, min_lr, (T - 5.0) / 14.0);
    expect_close(s.lr(t / 4, t), want, 1e-15, "step " + std::to_string(t));
  }
  // Step 0 is computed by the annealing formula too (max + (initial - max)), as PyTorch does: initial to rounding.
  expect_close(s.lr(0, 0), initial, 1e-15, "first step");
  EXPECT_EQ(s.lr(1, 5), 1.0);
  expect_close(s.lr(4, 19), min_lr, 1e-12, "last step");
  EXPECT_THROW(s.lr(5, 20), UsageError);  // PyTorch raises past total_steps too
}

TEST(Schedule, BadParametersAreRefused) {
  EXPECT_THROW(step_lr(0.1, 0, 0.1), UsageError);
  EXPECT_THROW(step_lr(0.1, 2, -0.5), UsageError);
  EXPECT_THROW(step_lr(0.1, 2, NAN), UsageError);
  EXPECT_THROW(cosine_lr(0.1, 0), UsageError);
  EXPECT_THROW(one_cycle_lr(0.1, 0), UsageError);
  EXPECT_THROW(one_cycle_lr(0.1, 10, 1.0), UsageError);
  EXPECT_THROW(parse_schedule_kind("linear"), UsageError);
  EXPECT_EQ(parse_schedule_kind("onecycle"), LrSchedule::Kind::onecycle);
}

TEST(Schedule, FitSetsTheScheduledLrBeforeEveryBatchAndResumesExactly) {
  Dataset ds = synthetic_dataset(600);
  std::vector<Subset> parts = random_split(ds, std::vector<double>{0.8, 0.2}, 1);
  const auto run = [&](std::size_t first, std::size_t epochs, Model& model, SGD& sgd, std::vector<double>* lrs) {
    DataLoader train{parts[0], {.batch_size = 50, .shuffle = true, .seed = 2}};
    DataLoader val{parts[1], {.batch_size = 50}};
    const LrSchedule s = one_cycle_lr(0.5, 4 * train.num_batches());
    FitOptions o;
    o.first_epoch = first;
    o.epochs = epochs;
    o.schedule = &s;
    o.on_batch = [&](BatchEvent& ev) {
      if (lrs) lrs->push_back(sgd.lr());
      EXPECT_EQ(sgd.lr(), s.lr(ev.epoch, ev.epoch * ev.num_batches + ev.batch));
    };
    fit(model, train, val, sgd, o);
  };
  Model a = make_model("16-12-relu-10", 3), b = make_model("16-12-relu-10", 3);
  SGD sa(a, {.lr = 0.5, .momentum = 0.9}), sb(b, {.lr = 0.5, .momentum = 0.9});
  std::vector<double> lrs;
  run(0, 4, a, sa, &lrs);
  ASSERT_EQ(lrs.size(), 40u);
  EXPECT_NEAR(lrs.front(), 0.5 / 25, 1e-15);
  EXPECT_LT(lrs.back(), 1e-4);
  run(0, 2, b, sb, nullptr);  // the same run in two calls, as --resume does it
  run(2, 2, b, sb, nullptr);
  EXPECT_TRUE(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
}
