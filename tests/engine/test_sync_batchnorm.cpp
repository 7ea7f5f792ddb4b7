// BatchNorm2d over a batch split across processes (Model::set_cross_process_sum, what data-parallel training sets):
// two model copies on two threads stand for two ranks, their partial sums added by a two-party in-memory allreduce.
// Their shares' logits, their summed gradients and their running statistics must equal one model's on the whole
// batch; without the sum they must not. Also: every layer kind runs a forward and backward of no rows (a rank whose
// share of a short batch is empty), and one process with an identity sum gives the same bits as without one.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <functional>
#include <random>
#include <thread>

#include "mnist/nn.hpp"

using namespace mnist;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float lo, float hi) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

// An in-memory allreduce for two parties: each writes its values, both wait, both add the two in the same order.
class TwoPartySum {
 public:
  std::function<void(std::span<double>)> party(int p) {
    return [this, p](std::span<double> v) {
      slots_[p].assign(v.begin(), v.end());
      sync_.arrive_and_wait();
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = slots_[0][i] + slots_[1][i];
      sync_.arrive_and_wait();  // both have read the slots before either writes the next call's
    };
  }

 private:
  std::vector<double> slots_[2];
  std::barrier<> sync_{2};
};

struct StepResult {
  std::vector<float> logits, grads, buffers;
  std::vector<std::int64_t> tracked;
};

// One training forward and backward of rows [first, first + n) of x (dlogits: the same rows of r).
StepResult step(Model& model, const std::vector<float>& x, const std::vector<float>& r, std::size_t first,
                std::size_t n) {
  const std::size_t D = model.input_size(), C = model.num_classes();
  model.train();
  model.zero_grad();
  StepResult out;
  const std::span<const float> logits = model.forward(std::span(x).subspan(first * D, n * D), n, first);
  out.logits.assign(logits.begin(), logits.end());
  model.backward(std::span(r).subspan(first * C, n * C));
  out.grads.assign(model.gradients().begin(), model.gradients().end());
  out.buffers.assign(model.buffers().begin(), model.buffers().end());
  for (const NamedBuffer& b : model.named_buffers())
    if (!b.count.empty()) out.tracked.push_back(b.count[0]);
  return out;
}

// The largest |a − b| / (1 + |b|): float rounding of sums taken in another order, relative to large values.
double max_diff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]) / (1.0 + std::fabs(static_cast<double>(b[i]))));
  return d;
}

// The whole batch of N rows on one model, then rows [0, split) and [split, N) on two copies (from the same
// state), concurrently, with or without the cross-process sum. Returns the largest (relative) difference of logits, summed
// gradients and running statistics between the two ways.
double split_difference(const std::string& spec, std::size_t N, std::size_t split, bool synchronised) {
  Model whole = make_model(spec, 7);
  const std::vector<float> x = random_values(N * whole.input_size(), 11, 0.0f, 2.0f);
  const std::vector<float> r = random_values(N * whole.num_classes(), 12, -1.0f, 1.0f);
  Model a = whole, b = whole;
  const StepResult expected = step(whole, x, r, 0, N);
  TwoPartySum sum;
  if (synchronised) {
    a.set_cross_process_sum(sum.party(0));
    b.set_cross_process_sum(sum.party(1));
  }
  StepResult ra, rb;
  std::thread other([&] { rb = step(b, x, r, split, N - split); });
  ra = step(a, x, r, 0, split);
  other.join();
  std::vector<float> logits = ra.logits, grads = ra.grads;
  logits.insert(logits.end(), rb.logits.begin(), rb.logits.end());
  for (std::size_t i = 0; i < grads.size(); ++i) grads[i] += rb.grads[i];
  EXPECT_EQ(ra.tracked, expected.tracked);
  EXPECT_EQ(rb.tracked, expected.tracked);
  if (synchronised) EXPECT_EQ(ra.buffers, rb.buffers) << "the ranks' running statistics differ";
  return std::max({max_diff(logits, expected.logits), max_diff(grads, expected.grads),
                   max_diff(ra.buffers, expected.buffers)});
}

