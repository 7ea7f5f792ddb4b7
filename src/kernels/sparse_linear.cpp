#include "kernels/sparse_linear.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/linear.hpp"
#include "kernels/parallel.hpp"

namespace mnist::kernels {

namespace {

constexpr std::size_t kBlock = 32;  // outputs per sweep over a pair's entries: four AVX vectors per row

// Forward accumulator chains per output vector and row: an FMA takes 4-5 cycles and two can start per cycle, so
// about ten independent accumulators keep the FMA units busy. With two rows of V vectors that is 2·V·chains; entry
// j of a pair's list goes to chain j % chains, and chains are added in order at the end.
constexpr int chains_for(int vectors) { return vectors >= 3 ? 1 : vectors == 2 ? 2 : 4; }

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

// Rows a and b of a pair (b is a row of zeros when the batch has an odd last row).
struct Pair {
  const float* a;
  const float* b;
};

// Columns k in [k, end) where a[k] or b[k] is nonzero, appended to index from position n; returns the new n.
std::uint32_t list_columns_scalar(std::uint32_t* index, std::uint32_t n, Pair x, std::size_t k, std::size_t end) {
  for (; k < end; ++k)
    if (x.a[k] != 0.0f || x.b[k] != 0.0f) index[n++] = static_cast<std::uint32_t>(k);
  return n;
}

// ---- AVX2 + FMA ----------------------------------------------------------------------------------------------

// The same, 8 columns at a time: OR of the two rows' bits is zero exactly when both are ±0 (NaN stays nonzero).
// end - k is a multiple of 8 except in the last pass.
__attribute__((target("avx2,fma"))) std::uint32_t list_columns_avx2(std::uint32_t* index, std::uint32_t n, Pair x,
                                                                    std::size_t k, std::size_t end) {
  const __m256 zero = _mm256_setzero_ps();
  // n <= k, so the 8-wide store at n never passes k + 8 <= end: it stays inside the pair's region.
  for (; k + 8 <= end; k += 8) {
    const __m256 v = _mm256_or_ps(_mm256_loadu_ps(x.a + k), _mm256_loadu_ps(x.b + k));
    const unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ)));
    const __m256i perm = _mm256_load_si256(reinterpret_cast<const __m256i*>(kPack.perm[mask]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(index + n),
                        _mm256_add_epi32(perm, _mm256_set1_epi32(static_cast<int>(k))));
    n += static_cast<std::uint32_t>(__builtin_popcount(mask));
  }
  return list_columns_scalar(index, n, x, k, end);  // the last < 8 columns
}

// For the pair's rows, sums[r][0, 8V) += Σ_j x_r[k_j] · wt[k_j * P + (0..8V)] over the listed columns k_j, with
// U chains per output vector. sums rows are P apart.
template <int V, int U>
__attribute__((target("avx2,fma"))) void pair_dot_avx2(float* sums, std::size_t P, Pair x, const std::uint32_t* index,
                                                       std::uint32_t n, const float* wt) {
  __m256 acc_a[U][V], acc_b[U][V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    acc_a[0][v] = _mm256_load_ps(sums + 8 * v);
    acc_b[0][v] = _mm256_load_ps(sums + P + 8 * v);
#pragma GCC unroll 4
    for (int u = 1; u < U; ++u) acc_a[u][v] = acc_b[u][v] = _mm256_setzero_ps();
  }
  std::uint32_t j = 0;
  for (; j + U <= n; j += U) {
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const std::uint32_t k = index[j + u];
      const float* w = wt + std::size_t{k} * P;
      const __m256 xa = _mm256_broadcast_ss(x.a + k), xb = _mm256_broadcast_ss(x.b + k);
      __m256 wv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        wv[v] = _mm256_load_ps(w + 8 * v);
        // Keeps the weights in registers: folded into both FMAs as memory operands, each would be loaded twice.
        __asm__("" : "+x"(wv[v]));
      }
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        acc_a[u][v] = _mm256_fmadd_ps(xa, wv[v], acc_a[u][v]);
        acc_b[u][v] = _mm256_fmadd_ps(xb, wv[v], acc_b[u][v]);
      }
    }
  }
  // The last n % U entries, to chains 0, 1, ... (unrolled so that the accumulators stay in registers).
