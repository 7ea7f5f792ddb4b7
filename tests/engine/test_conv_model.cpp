// Whole conv models through Model::forward/backward: finite-difference gradients of every parameter (conv with
// stride and padding on odd sizes, max and average pooling, BatchNorm in train mode, Dropout with its mask held
// fixed, weight gradients summed over image chunks), bit-identical training on 1, 2 and 3 threads (cnn-bn,
// cnn-dropout, lenet5), BatchNorm's eval mode using the running statistics, and Sequential(Conv2d(...), ...) equal
// to make_model of the same spec.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "mnist/error.hpp"
#include "mnist/layers.hpp"
#include "mnist/nn.hpp"
#include "mnist/optim.hpp"

using namespace mnist;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

// sum(logits * r) in double, with Dropout's step reset so that every forward draws the same masks.
double loss_of(Model& model, const std::vector<float>& x, std::size_t N, const std::vector<float>& r) {
  model.set_dropout_state(model.dropout_seed(), 5);
  std::span<const float> logits = model.forward(x, N);
  double sum = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) sum += static_cast<double>(logits[i]) * r[i];
  return sum;
}

// Central differences of every parameter against backward's gradient. A step can cross a ReLU kink or change a
// max-pool winner; those few parameters may disagree, a wrong gradient makes most of them disagree.
void check_gradients(const std::string& spec, std::size_t N) {
  SCOPED_TRACE(spec);
  Model model = make_model(spec, 11);
  model.train();
  const std::vector<float> x = random_values(N * model.input_size(), 21);
  const std::vector<float> r = random_values(N * model.num_classes(), 31);
  model.zero_grad();
  loss_of(model, x, N, r);
  model.backward(r);
  const std::vector<float> grad(model.gradients().begin(), model.gradients().end());
  std::span<float> params = model.parameters();
  const float eps = 1e-3f;  // 1e-2 crosses ReLU kinks and max-pool winners behind BatchNorm too often
  std::size_t bad = 0;
  double worst = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const float keep = params[i];
    params[i] = keep + eps;
    const double up = loss_of(model, x, N, r);
    params[i] = keep - eps;
    const double down = loss_of(model, x, N, r);
    params[i] = keep;
    const double numeric = (up - down) / (2.0 * eps);
    const double err = std::fabs(numeric - grad[i]) / std::max(1.0, std::fabs(numeric));
    worst = std::max(worst, err);
    if (err > 2e-2) ++bad;
  }
  EXPECT_LE(bad, params.size() / 50) << bad << " of " << params.size() << " gradients disagree (worst " << worst << ")";
}

TEST(ConvModelGradients, StridePaddingOddSizesMaxPool) {
  check_gradients("1x9x7-conv3k3s2p1-relu-maxpool2-flatten-5", 3);
}
TEST(ConvModelGradients, TwoConvsAvgPool) { check_gradients("2x9x7-conv3k2p1-relu-conv4k3s2-avgpool2-flatten-4", 2); }
// 17 images: three image chunks, whose partial weight gradients a layer of at most 16 channels adds up; the
// stride-2 layer of one input channel keeps its columns, read from the chunk's first image on.
TEST(ConvModelGradients, WeightGradientSummedOverImageChunks) {
  check_gradients("2x6x5-conv4k3p1-relu-conv16k3-flatten-3", 17);
  check_gradients("1x9x9-conv4k3s2p1-relu-flatten-3", 17);
}
TEST(ConvModelGradients, BatchNormTrainModeAndDropout) {
  check_gradients("1x7x9-conv3k3p1-bn-relu-maxpool2s1-dropout0.3-flatten-6-relu-4", 4);
}

// A few SGD steps with momentum; the parameters and buffers as raw bytes.
std::vector<std::uint8_t> train_steps(const std::string& spec, int threads, std::size_t N = 6) {
  set_num_threads(threads);
  Model model = make_model(spec, 7);
  SGD sgd(model, SgdOptions{.lr = 0.05, .momentum = 0.9});
  for (int step = 0; step < 2; ++step) {
    const std::vector<float> x = random_values(N * model.input_size(), 100 + step, 0.0f, 1.0f);
    const std::vector<float> r = random_values(N * model.num_classes(), 200 + step);
    model.zero_grad();
    model.forward(x, N);
    model.backward(r);
    sgd.step();
  }
  set_num_threads(1);
  std::vector<std::uint8_t> bytes(model.parameters().size_bytes() + model.buffers().size_bytes());
  // cnn-dropout has no buffers: its empty span's data() may be null, which memcpy must not see.
  std::memcpy(bytes.data(), model.parameters().data(), model.parameters().size_bytes());
  if (!model.buffers().empty())
    std::memcpy(bytes.data() + model.parameters().size_bytes(), model.buffers().data(), model.buffers().size_bytes());
  for (const NamedBuffer& b : model.named_buffers())
    if (!b.count.empty()) EXPECT_EQ(b.count[0], 2) << b.name;
  return bytes;
}

