// Models: presets and the spec grammar, PyTorch names, init, finite-difference checks of whole models,
// gradient accumulation, zero_grad, predict_proba / predict.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "mnist/error.hpp"
#include "mnist/loss.hpp"
#include "mnist/nn.hpp"
#include "reference_math.hpp"

using namespace mnist;
using namespace mnist::testing;

namespace {
std::vector<std::string> names(Model& m) {
  std::vector<std::string> out;
  for (const NamedParameter& p : m.named_parameters()) out.push_back(p.name + shape_string(p.shape));
  return out;
}

// Loss and gradients of model on (x, y) through the engine's forward/backward.
double loss_and_grad(Model& m, const std::vector<float>& x, const std::vector<std::int32_t>& y, std::size_t N) {
  const std::size_t C = m.num_classes();
  std::vector<float> probs(N * C);
  m.zero_grad();
  const double loss = cross_entropy(probs, m.forward(x, N), y, N, C);
  cross_entropy_backward(probs, probs, y, N, C);
  m.backward(probs);
  return loss;
}
}  // namespace

TEST(ModelSpec, PresetsHavePyTorchNamesAndShapes) {
  Model logistic = make_model("logistic");
  EXPECT_EQ(names(logistic), (std::vector<std::string>{"linear.weight[10, 784]", "linear.bias[10]"}));
  Model hidden = make_model("hidden");
  EXPECT_EQ(names(hidden), (std::vector<std::string>{"layer1.weight[32, 784]", "layer1.bias[32]",
                                                     "layer2.weight[10, 32]", "layer2.bias[10]"}));
  Model relu = make_model("hidden-relu");
  EXPECT_EQ(names(relu), names(hidden));
  EXPECT_EQ(relu.layers().size(), 3u);
  EXPECT_EQ(relu.layers()[1].kind, LayerSpec::Kind::ReLU);
  EXPECT_EQ(relu.parameters().size(), 784u * 32 + 32 + 32 * 10 + 10);
  EXPECT_EQ(relu.gradients().size(), relu.parameters().size());
}

TEST(ModelSpec, GenericMlp) {
  Model m = make_model("784-128-relu-64-relu-10");
  EXPECT_EQ(names(m), (std::vector<std::string>{"layer1.weight[128, 784]", "layer1.bias[128]",
                                                "layer2.weight[64, 128]", "layer2.bias[64]", "layer3.weight[10, 64]",
                                                "layer3.bias[10]"}));
  EXPECT_EQ(m.layers().size(), 5u);
  EXPECT_EQ(m.spec(), "784-128-relu-64-relu-10");
  EXPECT_EQ(make_model("5-3").num_classes(), 3u);
}

TEST(ModelSpec, BadSpecsSayHowToFixThem) {
  for (const char* bad : {"", "784", "relu-10", "784-relu-10", "784-32-relu-relu-10", "784-32-10-relu", "784--10",
                          "784-x-10", "784-0-10", "784-10000000-10", "-784-10", "784-10-", "logistic2", "784-+5-10",
                          "784- 5-10"}) {
    try {
      parse_model_spec(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("e.g. 784-128-relu-64-relu-10"), std::string::npos) << e.what();
    }
  }
}

TEST(Model, InitIsPyTorchsUniformAndSeeded) {
  Model a = make_model("hidden", 42), b = make_model("hidden", 42), c = make_model("hidden", 43);
  EXPECT_TRUE(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
  EXPECT_FALSE(std::equal(a.parameters().begin(), a.parameters().end(), c.parameters().begin()));
  for (const NamedParameter& p : a.named_parameters()) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(p.name.starts_with("layer1") ? 784 : 32));
    float lo = 1, hi = -1;
    double mean = 0;
    for (float v : p.value) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      mean += v;
    }
    EXPECT_GE(lo, -bound) << p.name;
    EXPECT_LE(hi, bound) << p.name;
    if (p.value.size() > 1000) {
      EXPECT_LT(lo, -0.95f * bound);
      EXPECT_GT(hi, 0.95f * bound);
      EXPECT_NEAR(mean / static_cast<double>(p.value.size()), 0.0, 0.05 * bound);
    }
  }
}

