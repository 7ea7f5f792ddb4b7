// Which layer objects run a list of specs: a Linear/ReLU run starting with a Linear becomes one LinearStack (its
// fast paths span layers), a ReLU followed by a MaxPool2d one pooling layer that applies the ReLU as it reads (when
// fused: the same bits, a quarter of the ReLU's memory traffic for 2x2 windows), a BatchNorm2d before those two one
// layer whose eval mode is a single pass, every other spec a layer of its own kind.
#include "nn/layer.hpp"
#include "nn/layers_impl.hpp"
#include "nn/linear_stack.hpp"

namespace mnist::nn {

std::vector<std::unique_ptr<Layer>> build_layers(const std::vector<LayerSpec>& specs,
                                                 const std::vector<LayerState>& states, bool fuse,
                                                 std::size_t* head) {
  using K = LayerSpec::Kind;
  std::vector<std::unique_ptr<Layer>> out;
  bool linear_seen = false;
  for (std::size_t i = 0; i < specs.size();) {
    const LayerSpec& l = specs[i];
    if (l.kind == K::Linear) {
      if (head != nullptr && !linear_seen) *head = out.size();
      linear_seen = true;
      std::size_t end = i + 1;
      while (end < specs.size() && (specs[end].kind == K::Linear || specs[end].kind == K::ReLU)) ++end;
      // The run's parameters are contiguous in the model's buffer: from its first Linear to past its last.
      float* p = states[i].params.data();
      float* g = states[i].grads.data();
      std::size_t count = 0;
      for (std::size_t j = i; j < end; ++j) count += states[j].params.size();
      out.push_back(std::make_unique<LinearStack>(std::vector<LayerSpec>(specs.begin() + static_cast<std::ptrdiff_t>(i),
                                                                         specs.begin() + static_cast<std::ptrdiff_t>(end)),
                                                  std::span<float>(p, count), std::span<float>(g, count), i == 0));
      i = end;
      continue;
    }
    if (fuse && l.kind == K::BatchNorm2d && i + 2 < specs.size() && specs[i + 1].kind == K::ReLU &&
        specs[i + 2].kind == K::MaxPool2d) {
      out.push_back(make_batchnorm_relu_maxpool2d(l, states[i], specs[i + 2]));
      i += 3;
      continue;
    }
    if (fuse && l.kind == K::ReLU && i + 1 < specs.size() && specs[i + 1].kind == K::MaxPool2d) {
      out.push_back(make_relu_maxpool2d(specs[i + 1]));
      i += 2;
      continue;
    }
    switch (l.kind) {
      case K::Conv2d: out.push_back(make_conv2d(l, states[i])); break;
      case K::MaxPool2d:
      case K::AvgPool2d: out.push_back(make_pool2d(l)); break;
      case K::BatchNorm2d: out.push_back(make_batchnorm2d(l, states[i])); break;
      case K::Dropout: out.push_back(make_dropout(l, i)); break;
      case K::ReLU: out.push_back(make_relu(l)); break;
      case K::Flatten: out.push_back(make_flatten(l)); break;
      case K::Linear: break;
    }
    ++i;
  }
  if (head != nullptr && !linear_seen) *head = out.size();
  return out;
}

}  // namespace mnist::nn
