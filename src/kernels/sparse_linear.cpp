#include "kernels/sparse_linear.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"

namespace mnist::kernels {

namespace {

constexpr std::size_t kBlock = 32;  // outputs per pass over a row's entries: four AVX vectors of accumulators

// Independent accumulator chains per output vector: an FMA takes 4 cycles and two can start per cycle, so about
// eight chains keep the FMA units busy. Entry j of a row goes to chain j % chains; chains are added in order.
constexpr int chains_for(int vectors) { return vectors <= 2 ? 4 : 2; }

const bool kHaveAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");

// For each 8-bit mask, the positions of its set bits packed to the front: the permutation that moves the
// nonzero lanes of a vector together ("left-pack").
struct PackTable {
  alignas(32) std::uint32_t perm[256][8];
  constexpr PackTable() : perm{} {
    for (unsigned m = 0; m < 256; ++m) {
      unsigned n = 0;
      for (unsigned b = 0; b < 8; ++b)
        if (m & (1u << b)) perm[m][n++] = b;
      for (; n < 8; ++n) perm[m][n] = 0;
    }
  }
};
constexpr PackTable kPack;

// Columns [k, end) of row x, nonzero entries appended to index/value from position n; returns the new n.
std::uint32_t compress_columns_scalar(std::uint32_t* index, float* value, std::uint32_t n, const float* x,
                                      std::size_t k, std::size_t end) {
  for (; k < end; ++k)
    if (x[k] != 0.0f) {
      index[n] = static_cast<std::uint32_t>(k);
      value[n++] = x[k];
    }
  return n;
}

// ---- AVX2 + FMA ----------------------------------------------------------------------------------------------

// Compresses columns [k, end) of row x into index/value from position n; returns the new n. end - k is a
// multiple of 8 except in the row's last pass.
__attribute__((target("avx2,fma"))) std::uint32_t compress_columns_avx2(std::uint32_t* index, float* value,
                                                                        std::uint32_t n, const float* x,
                                                                        std::size_t k, std::size_t end) {
  const __m256 zero = _mm256_setzero_ps();
  // n <= k, so the 8-wide stores at n never pass k + 8 <= end: they stay inside the row's region.
  for (; k + 8 <= end; k += 8) {
    const __m256 v = _mm256_loadu_ps(x + k);
    const unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ)));
    const __m256i perm = _mm256_load_si256(reinterpret_cast<const __m256i*>(kPack.perm[mask]));
    _mm256_storeu_ps(value + n, _mm256_permutevar8x32_ps(v, perm));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(index + n),
                        _mm256_add_epi32(perm, _mm256_set1_epi32(static_cast<int>(k))));
    n += static_cast<std::uint32_t>(__builtin_popcount(mask));
  }
  return compress_columns_scalar(index, value, n, x, k, end);  // the last < 8 columns
}

// sums[0, 8V) = Σ_j value[j] · wt[index[j] * P + (0..8V)], over U chains (see chains_for).
template <int V, int U>
__attribute__((target("avx2,fma"))) void dot_block_avx2(float* sums, const std::uint32_t* index, const float* value,
                                                        std::uint32_t n, const float* wt, std::size_t P) {
  __m256 acc[U][V];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[u][v] = _mm256_setzero_ps();
  std::uint32_t j = 0;
  for (; j + U <= n; j += U) {
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      const __m256 x = _mm256_broadcast_ss(value + j + u);
      const float* w = wt + std::size_t{index[j + u]} * P;
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[u][v] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w + 8 * v), acc[u][v]);
    }
  }
  // The last n % U entries, to chains 0, 1, ... (unrolled so that acc stays in registers).
#pragma GCC unroll 8
  for (int u = 0; u + 1 < U; ++u) {
    if (j + static_cast<std::uint32_t>(u) >= n) break;
    const __m256 x = _mm256_broadcast_ss(value + j + u);
    const float* w = wt + std::size_t{index[j + u]} * P;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[u][v] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w + 8 * v), acc[u][v]);
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    __m256 s = acc[0][v];
#pragma GCC unroll 8
    for (int u = 1; u < U; ++u) s = _mm256_add_ps(s, acc[u][v]);
    _mm256_storeu_ps(sums + 8 * v, s);
  }
}

