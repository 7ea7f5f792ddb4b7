// Fully connected layer kernels: y = x · Wᵀ + b over row-major spans, through CBLAS sgemm.
#pragma once
#include <cstddef>
#include <span>

namespace mnist::kernels {

/// out[N, D_out] = inp[N, D_in] · weight[D_out, D_in]ᵀ + bias[D_out]   (overwrites out)
void linear_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                    std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out);

/// Given dout[N, D_out] (gradient of the loss w.r.t. out):
///   dweight[D_out, D_in] += doutᵀ · inp      (accumulates, like PyTorch's .grad)
///   dbias[D_out]         += column sums of dout (accumulates)
///   dinp[N, D_in]         = dout · weight    (overwrites; skipped when dinp is empty, e.g. for the first layer)
void linear_backward(std::span<float> dinp, std::span<float> dweight, std::span<float> dbias,
                     std::span<const float> dout, std::span<const float> inp, std::span<const float> weight,
                     std::size_t N, std::size_t D_in, std::size_t D_out);

/// Keeps OpenBLAS on one thread: results must not depend on the thread count, and the training loop's GEMMs are
/// too small for OpenBLAS's own threading to pay. Called once by every model; cheap to call again.
void use_single_threaded_blas();

}  // namespace mnist::kernels
