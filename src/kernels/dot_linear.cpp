#include "kernels/dot_linear.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"
#include "kernels/cpu.hpp"
#include "kernels/lanes.hpp"

namespace mnist::kernels {

namespace {

constexpr std::size_t kRows = 2;     // batch rows per forward tile
constexpr std::size_t kOutputs = 5;  // outputs per tile (forward and weight gradient): 2 x 5 = 10 accumulators
constexpr std::size_t kColumns = 16;  // input columns per weight-gradient tile: two vectors

// The epilogue of one output of one row: the leftover columns, the bias, the ReLU.
float finish(float lanes_sum, const float* x, const float* w, std::size_t full, std::size_t D_in, float bias,
             bool relu) {
  float s = lanes_sum;
  for (std::size_t k = full; k < D_in; ++k) s = std::fma(x[k], w[k], s);
  s += bias;
  return relu ? (s > 0.0f ? s : 0.0f) : s;
}

// R rows x O outputs: out[r, o] for rows x (D_in apart) and weight rows w (D_in apart).
template <int R, int O>
__attribute__((target("avx2,fma"))) void forward_tile_avx2(float* out, std::size_t D_out, const float* x,
                                                           const float* w, const float* bias, std::size_t D_in,
                                                           bool relu) {
  const std::size_t full = D_in / 8 * 8;
  __m256 acc[R][O];
  #pragma GCC unroll 5
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 5
    for (int o = 0; o < O; ++o) acc[r][o] = _mm256_setzero_ps();
  for (std::size_t k = 0; k < full; k += 8) {
    __m256 xv[R];
    #pragma GCC unroll 5
    for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(x + static_cast<std::size_t>(r) * D_in + k);
    #pragma GCC unroll 5
    for (int o = 0; o < O; ++o) {
      __m256 wv = _mm256_loadu_ps(w + static_cast<std::size_t>(o) * D_in + k);
      __asm__("" : "+x"(wv));  // in a register: folded into the R FMAs as a memory operand, it is loaded R times
      #pragma GCC unroll 5
      for (int r = 0; r < R; ++r) acc[r][o] = _mm256_fmadd_ps(xv[r], wv, acc[r][o]);
    }
  }
  #pragma GCC unroll 5
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 5
    for (int o = 0; o < O; ++o) {
      const std::size_t ru = static_cast<std::size_t>(r), ou = static_cast<std::size_t>(o);
      out[ru * D_out + ou] =
          finish(lanes_total_avx2(acc[r][o]), x + ru * D_in, w + ou * D_in, full, D_in, bias[o], relu);
    }
}

// The same sums one lane at a time.
void forward_tile_scalar(float* out, std::size_t D_out, std::size_t rows, std::size_t outputs, const float* x,
                         const float* w, const float* bias, std::size_t D_in, bool relu) {
  const std::size_t full = D_in / 8 * 8;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t o = 0; o < outputs; ++o) {
      const float* xr = x + r * D_in;
      const float* wo = w + o * D_in;
      float l[8] = {};
      for (std::size_t k = 0; k < full; ++k) l[k % 8] = std::fma(xr[k], wo[k], l[k % 8]);
      out[r * D_out + o] = finish(lanes_total(l), xr, wo, full, D_in, bias[o], relu);
    }
}

template <int R>
void forward_tile_rows(std::size_t outputs, float* out, std::size_t D_out, const float* x, const float* w,
                       const float* bias, std::size_t D_in, bool relu) {
  switch (outputs) {
    case 1: return forward_tile_avx2<R, 1>(out, D_out, x, w, bias, D_in, relu);
    case 2: return forward_tile_avx2<R, 2>(out, D_out, x, w, bias, D_in, relu);
    case 3: return forward_tile_avx2<R, 3>(out, D_out, x, w, bias, D_in, relu);
    case 4: return forward_tile_avx2<R, 4>(out, D_out, x, w, bias, D_in, relu);
    default: return forward_tile_avx2<R, kOutputs>(out, D_out, x, w, bias, D_in, relu);
  }
}

// O outputs x V vectors of input columns: dweight[o, k..] += Σ_n dout[n, o] · x[n, k..] (= when overwrite), over
// the rows in order.
template <int O, int V>
__attribute__((target("avx2,fma"))) void gradient_tile_avx2(float* dweight, std::size_t D_in, const float* dout,
                                                            std::size_t D_out, const float* x, std::size_t N,
                                                            bool overwrite) {
  __m256 acc[O][V];
  #pragma GCC unroll 5
  for (int o = 0; o < O; ++o)
    #pragma GCC unroll 5
    for (int v = 0; v < V; ++v) acc[o][v] = _mm256_setzero_ps();
  for (std::size_t n = 0; n < N; ++n) {
    __m256 xv[V];
    #pragma GCC unroll 5
    for (int v = 0; v < V; ++v) xv[v] = _mm256_loadu_ps(x + n * D_in + 8 * static_cast<std::size_t>(v));
    #pragma GCC unroll 5
    for (int o = 0; o < O; ++o) {
      const __m256 g = _mm256_broadcast_ss(dout + n * D_out + static_cast<std::size_t>(o));
      #pragma GCC unroll 5
      for (int v = 0; v < V; ++v) acc[o][v] = _mm256_fmadd_ps(g, xv[v], acc[o][v]);
    }
  }
  #pragma GCC unroll 5
  for (int o = 0; o < O; ++o)
    #pragma GCC unroll 5
    for (int v = 0; v < V; ++v) {
      float* d = dweight + static_cast<std::size_t>(o) * D_in + 8 * static_cast<std::size_t>(v);
      _mm256_storeu_ps(d, overwrite ? acc[o][v] : _mm256_add_ps(_mm256_loadu_ps(d), acc[o][v]));
    }
}

template <int V>
void gradient_tile_outputs(std::size_t outputs, float* dweight, std::size_t D_in, const float* dout,
                           std::size_t D_out, const float* x, std::size_t N, bool overwrite) {
  switch (outputs) {
    case 1: return gradient_tile_avx2<1, V>(dweight, D_in, dout, D_out, x, N, overwrite);
    case 2: return gradient_tile_avx2<2, V>(dweight, D_in, dout, D_out, x, N, overwrite);
    case 3: return gradient_tile_avx2<3, V>(dweight, D_in, dout, D_out, x, N, overwrite);
    case 4: return gradient_tile_avx2<4, V>(dweight, D_in, dout, D_out, x, N, overwrite);
    default: return gradient_tile_avx2<kOutputs, V>(dweight, D_in, dout, D_out, x, N, overwrite);
  }
}

// Columns [k0, k1) of every output, one chain per element, scalar: the tail of the vector path and the whole of
// the path without AVX2.
void gradient_columns_scalar(float* dweight, std::size_t D_in, const float* dout, std::size_t D_out, const float* x,
                             std::size_t N, std::size_t k0, std::size_t k1, bool overwrite) {
  for (std::size_t o = 0; o < D_out; ++o)
    for (std::size_t k = k0; k < k1; ++k) {
      float s = 0.0f;
      for (std::size_t n = 0; n < N; ++n) s = std::fma(dout[n * D_out + o], x[n * D_in + k], s);
      dweight[o * D_in + k] = overwrite ? s : dweight[o * D_in + k] + s;
    }
}

}  // namespace

