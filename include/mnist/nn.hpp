// Models: a Sequential stack of layers (Linear, ReLU, Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d, Dropout, Flatten)
// whose parameters live in ONE flat float buffer (gradients in a mirrored one) and whose buffers (BatchNorm's running
// statistics) in another, named as PyTorch names them, so that optimizers run one loop and checkpoints map 1:1 to
// PyTorch's state dicts.
//
// Model specs (make_model): a preset, or tokens joined by '-', the input first.
//   MLP presets   "logistic"     784 -> 10                  linear.weight [10, 784], linear.bias [10]
//                 "hidden"       784 -> 32 -> 10            layer1.weight [32, 784], layer1.bias, layer2.weight [10, 32], ...
//                 "hidden-relu"  784 -> 32 -> ReLU -> 10    same names as "hidden"
//   conv presets  "lenet5", "cnn", "cnn-bn", "cnn-dropout" (conv_preset_spec gives each one's spec)
//   tokens        784 or 1x28x28   the input: features, or channels x height x width (only first; a spec that
//                                  starts with a conv or pool token takes 1x28x28)
//                 N                Linear to N features (needs a flat input: after 'flatten' or a flat input)
//                 relu             ReLU
//                 conv<O>k<K>[s<S>][p<P>]  Conv2d to O channels, kernel K, stride S (1), padding P (0): conv32k3p1
//                 maxpool<K>[s<S>], avgpool<K>[s<S>]  MaxPool2d / AvgPool2d of window K, stride S (K)
//                 bn               BatchNorm2d over the channels
//                 dropout<P>       Dropout with probability P in [0, 1): dropout0.25
//                 flatten          Flatten [C, H, W] to C·H·W features
//   A spec of widths and relu only (an MLP) names its Linear layers layer1 .. layerK and each ReLU "relu"; any
//   other spec names its layers as the conv presets do: conv1.., bn1.., relu1.., pool1.. (max and avg),
//   dropout1.., flatten, fc1... A ReLU may not follow the input nor end the model; sizes are checked layer by layer
//   (a kernel larger than its padded input, zero sizes, a width after a [C, H, W] shape without 'flatten'); bad
//   specs throw UsageError naming the layer and how to fix it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mnist/tensor.hpp"

