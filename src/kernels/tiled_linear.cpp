#include "kernels/tiled_linear.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"

namespace mnist::kernels {

namespace {

constexpr std::size_t kTile = 6;    // batch rows (forward) or input columns (weight gradient) per register tile
constexpr std::size_t kBlock = 16;  // outputs per register tile: two AVX vectors

// acc rows r < R (P apart), vectors v < V: acc[r][v] (= 0 first when `fresh`) += Σ_{i < count}
// x[r * x_stride + i * x_step] · wt[i * wt_stride + 8v], continuing the chains stored in acc. The forward
// (x = batch rows, wt = weight_t) and the weight gradient (x = batch columns read down the rows, wt = dout) are
// both this loop.
// Adjacent: the tile's rows are adjacent floats of x (x_stride 1: the weight gradient's input columns), else its
// steps are (x_step 1: the forward's columns); a compile-time stride keeps the inner loop's addressing simple.
template <int R, int V, bool Adjacent>
__attribute__((target("avx2,fma"))) void tile_avx2(float* acc, std::size_t P, bool fresh, const float* x,
                                                   std::size_t x_stride_, std::size_t x_step_, const float* wt,
                                                   std::size_t wt_stride, std::size_t count) {
  const std::size_t x_stride = Adjacent ? 1 : x_stride_, x_step = Adjacent ? x_step_ : 1;
  __m256 sum[R][V];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v)
      sum[r][v] = fresh ? _mm256_setzero_ps() : _mm256_load_ps(acc + static_cast<std::size_t>(r) * P + 8 * v);
  for (std::size_t i = 0; i < count; ++i) {
    const float* w = wt + i * wt_stride;
    __m256 wv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      wv[v] = _mm256_load_ps(w + 8 * v);
      __asm__("" : "+x"(wv[v]));  // in a register: folded into the R FMAs as a memory operand, it is loaded R times
    }
    const float* xi = x + i * x_step;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_broadcast_ss(xi + static_cast<std::size_t>(r) * x_stride);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) sum[r][v] = _mm256_fmadd_ps(xv, wv[v], sum[r][v]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) _mm256_store_ps(acc + static_cast<std::size_t>(r) * P + 8 * v, sum[r][v]);
}

// The same chains with std::fma, for CPUs without AVX2.
void tile_scalar(float* acc, std::size_t P, bool fresh, std::size_t rows, int vectors, const float* x,
                 std::size_t x_stride, std::size_t x_step, const float* wt, std::size_t wt_stride, std::size_t count) {
  for (std::size_t r = 0; r < rows; ++r)
    for (int o = 0; o < 8 * vectors; ++o) {
      float s = fresh ? 0.0f : acc[r * P + static_cast<std::size_t>(o)];
      for (std::size_t i = 0; i < count; ++i)
        s = std::fma(x[r * x_stride + i * x_step], wt[i * wt_stride + static_cast<std::size_t>(o)], s);
      acc[r * P + static_cast<std::size_t>(o)] = s;
    }
}

template <int V, bool Adjacent>
void tile_rows_avx2(std::size_t rows, float* acc, std::size_t P, bool fresh, const float* x, std::size_t x_stride,
                    std::size_t x_step, const float* wt, std::size_t wt_stride, std::size_t count) {
  switch (rows) {
    case 1: return tile_avx2<1, V, Adjacent>(acc, P, fresh, x, x_stride, x_step, wt, wt_stride, count);
    case 2: return tile_avx2<2, V, Adjacent>(acc, P, fresh, x, x_stride, x_step, wt, wt_stride, count);
    case 3: return tile_avx2<3, V, Adjacent>(acc, P, fresh, x, x_stride, x_step, wt, wt_stride, count);
    case 4: return tile_avx2<4, V, Adjacent>(acc, P, fresh, x, x_stride, x_step, wt, wt_stride, count);
    case 5: return tile_avx2<5, V, Adjacent>(acc, P, fresh, x, x_stride, x_step, wt, wt_stride, count);
    default: return tile_avx2<kTile, V, Adjacent>(acc, P, fresh, x, x_stride, x_step, wt, wt_stride, count);
  }
}

