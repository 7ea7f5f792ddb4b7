#include "kernels/linear.hpp"

#include <cblas.h>

#include <algorithm>

#include "kernels/parallel.hpp"

namespace mnist::kernels {

namespace {
int i(std::size_t n) { return static_cast<int>(n); }

// out rows [r0, r1) = inp rows · weightᵀ + bias, then optionally ReLU, one row at a time while it is in cache.
void forward_rows(float* out, const float* inp, const float* weight, const float* bias, std::size_t r0,
                  std::size_t r1, std::size_t D_in, std::size_t D_out, bool relu) {
  if (r1 <= r0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i(r1 - r0), i(D_out), i(D_in), 1.0f, inp + r0 * D_in,
              i(D_in), weight, i(D_in), 0.0f, out + r0 * D_out, i(D_out));
  for (std::size_t n = r0; n < r1; ++n) {
    float* row = out + n * D_out;
    if (relu) {
      for (std::size_t o = 0; o < D_out; ++o) {
        const float v = row[o] + bias[o];
        row[o] = v > 0.0f ? v : 0.0f;
      }
    } else {
      for (std::size_t o = 0; o < D_out; ++o) row[o] += bias[o];
    }
  }
}

void forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
             std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out, bool relu) {
  if (N == 0) return;
  const std::size_t chunks = product_chunks(N, D_in, D_out);
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(N, chunks, c, 8);
    forward_rows(out.data(), inp.data(), weight.data(), bias.data(), r.begin, r.end, D_in, D_out, relu);
  };
  parallel_for_chunks(chunks, chunk);
}
}  // namespace

void linear_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                    std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out) {
  forward(out, inp, weight, bias, N, D_in, D_out, false);
}

void linear_relu_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                         std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out) {
  forward(out, inp, weight, bias, N, D_in, D_out, true);
}

void linear_backward(std::span<float> dinp, std::span<float> dweight, std::span<float> dbias,
                     std::span<const float> dout, std::span<const float> inp, std::span<const float> weight,
                     std::size_t N, std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  const std::size_t chunks = product_chunks(N, D_in, D_out);
  // Chunk c: dweight's columns c (no reduction across chunks: each column sums over all N rows), dinp's rows c,
  // and (chunk 0) dbias, so every output element has exactly one writer.
  auto chunk = [&](std::size_t c) {
    const Range cols = chunk_range(D_in, chunks, c, 16);
    if (cols.end > cols.begin)
      // dweight[D_out, cols] += dout[N, D_out]ᵀ · inp[N, cols]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i(D_out), i(cols.end - cols.begin), i(N), 1.0f,
                  dout.data(), i(D_out), inp.data() + cols.begin, i(D_in), 1.0f, dweight.data() + cols.begin,
                  i(D_in));
    if (c == 0) add_column_sums(dbias, dout, N, D_out);
    const Range rows = chunk_range(N, chunks, c, 8);
    if (!dinp.empty() && rows.end > rows.begin)
      // dinp[rows, D_in] = dout[rows, D_out] · weight[D_out, D_in]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i(rows.end - rows.begin), i(D_in), i(D_out), 1.0f,
                  dout.data() + rows.begin * D_out, i(D_out), weight.data(), i(D_in), 0.0f,
                  dinp.data() + rows.begin * D_in, i(D_in));
  };
  parallel_for_chunks(chunks, chunk);
}

void add_column_sums(std::span<float> dbias, std::span<const float> dout, std::size_t N, std::size_t D_out) {
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < D_out; ++o) dbias[o] += dout[n * D_out + o];
}

void linear_backward_input(std::span<float> dinp, std::span<const float> dout, std::span<const float> weight,
                           std::size_t N, std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i(N), i(D_in), i(D_out), 1.0f, dout.data(), i(D_out),
              weight.data(), i(D_in), 0.0f, dinp.data(), i(D_in));
}

void use_single_threaded_blas() { openblas_set_num_threads(1); }

}  // namespace mnist::kernels
