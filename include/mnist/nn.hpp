// Models: a Sequential stack of Linear and ReLU layers whose parameters live in ONE flat float buffer (gradients
// in a mirrored one), named as PyTorch names them, so that optimizers run one loop and checkpoints map 1:1 to
// PyTorch's state dicts.
//
// Model specs (make_model):
//   presets   "logistic"     784 -> 10                  parameters linear.weight [10, 784], linear.bias [10]
//             "hidden"       784 -> 32 -> 10            layer1.weight [32, 784], layer1.bias, layer2.weight [10, 32], layer2.bias
//             "hidden-relu"  784 -> 32 -> ReLU -> 10    same names as "hidden"
//   any MLP   widths joined by '-', input first, classes last, "relu" after a width to put a ReLU after the
//             Linear layer ending there:  "784-10", "784-128-relu-64-relu-10", "784-32-10".
//             The Linear layers are named layer1 .. layerK. A ReLU may not follow the input or the output width,
//             nor another ReLU; widths are integers in 1 .. 1,000,000. Bad specs throw UsageError saying how to fix
//             them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mnist/tensor.hpp"

namespace mnist {

/// One layer of a Sequential model.
struct LayerSpec {
  /// What the layer computes.
  enum class Kind {
    Linear,  ///< y = x W^T + b, with weight W [out, in] and bias b [out] (torch.nn.Linear)
    ReLU     ///< y = max(x, 0), elementwise; no parameters
  };
  Kind kind = Kind::Linear;  ///< Linear or ReLU
  std::size_t in = 0;        ///< Linear: input features; ReLU: the width it acts on (== out)
  std::size_t out = 0;       ///< Linear: output features; ReLU: the width it acts on (== in)
  std::string name;          ///< Linear: PyTorch module name ("linear", "layer1", ...); ReLU: "relu"
};

/// A named view of part of the flat parameter (or gradient) buffer: "layer1.weight" [32, 784].
struct NamedParameter {
  std::string name;        ///< PyTorch state-dict key, e.g. "layer1.weight"
  Shape shape;             ///< [out, in] for a weight, [out] for a bias
  std::size_t offset = 0;  ///< first element in parameters() / gradients()
  std::span<float> value;  ///< the parameter's elements inside the model's flat buffer (row-major)
  std::span<float> grad;   ///< its gradient, the matching slice of gradients()
};

/// A feed-forward network of Linear and ReLU layers: the tutorial's three models and any MLP.
/// Copyable (a copy owns its own parameters). Not thread-safe: forward/backward use internal buffers.
class Model {
 public:
  /// An empty model (no layers, no parameters), to be assigned from a built one.
  Model() = default;
  /// Layers in order; Linear parameters get PyTorch's default init (weight and bias uniform in ±1/sqrt(in)),
  /// drawn from a std::mt19937_64 seeded with seed, layer by layer, weight before bias.
  Model(std::vector<LayerSpec> layers, std::uint64_t seed, std::string spec = "");

  /// The layers in order, Linear and ReLU, as built.
  const std::vector<LayerSpec>& layers() const { return layers_; }
  /// The spec the model was built from ("hidden-relu", "784-128-relu-10", ...), for checkpoints and display.
  const std::string& spec() const { return spec_; }
  /// Input width: the first layer's in features (784 for 28x28 images); 0 for an empty model.
  std::size_t input_size() const;
  /// Output width: the last layer's out features (number of logits per sample); 0 for an empty model.
  std::size_t num_classes() const;

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
  /// Sets every gradient to 0 (before a backward whose result should not add to the previous one).
  void zero_grad();

  /// logits[N, classes] of x[N, input_size]. The returned span is valid until the next forward; x must stay
  /// alive and unchanged until backward (its activations are kept for it). Buffers grow to the largest N seen
  /// and are reused: no allocation for batches no larger than before.
  std::span<const float> forward(std::span<const float> x, std::size_t N);
  /// Accumulates (+=) the gradient of the loss into gradients(), given dlogits[N, classes] for the last forward.
  void backward(std::span<const float> dlogits);

  /// Softmax probabilities [N, classes] (rows sum to 1), computed in chunks.
  Tensor predict_proba(std::span<const float> x, std::size_t N);
  /// Most probable class of each row (the argmax of the logits).
  std::vector<std::int32_t> predict(std::span<const float> x, std::size_t N);