// Rows [r0, r1) of acc (each P floats) in tiles of kTile rows (the last one smaller), each through all its output
// blocks while its inputs are in L1. (A tile of any height computes each row's chains the same way.)
void tiles(float* acc, std::size_t P, bool fresh, std::size_t r0, std::size_t r1, const float* x,
           std::size_t x_stride, std::size_t x_step, const float* wt, std::size_t wt_stride, std::size_t count) {
  for (std::size_t r = r0; r < r1;) {
    const std::size_t rows = std::min(kTile, r1 - r);
    for (std::size_t blk = 0; blk < P; blk += kBlock) {
      const bool two = P - blk >= kBlock;
      float* a = acc + r * P + blk;
      const float* xr = x + r * x_stride;
      const float* w = wt + blk;
      const bool adjacent = x_stride == 1;
      if (!kHaveAvx2) tile_scalar(a, P, fresh, rows, two ? 2 : 1, xr, x_stride, x_step, w, wt_stride, count);
      else if (two && adjacent) tile_rows_avx2<2, true>(rows, a, P, fresh, xr, x_stride, x_step, w, wt_stride, count);
      else if (two) tile_rows_avx2<2, false>(rows, a, P, fresh, xr, x_stride, x_step, w, wt_stride, count);
      else if (adjacent) tile_rows_avx2<1, true>(rows, a, P, fresh, xr, x_stride, x_step, w, wt_stride, count);
      else tile_rows_avx2<1, false>(rows, a, P, fresh, xr, x_stride, x_step, w, wt_stride, count);
    }
    r += rows;
  }
}

}  // namespace

void tiled_linear_forward_rows(std::span<float> out, std::span<float> scratch, std::span<const float> inp,
                               std::span<const float> weight_t, std::span<const float> bias, std::size_t r0,
                               std::size_t r1, std::size_t D_in, std::size_t D_out, bool relu) {
  if (r1 <= r0) return;
  const std::size_t P = padded_width(D_out), S = column_passes(D_in);
  // Pass s continues every row's chains over its columns, while their rows of weight_t stay in L1.
  for (std::size_t s = 0; s < S; ++s) {
    const std::size_t k0 = s * kColumnsPerPass, k1 = std::min(D_in, k0 + kColumnsPerPass);
    tiles(scratch.data(), P, s == 0, r0, r1, inp.data() + k0, D_in, 1, weight_t.data() + k0 * P, P, k1 - k0);
  }
  unpad_rows(out, scratch, bias, r0, r1, D_out, relu);
}

void tiled_linear_forward(std::span<float> out, std::span<float> scratch, std::span<const float> inp,
                          std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                          std::size_t D_in, std::size_t D_out, bool relu) {
  if (N == 0) return;
  const std::size_t chunks = product_chunks(N, D_in, D_out);
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(N, chunks, c, kTile);
    tiled_linear_forward_rows(out, scratch, inp, weight_t, bias, r.begin, r.end, D_in, D_out, relu);
  };
  parallel_for_chunks(chunks, chunk);
}

void tiled_linear_backward_chunk(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                                 std::span<const float> padded_dout, std::span<const float> inp, std::size_t N,
                                 std::size_t D_in, std::size_t D_out, std::size_t c, std::size_t chunks) {
  // Chunk c owns the input columns [k0, k1): their rows of dweight_t, each a chain over the batch rows in order.
  // (Boundaries on multiples of 16: whole 8x8 blocks for add_transposed.)
  const std::size_t P = padded_width(D_out);
  const Range cols = chunk_range(D_in, chunks, c, 16);
  if (cols.end > cols.begin) {
    // Tile rows are input columns k (x_stride 1), stepping down the batch rows (x_step D_in).
    tiles(dweight_t.data(), P, true, cols.begin, cols.end, inp.data(), 1, D_in, padded_dout.data(), P, N);
    add_transposed(dweight, dweight_t, cols.begin, cols.end, D_in, D_out);
  }
  if (c == 0) add_column_sums(dbias, padded_dout, N, D_out, P);
}

void tiled_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                           std::span<float> scratch, std::span<const float> dout, std::span<const float> inp,
                           std::size_t N, std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  const std::size_t chunks = column_chunks(N, D_in, D_out);
  pad_rows(scratch, dout, N, N, D_out);  // whole vectors to read
  auto chunk = [&](std::size_t c) {
    tiled_linear_backward_chunk(dweight, dbias, dweight_t, scratch, inp, N, D_in, D_out, c, chunks);
  };
  parallel_for_chunks(chunks, chunk);
}

}  // namespace mnist::kernels
