// The performance paths compute what the plain ones do: threads change who computes, never what; the fast
// byte->float conversion equals torchvision's division bit for bit; the fused Linear+ReLU equals Linear then ReLU.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/gather.hpp"
#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"
#include "mnist/datasets.hpp"
#include "mnist/train.hpp"
#include "support/test_support.hpp"
#include "synthetic.hpp"

using namespace mnist;

namespace {
// 28x28 images, 3,000 of them: real MNIST test images when ../shared is there, else synthetic ones (the pair
// kernels' sparse pixels); and Fashion-MNIST's when installed (the tiled dense kernels' pixels).
std::vector<Dataset> workloads() {
  std::vector<Dataset> out;
  if (const auto dir = mnist::testing::mnist_test_dir()) out.push_back(load_dataset_dir(*dir, Split::Test, "mnist"));
  else out.push_back(mnist::testing::synthetic_dataset(3000, 28, 28));
  if (const auto dir = mnist::testing::fashion_mnist_dir())
    out.push_back(load_dataset_dir(*dir, Split::Test, "fashion-mnist"));
  return out;
}

struct TrainRun {
  History history;
  std::vector<float> params;
};

TrainRun train(const Dataset& ds, const std::string& spec, int threads, double momentum) {
  // 2,599 = 20 batches of 128 and one of 39: an odd last batch (a pair padded with zeros, uneven row ranges).
  const std::vector<Subset> parts = random_split(Subset::first(ds, 3000), std::vector<std::size_t>{2599, 401}, 3);
  DataLoader tr(parts[0], {.batch_size = 128, .shuffle = true, .seed = 3});
  DataLoader va(parts[1], {.batch_size = 128});
  Model model = make_model(spec, 3);
  SGD sgd(model, SgdOptions{.lr = 0.1, .momentum = momentum});
  FitOptions o;
  o.epochs = 2;
  o.threads = threads;
  TrainRun r{fit(model, tr, va, sgd, o), {}};
  r.params.assign(model.parameters().begin(), model.parameters().end());
  set_num_threads(1);
  return r;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
}  // namespace

// Every kernel path: pairs (MNIST) or tiled (Fashion-MNIST) first layers, tiled small hidden layers, BLAS for the
// wide ones (784-96-relu-10).
TEST(PerfEquivalence, TwoThreadsTrainBitIdenticallyToOne) {
  for (const Dataset& ds : workloads()) {
    for (const std::string spec : {"logistic", "hidden", "hidden-relu", "784-64-relu-32-relu-10", "784-96-relu-10"}) {
      for (const double momentum : {0.0, 0.9}) {
        const TrainRun one = train(ds, spec, 1, momentum), two = train(ds, spec, 2, momentum),
                  three = train(ds, spec, 3, momentum);
        ASSERT_EQ(one.history.step_losses.size(), 2u * 21u) << spec;
        EXPECT_TRUE(same_bits(one.history.step_losses, two.history.step_losses)) << spec << " momentum " << momentum;
        EXPECT_TRUE(same_bits(one.params, two.params)) << spec << " momentum " << momentum;
        EXPECT_TRUE(same_bits(one.params, three.params)) << spec << " momentum " << momentum;
        for (std::size_t e = 0; e < 2; ++e) {
          EXPECT_EQ(one.history.epochs[e].val_correct, two.history.epochs[e].val_correct) << spec;
          EXPECT_EQ(one.history.epochs[e].val_loss, two.history.epochs[e].val_loss) << spec;
        }
        // A test that cannot fail is a defect: the runs did train (parameters moved, loss fell).
        EXPECT_LT(one.history.epochs[1].train_loss, one.history.step_losses.front()) << spec;
      }
    }
  }
}

TEST(PerfEquivalence, ByteToFloatEqualsDivisionForEveryByte) {
  std::vector<std::uint8_t> images(256), labels{0};
  for (int v = 0; v < 256; ++v) images[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(v);
  const std::vector<std::size_t> idx{0};
  std::vector<float> x(256);
  std::vector<std::int32_t> y(1);
  kernels::gather_batch(x, y, images, labels, idx, 1, 256);
  for (int v = 0; v < 256; ++v) {
    const volatile float f = static_cast<float>(v);
    EXPECT_EQ(x[static_cast<std::size_t>(v)], f / 255.0f) << "byte " << v;
  }
}

TEST(PerfEquivalence, GatherIsTheSameOnAnyThreadCount) {
  const std::size_t count = 300, D = 784, B = 128;
  std::vector<std::uint8_t> images(count * D), labels(count);
  std::mt19937 gen(5);
  for (auto& p : images) p = static_cast<std::uint8_t>(gen());
  for (auto& l : labels) l = static_cast<std::uint8_t>(gen() % 10);
  std::vector<std::size_t> idx(B);
  for (auto& i : idx) i = gen() % count;
  std::vector<float> x1(B * D), x2(B * D, -1.0f);
  std::vector<std::int32_t> y1(B), y2(B);
  kernels::set_num_threads(1);
  kernels::gather_batch(x1, y1, images, labels, idx, B, D);
  kernels::set_num_threads(2);
  kernels::gather_batch(x2, y2, images, labels, idx, B, D);
  kernels::set_num_threads(1);
  EXPECT_TRUE(same_bits(x1, x2));
  EXPECT_EQ(y1, y2);
  for (std::size_t b = 0; b < B; ++b) {
    EXPECT_EQ(y1[b], labels[idx[b]]);
    EXPECT_EQ(x1[b * D + 17], static_cast<float>(images[idx[b] * D + 17]) / 255.0f);
  }
}

TEST(PerfEquivalence, FusedLinearReluEqualsLinearThenRelu) {
  const std::size_t N = 128, I = 784, O = 32;
  std::mt19937 gen(9);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> x(N * I), w(O * I), b(O);
  for (auto* v : {&x, &w, &b})
    for (float& f : *v) f = d(gen);
  std::vector<float> plain(N * O), fused(N * O);
  kernels::linear_forward(plain, x, w, b, N, I, O);
  kernels::relu_forward(plain, plain, N * O);
  kernels::linear_relu_forward(fused, x, w, b, N, I, O);
  EXPECT_TRUE(same_bits(plain, fused));
  std::size_t zeros = 0;
  for (float v : fused) zeros += v == 0.0f;
  EXPECT_GT(zeros, N * O / 4);  // the ReLU did cut something
  EXPECT_LT(zeros, N * O * 3 / 4);
}

TEST(PerfEquivalence, ChunkRangesCoverEverythingOnce) {
  for (std::size_t n : {0u, 1u, 7u, 112u, 128u, 784u, 25450u})
    for (std::size_t chunks : {1u, 2u, 3u})
      for (std::size_t align : {1u, 8u, 16u}) {
        std::size_t next = 0;
        for (std::size_t c = 0; c < chunks; ++c) {
          const kernels::Range r = kernels::chunk_range(n, chunks, c, align);
          EXPECT_EQ(r.begin, next);
          EXPECT_LE(r.begin, r.end);
          next = r.end;
        }
        EXPECT_EQ(next, n);
      }
}
