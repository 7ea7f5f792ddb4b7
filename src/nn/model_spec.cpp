// The model-spec grammar documented in include/mnist/nn.hpp: tokens joined by '-', each layer's shapes derived from
// the one before and checked as they are derived, so a bad spec fails here, naming the layer, before anything is
// allocated.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "mnist/error.hpp"
#include "mnist/nn.hpp"

namespace mnist {

namespace {
const char* kHelp = " (a spec is a preset -- logistic, hidden, hidden-relu, lenet5, cnn, cnn-bn, cnn-dropout -- or "
                    "tokens joined by '-', input first: widths and 'relu' for an MLP, e.g. 784-128-relu-64-relu-10; "
                    "or 1x28x28-conv32k3p1-relu-maxpool2-flatten-128-relu-10 with conv<O>k<K>[s<S>][p<P>], "
                    "maxpool<K>[s<S>], avgpool<K>[s<S>], bn, dropout<P>, flatten)";

// Limits that keep a spec's allocations sane: parameters (800 MB with gradients) and one sample's activations.
constexpr std::size_t kMaxParameters = 100'000'000;
constexpr std::size_t kMaxSize = 1'000'000;           // any width, channel count, side or kernel
constexpr std::size_t kMaxActivations = 4'000'000;    // values of one layer's output for one sample

const std::map<std::string, std::string>& conv_presets() {
  static const std::map<std::string, std::string> presets{
      {"lenet5", "1x28x28-conv6k5p2-relu-maxpool2-conv16k5-relu-maxpool2-flatten-120-relu-84-relu-10"},
      {"cnn", "1x28x28-conv32k3p1-relu-maxpool2-conv64k3p1-relu-maxpool2-flatten-128-relu-10"},
      {"cnn-bn", "1x28x28-conv32k3p1-bn-relu-maxpool2-conv64k3p1-bn-relu-maxpool2-flatten-128-relu-10"},
      {"cnn-dropout",
       "1x28x28-conv32k3p1-relu-maxpool2-conv64k3p1-relu-maxpool2-dropout0.25-flatten-128-relu-dropout0.5-10"}};
  return presets;
}

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

// A whole token (or part of one) as an unsigned number; false when it is not exactly digits.
bool parse_size(const std::string& text, std::size_t& value) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

// "1x28x28" -> {1, 28, 28}; empty when the token is not such a shape.
Shape parse_shape(const std::string& token) {
  Shape shape;
  std::size_t start = 0;
  for (;;) {
    const std::size_t x = token.find('x', start);
    std::size_t v = 0;
    if (!parse_size(token.substr(start, x - start), v)) return {};
    shape.push_back(v);
    if (x == std::string::npos) break;
    start = x + 1;
  }
  return shape.size() == 3 ? shape : Shape{};
}

// "conv32k3s2p1" with prefix "conv": the number after the prefix and after each of the given letters.
// Returns false when the token does not have that form; letters absent keep their values.
bool parse_fields(const std::string& token, const std::string& prefix, std::map<char, std::size_t>& fields,
                  std::size_t& first) {
  if (token.compare(0, prefix.size(), prefix) != 0) return false;
  std::size_t i = prefix.size();
  auto number = [&](std::size_t& out) {
    const std::size_t begin = i;
    while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i]))) ++i;
    return i > begin && parse_size(token.substr(begin, i - begin), out);
  };
  if (!number(first)) return false;
  while (i < token.size()) {
    const char letter = token[i++];
    if (!fields.count(letter)) return false;
    if (!number(fields[letter])) return false;
  }
  return true;
}

struct Parser {
  const std::string& spec;
  std::vector<LayerSpec> layers;
  Shape shape;  // one sample's shape after the layers so far
  std::map<std::string, std::size_t> counters;
  bool mlp_names = true;