// cnn-bn's and cnn-dropout's weight gradients split their output channels (or patch rows) across the threads.
TEST(ConvModelThreads, CnnBnAndCnnDropoutBitIdenticalOnOneAndTwoThreads) {
  for (const std::string spec : {"cnn-bn", "cnn-dropout"}) {
    SCOPED_TRACE(spec);
    EXPECT_TRUE(train_steps(spec, 1) == train_steps(spec, 2));
  }
}

// lenet5's weight gradients (6 and 16 channels) sum per image chunk, then add the chunks: 19 images make three
// chunks of 7, 6 and 6, which two and three threads share out differently.
TEST(ConvModelThreads, Lenet5BitIdenticalOnOneTwoAndThreeThreads) {
  const std::vector<std::uint8_t> one = train_steps("lenet5", 1, 19);
  EXPECT_TRUE(one == train_steps("lenet5", 2, 19));
  EXPECT_TRUE(one == train_steps("lenet5", 3, 19));
}

// A share of a batch (a data-parallel rank's) given its first sample's index gets the Dropout masks the whole batch
// gives those samples; without the index it gets the first samples' masks.
TEST(ConvModelDropout, AShareOfABatchGetsTheWholeBatchsMasks) {
  Model model = make_model("2x4x4-dropout0.5-flatten-8-dropout0.3-5", 3);
  const std::size_t N = 6, in = model.input_size(), C = model.num_classes();
  const std::vector<float> x = random_values(N * in, 5, 0.5f, 1.5f);
  model.set_dropout_state(model.dropout_seed(), 0);
  const std::span<const float> all = model.forward(x, N);
  const std::vector<float> expected(all.begin() + 2 * C, all.end());  // samples 2 .. 5
  const std::span<const float> tail(x.data() + 2 * in, 4 * in);
  model.set_dropout_state(model.dropout_seed(), 0);
  const std::span<const float> share = model.forward(tail, 4, 2);
  EXPECT_EQ(std::vector<float>(share.begin(), share.end()), expected);
  model.set_dropout_state(model.dropout_seed(), 0);
  const std::span<const float> unplaced = model.forward(tail, 4);
  EXPECT_NE(std::vector<float>(unplaced.begin(), unplaced.end()), expected);
}

// Eval mode normalises with the running statistics: set them to the batch's own mean and (biased) variance and eval
// gives what train mode gives; with the initial ones (0 and 1) it does not, and one sample's logits then no
// longer depend on the rest of the batch.
TEST(ConvModelBatchNorm, EvalUsesRunningStatistics) {
  Model model = make_model("2x5x5-bn-flatten-3", 4);
  const std::size_t N = 4, HW = 25;
  const std::vector<float> x = random_values(N * model.input_size(), 9, 0.5f, 2.5f);
  model.train();
  const std::vector<float> train_out = [&] {
    std::span<const float> o = model.forward(x, N);
    return std::vector<float>(o.begin(), o.end());
  }();
  model.eval();
  const std::vector<float> eval_initial = [&] {
    std::span<const float> o = model.forward(x, N);
    return std::vector<float>(o.begin(), o.end());
  }();
  std::vector<float> first_alone(model.forward(std::span(x).first(model.input_size()), 1).begin(),
                                 model.forward(std::span(x).first(model.input_size()), 1).end());
  for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(first_alone[k], eval_initial[k]);
  double differ = 0;
  for (std::size_t i = 0; i < train_out.size(); ++i) differ += std::fabs(train_out[i] - eval_initial[i]);
  EXPECT_GT(differ, 1e-2);

  std::vector<NamedBuffer> buffers = model.named_buffers();
  for (std::size_t c = 0; c < 2; ++c) {
    double sum = 0, sq = 0;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t i = 0; i < HW; ++i) sum += x[(n * 2 + c) * HW + i];
    const double mean = sum / (N * HW);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t i = 0; i < HW; ++i) sq += std::pow(x[(n * 2 + c) * HW + i] - mean, 2);
    buffers[0].value[c] = static_cast<float>(mean);             // bn1.running_mean
    buffers[1].value[c] = static_cast<float>(sq / (N * HW));    // bn1.running_var (biased: what train normalises by)
  }
  std::span<const float> eval_set = model.forward(x, N);
  for (std::size_t i = 0; i < train_out.size(); ++i) EXPECT_NEAR(eval_set[i], train_out[i], 1e-4) << i;
}