TEST(Model, HandCheckableForwardWithConstantWeights) {
  Model m = make_model("3-2-relu-2");
  // layer1: weight all 1, bias {0, -10}; layer2: weight [[1, 2], [3, 4]], bias {0.5, -0.5}
  std::vector<NamedParameter> p = m.named_parameters();
  std::fill(p[0].value.begin(), p[0].value.end(), 1.0f);
  p[1].value[0] = 0;
  p[1].value[1] = -10;
  const float w2[] = {1, 2, 3, 4};
  std::copy(w2, w2 + 4, p[2].value.begin());
  p[3].value[0] = 0.5f;
  p[3].value[1] = -0.5f;
  const std::vector<float> x{1, 2, 3};
  const std::span<const float> out = m.forward(x, 1);
  // hidden = relu({6, -4}) = {6, 0}; out = {6 + 0.5, 18 - 0.5}
  EXPECT_FLOAT_EQ(out[0], 6.5f);
  EXPECT_FLOAT_EQ(out[1], 17.5f);
}

// Central differences in double at random positions of every parameter tensor of each preset (and a deeper MLP),
// against the float gradients of backward().
TEST(Model, GradientsMatchFiniteDifferencesForEachPreset) {
  // Dense inputs take the first layer's dense path; inputs with 85% zeros (like MNIST) its sparse path. A batch
  // of 4 runs "hidden" as two layers, one of 40 as one merged layer (src/kernels/merged_linear.hpp).
  for (const std::size_t N : {4, 40})
  for (const double zeros : {0.0, 0.85})
  for (const std::string spec : {"logistic", "hidden", "hidden-relu", "784-16-relu-12-relu-10"}) {
    Model m = make_model(spec, 7);
    const std::size_t D = 784, C = 10;
    std::vector<float> x = random_floats(N * D, 11, 0.0f, 1.0f);
    for (std::size_t k = 0; k < x.size(); ++k)
      if (static_cast<double>((k * 7919) % 1000) < zeros * 1000) x[k] = 0.0f;
    const std::vector<std::int32_t> y = random_labels(N, C, 12);
    loss_and_grad(m, x, y, N);
    std::vector<double> params = to_double(std::vector<float>(m.parameters().begin(), m.parameters().end()));
    const std::vector<double> xd = to_double(x);
    const double loss_d = ref_cross_entropy(ref_model_logits(m, params, xd, N), y, N, C);
    std::vector<float> probs(N * C);
    EXPECT_NEAR(cross_entropy(probs, m.forward(x, N), y, N, C), loss_d, 1e-5) << spec;
    std::mt19937_64 gen(13);
    double worst = 0;
    for (const NamedParameter& p : m.named_parameters()) {
      for (int trial = 0; trial < 12; ++trial) {
        const std::size_t k = p.offset + gen() % p.value.size();
        const double h = 1e-5, saved = params[k];
        params[k] = saved + h;
        const double up = ref_cross_entropy(ref_model_logits(m, params, xd, N), y, N, C);
        params[k] = saved - h;
        const double down = ref_cross_entropy(ref_model_logits(m, params, xd, N), y, N, C);
        params[k] = saved;
        const double fd = (up - down) / (2 * h);
        worst = std::max(worst, rel_error(m.gradients()[k], fd, 1e-4));
      }
    }
    std::printf("%-24s N=%zu %2.0f%% zeros: largest relative error %.3g\n", spec.c_str(), N, 100 * zeros, worst);
    EXPECT_LT(worst, 1e-4) << spec;
  }
}