 private:
  std::vector<LayerSpec> layers_;
  std::vector<std::size_t> offsets_;  // per layer: offset of its weight in params_ (Linear only)
  std::string spec_;
  std::vector<float> params_, grads_;
  // Forward/backward workspace: acts_[l] is layer l's output [N, out]; deltas_[l] the loss's gradient with respect
  // to it (for every layer but the last, whose gradient backward() is given).
  std::vector<std::vector<float>> acts_, deltas_;
  const float* input_ = nullptr;
  std::size_t batch_ = 0;
  // Per layer, the kernels its product runs on, chosen per forward (see choose_path in model.cpp): BLAS, the pair
  // kernels (src/kernels/sparse_linear.hpp), the tiled dense ones (src/kernels/tiled_linear.hpp) or, for few
  // outputs, the dot ones (src/kernels/dot_linear.hpp, on the weight as it is); and the transposed paths'
  // workspace: the weight transposed [in, out padded to 8] and its gradient in that layout, partial sums, and for
  // the pair kernels each pair of input rows' listed columns and a row of zeros. The spans are the storage's
  // cache-aligned parts for the current batch, set before any parallel region uses them.
  enum class Path { Blas, Pairs, Tiled, Dot };
  struct Workspace {
    Path path = Path::Blas;
    std::vector<std::uint32_t> split, index;
    std::vector<float> scratch, zeros, weight_t, dweight_t;
    std::span<std::uint32_t> split_now, index_now;
    std::span<float> scratch_now, weight_t_now, dweight_t_now;
  };
  std::vector<Workspace> work_;
  // A parallel region's work items: chunk `chunk` of `chunks` of one layer's weight transpose or weight gradient.
  struct Task {
    std::size_t layer, chunk, chunks;
  };
  std::vector<Task> tasks_;
  std::size_t row_chunks_ = 1;  // the fixed row ranges of the last forward (and its backward)
  // Two Linear layers and nothing else compute one linear map (src/kernels/merged_linear.hpp): a forward runs them
  // as one when that is cheaper for its batch (merged_now_, for its backward too). Its workspace: the merged
  // weight [C, D] and bias [C], W2 transposed, the batch's gradient of the merged weight (g [C, D]) and bias
  // (s [C]), g W1ᵀ (t [C, H]) and H zeros.
  struct Merged {
    std::vector<float> weight, bias, w2t, g, s, t, zeros;
  };
  bool mergeable_ = false, merged_now_ = false;
  Merged merged_;
  void forward_merged();
  void backward_merged(std::span<const float> dlogits);
  Path choose_path(std::size_t layer, std::span<const float> inp) const;
  bool fuses_relu(std::size_t layer) const;
  void prepare(std::span<const float> x, std::size_t N);
  void forward_rows(std::size_t r0, std::size_t r1);
  void backward_rows(std::span<const float> dlogits, std::size_t r0, std::size_t r1);
  void weight_gradient(std::span<const float> dlogits, const Task& task);
  std::span<const float> layer_input(std::size_t layer) const;
  // Linear layer `layer`'s weight [out, in] and bias [out] inside a buffer laid out as parameters() or gradients().
  template <class T>
  std::span<T> weight_of(std::span<T> flat, std::size_t layer) const;
  template <class T>
  std::span<T> bias_of(std::span<T> flat, std::size_t layer) const;
  std::span<const float> layer_dout(std::span<const float> dlogits, std::size_t layer) const;
};

/// Threads used by training and inference (forward, backward, batch assembly, optimizer step); default 1.
/// Work is always cut into the same fixed chunks, so results are bit-identical for any thread count: threads
/// change only the speed. Workers are started once and reused. Do not call while another thread trains.
void set_num_threads(int threads);
/// The thread count in force: the last set_num_threads value, 1 before any call.
int num_threads();

/// Builds a preset or any MLP spec (see the top of this header); throws UsageError for a bad spec.
Model make_model(const std::string& spec, std::uint64_t seed = 0);
/// Parses a spec into layers without building the model (throws UsageError naming the problem).
std::vector<LayerSpec> parse_model_spec(const std::string& spec);
/// The parameters a model of these layers has, named and shaped as Model::parameter_shapes() lists them, without
/// allocating the model (to check a file against a spec before building it).
std::vector<std::pair<std::string, Shape>> parameter_shapes(const std::vector<LayerSpec>& layers);
/// "logistic", "hidden", "hidden-relu".
std::vector<std::string> model_presets();

}  // namespace mnist