const char* const kBnNet = "1x8x8-conv4k3p1-bn-relu-maxpool2-conv6k3-bn-relu-flatten-5";

}  // namespace

TEST(SyncBatchNorm, TwoSharesEqualTheWholeBatch) {
  set_num_threads(1);
  EXPECT_LT(split_difference(kBnNet, 9, 4, true), 2e-6);
  EXPECT_LT(split_difference("cnn-bn", 5, 3, true), 2e-6);
}

TEST(SyncBatchNorm, WithoutTheSumEachShareUsesItsOwnStatistics) {
  set_num_threads(1);
  EXPECT_GT(split_difference(kBnNet, 9, 4, false), 1e-3);
}

TEST(SyncBatchNorm, AnEmptyShareTakesPartInTheSums) {
  set_num_threads(1);
  EXPECT_LT(split_difference(kBnNet, 6, 6, true), 2e-6);
  EXPECT_LT(split_difference(kBnNet, 6, 0, true), 2e-6);
}

TEST(SyncBatchNorm, OneProcessWithAnIdentitySumGivesTheSameBits) {
  set_num_threads(1);
  Model plain = make_model(kBnNet, 3);
  Model summed = plain;
  summed.set_cross_process_sum([](std::span<double>) {});
  const std::vector<float> x = random_values(7 * plain.input_size(), 4, 0.0f, 2.0f);
  const std::vector<float> r = random_values(7 * plain.num_classes(), 5, -1.0f, 1.0f);
  const StepResult p = step(plain, x, r, 0, 7), s = step(summed, x, r, 0, 7);
  EXPECT_EQ(p.logits, s.logits);
  EXPECT_EQ(p.grads, s.grads);
  EXPECT_EQ(p.buffers, s.buffers);
}

// Every layer kind takes a batch of no rows in training mode: the step is counted (Dropout's counter, BatchNorm's
// num_batches_tracked), nothing is added to the gradients.
TEST(EmptyShare, EveryLayerKindRunsNoRows) {
  set_num_threads(1);
  for (const std::string spec : {"lenet5", "cnn-dropout", "cnn-bn", "hidden-relu", "logistic",
                                 "1x9x9-conv3k3s2p1-avgpool2-dropout0.3-flatten-8-relu-dropout0.5-4"}) {
    SCOPED_TRACE(spec);
    Model model = make_model(spec, 1);
    model.train();
    model.zero_grad();
    const std::uint64_t steps = model.dropout_steps();
    const std::vector<float> none;
    std::span<const float> logits;
    EXPECT_NO_THROW(logits = model.forward(none, 0, 5));
    EXPECT_TRUE(logits.empty());
    EXPECT_NO_THROW(model.backward(none));
    EXPECT_EQ(model.dropout_steps(), steps + 1);
    for (float g : model.gradients()) ASSERT_EQ(g, 0.0f);
    for (const NamedBuffer& b : model.named_buffers())
      if (!b.count.empty()) EXPECT_EQ(b.count[0], 1);
  }
}

// The backward uses the sum its forward used, even when the model has moved in between or the sum was reset (as
// fit() does when it returns).
TEST(SyncBatchNorm, TheBackwardUsesItsForwardsSumAfterAMoveOrAReset) {
  set_num_threads(1);
  int calls = 0;
  Model model = make_model(kBnNet, 3);
  model.set_cross_process_sum([&calls](std::span<double>) { ++calls; });
  const std::vector<float> x = random_values(4 * model.input_size(), 4, 0.0f, 2.0f);
  const std::vector<float> r = random_values(4 * model.num_classes(), 5, -1.0f, 1.0f);
  model.train();
  model.forward(x, 4);
  EXPECT_EQ(calls, 4);  // two BatchNorm layers, two sums each
  Model moved = std::move(model);
  EXPECT_NO_THROW(moved.backward(r));
  EXPECT_EQ(calls, 6);  // one sum per layer
  moved.forward(x, 4);
  moved.set_cross_process_sum({});
  EXPECT_NO_THROW(moved.backward(r));
  EXPECT_EQ(calls, 12);
  EXPECT_FALSE(moved.cross_process_sum());
}
