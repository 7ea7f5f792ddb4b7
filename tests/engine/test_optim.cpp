// Optimizers: each step against torch.optim's documented rules, computed here by hand in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "mnist/error.hpp"
#include "mnist/optim.hpp"

using namespace mnist;

namespace {
// A model with 3 parameters (weight [1, 2], bias [1]) whose values and gradients the test sets directly.
Model tiny(std::vector<float> params) {
  Model m = make_model("2-1");
  std::copy(params.begin(), params.end(), m.parameters().begin());
  return m;
}
void set_grad(Model& m, std::vector<float> g) { std::copy(g.begin(), g.end(), m.gradients().begin()); }

const std::vector<std::vector<float>> kGrads{{0.5f, -1.0f, 2.0f}, {0.25f, 0.75f, -1.5f}, {-2.0f, 0.1f, 0.3f}};
const std::vector<float> kStart{1.0f, -2.0f, 0.5f};


std::vector<double> sgd_by_hand(const SgdOptions& o) {
  std::vector<double> p(kStart.begin(), kStart.end()), buf(3, 0.0);
  for (std::size_t t = 0; t < kGrads.size(); ++t)
    for (std::size_t i = 0; i < 3; ++i) {
      double d = kGrads[t][i] + o.weight_decay * p[i];
      if (o.momentum != 0) {
        buf[i] = t == 0 ? d : o.momentum * buf[i] + (1 - o.dampening) * d;
        d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
      }
      p[i] -= o.lr * d;
    }
  return p;
}
}  // namespace

TEST(SGD, MatchesTorchRules) {
  const std::vector<SgdOptions> cases{
      {.lr = 0.1},
      {.lr = 0.1, .momentum = 0.9},
      {.lr = 0.05, .momentum = 0.9, .dampening = 0.3},
      {.lr = 0.1, .momentum = 0.8, .weight_decay = 0.01},
      {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.05, .nesterov = true},
      {.lr = 0.2, .weight_decay = 0.1},
  };
  for (const SgdOptions& o : cases) {
    Model m = tiny(kStart);
    SGD sgd(m, o);
    for (const auto& g : kGrads) {
      set_grad(m, g);
      sgd.step();
    }
    const std::vector<double> want = sgd_by_hand(o);
    for (std::size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(m.parameters()[i], want[i], 1e-6)
          << "lr " << o.lr << " momentum " << o.momentum << " dampening " << o.dampening << " wd " << o.weight_decay
          << " nesterov " << o.nesterov << " param " << i;
    EXPECT_EQ(sgd.steps(), 3u);
  }
}

TEST(SGD, FirstMomentumStepUsesTheGradientUndamped) {
  // torch initialises the buffer to the gradient itself: dampening does not apply on step 1.
  Model m = tiny(kStart);
  SGD sgd(m, {.lr = 1.0, .momentum = 0.9, .dampening = 0.5});
  set_grad(m, kGrads[0]);
  sgd.step();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(m.parameters()[i], kStart[i] - kGrads[0][i]);
  auto st = sgd.state();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].name, "momentum_buffer");
  EXPECT_EQ(*st[0].values, kGrads[0]);
}

TEST(SGD, RejectsBadOptions) {
  Model m = tiny(kStart);
  EXPECT_THROW(SGD(m, {.lr = -1}), UsageError);
  EXPECT_THROW(SGD(m, {.lr = 0.1, .nesterov = true}), UsageError);
  EXPECT_THROW(SGD(m, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}), UsageError);
  EXPECT_THROW(SGD(m, {.lr = 0.1, .weight_decay = -1}), UsageError);
}

TEST(Adam, MatchesTorchRulesWithBiasCorrection) {
  for (const AdamOptions& o : {AdamOptions{}, AdamOptions{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6,
                                                         .weight_decay = 0.1}}) {
    Model m = tiny(kStart);
    Adam adam(m, o);
    std::vector<double> p(kStart.begin(), kStart.end()), mo(3, 0), v(3, 0);
    for (std::size_t t = 1; t <= kGrads.size(); ++t) {
      set_grad(m, kGrads[t - 1]);
      adam.step();
      for (std::size_t i = 0; i < 3; ++i) {
        const double g = kGrads[t - 1][i] + o.weight_decay * p[i];
        mo[i] = o.beta1 * mo[i] + (1 - o.beta1) * g;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
        const double bc1 = 1 - std::pow(o.beta1, static_cast<double>(t));
        const double bc2 = 1 - std::pow(o.beta2, static_cast<double>(t));
        p[i] -= o.lr / bc1 * mo[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + o.eps);
        EXPECT_NEAR(m.parameters()[i], p[i], 1e-6) << "step " << t << " param " << i;
      }
    }
    // First step of Adam moves each parameter by lr·sign(g) (up to eps): a hand-checkable anchor.
  }
  Model m = tiny(kStart);
  Adam adam(m, {.lr = 0.5});
  set_grad(m, kGrads[0]);
  adam.step();
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(m.parameters()[i], kStart[i] - 0.5f * (kGrads[0][i] > 0 ? 1.0f : -1.0f), 1e-6);
  EXPECT_EQ(adam.state().size(), 2u);
}

TEST(Adam, RejectsBadOptions) {
  Model m = tiny(kStart);
  EXPECT_THROW(Adam(m, {.lr = -1}), UsageError);
  EXPECT_THROW(Adam(m, {.beta1 = 1.0}), UsageError);
  EXPECT_THROW(Adam(m, {.beta2 = -0.1}), UsageError);
}

TEST(Optimizer, ZeroGradClearsTheModelsGradients) {
  Model m = tiny(kStart);
  SGD sgd(m, {});
  set_grad(m, kGrads[0]);
  sgd.zero_grad();
  for (float g : m.gradients()) EXPECT_EQ(g, 0.0f);
}

// What fit() calls after every backward: the same parameters, bit for bit, as step() then zero_grad(), with every
// gradient cleared, for SGD's fused pass (each of its branches: plain, weight decay, momentum, Nesterov) and for
// Adam's default one; on a model large enough for the two-chunk path too.
TEST(Optimizer, StepAndZeroGradEqualsStepThenZeroGrad) {
  const std::vector<SgdOptions> sgd_cases{{.lr = 0.1},
                                          {.lr = 0.05, .weight_decay = 0.01},
                                          {.lr = 0.05, .momentum = 0.9},
                                          {.lr = 0.05, .momentum = 0.9, .nesterov = true}};
  for (const std::string spec : {"2-1", "784-32-10"}) {
    for (std::size_t k = 0; k <= sgd_cases.size(); ++k) {
      Model a = make_model(spec, 4), b = make_model(spec, 4);
      std::unique_ptr<Optimizer> oa, ob;
      if (k < sgd_cases.size()) {
        oa = std::make_unique<SGD>(a, sgd_cases[k]);
        ob = std::make_unique<SGD>(b, sgd_cases[k]);
      } else {
        oa = std::make_unique<Adam>(a, AdamOptions{});
        ob = std::make_unique<Adam>(b, AdamOptions{});
      }
      for (int t = 0; t < 3; ++t) {
        for (std::size_t i = 0; i < a.gradients().size(); ++i)
          a.gradients()[i] = b.gradients()[i] = std::sin(static_cast<float>(i * 7 + static_cast<std::size_t>(t)));
        oa->step();
        oa->zero_grad();
        ob->step_and_zero_grad();
      }
      EXPECT_TRUE(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()))
          << spec << " case " << k;
      for (float g : b.gradients()) ASSERT_EQ(g, 0.0f) << spec << " case " << k;
      EXPECT_EQ(oa->steps(), ob->steps());
    }
  }
}
