// What a Linear layer's kernels compute in one training step (forward with or without ReLU, weight and bias
// gradients accumulated onto .grad-like starting values), and the check that a kernel path gives OpenBLAS's
// products within float rounding: shared by the tests of the tiled and the dot kernels.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "kernels/linear.hpp"
#include "mnist/idx.hpp"
#include "mnist/nn.hpp"
#include "reference_math.hpp"

namespace mnist::testing {

struct LinearProducts {
  std::vector<float> out, dweight, dbias;
};

// The first N images of a data set's t10k file as the loader gives them (bytes / 255), [N, 784]; empty when dir is
// not there (the caller skips).
inline std::vector<float> test_images(const std::optional<std::filesystem::path>& dir, std::size_t N) {
  if (!dir) return {};
  const IdxArray images = read_idx(*dir / "t10k-images-idx3-ubyte.gz");
  std::vector<float> x(N * 784);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(images.bytes[i]) / 255.0f;
  return x;
}

// Outputs and gradients before a kernel writes them: a forward overwrites -99s; gradients accumulate onto 0.5 / 0.25
// as .grad would hold them after an earlier backward.
inline LinearProducts fresh_products(std::size_t N, std::size_t D_in, std::size_t D_out) {
  return {std::vector<float>(N * D_out, -99.0f), std::vector<float>(D_out * D_in, 0.5f),
          std::vector<float>(D_out, 0.25f)};
}

// The BLAS path's products (kernels/linear.hpp) for the same inputs.
inline LinearProducts blas_products(const std::vector<float>& inp, const std::vector<float>& w,
                                    const std::vector<float>& b, const std::vector<float>& dout, std::size_t N,
                                    std::size_t D_in, std::size_t D_out, bool relu) {
  LinearProducts p = fresh_products(N, D_in, D_out);
  if (relu) kernels::linear_relu_forward(p.out, inp, w, b, N, D_in, D_out);
  else kernels::linear_forward(p.out, inp, w, b, N, D_in, D_out);
  kernels::linear_backward({}, p.dweight, p.dbias, dout, inp, w, N, D_in, D_out);
  return p;
}

// `run(inp, w, b, dout, N, D_in, D_out, relu)` gives a kernel path's LinearProducts: they must match BLAS's within
// 1e-5 (relative to the largest value) for random weights and gradients, with and without ReLU; the bias gradient
// exactly (every path adds the rows in order).
template <class Run>
void expect_matches_blas(Run run, const std::vector<float>& inp, std::size_t N, std::size_t D_in, std::size_t D_out) {
  const std::vector<float> w = random_floats(D_out * D_in, 5), b = random_floats(D_out, 6),
                           dout = random_floats(N * D_out, 7);
  for (const bool relu : {false, true}) {
    const LinearProducts got = run(inp, w, b, dout, N, D_in, D_out, relu);
    const LinearProducts want = blas_products(inp, w, b, dout, N, D_in, D_out, relu);
    const std::string what = "N " + std::to_string(N) + " D_in " + std::to_string(D_in) + " D_out " +
                             std::to_string(D_out) + " relu " + std::to_string(relu);
    EXPECT_LT(worst_rel(got.out, want.out), 1e-5) << what;
    EXPECT_LT(worst_rel(got.dweight, want.dweight), 1e-5) << what;
    EXPECT_EQ(got.dbias, want.dbias) << what;
  }
}

// A kernel path's products at the tutorial's batch (N = 128, 784 inputs) on one and on two threads: the same bits.
template <class Run>
void expect_same_bits_on_one_and_two_threads(Run run, std::size_t D_out) {
  const std::size_t N = 128, D_in = 784;
  const std::vector<float> inp = random_floats(N * D_in, 8, 0.0f, 1.0f), w = random_floats(D_out * D_in, 9),
                           b = random_floats(D_out, 10), dout = random_floats(N * D_out, 11);
  mnist::set_num_threads(1);
  const LinearProducts one = run(inp, w, b, dout, N, D_in, D_out, true);
  mnist::set_num_threads(2);
  const LinearProducts two = run(inp, w, b, dout, N, D_in, D_out, true);
  mnist::set_num_threads(1);
  EXPECT_EQ(one.out, two.out);
  EXPECT_EQ(one.dweight, two.dweight);
  EXPECT_EQ(one.dbias, two.dbias);
}

}  // namespace mnist::testing