// infer() runs the layers before the first Linear on pieces of 16 images and the Linear layers on all rows at once:
// the same bits as an eval-mode forward of all rows (each image's conv outputs do not depend on its neighbours), for
// N below, at and above a piece, and not a multiple of it; predict and predict_proba agree with it; no backward may
// follow it.
TEST(ConvModelInfer, PiecesGiveTheEvalForwardsBits) {
  for (const char* spec : {"1x12x12-conv4k3p1-bn-relu-maxpool2-conv6k3-relu-flatten-20-relu-5", "lenet5"}) {
    Model model = make_model(spec, 6);
    const std::size_t D = model.input_size(), C = model.num_classes();
    const std::vector<float> x = random_values(41 * D, 8, 0.0f, 1.0f);
    model.train();
    model.forward(x, 41);  // BatchNorm's running statistics move off their initial values
    for (const std::size_t N : {1u, 16u, 17u, 41u}) {
      model.eval();
      const std::span<const float> whole = model.forward(std::span(x).first(N * D), N);
      const std::vector<float> want(whole.begin(), whole.end());
      model.train();
      const std::span<const float> got = model.infer(std::span(x).first(N * D), N);
      ASSERT_EQ(got.size(), N * C);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0) << spec << " N=" << N;
      EXPECT_TRUE(model.training());
      EXPECT_THROW(model.backward(std::vector<float>(N * C, 1.0f)), Error);
      const std::vector<std::int32_t> pred = model.predict(std::span(x).first(N * D), N);
      for (std::size_t n = 0; n < N; ++n)
        EXPECT_EQ(pred[n], std::max_element(want.begin() + n * C, want.begin() + (n + 1) * C) - (want.begin() + n * C));
    }
  }
}

// A moved-from model has no layers: infer refuses in one line instead of running none. An MLP with a Flatten before
// its first Linear is no conv net: its inference chunk stays an MLP's.
TEST(ConvModelInfer, EmptyModelRefusesAndAFlattenIsNoConvNet) {
  Model model = make_model("lenet5", 1);
  Model moved = std::move(model);
  const std::vector<float> x = random_values(17 * 784, 2);
  EXPECT_THROW(model.infer(x, 17), Error);  // NOLINT(bugprone-use-after-move): what a moved-from model does
  EXPECT_EQ(moved.infer(x, 17).size(), 17u * 10);
  EXPECT_EQ(moved.inference_chunk(), 128u);
  EXPECT_EQ(make_model("1x28x28-flatten-32-relu-10", 1).inference_chunk(), 512u);
}

// An input shorter than N images is refused in one line by every way in: forward, infer (in pieces and whole) and
// layer_outputs.
TEST(ConvModelInfer, ShortInputIsRefusedByEveryPath) {
  Model model = make_model("lenet5", 1);
  const std::vector<float> x = random_values(40 * 784 - 1, 3);
  for (const std::size_t N : {40u, 5u}) {
    const std::vector<float> short_x(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(N * 784 - 1));
    const std::string expected = "model input has " + std::to_string(N * 784 - 1) + " values, expected " +
                                 std::to_string(N * 784);
    for (int way = 0; way < 3; ++way) {
      try {
        if (way == 0) model.forward(short_x, N);
        if (way == 1) model.infer(short_x, N);
        if (way == 2) model.layer_outputs(short_x, N, 2);
        ADD_FAILURE() << "way " << way << " accepted " << N * 784 - 1 << " values for " << N << " images";
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), expected) << "way " << way;
      }
    }
  }
}

TEST(ConvModelSequential, EqualsMakeModelParameterForParameter) {
  const std::string spec =
      "1x28x28-conv8k3p1-bn-relu-maxpool2-conv16k3s2p1-relu-avgpool2-dropout0.25-flatten-32-relu-10";
  Model a = make_model(spec, 5);
  Model b = Sequential(Shape{1, 28, 28},
                       {Conv2d(1, 8, 3, 1, 1), BatchNorm2d(8), ReLU(), MaxPool2d(2), Conv2d(8, 16, 3, 2, 1), ReLU(),
                        AvgPool2d(2), Dropout(0.25f), Flatten(), Linear(16 * 3 * 3, 32), ReLU(), Linear(32, 10)},
                       5);
  EXPECT_EQ(b.spec(), spec);
  const std::vector<StateEntry> ea = a.state_entries(), eb = b.state_entries();
  ASSERT_EQ(ea.size(), eb.size());
  for (std::size_t i = 0; i < ea.size(); ++i) {
    EXPECT_EQ(ea[i].name, eb[i].name);
    EXPECT_EQ(ea[i].shape, eb[i].shape) << ea[i].name;
  }
  ASSERT_EQ(a.parameters().size(), b.parameters().size());
  EXPECT_EQ(std::memcmp(a.parameters().data(), b.parameters().data(), a.parameters().size_bytes()), 0);
  ASSERT_EQ(a.buffers().size(), b.buffers().size());
  EXPECT_EQ(std::memcmp(a.buffers().data(), b.buffers().data(), a.buffers().size_bytes()), 0);
}