// "hidden" runs as one merged layer from a batch of 22 up, as two layers below: both give the same logits and
// gradients within float rounding, row by row.
TEST(Model, TwoLinearLayersMergedAgreeWithTheLayersApart) {
  for (const std::string spec : {"hidden", "784-32-10", "100-40-7"}) {
    Model merged = make_model(spec, 21), apart = make_model(spec, 21);
    const std::size_t N = 64, D = merged.input_size(), C = merged.num_classes();
    const std::vector<float> x = random_floats(N * D, 22, 0.0f, 1.0f);
    const std::vector<std::int32_t> y = random_labels(N, C, 23);
    std::vector<float> probs(N * C);
    const std::vector<float> logits_merged = [&] {
      const std::span<const float> l = merged.forward(x, N);
      return std::vector<float>(l.begin(), l.end());
    }();
    cross_entropy(probs, logits_merged, y, N, C);
    cross_entropy_backward(probs, probs, y, N, C);
    merged.backward(probs);
    // The same rows in batches of 2 (two layers each), given the same rows of dlogits: the same sums of gradients.
    for (std::size_t r = 0; r < N; r += 2) {
      const std::span<const float> xr = std::span(x).subspan(r * D, 2 * D);
      const std::span<const float> l = apart.forward(xr, 2);
      for (std::size_t k = 0; k < 2 * C; ++k) EXPECT_NEAR(l[k], logits_merged[r * C + k], 1e-5) << spec << " row " << r;
      apart.backward(std::span<const float>(probs).subspan(r * C, 2 * C));
    }
    // Each element against the largest gradient of its tensor: elements that cancel to near 0 carry the rounding
    // of their larger terms.
    for (const NamedParameter& p : merged.named_parameters()) {
      double scale = 0, worst = 0;
      for (float g : p.grad) scale = std::max(scale, std::abs(static_cast<double>(g)));
      for (std::size_t k = 0; k < p.grad.size(); ++k)
        worst = std::max(worst, std::abs(static_cast<double>(p.grad[k]) - apart.gradients()[p.offset + k]));
      std::printf("%-10s %-14s largest gradient %.3g, largest difference %.3g\n", spec.c_str(), p.name.c_str(), scale,
                  worst);
      EXPECT_GT(scale, 0) << spec << " " << p.name;
      EXPECT_LT(worst, 1e-5 * scale) << spec << " " << p.name;
    }
  }
}

// The work a step's threads are sized by, as the layers run it: forward, weight gradient and (but for the first
// layer) input gradient per product; 784 -> 32 -> 10 from 22 samples up as one merged map, C·D·(2N + 3H).
TEST(Model, StepMultiplyAddsCountWhatTheLayersRun) {
  EXPECT_EQ(make_model("logistic", 0).step_multiply_adds(128), 2u * 128 * 784 * 10);
  EXPECT_EQ(make_model("hidden-relu", 0).step_multiply_adds(128), 2u * 128 * 784 * 32 + 3u * 128 * 32 * 10);
  EXPECT_EQ(make_model("hidden", 0).step_multiply_adds(128), 10u * 784 * (2 * 128 + 3 * 32));
  EXPECT_EQ(make_model("hidden", 0).step_multiply_adds(8), 2u * 8 * 784 * 32 + 3u * 8 * 32 * 10);  // not merged
  // lenet5: conv1 6x(28x28)x25 (first: no input gradient), conv2 16x(10x10)x150, then 400 -> 120 -> 84 -> 10.
  const std::size_t N = 4;
  EXPECT_EQ(make_model("lenet5", 0).step_multiply_adds(N),
            2 * N * 6 * 784 * 25 + 3 * N * 16 * 100 * 150 + 3 * N * (400 * 120 + 120 * 84 + 84 * 10));
}

