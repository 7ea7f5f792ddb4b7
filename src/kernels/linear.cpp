#include "kernels/linear.hpp"

#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu.hpp"
#include "kernels/parallel.hpp"

namespace mnist::kernels {

namespace {
int i(std::size_t n) { return static_cast<int>(n); }

void forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
             std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out, bool relu) {
  if (N == 0) return;
  const std::size_t chunks = product_chunks(N, D_in, D_out);
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(N, chunks, c, 8);
    linear_forward_rows(out, inp, weight, bias, r.begin, r.end, D_in, D_out, relu);
  };
  parallel_for_chunks(chunks, chunk);
}
}  // namespace

// Rows one at a time for the bias and ReLU, while the product's row is in cache.
void linear_forward_rows(std::span<float> out_, std::span<const float> inp, std::span<const float> weight,
                         std::span<const float> bias, std::size_t r0, std::size_t r1, std::size_t D_in,
                         std::size_t D_out, bool relu) {
  if (r1 <= r0) return;
  float* out = out_.data();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i(r1 - r0), i(D_out), i(D_in), 1.0f, inp.data() + r0 * D_in,
              i(D_in), weight.data(), i(D_in), 0.0f, out + r0 * D_out, i(D_out));
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

void linear_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                    std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out) {
  forward(out, inp, weight, bias, N, D_in, D_out, false);
}

void linear_relu_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                         std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out) {
  forward(out, inp, weight, bias, N, D_in, D_out, true);
}

void linear_backward_weight_chunk(std::span<float> dweight, std::span<float> dbias, std::span<const float> dout,
                                  std::span<const float> inp, std::size_t N, std::size_t D_in, std::size_t D_out,
                                  std::size_t c, std::size_t chunks) {
  const Range cols = chunk_range(D_in, chunks, c, 16);
  if (cols.end > cols.begin)
    // dweight[D_out, cols] += dout[N, D_out]ᵀ · inp[N, cols]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i(D_out), i(cols.end - cols.begin), i(N), 1.0f, dout.data(),
                i(D_out), inp.data() + cols.begin, i(D_in), 1.0f, dweight.data() + cols.begin, i(D_in));
  if (c == 0) add_column_sums(dbias, dout, N, D_out);
}

void linear_backward(std::span<float> dinp, std::span<float> dweight, std::span<float> dbias,
                     std::span<const float> dout, std::span<const float> inp, std::span<const float> weight,
                     std::size_t N, std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  const std::size_t chunks = product_chunks(N, D_in, D_out);
  // Chunk c: dweight's columns c (no reduction across chunks: each column sums over all N rows), dinp's rows c,
  // and (chunk 0) dbias, so every output element has exactly one writer.
  auto chunk = [&](std::size_t c) {
    linear_backward_weight_chunk(dweight, dbias, dout, inp, N, D_in, D_out, c, chunks);
    const Range rows = chunk_range(N, chunks, c, 8);
    if (!dinp.empty() && rows.end > rows.begin)
      linear_backward_input(dinp.subspan(rows.begin * D_in), dout.subspan(rows.begin * D_out), weight,
                            rows.end - rows.begin, D_in, D_out);
  };
  parallel_for_chunks(chunks, chunk);
}

void add_column_sums(std::span<float> dbias, std::span<const float> dout, std::size_t N, std::size_t D_out,
                     std::size_t stride) {
  if (stride == 0) stride = D_out;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < D_out; ++o) dbias[o] += dout[n * stride + o];
}

namespace {
// dinp rows = dout rows · weight for a small layer: each element one FMA chain over the outputs in order (the
// scalar and the AVX2 version compute the same chains). AVX2: 32 inputs at a time in four registers.
void backward_input_scalar(float* dinp, const float* dout, const float* weight, std::size_t N, std::size_t D_in,
                           std::size_t D_out, std::size_t k0) {
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = k0; k < D_in; ++k) {
      float d = dout[n * D_out] * weight[k];
      for (std::size_t o = 1; o < D_out; ++o) d = std::fma(dout[n * D_out + o], weight[o * D_in + k], d);
      dinp[n * D_in + k] = d;
    }
}
template <int V>
__attribute__((target("avx2,fma"))) void backward_input_block(float* dinp, const float* dout, const float* weight,
                                                              std::size_t D_in, std::size_t D_out) {
  __m256 d[V];
  const __m256 g0 = _mm256_broadcast_ss(dout);
  for (int v = 0; v < V; ++v) d[v] = _mm256_mul_ps(g0, _mm256_loadu_ps(weight + 8 * v));
  for (std::size_t o = 1; o < D_out; ++o) {
    const __m256 g = _mm256_broadcast_ss(dout + o);
    for (int v = 0; v < V; ++v) d[v] = _mm256_fmadd_ps(g, _mm256_loadu_ps(weight + o * D_in + 8 * v), d[v]);
  }
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(dinp + 8 * v, d[v]);
}
__attribute__((target("avx2,fma"))) void backward_input_avx2(float* dinp, const float* dout, const float* weight,
                                                             std::size_t N, std::size_t D_in, std::size_t D_out) {
  const std::size_t full = D_in / 8 * 8;
  for (std::size_t n = 0; n < N; ++n) {
    std::size_t k = 0;
    float* row = dinp + n * D_in;
    const float* g = dout + n * D_out;
    for (; k + 32 <= full; k += 32) backward_input_block<4>(row + k, g, weight + k, D_in, D_out);
    for (; k < full; k += 8) backward_input_block<1>(row + k, g, weight + k, D_in, D_out);
  }
  if (full < D_in) backward_input_scalar(dinp, dout, weight, N, D_in, D_out, full);
}
// Below this many weights an sgemm call costs more in set-up (packing, and OpenBLAS's buffer lock when two threads
// call it at once) than in arithmetic: a hidden layer's 32 <- 10.
constexpr std::size_t kSmallWeights = 4096;
}  // namespace

void linear_backward_input(std::span<float> dinp, std::span<const float> dout, std::span<const float> weight,
                           std::size_t N, std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  if (D_in * D_out <= kSmallWeights && D_out > 0) {
    if (kHaveAvx2) backward_input_avx2(dinp.data(), dout.data(), weight.data(), N, D_in, D_out);
    else backward_input_scalar(dinp.data(), dout.data(), weight.data(), N, D_in, D_out, 0);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i(N), i(D_in), i(D_out), 1.0f, dout.data(), i(D_out),
              weight.data(), i(D_in), 0.0f, dinp.data(), i(D_in));
}

void use_single_threaded_blas() { openblas_set_num_threads(1); }

}  // namespace mnist::kernels
