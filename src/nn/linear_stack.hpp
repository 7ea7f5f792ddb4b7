// A run of Linear and ReLU layers starting with a Linear (an MLP, or a conv net's classifier head) as one layer,
// because its fast paths need the whole run: each Linear chooses its kernels per forward (BLAS, the pair kernels
// for sparse pixels, the tiled dense ones, the dot ones for few outputs), a ReLU fuses into the product before it,
// all layers run in one parallel region per direction (row ranges forward and back, then every weight gradient in
// column chunks), and two Linear layers with nothing between them run as one merged linear map when that is cheaper.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nn/layer.hpp"

namespace mnist::nn {

class LinearStack final : public Layer {
 public:
  /// layers: the run (Linear first); params/grads: its slice of the model's flat buffers, weight then bias per
  /// Linear layer. first: the model's first layer (its input gradient is never asked for, so it may merge).
  LinearStack(std::vector<LayerSpec> layers, std::span<float> params, std::span<float> grads, bool first);
  std::span<const float> forward(std::span<const float> x, std::size_t N, const ForwardContext& ctx) override;
  std::span<const float> backward(std::span<const float> dy, bool need_dx) override;
  std::size_t step_multiply_adds(std::size_t N, bool need_dx) const override;

 private:
  std::vector<LayerSpec> layers_;
  std::vector<std::size_t> offsets_;  // per layer: offset of its weight in params_ (Linear only)
  std::span<float> params_, grads_;
  // Forward/backward workspace: acts_[l] is layer l's output [N, out]; deltas_[l] the loss's gradient with respect
  // to it (for every layer but the last, whose gradient backward() is given); dx_ the input's gradient [N, in].
  std::vector<std::vector<float>> acts_, deltas_;
  std::vector<float> dx_;
  const float* input_ = nullptr;
  std::size_t batch_ = 0;
  bool need_dx_ = false;
  // Per layer, the kernels its product runs on, chosen per forward (see choose_path): BLAS, the pair kernels
  // (src/kernels/sparse_linear.hpp), the tiled dense ones (src/kernels/tiled_linear.hpp) or, for few outputs, the
  // dot ones (src/kernels/dot_linear.hpp, on the weight as it is); and the transposed paths' workspace: the weight
  // transposed [in, out padded to 8] and its gradient in that layout, partial sums, and for the pair kernels each
  // pair of input rows' listed columns and a row of zeros. The spans are the storage's cache-aligned parts for the
  // current batch, set before any parallel region uses them.
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
  bool merges(std::size_t N) const;
  void forward_merged();
  void backward_merged(std::span<const float> dlogits);
  Path choose_path(std::size_t layer, std::span<const float> inp) const;
  bool fuses_relu(std::size_t layer) const;
  void prepare(std::span<const float> x, std::size_t N);
  void forward_rows(std::size_t r0, std::size_t r1);
  void backward_rows(std::span<const float> dlogits, std::size_t r0, std::size_t r1);
  void weight_gradient(std::span<const float> dlogits, const Task& task);
  std::span<const float> layer_input(std::size_t layer) const;
  // Linear layer `layer`'s weight [out, in] and bias [out] inside a buffer laid out as params_ or grads_.
  template <class T>
  std::span<T> weight_of(std::span<T> flat, std::size_t layer) const;
  template <class T>
  std::span<T> bias_of(std::span<T> flat, std::size_t layer) const;
  std::span<const float> layer_dout(std::span<const float> dlogits, std::size_t layer) const;
};

}  // namespace mnist::nn
