// The factories of each layer kind (one file per kind), used by build_layers.
#pragma once
#include <memory>
#include <vector>

#include "kernels/pool2d.hpp"
#include "nn/layer.hpp"

namespace mnist::nn {

std::unique_ptr<Layer> make_conv2d(const LayerSpec& spec, const LayerState& state);
std::unique_ptr<Layer> make_pool2d(const LayerSpec& spec);
/// A ReLU and the MaxPool2d spec that follows it, as one layer (the same bits as the two).
std::unique_ptr<Layer> make_relu_maxpool2d(const LayerSpec& pool);
std::unique_ptr<Layer> make_batchnorm2d(const LayerSpec& spec, const LayerState& state);
/// A BatchNorm2d, a ReLU and a MaxPool2d in a row as one layer (the same bits as the three).
std::unique_ptr<Layer> make_batchnorm_relu_maxpool2d(const LayerSpec& norm, const LayerState& state,
                                                     const LayerSpec& pool);

/// BatchNorm2d's eps, as PyTorch's default.
constexpr float kBatchNormEps = 1e-5f;
std::unique_ptr<Layer> make_dropout(const LayerSpec& spec, std::size_t index);
std::unique_ptr<Layer> make_relu(const LayerSpec& spec);
std::unique_ptr<Layer> make_flatten(const LayerSpec& spec);

/// A pooling spec's window over its input planes.
kernels::Pool2dShape pool_shape(const LayerSpec& pool);
/// The chunks of a pass over N·C planes: 64 planes each, fixed by the shapes, never by the thread count.
std::size_t plane_chunks(std::size_t planes);

/// Grows a layer's buffer to at least n floats (never shrinks: buffers are reused across batches).
inline void grow(std::vector<float>& buffer, std::size_t n) {
  if (buffer.size() < n) buffer.resize(n);
}

}  // namespace mnist::nn