// dwt[index[j] * P + (0..8V)] += value[j] · d[0, 8V), for each entry j in order.
template <int V>
__attribute__((target("avx2,fma"))) void scatter_block_avx2(float* dwt, const float* d, const std::uint32_t* index,
                                                            const float* value, std::uint32_t n, std::size_t P) {
  __m256 dv[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) dv[v] = _mm256_loadu_ps(d + 8 * v);
  for (std::uint32_t j = 0; j < n; ++j) {
    const __m256 x = _mm256_broadcast_ss(value + j);
    float* w = dwt + std::size_t{index[j]} * P;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(w + 8 * v, _mm256_fmadd_ps(x, dv[v], _mm256_loadu_ps(w + 8 * v)));
  }
}

// dst[c * dst_stride + r] = src[r * src_stride + c] for an 8x8 tile.
__attribute__((target("avx2,fma"))) void transpose_tile_avx2(float* dst, std::size_t dst_stride, const float* src,
                                                             std::size_t src_stride) {
  __m256 r[8], t[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + static_cast<std::size_t>(i) * src_stride);
  t[0] = _mm256_unpacklo_ps(r[0], r[1]);
  t[1] = _mm256_unpackhi_ps(r[0], r[1]);
  t[2] = _mm256_unpacklo_ps(r[2], r[3]);
  t[3] = _mm256_unpackhi_ps(r[2], r[3]);
  t[4] = _mm256_unpacklo_ps(r[4], r[5]);
  t[5] = _mm256_unpackhi_ps(r[4], r[5]);
  t[6] = _mm256_unpacklo_ps(r[6], r[7]);
  t[7] = _mm256_unpackhi_ps(r[6], r[7]);
  r[0] = _mm256_shuffle_ps(t[0], t[2], _MM_SHUFFLE(1, 0, 1, 0));
  r[1] = _mm256_shuffle_ps(t[0], t[2], _MM_SHUFFLE(3, 2, 3, 2));
  r[2] = _mm256_shuffle_ps(t[1], t[3], _MM_SHUFFLE(1, 0, 1, 0));
  r[3] = _mm256_shuffle_ps(t[1], t[3], _MM_SHUFFLE(3, 2, 3, 2));
  r[4] = _mm256_shuffle_ps(t[4], t[6], _MM_SHUFFLE(1, 0, 1, 0));
  r[5] = _mm256_shuffle_ps(t[4], t[6], _MM_SHUFFLE(3, 2, 3, 2));
  r[6] = _mm256_shuffle_ps(t[5], t[7], _MM_SHUFFLE(1, 0, 1, 0));
  r[7] = _mm256_shuffle_ps(t[5], t[7], _MM_SHUFFLE(3, 2, 3, 2));
  const int lo = 0x20, hi = 0x31;
  _mm256_storeu_ps(dst + 0 * dst_stride, _mm256_permute2f128_ps(r[0], r[4], lo));
  _mm256_storeu_ps(dst + 1 * dst_stride, _mm256_permute2f128_ps(r[1], r[5], lo));
  _mm256_storeu_ps(dst + 2 * dst_stride, _mm256_permute2f128_ps(r[2], r[6], lo));
  _mm256_storeu_ps(dst + 3 * dst_stride, _mm256_permute2f128_ps(r[3], r[7], lo));
  _mm256_storeu_ps(dst + 4 * dst_stride, _mm256_permute2f128_ps(r[0], r[4], hi));
  _mm256_storeu_ps(dst + 5 * dst_stride, _mm256_permute2f128_ps(r[1], r[5], hi));
  _mm256_storeu_ps(dst + 6 * dst_stride, _mm256_permute2f128_ps(r[2], r[6], hi));
  _mm256_storeu_ps(dst + 7 * dst_stride, _mm256_permute2f128_ps(r[3], r[7], hi));
}

// ---- Portable versions: the same sums in the same order ------------------------------------------------------

void dot_block_scalar(float* sums, int vectors, const std::uint32_t* index, const float* value, std::uint32_t n,
                      const float* wt, std::size_t P) {
  const int U = chains_for(vectors);
  for (int o = 0; o < 8 * vectors; ++o) {
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (std::uint32_t j = 0; j < n; ++j) {
      float& a = acc[j % static_cast<std::uint32_t>(U)];
      a = std::fma(value[j], wt[std::size_t{index[j]} * P + static_cast<std::size_t>(o)], a);
    }
    float s = acc[0];
    for (int u = 1; u < U; ++u) s += acc[u];
    sums[o] = s;
  }
}

void scatter_block_scalar(float* dwt, int vectors, const float* d, const std::uint32_t* index, const float* value,
                          std::uint32_t n, std::size_t P) {
  for (std::uint32_t j = 0; j < n; ++j) {
    float* w = dwt + std::size_t{index[j]} * P;
    for (int o = 0; o < 8 * vectors; ++o) w[o] = std::fma(value[j], d[o], w[o]);
  }
}