#pragma GCC unroll 4
  for (int u = 0; u + 1 < U; ++u) {
    if (j + static_cast<std::uint32_t>(u) >= n) break;
    const std::uint32_t k = index[j + u];
    const float* w = wt + std::size_t{k} * P;
    const __m256 xa = _mm256_broadcast_ss(x.a + k), xb = _mm256_broadcast_ss(x.b + k);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __m256 wv = _mm256_load_ps(w + 8 * v);
      acc_a[u][v] = _mm256_fmadd_ps(xa, wv, acc_a[u][v]);
      acc_b[u][v] = _mm256_fmadd_ps(xb, wv, acc_b[u][v]);
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    __m256 a = acc_a[0][v], b = acc_b[0][v];
#pragma GCC unroll 4
    for (int u = 1; u < U; ++u) {
      a = _mm256_add_ps(a, acc_a[u][v]);
      b = _mm256_add_ps(b, acc_b[u][v]);
    }
    _mm256_store_ps(sums + 8 * v, a);
    _mm256_store_ps(sums + P + 8 * v, b);
  }
}

// dwt[k_j * P + (0..8V)] += x_a[k_j] · da[0, 8V) + x_b[k_j] · db[0, 8V) (in that order), for each listed k_j.
template <int V>
__attribute__((target("avx2,fma"))) void pair_scatter_avx2(float* dwt, std::size_t P, Pair x, const float* da,
                                                           const float* db, const std::uint32_t* index,
                                                           std::uint32_t n) {
  __m256 dav[V], dbv[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    dav[v] = _mm256_load_ps(da + 8 * v);
    dbv[v] = _mm256_load_ps(db + 8 * v);
  }
  for (std::uint32_t j = 0; j < n; ++j) {
    const std::uint32_t k = index[j];
    float* w = dwt + std::size_t{k} * P;
    const __m256 xa = _mm256_broadcast_ss(x.a + k), xb = _mm256_broadcast_ss(x.b + k);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      _mm256_store_ps(w + 8 * v, _mm256_fmadd_ps(xb, dbv[v], _mm256_fmadd_ps(xa, dav[v], _mm256_load_ps(w + 8 * v))));
  }
}

// ---- Portable versions: the same sums in the same order ------------------------------------------------------

void pair_dot_scalar(float* sums, std::size_t P, int vectors, Pair x, const std::uint32_t* index, std::uint32_t n,
                     const float* wt) {
  const auto U = static_cast<std::uint32_t>(chains_for(vectors));
  for (int r = 0; r < 2; ++r) {
    const float* xr = r == 0 ? x.a : x.b;
    float* s = sums + static_cast<std::size_t>(r) * P;
    for (int o = 0; o < 8 * vectors; ++o) {
      float acc[4] = {s[o], 0.0f, 0.0f, 0.0f};
      for (std::uint32_t j = 0; j < n; ++j) {
        float& a = acc[j % U];
        a = std::fma(xr[index[j]], wt[std::size_t{index[j]} * P + static_cast<std::size_t>(o)], a);
      }
      float total = acc[0];
      for (std::uint32_t u = 1; u < U; ++u) total += acc[u];
      s[o] = total;
    }
  }
}

void pair_scatter_scalar(float* dwt, std::size_t P, int vectors, Pair x, const float* da, const float* db,
                         const std::uint32_t* index, std::uint32_t n) {
  for (std::uint32_t j = 0; j < n; ++j) {
    const std::uint32_t k = index[j];
    float* w = dwt + std::size_t{k} * P;
    for (int o = 0; o < 8 * vectors; ++o) w[o] = std::fma(x.b[k], db[o], std::fma(x.a[k], da[o], w[o]));
  }
}

