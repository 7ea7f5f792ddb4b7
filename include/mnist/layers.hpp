// Building models the way the tutorial writes them in PyTorch:
//   nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
// becomes
//   mnist::Sequential(mnist::Linear(784, 32), mnist::ReLU(), mnist::Linear(32, 10))
// The result is the same Model as make_model("784-32-relu-10") (and, parameter for parameter, as
// make_model("hidden-relu")), so it trains, predicts and checkpoints like any other.
#pragma once
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "mnist/nn.hpp"

namespace mnist {

/// A fully connected layer y = x W^T + b with weight [out, in] and bias [out] (torch.nn.Linear(in, out)).
/// Throws UsageError when in or out is 0. Sequential names it ("layer1", "layer2", ...).
LayerSpec Linear(std::size_t in, std::size_t out);

/// An elementwise max(x, 0) between two Linear layers (torch.nn.ReLU()); Sequential sets its width from the
/// Linear layer before it.
LayerSpec ReLU();

/// torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding) (square kernel, zero padding).
LayerSpec Conv2d(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size, std::size_t stride = 1,
                 std::size_t padding = 0);
/// torch.nn.MaxPool2d(kernel_size, stride); stride 0 means kernel_size (PyTorch's default).
LayerSpec MaxPool2d(std::size_t kernel_size, std::size_t stride = 0);
/// torch.nn.AvgPool2d(kernel_size, stride); stride 0 means kernel_size.
LayerSpec AvgPool2d(std::size_t kernel_size, std::size_t stride = 0);
/// torch.nn.BatchNorm2d(num_features) (eps 1e-5, momentum 0.1, affine, running statistics).
LayerSpec BatchNorm2d(std::size_t num_features);
/// torch.nn.Dropout(p), p in [0, 1).
LayerSpec Dropout(float p = 0.5f);
/// torch.nn.Flatten(): [C, H, W] -> C·H·W features.
LayerSpec Flatten();

/// The model of these layers, in order, its Linear layers named layer1 .. layerK as PyTorch names the modules of
/// the tutorial's models, parameters initialised as Model's constructor does from seed. Its spec() is the
/// equivalent make_model spec ("784-32-relu-10"), so checkpoints of it load back with make_model.
/// Throws UsageError when the list is empty, a ReLU comes first, last or right after another ReLU, or a Linear
/// layer's in differs from the previous Linear layer's out (the message names the layer, counted from 1).
Model Sequential(std::vector<LayerSpec> layers, std::uint64_t seed = 0);
/// The same for images of shape input ([C, H, W]; Sequential without it takes [in_channels, 28, 28] when the first
/// layer is a Conv2d). Shapes are followed layer by layer; a Linear layer whose in features differ from what the
/// layers before it give, a Conv2d whose in_channels differ, a kernel larger than its input: UsageError naming the
/// layer and the fix. Its spec() is the equivalent make_model spec ("1x28x28-conv32k3p1-relu-...").
Model Sequential(const Shape& input, std::vector<LayerSpec> layers, std::uint64_t seed = 0);

/// Sequential(Linear(784, 32), ReLU(), Linear(32, 10)): the layers as arguments, seed 0 (as in the tutorial,
/// which never seeds); use the braced-list form Sequential({...}, seed) to choose the seed.
template <std::same_as<LayerSpec>... More>
Model Sequential(LayerSpec first, More... more) {
  return Sequential(std::vector<LayerSpec>{std::move(first), std::move(more)...}, 0);
}

}  // namespace mnist