// ---- Dispatch --------------------------------------------------------------------------------------------------

// Row x[D] into index/value (its region), split[0, S] = where each pass's entries start, then their end.
void compress_row(std::uint32_t* split, std::uint32_t* index, float* value, const float* x, std::size_t D) {
  std::uint32_t n = 0;
  const std::size_t S = column_passes(D);
  for (std::size_t s = 0; s < S; ++s) {
    split[s] = n;
    const std::size_t k = s * kColumnsPerPass, end = std::min(D, k + kColumnsPerPass);
    n = kHaveAvx2 ? compress_columns_avx2(index, value, n, x, k, end)
                  : compress_columns_scalar(index, value, n, x, k, end);
  }
  split[S] = n;
}

void dot_block(float* sums, int vectors, const std::uint32_t* index, const float* value, std::uint32_t n,
               const float* wt, std::size_t P) {
  if (!kHaveAvx2) return dot_block_scalar(sums, vectors, index, value, n, wt, P);
  switch (vectors) {
    case 1: return dot_block_avx2<1, chains_for(1)>(sums, index, value, n, wt, P);
    case 2: return dot_block_avx2<2, chains_for(2)>(sums, index, value, n, wt, P);
    case 3: return dot_block_avx2<3, chains_for(3)>(sums, index, value, n, wt, P);
    default: return dot_block_avx2<4, chains_for(4)>(sums, index, value, n, wt, P);
  }
}

void scatter_block(float* dwt, int vectors, const float* d, const std::uint32_t* index, const float* value,
                   std::uint32_t n, std::size_t P) {
  if (!kHaveAvx2) return scatter_block_scalar(dwt, vectors, d, index, value, n, P);
  switch (vectors) {
    case 1: return scatter_block_avx2<1>(dwt, d, index, value, n, P);
    case 2: return scatter_block_avx2<2>(dwt, d, index, value, n, P);
    case 3: return scatter_block_avx2<3>(dwt, d, index, value, n, P);
    default: return scatter_block_avx2<4>(dwt, d, index, value, n, P);
  }
}

int vectors_in_block(std::size_t P, std::size_t blk) { return static_cast<int>(std::min(kBlock, P - blk) / 8); }

}  // namespace

__attribute__((target_clones("avx2", "default"))) std::size_t count_nonzero(std::span<const float> x) {
  std::size_t n = 0;
  for (const float v : x) n += v != 0.0f;
  return n;
}

std::size_t padded_width(std::size_t D_out) { return (D_out + 7) / 8 * 8; }

std::span<float> cache_aligned(std::vector<float>& storage, std::size_t n) {
  constexpr std::size_t kLineFloats = 64 / sizeof(float);
  if (storage.size() < n + kLineFloats) storage.resize(n + kLineFloats);
  const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
  const std::size_t skip = ((64 - address % 64) % 64) / sizeof(float);
  return std::span<float>(storage).subspan(skip, n);
}

void transpose_weight(std::span<float> weight_t, std::span<const float> weight, std::size_t D_out,
                      std::size_t D_in) {
  const std::size_t P = padded_width(D_out);
  const std::size_t full_rows = kHaveAvx2 ? D_out / 8 * 8 : 0, full_cols = kHaveAvx2 ? D_in / 8 * 8 : 0;
  // 8x8 tiles with AVX shuffles (done once per forward, 25k floats for 784->32: a twentieth of the sparse
  // forward's time instead of a fifth), then the leftover rows and columns one by one.
  for (std::size_t o = 0; o < full_rows; o += 8)
    for (std::size_t k = 0; k < full_cols; k += 8) transpose_tile_avx2(weight_t.data() + k * P + o, P,
                                                                      weight.data() + o * D_in + k, D_in);
  for (std::size_t k0 = 0; k0 < D_in; k0 += 16) {
    const std::size_t k1 = std::min(D_in, k0 + 16);
    for (std::size_t o = 0; o < D_out; ++o)
      for (std::size_t k = k0; k < k1; ++k)
        if (o >= full_rows || k >= full_cols) weight_t[k * P + o] = weight[o * D_in + k];
    for (std::size_t k = k0; k < k1; ++k)
      std::fill(weight_t.begin() + static_cast<std::ptrdiff_t>(k * P + D_out),
                weight_t.begin() + static_cast<std::ptrdiff_t>(k * P + P), 0.0f);
  }
}

std::size_t column_passes(std::size_t D) { return (D + kColumnsPerPass - 1) / kColumnsPerPass; }