  [[noreturn]] void fail(const std::string& what) const {
    throw UsageError("model spec '" + spec + "': " + what + kHelp);
  }
  std::string next_name(const std::string& kind) { return kind + std::to_string(++counters[kind]); }
  std::string where(const std::string& token) const {
    return "layer " + std::to_string(layers.size() + 1) + " ('" + token + "')";
  }
  void need_image(const std::string& token) const {
    if (shape.size() != 3)
      fail(where(token) + " needs a [C, H, W] input but gets " + shape_string(shape) +
           " features (it must come before 'flatten', and the input must be a shape like 1x28x28)");
  }
  void check_size(std::size_t v, const std::string& what, const std::string& token) const {
    if (v < 1 || v > kMaxSize) fail(where(token) + ": " + what + " " + std::to_string(v) + " is out of range 1..1000000");
  }
  void add(LayerSpec l) {
    l.in_shape = shape;
    l.in = numel(shape);
    l.out = numel(l.out_shape);
    if (l.out > kMaxActivations)
      fail("layer " + std::to_string(layers.size() + 1) + " (" + describe_layer(l) + ") outputs " +
           std::to_string(l.out) + " values per image, more than the 4000000 allowed");
    shape = l.out_shape;
    layers.push_back(std::move(l));
  }

  void linear(const std::string& token, std::size_t width) {
    check_size(width, "width", token);
    if (shape.size() != 1)
      fail(where(token) + ": a Linear layer needs flat features but gets " + shape_string(shape) +
           "; put 'flatten' before it");
    LayerSpec l; l.kind = LayerSpec::Kind::Linear; l.out_shape = {width};
    l.name = mlp_names ? next_name("layer") : next_name("fc");
    add(std::move(l));
  }

  void conv(const std::string& token) {
    std::map<char, std::size_t> f{{'k', 0}, {'s', 1}, {'p', 0}};
    std::size_t out = 0;
    if (!parse_fields(token, "conv", f, out) || token.find('k') == std::string::npos)
      fail("'" + token + "' is not conv<O>k<K>[s<S>][p<P>] (e.g. conv32k3p1)");
    need_image(token);
    check_size(out, "output channels", token);
    check_size(f['k'], "kernel", token);
    check_size(f['s'], "stride", token);
    if (f['p'] > kMaxSize) fail(where(token) + ": padding " + std::to_string(f['p']) + " is out of range 0..1000000");
    const std::size_t K = f['k'], P = f['p'], S = f['s'];
    if (K > shape[1] + 2 * P || K > shape[2] + 2 * P)
      fail(where(token) + ": kernel " + std::to_string(K) + " is larger than its input " + std::to_string(shape[1]) +
           "x" + std::to_string(shape[2]) + " with padding " + std::to_string(P) +
           " (use a smaller kernel, more padding, or fewer pooling layers before it)");
    if (P >= K) fail(where(token) + ": padding " + std::to_string(P) + " must be smaller than the kernel " + std::to_string(K));
    LayerSpec l; l.kind = LayerSpec::Kind::Conv2d; l.kernel = K; l.stride = S; l.padding = P;
    l.name = next_name("conv");
    l.out_shape = {out, (shape[1] + 2 * P - K) / S + 1, (shape[2] + 2 * P - K) / S + 1};
    add(std::move(l));
  }

  void pool(const std::string& token, bool max) {
    const std::string prefix = max ? "maxpool" : "avgpool";
    std::map<char, std::size_t> f{{'s', 0}};
    std::size_t K = 0;
    if (!parse_fields(token, prefix, f, K)) fail("'" + token + "' is not " + prefix + "<K>[s<S>] (e.g. " + prefix + "2)");
    need_image(token);
    check_size(K, "window", token);
    const std::size_t S = f['s'] == 0 ? K : f['s'];
    check_size(S, "stride", token);
    if (K > shape[1] || K > shape[2])
      fail(where(token) + ": window " + std::to_string(K) + " is larger than its input " + std::to_string(shape[1]) +
           "x" + std::to_string(shape[2]) + " (use a smaller window or fewer pooling layers)");
    LayerSpec l; l.kind = max ? LayerSpec::Kind::MaxPool2d : LayerSpec::Kind::AvgPool2d; l.kernel = K; l.stride = S;
    l.name = next_name("pool");
    l.out_shape = {shape[0], (shape[1] - K) / S + 1, (shape[2] - K) / S + 1};
    add(std::move(l));
  }

