// The tutorial-style names: Linear / ReLU / Sequential build exactly the models make_model builds, bad layer lists
// are refused with a message naming the layer, and braced random_split lists pick fractions or counts by type.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/layers.hpp"
#include "mnist/loader.hpp"
#include "mnist/nn.hpp"
#include "synthetic.hpp"

using namespace mnist;
using namespace mnist::testing;

namespace {

void expect_same_model(Model& a, Model& b) {
  ASSERT_EQ(a.layers().size(), b.layers().size());
  for (std::size_t i = 0; i < a.layers().size(); ++i) {
    EXPECT_EQ(a.layers()[i].kind, b.layers()[i].kind) << "layer " << i;
    EXPECT_EQ(a.layers()[i].in, b.layers()[i].in) << "layer " << i;
    EXPECT_EQ(a.layers()[i].out, b.layers()[i].out) << "layer " << i;
    EXPECT_EQ(a.layers()[i].name, b.layers()[i].name) << "layer " << i;
  }
  const std::vector<NamedParameter> pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].name, pb[i].name);
    EXPECT_EQ(pa[i].shape, pb[i].shape) << pa[i].name;
    ASSERT_EQ(pa[i].value.size(), pb[i].value.size()) << pa[i].name;
    for (std::size_t k = 0; k < pa[i].value.size(); ++k)
      ASSERT_EQ(pa[i].value[k], pb[i].value[k]) << pa[i].name << "[" << k << "]";
  }
}

