// The layer interface: what every layer kind implements (one file per kind in src/nn/), and what Model runs.
//
// A layer owns its output and input-gradient buffers (grown to the largest batch seen, then reused) and views its
// parameters, gradients and buffers inside the model's flat buffers. Every parallel region a layer opens is cut into
// chunks fixed by the shapes alone, never by the thread count, so results are bit-identical for any thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "mnist/nn.hpp"

namespace mnist::nn {

/// What a forward needs besides its input.
struct ForwardContext {
  bool training = true;        ///< train mode (batch statistics, dropout) or eval mode
  std::uint64_t seed = 0;      ///< the model's seed (Dropout's masks)
  std::uint64_t step = 0;      ///< training forwards before this one (Dropout draws a new mask per step)
  std::size_t first_sample = 0;  ///< the index of the batch's first sample in the step's whole batch (Dropout)
  /// Sums partial statistics over the processes that share the step's batch (Model::set_cross_process_sum):
  /// BatchNorm2d in training mode then normalises with the whole batch's statistics; null: with its share's.
  const std::function<void(std::span<double>)>* cross_process_sum = nullptr;
};

/// The slices of the model's flat buffers a layer reads and writes (empty where it has none).
struct LayerState {
  std::span<float> params;          ///< its parameters, in state-dict order (weight, then bias)
  std::span<float> grads;           ///< their gradients, the same layout
  std::span<float> buffers;         ///< float buffers (BatchNorm: running_mean [C], then running_var [C])
  std::span<std::int64_t> counts;   ///< int64 buffers (BatchNorm: num_batches_tracked)
};

class Layer {
 public:
  virtual ~Layer() = default;
  /// out[N, out features] of x[N, in features] (x stays alive and unchanged until backward). Valid until the next
  /// forward.
  virtual std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext& ctx) = 0;
  /// Given dy [N, out] for the last forward, accumulates (+=) its parameter gradients and, when need_dx, returns dx
  /// [N, in] (valid until the next backward); returns an empty span when !need_dx.
  virtual std::span<const float> backward(std::span<const float> dy, bool need_dx) = 0;
  /// Multiply-adds of a training step (forward, then backward with need_dx) on N samples, as this layer runs them;
  /// 0 for the layers whose cost is a pass over memory. What a step's thread count is sized by.
  virtual std::size_t step_multiply_adds(std::size_t /*N*/, bool /*need_dx*/) const { return 0; }
};

/// The layers that run for specs: each run of Linear/ReLU starting with a Linear is one LinearStack block; with
/// fuse, a ReLU followed by a MaxPool2d is one block too (the same bits); every other spec a layer of its own.
/// states[i] is spec i's slice of the model's buffers. head (when given) receives the index of the block that runs
/// the first Linear (the number of blocks when there is none).
std::vector<std::unique_ptr<Layer>> build_layers(const std::vector<LayerSpec>& specs,
                                                 const std::vector<LayerState>& states, bool fuse = true,
                                                 std::size_t* head = nullptr);

}  // namespace mnist::nn