  void dropout(const std::string& token) {
    const std::string text = token.substr(7);
    float p = -1.0f;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !(p >= 0.0f && p < 1.0f))
      fail(where(token) + ": dropout needs a probability in [0, 1) right after it, e.g. dropout0.25");
    LayerSpec l; l.kind = LayerSpec::Kind::Dropout; l.out_shape = shape; l.p = p;
    l.name = next_name("dropout");
    add(std::move(l));
  }

  void token(const std::string& t, bool last) {
    using K = LayerSpec::Kind;
    if (t == "relu" || t == "ReLU") {
      if (layers.empty()) fail("'relu' cannot follow the input (a model starts with a layer that has weights)");
      if (layers.back().kind == K::ReLU) fail("two 'relu' in a row");
      if (last) fail("'relu' cannot end the model (the loss takes logits)");
      LayerSpec l; l.kind = K::ReLU; l.out_shape = shape;
      l.name = mlp_names ? "relu" : next_name("relu");
      add(std::move(l));
    } else if (t == "flatten") {
      need_image(t);
      LayerSpec l; l.kind = K::Flatten; l.out_shape = {numel(shape)};
      l.name = "flatten";
      add(std::move(l));
    } else if (t == "bn") {
      need_image(t);
      LayerSpec l; l.kind = K::BatchNorm2d; l.out_shape = shape;
      l.name = next_name("bn");
      add(std::move(l));
    } else if (t.compare(0, 4, "conv") == 0) {
      conv(t);
    } else if (t.compare(0, 7, "maxpool") == 0) {
      pool(t, true);
    } else if (t.compare(0, 7, "avgpool") == 0) {
      pool(t, false);
    } else if (t.compare(0, 7, "dropout") == 0) {
      dropout(t);
    } else {
      std::size_t width = 0;
      if (!parse_size(t, width)) fail("'" + t + "' is neither a width nor a layer token");
      linear(t, width);
    }
  }

  void run() {
    std::vector<std::string> parts = split_dashes(spec);
    std::size_t first = 1;
    std::size_t width = 0;
    if (Shape s = parse_shape(parts[0]); !s.empty()) {
      for (std::size_t v : s) check_size(v, "input size", parts[0]);
      shape = s;
    } else if (parse_size(parts[0], width)) {
      check_size(width, "input width", parts[0]);
      shape = {width};
    } else {
      shape = {1, 28, 28};  // a spec that starts with a layer takes MNIST-sized images
      first = 0;
    }
    // MLP naming (layer1.., "relu") for specs of widths and relu only, as the tutorial's models are named.
    for (std::size_t i = first; i < parts.size(); ++i) {
      std::size_t v = 0;
      if (!parse_size(parts[i], v) && parts[i] != "relu" && parts[i] != "ReLU") mlp_names = false;
    }
    if (shape.size() != 1) mlp_names = false;
    for (std::size_t i = first; i < parts.size(); ++i) {
      if (parts[i].empty()) fail("an empty token (two '-' in a row, or '-' at an end)");
      token(parts[i], i + 1 == parts.size());
    }
    if (layers.empty()) fail("needs at least an input and an output width");
    if (layers.back().kind != LayerSpec::Kind::Linear)
      fail("the last layer must be a Linear layer giving the class scores (end with a width, e.g. -10)");
    std::size_t parameters = 0;
    for (const StateEntry& e : state_entries(layers))
      if (e.parameter) parameters += numel(e.shape);  // each term <= 10^12: no overflow
    if (parameters > kMaxParameters)
      fail(std::to_string(parameters) + " parameters, more than the 100000000 allowed");
  }
};
}  // namespace