// The UsageError's message, or "" when none is thrown.
std::string usage_error(const std::vector<LayerSpec>& layers) {
  try {
    Sequential(layers, 1);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(LayersApi, SequentialReluEqualsHiddenReluPreset) {
  for (std::uint64_t seed : {0u, 7u, 12345u}) {
    Model seq = Sequential({Linear(784, 32), ReLU(), Linear(32, 10)}, seed);
    Model preset = make_model("hidden-relu", seed);
    expect_same_model(seq, preset);
    EXPECT_EQ(seq.spec(), "784-32-relu-10");
    // The spec round-trips: a checkpoint of a Sequential model rebuilds with make_model.
    Model rebuilt = make_model(seq.spec(), seed);
    expect_same_model(seq, rebuilt);
  }
  // Names as PyTorch's modules of the tutorial's ReLU model.
  Model seq = Sequential({Linear(784, 32), ReLU(), Linear(32, 10)}, 3);
  std::vector<std::string> names;
  for (const NamedParameter& p : seq.named_parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"}));
  EXPECT_EQ(seq.layers()[1].in, 32u);
  EXPECT_EQ(seq.layers()[1].out, 32u);
}

TEST(LayersApi, VariadicFormIsSeedZero) {
  Model seq = Sequential(Linear(784, 32), ReLU(), Linear(32, 10));
  Model preset = make_model("hidden-relu", 0);
  expect_same_model(seq, preset);
  // Same outputs on an input, not just the same numbers stored.
  std::vector<float> x(2 * 784);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) / 17.0f;
  const std::span<const float> a = seq.forward(x, 2);
  const std::vector<float> ya(a.begin(), a.end());
  const std::span<const float> b = preset.forward(x, 2);
  EXPECT_EQ(ya, std::vector<float>(b.begin(), b.end()));
}

TEST(LayersApi, SequentialHiddenAndDeeper) {
  Model hidden = Sequential({Linear(784, 32), Linear(32, 10)}, 5);
  Model preset = make_model("hidden", 5);
  expect_same_model(hidden, preset);

  Model deep = Sequential(Linear(784, 128), ReLU(), Linear(128, 64), ReLU(), Linear(64, 10));
  Model spec = make_model("784-128-relu-64-relu-10", 0);
  expect_same_model(deep, spec);
  EXPECT_EQ(deep.layers()[3].name, "relu");
  EXPECT_EQ(deep.layers()[3].in, 64u);

  // One Linear layer is named layer1 (the grammar's name), unlike the "logistic" preset's "linear".
  Model one = Sequential(Linear(784, 10));
  EXPECT_EQ(one.named_parameters()[0].name, "layer1.weight");
  EXPECT_EQ(one.spec(), "784-10");
}

TEST(LayersApi, BadSequencesThrowUsageErrorNamingTheLayer) {
  EXPECT_NE(usage_error({}).find("no layers"), std::string::npos);
  EXPECT_NE(usage_error({ReLU(), Linear(784, 10)}).find("layer 1 (ReLU())"), std::string::npos);
  EXPECT_NE(usage_error({Linear(784, 32), ReLU()}).find("layer 2 (ReLU())"), std::string::npos);
  EXPECT_NE(usage_error({Linear(784, 32), ReLU(), ReLU(), Linear(32, 10)}).find("two ReLU in a row"),
            std::string::npos);
  const std::string mismatch = usage_error({Linear(784, 32), ReLU(), Linear(64, 10)});
  EXPECT_NE(mismatch.find("layer 3 (Linear(64, 10))"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("Linear(32, 10)"), std::string::npos) << mismatch;
  EXPECT_NE(usage_error({Linear(784, 32), Linear(31, 10)}).find("layer 2"), std::string::npos);
  EXPECT_THROW(Linear(0, 10), UsageError);
  EXPECT_THROW(Linear(784, 0), UsageError);
  // A hand-made LayerSpec with a zero width is refused too, by position.
  LayerSpec zero{LayerSpec::Kind::Linear, 784, 0, ""};
  EXPECT_NE(usage_error({zero}).find("layer 1"), std::string::npos);
  // Widths beyond the grammar's range are refused by make_model's own check.
  EXPECT_THROW(Sequential({Linear(784, 2'000'000), Linear(2'000'000, 10)}), UsageError);
}

TEST(LayersApi, BracedRandomSplitPicksFractionsOrCounts) {
  const Dataset ds = synthetic_dataset(1001);
  // {0.9, 0.1}: fractions, the same split as the std::vector<double> overload.
  const std::vector<Subset> by_fraction = random_split(ds, {0.9, 0.1}, 42);
  const std::vector<Subset> by_vector = random_split(ds, std::vector<double>{0.9, 0.1}, 42);
  ASSERT_EQ(by_fraction.size(), 2u);
  EXPECT_EQ(by_fraction[0].indices, by_vector[0].indices);
  EXPECT_EQ(by_fraction[1].indices, by_vector[1].indices);
  // {900, 101}: counts (as fractions these would be refused).
  const std::vector<Subset> by_count = random_split(ds, {900, 101}, 42);
  ASSERT_EQ(by_count.size(), 2u);
  EXPECT_EQ(by_count[0].size(), 900u);
  EXPECT_EQ(by_count[1].size(), 101u);
  EXPECT_EQ(by_count[0].indices, random_split(ds, std::vector<std::size_t>{900, 101}, 42)[0].indices);
  // Counts held in std::size_t variables.
  const std::size_t n_train = 1000, n_val = 1;
  EXPECT_EQ(random_split(ds, {n_train, n_val}, 42)[1].size(), 1u);
  // Mistakes still report as before, and a negative count is named rather than wrapped to a huge one.
  EXPECT_THROW(random_split(ds, {900, 100}, 0), UsageError);
  EXPECT_THROW(random_split(ds, {0.5, 0.6}, 0), UsageError);
  try {
    random_split(ds, {1002, -1}, 0);
    FAIL() << "no UsageError for a negative count";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("-1 is negative"), std::string::npos) << e.what();
  }
}

TEST(LayersApi, BracedRandomSplitOverSubset) {
  const Dataset ds = synthetic_dataset(3000);
  const Subset first = Subset::first(ds, 2500);
  const std::vector<Subset> by_count = random_split(first, {2000, 500}, 7);
  EXPECT_EQ(by_count[0].indices, random_split(first, std::vector<std::size_t>{2000, 500}, 7)[0].indices);
  EXPECT_EQ(by_count[1].size(), 500u);
  const std::vector<Subset> by_fraction = random_split(first, {0.8, 0.2}, 7);
  EXPECT_EQ(by_fraction[1].indices, random_split(first, std::vector<double>{0.8, 0.2}, 7)[1].indices);
  const std::size_t a = 2499, b = 1;
  EXPECT_EQ(random_split(first, {a, b}, 7)[1].size(), 1u);
  EXPECT_THROW(random_split(first, {2501, -1}, 7), UsageError);
  for (std::size_t i : by_count[1].indices) EXPECT_LT(i, 2500u);
}