// ---- Dispatch --------------------------------------------------------------------------------------------------

// The pair's listed columns (its region of index), split[0, S] = where each pass's columns start, then their end.
void list_pair(std::uint32_t* split, std::uint32_t* index, Pair x, std::size_t D) {
  std::uint32_t n = 0;
  const std::size_t S = column_passes(D);
  for (std::size_t s = 0; s < S; ++s) {
    split[s] = n;
    const std::size_t k = s * kColumnsPerPass, end = std::min(D, k + kColumnsPerPass);
    n = kHaveAvx2 ? list_columns_avx2(index, n, x, k, end) : list_columns_scalar(index, n, x, k, end);
  }
  split[S] = n;
}

void pair_dot(float* sums, std::size_t P, int vectors, Pair x, const std::uint32_t* index, std::uint32_t n,
              const float* wt) {
  if (!kHaveAvx2) return pair_dot_scalar(sums, P, vectors, x, index, n, wt);
  switch (vectors) {
    case 1: return pair_dot_avx2<1, chains_for(1)>(sums, P, x, index, n, wt);
    case 2: return pair_dot_avx2<2, chains_for(2)>(sums, P, x, index, n, wt);
    case 3: return pair_dot_avx2<3, chains_for(3)>(sums, P, x, index, n, wt);
    default: return pair_dot_avx2<4, chains_for(4)>(sums, P, x, index, n, wt);
  }
}

void pair_scatter(float* dwt, std::size_t P, int vectors, Pair x, const float* da, const float* db,
                  const std::uint32_t* index, std::uint32_t n) {
  if (!kHaveAvx2) return pair_scatter_scalar(dwt, P, vectors, x, da, db, index, n);
  switch (vectors) {
    case 1: return pair_scatter_avx2<1>(dwt, P, x, da, db, index, n);
    case 2: return pair_scatter_avx2<2>(dwt, P, x, da, db, index, n);
    case 3: return pair_scatter_avx2<3>(dwt, P, x, da, db, index, n);
    default: return pair_scatter_avx2<4>(dwt, P, x, da, db, index, n);
  }
}

int vectors_in_block(std::size_t P, std::size_t blk) { return static_cast<int>(std::min(kBlock, P - blk) / 8); }

// Pair g of inp[N, D]: rows 2g and 2g + 1, the second one `zeros` when 2g + 1 == N.
Pair pair_of(const float* inp, std::span<const float> zeros, std::size_t g, std::size_t N, std::size_t D) {
  return {inp + 2 * g * D, 2 * g + 1 < N ? inp + (2 * g + 1) * D : zeros.data()};
}

}  // namespace

__attribute__((target_clones("avx2", "default"))) std::size_t count_nonzero(std::span<const float> x) {
  std::size_t n = 0;
  for (const float v : x) n += v != 0.0f;
  return n;
}

std::size_t row_pairs(std::size_t N) { return (N + 1) / 2; }

void sparse_linear_forward_rows(std::span<float> out, SparseRows rows, std::span<const float> inp,
                                std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                                std::size_t D_in, std::size_t D_out, bool relu, std::size_t r0, std::size_t r1) {
  const std::size_t P = padded_width(D_out), S = column_passes(D_in);
  const std::size_t g0 = r0 / 2, g1 = (r1 + 1) / 2;  // the pairs of rows [r0, r1) (r0 even)
  if (g1 <= g0) return;
  for (std::size_t g = g0; g < g1; ++g)
    list_pair(rows.split.data() + g * (S + 1), rows.index.data() + g * D_in,
              pair_of(inp.data(), rows.zeros, g, N, D_in), D_in);
  std::fill(rows.scratch.begin() + static_cast<std::ptrdiff_t>(2 * g0 * P),
            rows.scratch.begin() + static_cast<std::ptrdiff_t>(2 * g1 * P), 0.0f);
  // Pass s adds, for both rows of every pair, the sum over the pass's listed columns to the rows' running totals
  // (the pass's rows of weight_t, 128 x 32 floats, stay in L1 while the pairs use them).
  for (std::size_t s = 0; s < S; ++s)
    for (std::size_t blk = 0; blk < P; blk += kBlock) {
      const int vectors = vectors_in_block(P, blk);
      for (std::size_t g = g0; g < g1; ++g) {
        const std::uint32_t* split = rows.split.data() + g * (S + 1);
        const std::uint32_t first = split[s], count = split[s + 1] - first;
        if (count == 0) continue;
        pair_dot(rows.scratch.data() + 2 * g * P + blk, P, vectors, pair_of(inp.data(), rows.zeros, g, N, D_in),
                 rows.index.data() + g * D_in + first, count, weight_t.data() + blk);
      }
    }
  unpad_rows(out, rows.scratch, bias, 2 * g0, std::min(N, 2 * g1), D_out, relu);
}