TEST(Model, BackwardTwiceDoublesGradientsAndZeroGradClears) {
  Model m = make_model("hidden-relu", 3);
  const std::size_t N = 5;
  const std::vector<float> x = random_floats(N * 784, 21, 0.0f, 1.0f);
  const std::vector<std::int32_t> y = random_labels(N, 10, 22);
  std::vector<float> probs(N * 10);
  cross_entropy(probs, m.forward(x, N), y, N, 10);
  cross_entropy_backward(probs, probs, y, N, 10);
  m.zero_grad();
  m.backward(probs);
  const std::vector<float> once(m.gradients().begin(), m.gradients().end());
  m.backward(probs);
  double nonzero = 0;
  for (std::size_t k = 0; k < once.size(); ++k) {
    EXPECT_FLOAT_EQ(m.gradients()[k], 2 * once[k]);
    nonzero += once[k] != 0;
  }
  EXPECT_GT(nonzero, once.size() / 4);
  m.zero_grad();
  for (float g : m.gradients()) EXPECT_EQ(g, 0.0f);
}

TEST(Model, PredictProbaRowsSumToOneAndPredictIsArgmax) {
  Model m = make_model("hidden-relu", 5);
  const std::size_t N = 1100;  // more than one internal chunk
  const std::vector<float> x = random_floats(N * 784, 31, 0.0f, 1.0f);
  const Tensor p = m.predict_proba(x, N);
  const std::vector<std::int32_t> pred = m.predict(x, N);
  ASSERT_EQ(p.shape(), (Shape{N, 10}));
  for (std::size_t n = 0; n < N; ++n) {
    double s = 0;
    std::size_t best = 0;
    for (std::size_t c = 0; c < 10; ++c) {
      s += p.at(n, c);
      if (p.at(n, c) > p.at(n, best)) best = c;
    }
    EXPECT_NEAR(s, 1.0, 1e-5);
    EXPECT_EQ(pred[n], static_cast<std::int32_t>(best));
  }
}

TEST(Model, CopyOwnsItsParameters) {
  Model a = make_model("logistic", 1);
  Model b = a;
  b.parameters()[0] += 1.0f;
  EXPECT_NE(a.parameters()[0], b.parameters()[0]);
}

TEST(Loss, WithGradEqualsLossThenBackwardAndBadLabelsThrow) {
  const std::size_t N = 5, C = 10;
  const std::vector<float> logits = random_floats(N * C, 31, -4, 4);
  std::vector<std::int32_t> y{0, 9, 3, 3, 7};
  std::vector<float> probs(N * C), grad(N * C);
  const double loss = cross_entropy(probs, logits, y, N, C);
  cross_entropy_backward(probs, probs, y, N, C);
  EXPECT_EQ(cross_entropy_with_grad(grad, logits, y, N, C), loss);
  EXPECT_EQ(grad, probs);
  for (const std::int32_t bad : {10, -1}) {
    y[2] = bad;
    for (const bool with_grad : {false, true}) {
      try {
        if (with_grad) cross_entropy_with_grad(grad, logits, y, N, C);
        else cross_entropy(probs, logits, y, N, C);
        ADD_FAILURE() << "label " << bad << " accepted";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("label " + std::to_string(bad) + " of sample 2"), std::string::npos)
            << e.what();
      }
    }
  }
}

TEST(Model, RejectsShortInput) {
  Model m = make_model("logistic");
  std::vector<float> x(783);
  EXPECT_THROW(m.forward(x, 1), Error);
}

TEST(Model, BackwardRejectsAShortGradientAndBackwardBeforeForward) {
  Model m = make_model("hidden-relu");
  const std::vector<float> dlogits(20, 0.1f);
  EXPECT_THROW(m.backward(dlogits), Error);  // no forward yet
  const std::vector<float> x(3 * 784, 0.5f);
  m.forward(x, 3);
  try {
    m.backward(dlogits);  // 20 values for 3 rows x 10 classes
    ADD_FAILURE() << "a short gradient was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dlogits has 20 values, expected 30"), std::string::npos) << e.what();
  }
  for (float g : m.gradients()) ASSERT_EQ(g, 0.0f);  // nothing half-done
  m.backward(std::vector<float>(30, 0.1f));
  EXPECT_NE(m.gradients()[m.gradients().size() - 1], 0.0f);
}
