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

/// The model of these layers, in order, its Linear layers named layer1 .. layerK as PyTorch names the modules of
/// the tutorial's models, parameters initialised as Model's constructor does from seed. Its spec() is the
/// equivalent make_model spec ("784-32-relu-10"), so checkpoints of it load back with make_model.
/// Throws UsageError when the list is empty, a ReLU comes first, last or right after another ReLU, or a Linear
/// layer's in differs from the previous Linear layer's out (the message names the layer, counted from 1).
Model Sequential(std::vector<LayerSpec> layers, std::uint64_t seed = 0);

/// Sequential(Linear(784, 32), ReLU(), Linear(32, 10)): the layers as arguments, seed 0 (as in the tutorial,
/// which never seeds); use the braced-list form Sequential({...}, seed) to choose the seed.
template <std::same_as<LayerSpec>... More>
Model Sequential(LayerSpec first, More... more) {
  return Sequential(std::vector<LayerSpec>{std::move(first), std::move(more)...}, 0);
}

}  // namespace mnist