namespace mnist {

/// One layer of a Sequential model: what it computes and its sizes.
struct LayerSpec {
  /// What the layer computes (the torch.nn module of the same name).
  enum class Kind {
    Linear,       ///< y = x W^T + b, with weight W [out, in] and bias b [out]
    ReLU,         ///< y = max(x, 0), elementwise; no parameters
    Conv2d,       ///< weight [O, C, K, K], bias [O]; zero padding, groups 1, dilation 1
    MaxPool2d,    ///< max over K x K windows moved by stride; gradient to the first maximum
    AvgPool2d,    ///< mean over K x K windows moved by stride
    BatchNorm2d,  ///< per channel: weight, bias; buffers running_mean, running_var, num_batches_tracked
    Dropout,      ///< training: zero with probability p, scale the rest by 1/(1-p); eval: identity
    Flatten       ///< [C, H, W] -> [C·H·W]; no computation
  };
  Kind kind = Kind::Linear;  ///< which layer
  std::size_t in = 0;        ///< input features per sample (numel(in_shape)); Linear: in features
  std::size_t out = 0;       ///< output features per sample (numel(out_shape)); Linear: out features
  std::string name;          ///< PyTorch module name ("linear", "layer1", "conv1", "bn2", "fc1", ...)
  Shape in_shape;            ///< one sample's input: [C, H, W] or [features]
  Shape out_shape;           ///< one sample's output
  std::size_t kernel = 0;    ///< Conv2d, pools: window size K
  std::size_t stride = 1;    ///< Conv2d, pools: step
  std::size_t padding = 0;   ///< Conv2d: zeros added on each side
  float p = 0.0f;            ///< Dropout: probability of zeroing
};

/// One entry of a model's state dict: a parameter or a buffer, as PyTorch names and shapes it.
struct StateEntry {
  std::string name;       ///< "conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", ...
  Shape shape;            ///< PyTorch's shape ({} for num_batches_tracked)
  bool parameter = true;  ///< a trained parameter (in parameters()), else a buffer
  bool int64 = false;     ///< an int64 buffer (num_batches_tracked), else float32
};

/// A named buffer of a model (not trained by the optimizer): BatchNorm's running statistics and batch count.
struct NamedBuffer {
  std::string name;                ///< "bn1.running_mean", "bn1.num_batches_tracked", ...
  Shape shape;                     ///< [C] for the statistics, {} for the count
  std::span<float> value;          ///< float buffers: the elements; empty for the count
  std::span<std::int64_t> count;   ///< the count (one element); empty for float buffers
};

/// A named view of part of the flat parameter (or gradient) buffer: "layer1.weight" [32, 784].
struct NamedParameter {
  std::string name;        ///< PyTorch state-dict key, e.g. "layer1.weight"
  Shape shape;             ///< [out, in] for a weight, [out] for a bias
  std::size_t offset = 0;  ///< first element in parameters() / gradients()
  std::span<float> value;  ///< the parameter's elements inside the model's flat buffer (row-major)
  std::span<float> grad;   ///< its gradient, the matching slice of gradients()
};

namespace nn {
class Layer;  // the layer interface (src/nn/layer.hpp): forward, backward, parameters and buffers of one layer
}

/// A feed-forward network: the tutorial's three models, any MLP, the conv presets, any net of the layers above.
/// Copyable (a copy owns its own parameters and buffers). Not thread-safe: forward/backward use internal buffers.
class Model {
 public:
  /// An empty model (no layers, no parameters), to be assigned from a built one.
  Model();
  /// Layers in order (their shapes checked as parse_model_spec leaves them); parameters get PyTorch's default init:
  /// Linear and Conv2d weight and bias uniform in ±1/sqrt(fan_in) (kaiming_uniform(a=sqrt(5)) for the weight),
  /// drawn from a std::mt19937_64 seeded with seed, layer by layer, weight before bias; BatchNorm2d weight 1, bias
  /// 0, running_mean 0, running_var 1. seed also seeds Dropout's masks.
  Model(std::vector<LayerSpec> layers, std::uint64_t seed, std::string spec = "");
  /// A copy with its own parameters, gradients and buffers (the layers' workspaces are not copied).
  Model(const Model& other);
  /// Takes other's layers and storage; other is left empty.
  Model(Model&& other) noexcept;
  /// Replaces this model with a copy of other.
  Model& operator=(const Model& other);
  /// Replaces this model with other's layers and storage.
  Model& operator=(Model&& other) noexcept;
  ~Model();

  /// The layers in order, as built.
  const std::vector<LayerSpec>& layers() const { return layers_; }
  /// The spec the model was built from ("hidden-relu", "cnn", "784-128-relu-10", ...), for checkpoints and display.
  const std::string& spec() const { return spec_; }
  /// Input width: values per sample (784 for 28x28 images); 0 for an empty model.
  std::size_t input_size() const;
  /// One sample's input shape: [C, H, W] for a conv net, [features] for an MLP; empty for an empty model.
  Shape input_shape() const;
  /// Output width: the last layer's out features (number of logits per sample); 0 for an empty model.
  std::size_t num_classes() const;
  /// Multiply-adds of one training step (forward and backward) on N samples, as the layers run it (an MLP's two
  /// layers merged, for instance): what fit() sizes a step's threads by (kernels::threads_for_work).
  std::size_t step_multiply_adds(std::size_t N) const;

