// Linear / ReLU / Conv2d / ... / Sequential: the tutorial's way of writing a model, checked layer by layer and
// turned into the model-spec string make_model understands, so that the result is exactly the model that spec
// builds (names, shapes and init included).
#include "mnist/layers.hpp"

#include <cstdio>
#include <string>

#include "mnist/error.hpp"

namespace mnist {

namespace {
using K = LayerSpec::Kind;

std::string where(std::size_t i, const LayerSpec& layer) {
  return "Sequential: layer " + std::to_string(i + 1) + " (" + describe_layer(layer) + ")";
}

std::string n(std::size_t v) { return std::to_string(v); }

// The spec token of a layer whose sizes the Sequential has checked.
std::string token(const LayerSpec& l) {
  switch (l.kind) {
    case K::Linear: return n(l.out);
    case K::ReLU: return "relu";
    case K::Conv2d:
      return "conv" + n(l.out_shape[0]) + "k" + n(l.kernel) + (l.stride != 1 ? "s" + n(l.stride) : "") +
             (l.padding != 0 ? "p" + n(l.padding) : "");
    case K::MaxPool2d:
    case K::AvgPool2d:
      return std::string(l.kind == K::MaxPool2d ? "maxpool" : "avgpool") + n(l.kernel) +
             (l.stride != l.kernel ? "s" + n(l.stride) : "");
    case K::BatchNorm2d: return "bn";
    case K::Dropout: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(l.p));
      return std::string("dropout") + buf;
    }
    case K::Flatten: return "flatten";
  }
  return "";
}
}  // namespace

LayerSpec Linear(std::size_t in, std::size_t out) {
  if (in == 0 || out == 0)
    throw UsageError("Linear(" + n(in) + ", " + n(out) + "): in and out features must be at least 1");
  LayerSpec l; l.kind = K::Linear; l.in = in; l.out = out; l.in_shape = {in}; l.out_shape = {out}; return l;
}

LayerSpec ReLU() { LayerSpec l; l.kind = K::ReLU; l.name = "relu"; return l; }

LayerSpec Conv2d(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size, std::size_t stride,
                 std::size_t padding) {
  if (in_channels == 0 || out_channels == 0 || kernel_size == 0 || stride == 0)
    throw UsageError("Conv2d(" + n(in_channels) + ", " + n(out_channels) + ", " + n(kernel_size) + ", stride " +
                     n(stride) + "): channels, kernel size and stride must be at least 1");
  LayerSpec l; l.kind = K::Conv2d; l.in_shape = {in_channels, 0, 0}; l.out_shape = {out_channels, 0, 0}; l.kernel = kernel_size; l.stride = stride; l.padding = padding; return l;
}

LayerSpec MaxPool2d(std::size_t kernel_size, std::size_t stride) {
  if (kernel_size == 0) throw UsageError("MaxPool2d(0): the window must be at least 1");
  LayerSpec l; l.kind = K::MaxPool2d; l.kernel = kernel_size; l.stride = stride == 0 ? kernel_size : stride; return l;
}

LayerSpec AvgPool2d(std::size_t kernel_size, std::size_t stride) {
  if (kernel_size == 0) throw UsageError("AvgPool2d(0): the window must be at least 1");
  LayerSpec l; l.kind = K::AvgPool2d; l.kernel = kernel_size; l.stride = stride == 0 ? kernel_size : stride; return l;
}

LayerSpec BatchNorm2d(std::size_t num_features) {
  if (num_features == 0) throw UsageError("BatchNorm2d(0): num_features must be at least 1");
  LayerSpec l; l.kind = K::BatchNorm2d; l.in_shape = {num_features, 0, 0}; return l;
}

LayerSpec Dropout(float p) {
  if (!(p >= 0.0f && p < 1.0f)) throw UsageError("Dropout(" + std::to_string(p) + "): p must be in [0, 1)");
  LayerSpec l; l.kind = K::Dropout; l.p = p; return l;
}

LayerSpec Flatten() { LayerSpec l; l.kind = K::Flatten; l.name = "flatten"; return l; }

Model Sequential(std::vector<LayerSpec> layers, std::uint64_t seed) {
  // The input a PyTorch module would be given: MNIST-sized images for a conv net, the first Linear's features.
  Shape input;
  if (!layers.empty() && layers.front().kind == K::Conv2d) input = {layers.front().in_shape[0], 28, 28};
  if (!layers.empty() && layers.front().kind == K::Linear) input = {layers.front().in};
  return Sequential(input, std::move(layers), seed);
}