void sparse_linear_forward(std::span<float> out, SparseRows rows, std::span<const float> inp,
                           std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                           std::size_t D_in, std::size_t D_out, bool relu) {
  if (N == 0) return;
  const std::size_t P = padded_width(D_out), S = column_passes(D_in), chunks = product_chunks(N, D_in, D_out);
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(N, chunks, c, 8);
    if (r.end <= r.begin) return;
    for (std::size_t n = r.begin; n < r.end; ++n)
      compress_row(rows.split.data() + n * (S + 1), rows.index.data() + n * D_in, rows.value.data() + n * D_in,
                   inp.data() + n * D_in, D_in);
    std::fill(rows.scratch.begin() + static_cast<std::ptrdiff_t>(r.begin * P),
              rows.scratch.begin() + static_cast<std::ptrdiff_t>(r.end * P), 0.0f);
    // Pass s adds, for every row, the sum over its entries in the pass's columns to the row's running total.
    alignas(32) float sums[kBlock];
    for (std::size_t s = 0; s < S; ++s)
      for (std::size_t blk = 0; blk < P; blk += kBlock) {
        const int vectors = vectors_in_block(P, blk);
        for (std::size_t n = r.begin; n < r.end; ++n) {
          const std::uint32_t* split = rows.split.data() + n * (S + 1);
          const std::uint32_t first = split[s], count = split[s + 1] - first;
          if (count == 0) continue;
          dot_block(sums, vectors, rows.index.data() + n * D_in + first, rows.value.data() + n * D_in + first,
                    count, weight_t.data() + blk, P);
          float* total = rows.scratch.data() + n * P + blk;
          for (int o = 0; o < 8 * vectors; ++o) total[o] += sums[o];
        }
      }
    for (std::size_t n = r.begin; n < r.end; ++n) {
      const float* total = rows.scratch.data() + n * P;
      float* out_row = out.data() + n * D_out;
      for (std::size_t o = 0; o < D_out; ++o) {
        const float v = total[o] + bias[o];
        out_row[o] = relu ? (v > 0.0f ? v : 0.0f) : v;
      }
    }
  };
  parallel_for_chunks(chunks, chunk);
}

void sparse_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                            std::span<const float> dout, SparseRows rows, std::size_t N, std::size_t D_in,
                            std::size_t D_out) {
  if (N == 0) return;
  const std::size_t P = padded_width(D_out), S = column_passes(D_in), chunks = product_chunks(N, D_in, D_out);
  // dout padded to P columns with zeros, so that whole vectors can be read.
  for (std::size_t n = 0; n < N; ++n) {
    float* d = rows.scratch.data() + n * P;
    std::copy(dout.begin() + static_cast<std::ptrdiff_t>(n * D_out),
              dout.begin() + static_cast<std::ptrdiff_t>((n + 1) * D_out), d);
    std::fill(d + D_out, d + P, 0.0f);
  }
  // Chunk c owns the passes [s0, s1): their rows of dweight_t and columns of dweight. Each element sums over the
  // batch's rows in order, whatever the chunking.
  auto chunk = [&](std::size_t c) {
    const Range passes = chunk_range(S, chunks, c);
    for (std::size_t s = passes.begin; s < passes.end; ++s) {
      const std::size_t k0 = s * kColumnsPerPass, k1 = std::min(D_in, k0 + kColumnsPerPass);
      std::fill(dweight_t.begin() + static_cast<std::ptrdiff_t>(k0 * P),
                dweight_t.begin() + static_cast<std::ptrdiff_t>(k1 * P), 0.0f);
      for (std::size_t blk = 0; blk < P; blk += kBlock) {
        const int vectors = vectors_in_block(P, blk);
        for (std::size_t n = 0; n < N; ++n) {
          const std::uint32_t* split = rows.split.data() + n * (S + 1);
          const std::uint32_t first = split[s], count = split[s + 1] - first;
          if (count == 0) continue;
          scatter_block(dweight_t.data() + blk, vectors, rows.scratch.data() + n * P + blk,
                        rows.index.data() + n * D_in + first, rows.value.data() + n * D_in + first, count, P);
        }
      }
      for (std::size_t o = 0; o < D_out; ++o)
        for (std::size_t k = k0; k < k1; ++k) dweight[o * D_in + k] += dweight_t[k * P + o];
    }
    if (c == 0) add_column_sums(dbias, dout, N, D_out);
  };
  parallel_for_chunks(chunks, chunk);
}

}  // namespace mnist::kernels