  /// All parameters, flat, in named_parameters() order; the gradients mirror them element for element.
  std::span<float> parameters() { return params_; }
  /// All parameters, flat and read-only.
  std::span<const float> parameters() const { return params_; }
  /// All gradients, flat, the same length and order as parameters(); backward() accumulates into them.
  std::span<float> gradients() { return grads_; }
  /// All gradients, flat and read-only.
  std::span<const float> gradients() const { return grads_; }
  /// Views of each tensor ("layer1.weight", "layer1.bias", ...), in PyTorch's state-dict order.
  std::vector<NamedParameter> named_parameters();
  /// Names and shapes only.
  std::vector<std::pair<std::string, Shape>> parameter_shapes() const;
  /// The float buffers, flat (BatchNorm's running statistics, in named_buffers() order; empty for most models).
  std::span<float> buffers() { return buffers_; }
  /// The float buffers, read-only.
  std::span<const float> buffers() const { return buffers_; }
  /// BatchNorm's running_mean, running_var and num_batches_tracked, per layer, in state-dict order.
  std::vector<NamedBuffer> named_buffers();
  /// Every state-dict entry (parameters and buffers), in PyTorch's order.
  std::vector<StateEntry> state_entries() const;
  /// Sets every gradient to 0 (before a backward whose result should not add to the previous one).
  void zero_grad();

  /// Training mode (the default): BatchNorm normalises with the batch's statistics and updates its running ones,
  /// Dropout drops. train(false) is eval().
  void train(bool on = true) { training_ = on; }
  /// Eval mode: BatchNorm uses its running statistics, Dropout is the identity (validation, test, predict).
  void eval() { training_ = false; }
  /// True in training mode.
  bool training() const { return training_; }
  /// Dropout's random state: the seed and the number of training forwards so far (a mask depends on both and on
  /// the layer alone, never on threads); saved with a resume state so a continued run draws the same masks.
  std::uint64_t dropout_seed() const { return seed_; }
  /// Training forwards so far (Dropout's step counter).
  std::uint64_t dropout_steps() const { return forward_steps_; }
  /// Restores Dropout's random state (from a resume state): the seed and the step counter.
  void set_dropout_state(std::uint64_t seed, std::uint64_t steps) {
    seed_ = seed;
    forward_steps_ = steps;
  }

  /// Data-parallel training: each process forwards a share of the batch. A layer that needs the whole batch's
  /// statistics (BatchNorm2d in training mode, as PyTorch's SyncBatchNorm) sums its per-channel partial sums over
  /// the processes with `sum` (an in-place allreduce; every process calls it in the same order, so every process
  /// must run forward and backward each step, an empty share N = 0 included). Unset (the default, or an empty
  /// function), BatchNorm2d normalises a share with the share's own statistics. A moved model keeps it; a copy
  /// does not (it would join the ranks' collectives uninvited).
  void set_cross_process_sum(std::function<void(std::span<double>)> sum) { cross_process_sum_ = std::move(sum); }
  /// The function set_cross_process_sum set (empty by default). A training forward's BatchNorm layers keep their
  /// own copy for the backward that follows.
  const std::function<void(std::span<double>)>& cross_process_sum() const { return cross_process_sum_; }

  /// logits[N, classes] of x[N, input_size] (a sample's values row-major over input_shape()). The returned span
  /// is valid until the next forward; x must stay alive and unchanged until backward (layers keep what their
  /// backward needs). Buffers grow to the largest N seen and are reused. first_sample: the index of x's first sample
  /// in the step's whole batch when x is a share of it (a data-parallel rank's), so that Dropout gives these samples
  /// the masks the whole batch would give them.
  std::span<const float> forward(std::span<const float> x, std::size_t N, std::size_t first_sample = 0);
  /// Rows per infer() call when predicting or evaluating: 512 for an MLP (whose buffers are small), 128 for a conv
  /// net (infer() splits them further).
  std::size_t inference_chunk() const;
  /// Logits [N, classes] of x[N, input_size] in eval mode (the mode is restored after), for predicting and
  /// evaluating: a conv net's layers before its first Linear run on pieces of 16 images (their activations stay in
  /// cache from one layer to the next), its Linear layers on all N rows at once (over 16 rows, the first Linear's
  /// product spent as long packing its weight as multiplying). The same logits as forward() in eval mode; valid
  /// until the next forward or infer; no backward may follow.
  std::span<const float> infer(std::span<const float> x, std::size_t N);
  /// Accumulates (+=) the gradient of the loss into gradients(), given dlogits[N, classes] for the last forward.
  void backward(std::span<const float> dlogits);

