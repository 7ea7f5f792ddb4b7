#include <gtest/gtest.h>

#include "mnist/error.hpp"
#include "mnist/tensor.hpp"

using namespace mnist;

TEST(Tensor, ZeroFilledWithShape) {
  Tensor t({2, 3});
  EXPECT_EQ(t.numel(), 6u);
  EXPECT_EQ(shape_string(t.shape()), "[2, 3]");
  for (float v : t.span()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, ReshapeKeepsDataAndRejectsWrongCount) {
  Tensor t({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor r = t.reshape({3, 2});
  EXPECT_EQ(r.at(2, 1), 6.0f);
  EXPECT_THROW(t.reshape({4, 2}), Error);
  EXPECT_THROW(Tensor({2, 2}, {1, 2, 3}), Error);
}