// layer_outputs (what show-filters draws): the first layers' outputs in eval mode, the mode restored after.
TEST(ConvModelLayerOutputs, FirstLayersInEvalMode) {
  Model model = make_model("1x6x6-conv2k3p1-bn-relu-flatten-3", 2);
  const std::vector<float> x = random_values(2 * 36, 3);
  model.train();
  const std::vector<Tensor> out = model.layer_outputs(x, 2, 3);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].shape(), (Shape{2, 2, 6, 6}));
  EXPECT_TRUE(model.training());
  for (std::size_t i = 0; i < out[2].numel(); ++i) EXPECT_EQ(out[2].data()[i], std::max(out[1].data()[i], 0.0f));
  EXPECT_THROW(model.layer_outputs(x, 2, 5), Error);
  EXPECT_THROW(model.backward(std::vector<float>(6, 1.0f)), Error);  // no whole forward to go back through
}

// A ReLU followed by max pooling (and batch norm before them) runs as one block in forward(); layer_outputs still
// shows every layer's own output, and forward() in eval mode gives the logits of the unfused layers' pooled output
// (flatten, then the Linear by hand). Batch norm's running statistics, weight and bias are all moved off their
// initial values first, so that a transform wired to the wrong buffer shows.
void check_fused_pooling(const std::string& spec, std::size_t pool_index) {
  Model model = make_model(spec, 4);
  const std::vector<float> x = random_values(2 * 36, 5);
  model.train();
  model.forward(x, 2);
  std::vector<NamedParameter> params = model.named_parameters();
  for (NamedParameter& p : params)
    for (std::size_t i = 0; i < p.value.size(); ++i) p.value[i] += 0.1f * static_cast<float>(i + 1);
  const std::vector<Tensor> out = model.layer_outputs(x, 2, pool_index + 1);
  const Tensor& relu = out[pool_index - 1];
  const Tensor& pool = out[pool_index];
  EXPECT_EQ(relu.shape(), (Shape{2, 2, 6, 6}));
  EXPECT_EQ(pool.shape(), (Shape{2, 2, 3, 3}));
  for (std::size_t i = 0; i < relu.numel(); ++i)
    EXPECT_EQ(relu.data()[i], std::max(out[pool_index - 2].data()[i], 0.0f));
  for (std::size_t n = 0; n < 2 * 2; ++n)
    for (std::size_t oy = 0; oy < 3; ++oy)
      for (std::size_t ox = 0; ox < 3; ++ox) {
        const float* plane = relu.data() + n * 36;
        const float want = std::max(std::max(plane[2 * oy * 6 + 2 * ox], plane[2 * oy * 6 + 2 * ox + 1]),
                                    std::max(plane[(2 * oy + 1) * 6 + 2 * ox], plane[(2 * oy + 1) * 6 + 2 * ox + 1]));
        EXPECT_EQ(pool.data()[n * 9 + oy * 3 + ox], want);
      }
  model.eval();
  const std::span<const float> logits = model.forward(x, 2);
  const NamedParameter& w = params[params.size() - 2];  // the Linear's weight [3, 18], then its bias [3]
  const NamedParameter& b = params.back();
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t o = 0; o < 3; ++o) {
      double sum = b.value[o];
      for (std::size_t k = 0; k < 18; ++k) sum += static_cast<double>(w.value[o * 18 + k]) * pool.data()[n * 18 + k];
      EXPECT_NEAR(logits[n * 3 + o], sum, 1e-5 + 1e-6 * std::fabs(sum)) << spec;
    }
}

TEST(ConvModelLayerOutputs, FusedPoolingLayersHaveTheirOwnOutputs) {
  check_fused_pooling("1x6x6-conv2k3p1-relu-maxpool2-flatten-3", 2);
  check_fused_pooling("1x6x6-conv2k3p1-bn-relu-maxpool2-flatten-3", 3);
}

}  // namespace