void dot_linear_forward_rows(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                             std::span<const float> bias, std::size_t r0, std::size_t r1, std::size_t D_in,
                             std::size_t D_out, bool relu) {
  // Outputs outermost: a group's rows of the weight (5 x 784 floats) stay in L1 while every batch row uses them.
  for (std::size_t o = 0; o < D_out; o += kOutputs) {
    const std::size_t outputs = std::min(kOutputs, D_out - o);
    for (std::size_t r = r0; r < r1; r += kRows) {
      const std::size_t rows = std::min(kRows, r1 - r);
      float* dst = out.data() + r * D_out + o;
      const float* x = inp.data() + r * D_in;
      const float* w = weight.data() + o * D_in;
      if (!kHaveAvx2) forward_tile_scalar(dst, D_out, rows, outputs, x, w, bias.data() + o, D_in, relu);
      else if (rows == kRows) forward_tile_rows<kRows>(outputs, dst, D_out, x, w, bias.data() + o, D_in, relu);
      else forward_tile_rows<1>(outputs, dst, D_out, x, w, bias.data() + o, D_in, relu);
    }
  }
}

void dot_linear_forward(std::span<float> out, std::span<const float> inp, std::span<const float> weight,
                        std::span<const float> bias, std::size_t N, std::size_t D_in, std::size_t D_out, bool relu) {
  const std::size_t chunks = product_chunks(N, D_in, D_out);
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(N, chunks, c, kRows);
    dot_linear_forward_rows(out, inp, weight, bias, r.begin, r.end, D_in, D_out, relu);
  };
  parallel_for_chunks(chunks, chunk);
}

void dot_linear_backward_chunk(std::span<float> dweight, std::span<float> dbias, std::span<const float> dout,
                               std::span<const float> inp, std::size_t N, std::size_t D_in, std::size_t D_out,
                               std::size_t c, std::size_t chunks, Write write) {
  const bool overwrite = write == Write::Overwrite;
  const Range cols = chunk_range(D_in, chunks, c, kColumns);
  const std::size_t vector_end = kHaveAvx2 ? cols.begin + (cols.end - cols.begin) / 8 * 8 : cols.begin;
  // Column blocks outermost: a block's strip of the batch (N x 16 floats) stays in L1 for every output group.
  for (std::size_t k = cols.begin; k < vector_end;) {
    const bool two = vector_end - k >= kColumns;
    for (std::size_t o = 0; o < D_out; o += kOutputs) {
      const std::size_t outputs = std::min(kOutputs, D_out - o);
      float* dw = dweight.data() + o * D_in + k;
      const float* g = dout.data() + o;
      if (two) gradient_tile_outputs<2>(outputs, dw, D_in, g, D_out, inp.data() + k, N, overwrite);
      else gradient_tile_outputs<1>(outputs, dw, D_in, g, D_out, inp.data() + k, N, overwrite);
    }
    k += two ? kColumns : 8;
  }
  gradient_columns_scalar(dweight.data(), D_in, dout.data(), D_out, inp.data(), N, vector_end, cols.end, overwrite);
  if (c != 0 || dbias.empty()) return;
  if (overwrite) std::fill(dbias.begin(), dbias.begin() + static_cast<std::ptrdiff_t>(D_out), 0.0f);
  add_column_sums(dbias, dout, N, D_out);
}

void dot_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<const float> dout,
                         std::span<const float> inp, std::size_t N, std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  const std::size_t chunks = column_chunks(N, D_in, D_out);
  auto chunk = [&](std::size_t c) {
    dot_linear_backward_chunk(dweight, dbias, dout, inp, N, D_in, D_out, c, chunks);
  };
  parallel_for_chunks(chunks, chunk);
}

}  // namespace mnist::kernels