std::vector<std::string> model_presets() {
  return {"logistic", "hidden", "hidden-relu", "lenet5", "cnn", "cnn-bn", "cnn-dropout"};
}

std::string conv_preset_spec(const std::string& name) {
  const auto it = conv_presets().find(name);
  return it == conv_presets().end() ? "" : it->second;
}

std::vector<LayerSpec> parse_model_spec(const std::string& spec) {
  if (spec == "logistic") {
    std::vector<LayerSpec> layers = parse_model_spec("784-10");
    layers[0].name = "linear";  // the tutorial's module name
    return layers;
  }
  if (spec == "hidden") return parse_model_spec("784-32-10");
  if (spec == "hidden-relu") return parse_model_spec("784-32-relu-10");
  if (const std::string conv = conv_preset_spec(spec); !conv.empty()) return parse_model_spec(conv);
  if (spec.empty()) throw UsageError(std::string("empty model spec") + kHelp);
  Parser parser{spec, {}, {}, {}};
  parser.run();
  return parser.layers;
}

Model make_model(const std::string& spec, std::uint64_t seed) { return Model(parse_model_spec(spec), seed, spec); }

std::string describe_layer(const LayerSpec& l) {
  using K = LayerSpec::Kind;
  const auto n = [](std::size_t v) { return std::to_string(v); };
  switch (l.kind) {
    case K::Linear: return "Linear(" + n(l.in) + ", " + n(l.out) + ")";
    case K::ReLU: return "ReLU()";
    case K::Conv2d:
      return "Conv2d(" + n(l.in_shape.at(0)) + ", " + n(l.out_shape.at(0)) + ", kernel_size=" + n(l.kernel) +
             ", stride=" + n(l.stride) + ", padding=" + n(l.padding) + ")";
    case K::MaxPool2d: return "MaxPool2d(kernel_size=" + n(l.kernel) + ", stride=" + n(l.stride) + ")";
    case K::AvgPool2d: return "AvgPool2d(kernel_size=" + n(l.kernel) + ", stride=" + n(l.stride) + ")";
    case K::BatchNorm2d: return "BatchNorm2d(" + n(l.in_shape.at(0)) + ")";
    case K::Dropout: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(l.p));
      return std::string("Dropout(p=") + buf + ")";
    }
    case K::Flatten: return "Flatten()";
  }
  return "?";
}

std::vector<StateEntry> state_entries(const std::vector<LayerSpec>& layers) {
  using K = LayerSpec::Kind;
  std::vector<StateEntry> out;
  for (const LayerSpec& l : layers) {
    if (l.kind == K::Linear) {
      out.push_back({l.name + ".weight", {l.out, l.in}});
      out.push_back({l.name + ".bias", {l.out}});
    } else if (l.kind == K::Conv2d) {
      out.push_back({l.name + ".weight", {l.out_shape[0], l.in_shape[0], l.kernel, l.kernel}});
      out.push_back({l.name + ".bias", {l.out_shape[0]}});
    } else if (l.kind == K::BatchNorm2d) {
      const std::size_t C = l.in_shape[0];
      out.push_back({l.name + ".weight", {C}});
      out.push_back({l.name + ".bias", {C}});
      out.push_back({l.name + ".running_mean", {C}, false});
      out.push_back({l.name + ".running_var", {C}, false});
      out.push_back({l.name + ".num_batches_tracked", {}, false, true});
    }
  }
  return out;
}

std::vector<std::pair<std::string, Shape>> parameter_shapes(const std::vector<LayerSpec>& layers) {
  std::vector<std::pair<std::string, Shape>> out;
  for (const StateEntry& e : state_entries(layers))
    if (e.parameter) out.emplace_back(e.name, e.shape);
  return out;
}

}  // namespace mnist
