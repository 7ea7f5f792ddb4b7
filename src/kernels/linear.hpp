// Fully connected layer kernels: y = x · Wᵀ + b over row-major spans, through CBLAS sgemm.
//
// Large products are cut into a FIXED number of chunks that depends on the shapes only (rows of the batch for
// the forward and dinp, columns of W for dweight) and handed to the thread pool (kernels/parallel.hpp): every
// output element is computed by the same float operations whatever the thread count.
#pragma once
#include <cstddef>
#include <span>

namespace mnist::kernels {

/// out[N, D_out] = inp[N, D_in] · weight[D_out, D_in]ᵀ + bias[D_out]   (overwrites out)
void linear_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                    std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out);

/// out[N, D_out] = max(inp · weightᵀ + bias, 0): Linear followed by ReLU, the bias and the ReLU applied while
/// the product's rows are still in cache.
void linear_relu_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                         std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out);

/// Given dout[N, D_out] (gradient of the loss w.r.t. out):
///   dweight[D_out, D_in] += doutᵀ · inp      (accumulates, like PyTorch's .grad)
///   dbias[D_out]         += column sums of dout (accumulates)
///   dinp[N, D_in]         = dout · weight    (overwrites; skipped when dinp is empty, e.g. for the first layer)
void linear_backward(std::span<float> dinp, std::span<float> dweight, std::span<float> dbias,
                     std::span<const float> dout, std::span<const float> inp, std::span<const float> weight,
                     std::size_t N, std::size_t D_in, std::size_t D_out);

/// Rows [r0, r1) of linear_forward (relu: of linear_relu_forward), on the calling thread: for a caller that runs
/// row ranges of every layer in one parallel region.
void linear_forward_rows(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                         std::span<const float> bias, std::size_t r0, std::size_t r1, std::size_t D_in,
                         std::size_t D_out, bool relu);

/// Chunk c of linear_backward's weight gradient (dweight's columns of range c of `chunks`, product_chunks(N, D_in,
/// D_out) there; and dbias when c == 0), on the calling thread.
void linear_backward_weight_chunk(std::span<float> dweight, std::span<float> dbias, std::span<const float> dout,
                                  std::span<const float> inp, std::size_t N, std::size_t D_in, std::size_t D_out,
                                  std::size_t c, std::size_t chunks);

/// dbias[D_out] += column sums of dout[N, D_out], row by row in order (the bias gradient of any linear layer).
/// Rows are `stride` floats apart (0: D_out; the padded layouts of weight_t.hpp have wider rows).
void add_column_sums(std::span<float> dbias, std::span<const float> dout, std::size_t N, std::size_t D_out,
                     std::size_t stride = 0);

/// dinp[N, D_in] = dout[N, D_out] · weight[D_out, D_in]   (overwrites): the input gradient alone.
void linear_backward_input(std::span<float> dinp, std::span<const float> dout, std::span<const float> weight,
                           std::size_t N, std::size_t D_in, std::size_t D_out);

/// Keeps OpenBLAS on one thread per call: results must not depend on the thread count, and our own pool
/// (kernels/parallel.hpp) splits the work. Called once by every model; cheap to call again.
void use_single_threaded_blas();

}  // namespace mnist::kernels