  /// The outputs of the first `count` layers for x[N, input_size], in eval mode (the mode is restored after): one
  /// Tensor [N, out_shape...] per layer, to look at what a conv net's first layers compute (feature maps). The
  /// layers must be conv-side ones (no Linear among them: Linear runs compute as one fused block); throws Error
  /// otherwise, or when count exceeds the number of layers.
  std::vector<Tensor> layer_outputs(std::span<const float> x, std::size_t N, std::size_t count);

  /// Softmax probabilities [N, classes] (rows sum to 1), computed in chunks, in eval mode.
  Tensor predict_proba(std::span<const float> x, std::size_t N);
  /// Most probable class of each row (the argmax of the logits), in eval mode.
  std::vector<std::int32_t> predict(std::span<const float> x, std::size_t N);

 private:
  std::vector<LayerSpec> layers_;
  std::string spec_;
  std::vector<float> params_, grads_, buffers_;
  std::vector<std::int64_t> counts_;  // BatchNorm's num_batches_tracked, one per BatchNorm2d layer
  // The layers that run: each Linear/ReLU run starting with a Linear is one block (its fast paths, merged layers
  // and fused ReLUs need the whole run); every other layer is a block of its own. They view the flat buffers.
  std::vector<std::unique_ptr<nn::Layer>> blocks_;
  std::size_t head_block_ = 0;   // blocks_[head_block_] runs the first Linear (0: an MLP)
  std::vector<float> features_;  // infer(): the inputs of that block, gathered from the pieces before it
  std::size_t batch_ = 0;
  bool training_ = true;
  std::uint64_t seed_ = 0, forward_steps_ = 0;
  bool forwarded_ = false;  // a training or evaluation forward ran (backward needs one), even of N = 0 rows
  std::function<void(std::span<double>)> cross_process_sum_;
  void build_blocks();
  bool has_conv() const;  // a Conv2d among the layers: infer() runs the layers before the head in pieces
};

/// Threads used by training and inference (forward, backward, batch assembly, optimizer step); default 1.
/// Work is always cut into the same fixed chunks, so results are bit-identical for any thread count: threads
/// change only the speed. Workers are started once and reused. Do not call while another thread trains.
void set_num_threads(int threads);
/// The thread count in force: the last set_num_threads value, 1 before any call.
int num_threads();

/// Builds a preset or any spec (see the top of this header); throws UsageError for a bad spec.
Model make_model(const std::string& spec, std::uint64_t seed = 0);
/// Parses a spec into layers, shapes checked, without building the model (throws UsageError naming the problem).
std::vector<LayerSpec> parse_model_spec(const std::string& spec);
/// The parameters a model of these layers has, named and shaped as Model::parameter_shapes() lists them, without
/// allocating the model (to check a file against a spec before building it).
std::vector<std::pair<std::string, Shape>> parameter_shapes(const std::vector<LayerSpec>& layers);
/// Every state-dict entry of a model of these layers (parameters and buffers), in PyTorch's order.
std::vector<StateEntry> state_entries(const std::vector<LayerSpec>& layers);
/// "logistic", "hidden", "hidden-relu", "lenet5", "cnn", "cnn-bn", "cnn-dropout".
std::vector<std::string> model_presets();
/// The spec a conv preset stands for ("cnn" -> "1x28x28-conv32k3p1-relu-maxpool2-..."); "" for other names.
std::string conv_preset_spec(const std::string& name);
/// A layer as PyTorch prints it: "Conv2d(1, 32, kernel_size=3, stride=1, padding=1)", "Linear(784, 32)", ...
std::string describe_layer(const LayerSpec& layer);

}  // namespace mnist
