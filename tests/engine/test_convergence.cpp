// Convergence on real data: 2,000 Fashion-MNIST training images, 3 epochs, fixed seed; validation on 500 others.
#include <gtest/gtest.h>

#include <cstdio>

#include "mnist/datasets.hpp"
#include "mnist/train.hpp"
#include "support/test_support.hpp"

using namespace mnist;

TEST(Convergence, EachPresetLearnsFashionMnistSubset) {
  const auto dir = mnist::testing::fashion_mnist_dir();
  if (!dir) GTEST_SKIP() << "Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed";
  const Dataset ds = load_dataset_dir(*dir, Split::Train, "fashion-mnist");
  const std::vector<Subset> parts = random_split(Subset::first(ds, 2500), std::vector<std::size_t>{2000, 500}, 7);
  for (const std::string spec : {"logistic", "hidden", "hidden-relu"}) {
    DataLoader train(parts[0], {.batch_size = 32, .shuffle = true, .seed = 7});
    DataLoader val(parts[1], {.batch_size = 128});
    Model model = make_model(spec, 7);
    const double before = evaluate(model, val).accuracy;
    const History h = fit(3, 0.1, model, train, val);
    ASSERT_EQ(h.epochs.size(), 3u);
    const EpochStats& last = h.epochs.back();
    const double exact = static_cast<double>(last.val_correct) / static_cast<double>(last.val_total);
    std::printf("%-12s val accuracy %.3f -> %.3f, train loss %.3f -> %.3f\n", spec.c_str(), before, exact,
                h.epochs.front().train_loss, last.train_loss);
    EXPECT_LT(before, 0.3) << spec;  // an untrained model is near chance
    EXPECT_GT(exact, 0.60) << spec;  // 189 small steps: ~0.65-0.71 measured, chance is 0.1
    EXPECT_LT(last.train_loss, h.epochs.front().train_loss) << spec;
    EXPECT_LT(last.train_loss, 0.85) << spec;
  }
}