void sparse_linear_forward(std::span<float> out, SparseRows rows, std::span<const float> inp,
                           std::span<const float> weight_t, std::span<const float> bias, std::size_t N,
                           std::size_t D_in, std::size_t D_out, bool relu) {
  if (N == 0) return;
  const std::size_t chunks = product_chunks(N, D_in, D_out);
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(N, chunks, c, 8);
    sparse_linear_forward_rows(out, rows, inp, weight_t, bias, N, D_in, D_out, relu, r.begin, r.end);
  };
  parallel_for_chunks(chunks, chunk);
}

void sparse_linear_backward_chunk(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                                  std::span<const float> dout, std::span<const float> inp, SparseRows rows,
                                  std::size_t N, std::size_t D_in, std::size_t D_out, std::size_t c,
                                  std::size_t chunks) {
  const std::size_t P = padded_width(D_out), S = column_passes(D_in), G = row_pairs(N);
  // Chunk c owns the passes [s0, s1): their rows of dweight_t and columns of dweight. Each element sums over the
  // batch's pairs in order (and within a pair, its first row first), whatever the chunking.
  const Range passes = chunk_range(S, chunks, c);
  for (std::size_t s = passes.begin; s < passes.end; ++s) {
    const std::size_t k0 = s * kColumnsPerPass, k1 = std::min(D_in, k0 + kColumnsPerPass);
    std::fill(dweight_t.begin() + static_cast<std::ptrdiff_t>(k0 * P),
              dweight_t.begin() + static_cast<std::ptrdiff_t>(k1 * P), 0.0f);
    for (std::size_t blk = 0; blk < P; blk += kBlock) {
      const int vectors = vectors_in_block(P, blk);
      for (std::size_t g = 0; g < G; ++g) {
        const std::uint32_t* split = rows.split.data() + g * (S + 1);
        const std::uint32_t first = split[s], count = split[s + 1] - first;
        if (count == 0) continue;
        const float* da = rows.scratch.data() + 2 * g * P + blk;
        pair_scatter(dweight_t.data() + blk, P, vectors, pair_of(inp.data(), rows.zeros, g, N, D_in), da, da + P,
                     rows.index.data() + g * D_in + first, count);
      }
    }
    add_transposed(dweight, dweight_t, k0, k1, D_in, D_out);
  }
  if (c == 0) add_column_sums(dbias, dout, N, D_out);
}

void sparse_linear_backward(std::span<float> dweight, std::span<float> dbias, std::span<float> dweight_t,
                            std::span<const float> dout, std::span<const float> inp, SparseRows rows, std::size_t N,
                            std::size_t D_in, std::size_t D_out) {
  if (N == 0) return;
  const std::size_t chunks = product_chunks(N, D_in, D_out);
  pad_rows(rows.scratch, dout, N, 2 * row_pairs(N), D_out);  // whole vectors, and an even number of rows, to read
  auto chunk = [&](std::size_t c) {
    sparse_linear_backward_chunk(dweight, dbias, dweight_t, dout, inp, rows, N, D_in, D_out, c, chunks);
  };
  parallel_for_chunks(chunks, chunk);
}

}  // namespace mnist::kernels
