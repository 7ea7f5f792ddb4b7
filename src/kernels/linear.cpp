#include "kernels/linear.hpp"

#include <cblas.h>

#include <algorithm>

namespace mnist::kernels {

namespace {
int i(std::size_t n) { return static_cast<int>(n); }
}  // namespace

void linear_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                    std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  // Seed each row with the bias, then accumulate the product on top (beta = 1): one pass over out.
  for (std::size_t n = 0; n < N; ++n) std::copy(bias.begin(), bias.begin() + D_out, out.begin() + n * D_out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i(N), i(D_out), i(D_in), 1.0f, inp.data(), i(D_in),
              weight.data(), i(D_in), 1.0f, out.data(), i(D_out));
}

void linear_backward(std::span<float> dinp, std::span<float> dweight, std::span<float> dbias,
                     std::span<const float> dout, std::span<const float> inp, std::span<const float> weight,
                     std::size_t N, std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  // dweight[D_out, D_in] += dout[N, D_out]ᵀ · inp[N, D_in]
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i(D_out), i(D_in), i(N), 1.0f, dout.data(), i(D_out),
              inp.data(), i(D_in), 1.0f, dweight.data(), i(D_in));
  // dbias[D_out] += sum over rows of dout
  for (std::size_t n = 0; n < N; ++n) {
    const float* row = dout.data() + n * D_out;
    for (std::size_t o = 0; o < D_out; ++o) dbias[o] += row[o];
  }
  // dinp[N, D_in] = dout[N, D_out] · weight[D_out, D_in]
  if (!dinp.empty())
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i(N), i(D_in), i(D_out), 1.0f, dout.data(), i(D_out),
                weight.data(), i(D_in), 0.0f, dinp.data(), i(D_in));
}

void use_single_threaded_blas() { openblas_set_num_threads(1); }

}  // namespace mnist::kernels
