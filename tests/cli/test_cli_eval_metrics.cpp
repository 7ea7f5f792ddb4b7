// The confusion matrix and per-class precision/recall (mnist/metrics.hpp) against counts worked out by hand.
#include <gtest/gtest.h>

#include <vector>

#include "mnist/error.hpp"
#include "mnist/metrics.hpp"

using namespace mnist;

TEST(ConfusionMatrix, CountsAndRatesByHand) {
  // true:      0 0 0 1 1 2 2 2 2
  // predicted: 0 0 1 1 2 2 2 2 0
  const std::vector<std::int32_t> labels{0, 0, 0, 1, 1, 2, 2, 2, 2};
  const std::vector<std::int32_t> predictions{0, 0, 1, 1, 2, 2, 2, 2, 0};
  const ConfusionMatrix m(labels, predictions, 4);
  EXPECT_EQ(m.num_classes(), 4u);
  EXPECT_EQ(m.total(), 9u);
  EXPECT_EQ(m.count(0, 0), 2u);
  EXPECT_EQ(m.count(0, 1), 1u);
  EXPECT_EQ(m.count(1, 2), 1u);
  EXPECT_EQ(m.count(2, 0), 1u);
  EXPECT_EQ(m.count(2, 2), 3u);
  EXPECT_EQ(m.correct(), 6u);
  EXPECT_DOUBLE_EQ(m.accuracy(), 6.0 / 9.0);
  EXPECT_EQ(m.support(2), 4u);
  EXPECT_EQ(m.predicted(2), 4u);
  EXPECT_DOUBLE_EQ(m.precision(0), 2.0 / 3.0);  // predicted 0: two 0s and one 2
  EXPECT_DOUBLE_EQ(m.recall(0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.precision(1), 1.0 / 2.0);
  EXPECT_DOUBLE_EQ(m.recall(1), 1.0 / 2.0);
  EXPECT_DOUBLE_EQ(m.precision(2), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(m.recall(2), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(m.f1(2), 0.75);
  // Class 3 never occurs nor is predicted: scikit-learn's zero_division=0.
  EXPECT_EQ(m.precision(3), 0.0);
  EXPECT_EQ(m.recall(3), 0.0);
  EXPECT_EQ(m.f1(3), 0.0);
  const auto rows = m.rows();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[2][2], 3.0);
  EXPECT_EQ(rows[2][0], 1.0);
}

TEST(ConfusionMatrix, PrecisionAndRecallDiffer) {
  // Everything predicted as 1: class 1 has recall 1 and precision 1/3.
  const ConfusionMatrix m(std::vector<std::int32_t>{0, 1, 2}, std::vector<std::int32_t>{1, 1, 1}, 3);
  EXPECT_DOUBLE_EQ(m.precision(1), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall(1), 1.0);
  EXPECT_DOUBLE_EQ(m.f1(1), 0.5);
  EXPECT_EQ(m.precision(0), 0.0);
}

TEST(ConfusionMatrix, EmptyIsAllZero) {
  const ConfusionMatrix m(std::vector<std::int32_t>{}, std::vector<std::int32_t>{}, 10);
  EXPECT_EQ(m.total(), 0u);
  EXPECT_EQ(m.accuracy(), 0.0);
  EXPECT_EQ(m.recall(5), 0.0);
}

TEST(ConfusionMatrix, BadInputThrowsNamingTheSample) {
  const std::vector<std::int32_t> two{0, 1}, three{0, 1, 2};
  EXPECT_THROW(ConfusionMatrix(two, three, 3), Error);
  EXPECT_THROW(ConfusionMatrix(two, two, 0), Error);
  try {
    ConfusionMatrix(three, std::vector<std::int32_t>{0, 5, 1}, 3);
    FAIL() << "no error for prediction 5 of 3 classes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sample 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ConfusionMatrix(std::vector<std::int32_t>{-1}, std::vector<std::int32_t>{0}, 3), Error);
}
