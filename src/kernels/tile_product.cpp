#include "kernels/tile_product.hpp"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "kernels/cpu.hpp"

namespace mnist::kernels {

namespace {

using Init = TileProduct::Init;

// Register tiles: R rows of C by V vectors of columns, the last vector masked to the columns left. A's R values of
// step k are broadcast, B's V vectors of row k loaded once and used R times.
// AVX-512: 6 x 4 tiles (24 accumulators + 4 B vectors + 1 broadcast of the 32 registers).
constexpr int kRows512 = 6, kVecs512 = 4;
// AVX2: 4 x 2 tiles (8 accumulators of 16 registers, as the linear kernels' tiles leave room for the loads).
constexpr int kRows256 = 4, kVecs256 = 2;

// A's R rows of a tile, read step by step: strided (a[r·a_row], a moving a_k per step), or through the offset
// tables (Tables). Separate code for the strided case: reaching it through row pointers as well cost the forwards
// 4-7% (paired, batch 128).
template <int R, bool Tables>
struct RowsOfA {
  const float* a;
  [[maybe_unused]] const float* row[R];
  RowsOfA(const TileProduct& p, std::size_t i0) : a(p.a + (Tables ? 0 : i0 * p.a_row)) {
    if constexpr (Tables)
      for (int r = 0; r < R; ++r) row[r] = p.a + p.a_rows[i0 + r];
  }
  float at(const TileProduct& p, int r, std::size_t k) const {
    if constexpr (Tables) return row[r][p.a_cols[k]];
    else return a[r * p.a_row];
  }
  void step(const TileProduct& p) {
    if constexpr (!Tables) a += p.a_k;
  }
};

template <int R, int V, bool Tables>
__attribute__((target("avx512f"))) void tile_avx512(const TileProduct& p, std::size_t i0, std::size_t j0,
                                                    std::size_t last) {
  const auto tail = static_cast<__mmask16>((1u << last) - 1u);
  __m512 acc[R][V];
  float* c = p.c + i0 * p.ldc + j0;
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = v == V - 1 ? tail : __mmask16(0xFFFF);
      acc[r][v] = p.init == Init::Zero ? _mm512_setzero_ps()
                  : p.init == Init::Rows ? _mm512_set1_ps(p.row_init[i0 + r])
                                         : _mm512_maskz_loadu_ps(m, c + r * p.ldc + 16 * v);
    }
  RowsOfA<R, Tables> a(p, i0);
  const float* b = p.b + j0;
  for (std::size_t k = 0; k < p.K; ++k) {
    if (p.b_rows) b = p.b + j0 + p.b_rows[k];
    __m512 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      bv[v] = _mm512_maskz_loadu_ps(v == V - 1 ? tail : __mmask16(0xFFFF), b + 16 * v);
      __asm__("" : "+v"(bv[v]));  // kept in a register: folded into the R FMAs as a memory operand it loads R times
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a.at(p, r, k));
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
    a.step(p);
    b += p.ldb;
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      _mm512_mask_storeu_ps(c + r * p.ldc + 16 * v, v == V - 1 ? tail : __mmask16(0xFFFF), acc[r][v]);
}

template <int R, int V, bool Tables>
__attribute__((target("avx2,fma"))) void tile_avx2(const TileProduct& p, std::size_t i0, std::size_t j0,
                                                   std::size_t last) {
  const __m256i all = _mm256_set1_epi32(-1);
  const __m256i tail =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(last)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 acc[R][V];
  float* c = p.c + i0 * p.ldc + j0;
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v)
      acc[r][v] = p.init == Init::Zero ? _mm256_setzero_ps()
                  : p.init == Init::Rows ? _mm256_set1_ps(p.row_init[i0 + r])
                                         : _mm256_maskload_ps(c + r * p.ldc + 8 * v, v == V - 1 ? tail : all);
  RowsOfA<R, Tables> a(p, i0);
  const float* b = p.b + j0;
  for (std::size_t k = 0; k < p.K; ++k) {
    if (p.b_rows) b = p.b + j0 + p.b_rows[k];
    __m256 bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      bv[v] = _mm256_maskload_ps(b + 8 * v, v == V - 1 ? tail : all);
      __asm__("" : "+x"(bv[v]));
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_set1_ps(a.at(p, r, k));
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
    a.step(p);
    b += p.ldb;
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) _mm256_maskstore_ps(c + r * p.ldc + 8 * v, v == V - 1 ? tail : all, acc[r][v]);
}