Model Sequential(const Shape& input, std::vector<LayerSpec> layers, std::uint64_t seed) {
  if (layers.empty())
    throw UsageError("Sequential: no layers (e.g. Sequential(Linear(784, 32), ReLU(), Linear(32, 10)))");
  std::string spec;
  if (input.size() == 3)
    spec = n(input[0]) + "x" + n(input[1]) + "x" + n(input[2]);
  else if (input.size() == 1)
    spec = n(input[0]);
  Shape shape = input;
  std::size_t flat = 0;  // features of a flat shape, 0 for an image
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    flat = shape.size() == 1 ? shape[0] : 0;
    if (l.kind == K::ReLU) {
      if (i == 0) throw UsageError(where(i, l) + ": a model starts with a layer that has weights, not a ReLU");
      if (layers[i - 1].kind == K::ReLU) throw UsageError(where(i, l) + ": two ReLU in a row");
      if (i + 1 == layers.size())
        throw UsageError(where(i, l) + ": a model ends with a Linear layer (the loss takes the logits), not a ReLU");
    }
    if (l.kind == K::Linear) {
      if (l.in == 0 || l.out == 0) throw UsageError(where(i, l) + ": in and out features must be at least 1");
      if (shape.size() == 3)
        throw UsageError(where(i, l) + ": gets a " + shape_string(shape) + " image; put Flatten() before it (then "
                         "Linear(" + n(numel(shape)) + ", " + n(l.out) + "))");
      if (flat != l.in) {
        const std::string before = i == 0 ? "the input" : "the layers before it";
        throw UsageError(where(i, l) + ": takes " + n(l.in) + " features but " +
                         (layers[i > 0 ? i - 1 : 0].kind == K::Linear && i > 0 ? "the Linear layer before it"
                                                                               : before) +
                         " gives " + n(flat) + " (make it Linear(" + n(flat) + ", " + n(l.out) + "))");
      }
      shape = {l.out};
    } else if (l.kind == K::Conv2d || l.kind == K::BatchNorm2d) {
      if (shape.size() != 3)
        throw UsageError(where(i, l) + ": needs a [C, H, W] image; it cannot follow Flatten() or a Linear layer");
      if (l.in_shape[0] != shape[0])
        throw UsageError(where(i, l) + ": takes " + n(l.in_shape[0]) + " channels but gets " + n(shape[0]) +
                         " (make it " + (l.kind == K::Conv2d ? "Conv2d(" + n(shape[0]) + ", ...)" : "BatchNorm2d(" + n(shape[0]) + ")") + ")");
      if (l.kind == K::Conv2d) {
        if (l.kernel > shape[1] + 2 * l.padding || l.kernel > shape[2] + 2 * l.padding)
          throw UsageError(where(i, l) + ": kernel " + n(l.kernel) + " is larger than its input " + n(shape[1]) + "x" +
                           n(shape[2]) + " with padding " + n(l.padding));
        shape = {l.out_shape[0], (shape[1] + 2 * l.padding - l.kernel) / l.stride + 1,
                 (shape[2] + 2 * l.padding - l.kernel) / l.stride + 1};
      }
    } else if (l.kind == K::MaxPool2d || l.kind == K::AvgPool2d) {
      if (shape.size() != 3) throw UsageError(where(i, l) + ": needs a [C, H, W] image");
      if (l.kernel > shape[1] || l.kernel > shape[2])
        throw UsageError(where(i, l) + ": window " + n(l.kernel) + " is larger than its input " + n(shape[1]) + "x" +
                         n(shape[2]));
      shape = {shape[0], (shape[1] - l.kernel) / l.stride + 1, (shape[2] - l.kernel) / l.stride + 1};
    } else if (l.kind == K::Flatten) {
      if (shape.size() != 3) throw UsageError(where(i, l) + ": needs a [C, H, W] image to flatten");
      shape = {numel(shape)};
    }
    spec += (spec.empty() ? "" : "-") + token(l);
  }
  // The spec grammar names the layers, checks sizes and the parameter count: the one place those rules live.
  return make_model(spec, seed);
}

}  // namespace mnist
