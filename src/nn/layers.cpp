// Linear / ReLU / Sequential: the tutorial's way of writing a model, checked layer by layer and turned into the
// model-spec string make_model understands, so that the result is exactly the model that spec builds.
#include "mnist/layers.hpp"

#include <string>

#include "mnist/error.hpp"

namespace mnist {

namespace {
std::string describe(const LayerSpec& layer) {
  if (layer.kind == LayerSpec::Kind::ReLU) return "ReLU()";
  return "Linear(" + std::to_string(layer.in) + ", " + std::to_string(layer.out) + ")";
}

std::string where(std::size_t i, const LayerSpec& layer) {
  return "Sequential: layer " + std::to_string(i + 1) + " (" + describe(layer) + ")";
}
}  // namespace

LayerSpec Linear(std::size_t in, std::size_t out) {
  if (in == 0 || out == 0)
    throw UsageError("Linear(" + std::to_string(in) + ", " + std::to_string(out) +
                     "): in and out features must be at least 1");
  return {LayerSpec::Kind::Linear, in, out, ""};
}

LayerSpec ReLU() { return {LayerSpec::Kind::ReLU, 0, 0, "relu"}; }

Model Sequential(std::vector<LayerSpec> layers, std::uint64_t seed) {
  using K = LayerSpec::Kind;
  if (layers.empty())
    throw UsageError("Sequential: no layers (e.g. Sequential(Linear(784, 32), ReLU(), Linear(32, 10)))");
  std::string spec;
  std::size_t width = 0;  // out features of the last Linear layer, 0 before the first
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    if (l.kind == K::ReLU) {
      if (i == 0) throw UsageError(where(i, l) + ": a model starts with a Linear layer, not a ReLU");
      if (layers[i - 1].kind == K::ReLU) throw UsageError(where(i, l) + ": two ReLU in a row");
      if (i + 1 == layers.size())
        throw UsageError(where(i, l) + ": a model ends with a Linear layer (the loss takes the logits), not a ReLU");
      spec += "-relu";
      continue;
    }
    if (l.in == 0 || l.out == 0) throw UsageError(where(i, l) + ": in and out features must be at least 1");
    if (width == 0) {
      spec = std::to_string(l.in);
    } else if (l.in != width) {
      throw UsageError(where(i, l) + ": takes " + std::to_string(l.in) + " features but the Linear layer before it "
                       "gives " + std::to_string(width) + " (make it Linear(" + std::to_string(width) + ", " +
                       std::to_string(l.out) + "))");
    }
    spec += "-" + std::to_string(l.out);
    width = l.out;
  }
  // The spec grammar names the Linear layers layer1..K, gives each ReLU the width before it, and checks the
  // widths' range and the parameter count: the one place those rules live.
  return make_model(spec, seed);
}

}  // namespace mnist