// Tables of the tiles by (rows − 1, vectors − 1): the edges of C get the smaller ones.
// last: the lanes used in the tile's last vector (1 .. width).
using Tile = void (*)(const TileProduct&, std::size_t, std::size_t, std::size_t);

template <bool Tables, std::size_t... I>
constexpr std::array<Tile, sizeof...(I)> table512(std::index_sequence<I...>) {
  return {&tile_avx512<static_cast<int>(I / kVecs512) + 1, static_cast<int>(I % kVecs512) + 1, Tables>...};
}
template <bool Tables, std::size_t... I>
constexpr std::array<Tile, sizeof...(I)> table256(std::index_sequence<I...>) {
  return {&tile_avx2<static_cast<int>(I / kVecs256) + 1, static_cast<int>(I % kVecs256) + 1, Tables>...};
}
constexpr auto kTiles512 = table512<false>(std::make_index_sequence<kRows512 * kVecs512>());
constexpr auto kTiles256 = table256<false>(std::make_index_sequence<kRows256 * kVecs256>());
constexpr auto kTableTiles512 = table512<true>(std::make_index_sequence<kRows512 * kVecs512>());
constexpr auto kTableTiles256 = table256<true>(std::make_index_sequence<kRows256 * kVecs256>());

// Rows in blocks of R, columns in blocks of V vectors of W lanes, each block's last vector masked.
template <std::size_t R, std::size_t V, std::size_t W, std::size_t Tiles>
void run_blocks(const TileProduct& p, const std::array<Tile, Tiles>& tiles) {
  for (std::size_t i0 = 0; i0 < p.M; i0 += R) {
    const std::size_t rows = std::min(R, p.M - i0);
    for (std::size_t j0 = 0; j0 < p.J; j0 += V * W) {
      const std::size_t cols = std::min(V * W, p.J - j0), vecs = (cols + W - 1) / W;
      tiles[(rows - 1) * V + vecs - 1](p, i0, j0, cols - (vecs - 1) * W);
    }
  }
}

void product_scalar(const TileProduct& p) {
  for (std::size_t i = 0; i < p.M; ++i) {
    float* c = p.c + i * p.ldc;
    for (std::size_t j = 0; j < p.J; ++j) {
      float s = p.init == Init::Zero ? 0.0f : p.init == Init::Rows ? p.row_init[i] : c[j];
      for (std::size_t k = 0; k < p.K; ++k)
        s = std::fma(p.a_cols ? p.a[p.a_rows[i] + p.a_cols[k]] : p.a[i * p.a_row + k * p.a_k],
                     p.b[(p.b_rows ? p.b_rows[k] : k * p.ldb) + j], s);
      c[j] = s;
    }
  }
}

}  // namespace

void tile_product_on(TilePath path, const TileProduct& p) {
  if (p.M == 0 || p.J == 0) return;
  switch (path) {
    case TilePath::Avx512: return run_blocks<kRows512, kVecs512, 16>(p, p.a_cols ? kTableTiles512 : kTiles512);
    case TilePath::Avx2: return run_blocks<kRows256, kVecs256, 8>(p, p.a_cols ? kTableTiles256 : kTiles256);
    case TilePath::Scalar: return product_scalar(p);
  }
}

void tile_product(const TileProduct& p) {
  tile_product_on(kHaveAvx512 ? TilePath::Avx512 : kHaveAvx2 ? TilePath::Avx2 : TilePath::Scalar, p);
}

}  // namespace mnist::kernels
