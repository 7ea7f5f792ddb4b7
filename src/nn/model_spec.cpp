// The model-spec grammar documented in include/mnist/nn.hpp.
#include <algorithm>
#include <charconv>

#include "mnist/error.hpp"
#include "mnist/nn.hpp"

namespace mnist {

namespace {
const char* kHelp = " (a spec is a preset -- logistic, hidden, hidden-relu -- or widths joined by '-', input first, "
                    "classes last, with 'relu' after a hidden width, e.g. 784-128-relu-64-relu-10)";

std::vector<std::string> split_dashes(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dash = s.find('-', start);
    parts.push_back(s.substr(start, dash - start));
    if (dash == std::string::npos) return parts;
    start = dash + 1;
  }
}
}  // namespace

std::vector<std::string> model_presets() { return {"logistic", "hidden", "hidden-relu"}; }

std::vector<LayerSpec> parse_model_spec(const std::string& spec) {
  using K = LayerSpec::Kind;
  if (spec == "logistic") return {{K::Linear, 784, 10, "linear"}};
  if (spec == "hidden") return {{K::Linear, 784, 32, "layer1"}, {K::Linear, 32, 10, "layer2"}};
  if (spec == "hidden-relu")
    return {{K::Linear, 784, 32, "layer1"}, {K::ReLU, 32, 32, "relu"}, {K::Linear, 32, 10, "layer2"}};
  if (spec.empty()) throw UsageError(std::string("empty model spec") + kHelp);

  std::vector<LayerSpec> layers;
  std::size_t width = 0;  // width of the last width token, 0 before the first
  bool last_was_relu = false;
  const std::vector<std::string> parts = split_dashes(spec);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p == "relu" || p == "ReLU") {
      if (width == 0) throw UsageError("model spec '" + spec + "': 'relu' cannot come before the input width" + kHelp);
      if (layers.empty()) throw UsageError("model spec '" + spec + "': 'relu' cannot follow the input width" + kHelp);
      if (last_was_relu) throw UsageError("model spec '" + spec + "': two 'relu' in a row" + kHelp);
      if (i + 1 == parts.size())
        throw UsageError("model spec '" + spec + "': 'relu' cannot follow the output width (the loss takes logits)" +
                         kHelp);
      layers.push_back({K::ReLU, width, width, "relu"});
      last_was_relu = true;
      continue;
    }
    std::size_t value = 0;
    const auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size())
      throw UsageError("model spec '" + spec + "': '" + p + "' is neither a width nor 'relu'" + kHelp);
    if (value < 1 || value > 1000000)
      throw UsageError("model spec '" + spec + "': width " + p + " is out of range 1..1000000" + kHelp);
    if (width != 0) {
      const std::size_t linear_count =
          static_cast<std::size_t>(std::count_if(layers.begin(), layers.end(),
                                                 [](const LayerSpec& l) { return l.kind == K::Linear; }));
      layers.push_back({K::Linear, width, value, "layer" + std::to_string(linear_count + 1)});
    }
    width = value;
    last_was_relu = false;
  }
  if (layers.empty())
    throw UsageError("model spec '" + spec + "': needs at least an input and an output width" + kHelp);
  // Each width is bounded but their products are not: refuse before Model allocates parameters and gradients.
  constexpr std::size_t kMaxParameters = 100'000'000;  // 800 MB with gradients: far beyond any MNIST model
  std::size_t parameters = 0;
  for (const LayerSpec& l : layers)
    if (l.kind == K::Linear) parameters += l.in * l.out + l.out;  // each term <= 10^12: no overflow
  if (parameters > kMaxParameters)
    throw UsageError("model spec '" + spec + "': " + std::to_string(parameters) +
                     " parameters, more than the 100000000 allowed" + kHelp);
  return layers;
}

Model make_model(const std::string& spec, std::uint64_t seed) { return Model(parse_model_spec(spec), seed, spec); }

}  // namespace mnist
