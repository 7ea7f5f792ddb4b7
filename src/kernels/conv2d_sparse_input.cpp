#include "kernels/conv2d_sparse_input.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu.hpp"
#include "kernels/nonzeros.hpp"

namespace mnist::kernels {

namespace {

// One nonzero element of dy_n seen from its pixel: its output channel and value.
struct Link {
  std::uint32_t o;
  float g;
};

// out [NV·16] = Σ over the links in order of g · W[o, 0 .. NV·16) (the last vector's lanes past `last` read as
// zeros): NV chains of 16 lanes in registers. w: W's column r0, rows KK apart.
template <int NV>
__attribute__((target("avx512f"))) void column_block(float* out, const float* w, std::size_t KK, const Link* links,
                                                     std::size_t n, __mmask16 last) {
  // Loops unrolled in full, so that the chains live in registers (GCC otherwise kept them in the stack frame).
  __m512 acc[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  for (std::size_t i = 0; i < n; ++i) {
    const __m512 g = _mm512_set1_ps(links[i].g);
    const float* row = w + links[i].o * KK;
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      acc[v] = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(v + 1 < NV ? __mmask16(0xFFFF) : last, row + 16 * v), acc[v]);
  }
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + 16 * v, acc[v]);
}

using ColumnBlock = void (*)(float*, const float*, std::size_t, const Link*, std::size_t, __mmask16);

// Blocks of at most 12 vectors (chains in flight to hide the FMA latency, registers left for the loads), and of
// W's columns no more than 24 KB, so that they stay in L1 across the pixels: cnn.conv2's W is 72 KB, and read from
// L2 its block of 9 vectors ran at one FMA per two cycles (9.0 ms a batch, 7.6 ms in blocks of 6).
constexpr std::size_t kMaxBlock = 12, kBlockBytes = 24 * 1024;
ColumnBlock column_block_of(std::size_t vectors) {
  switch (vectors) {
    case 1: return &column_block<1>;
    case 2: return &column_block<2>;
    case 3: return &column_block<3>;
    case 4: return &column_block<4>;
    case 5: return &column_block<5>;
    case 6: return &column_block<6>;
    case 7: return &column_block<7>;
    case 8: return &column_block<8>;
    case 9: return &column_block<9>;
    case 10: return &column_block<10>;
    case 11: return &column_block<11>;
    default: return &column_block<12>;
  }
}

// GCC 12's AVX-512 shuffle intrinsics start from a self-initialised "undefined" vector, which -Wuninitialized
// reports at every use; the values are all defined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// to [16 rows, ldt apart] = the transpose of from [16 rows, ldf apart] (16 x 16 floats); rows of `to` at or past
// `rows` are not written, and each written row only in the lanes of `cols`.
__attribute__((target("avx512f"))) void transpose16(float* to, std::size_t ldt, const float* from, std::size_t ldf,
                                                    std::size_t rows, __mmask16 cols) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(from + i * ldf);
  for (int i = 0; i < 16; i += 2) {  // per 128-bit lane: [a0 b0 a1 b1], [a2 b2 a3 b3]
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int q = 0; q < 16; q += 4) {  // r[q + k], lane L: rows q .. q + 3 at column 4L + k
    r[q] = _mm512_shuffle_ps(t[q], t[q + 2], 0x44);
    r[q + 1] = _mm512_shuffle_ps(t[q], t[q + 2], 0xEE);
    r[q + 2] = _mm512_shuffle_ps(t[q + 1], t[q + 3], 0x44);
    r[q + 3] = _mm512_shuffle_ps(t[q + 1], t[q + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {  // column 4L + k: lane L of r[k], r[4 + k], r[8 + k], r[12 + k]
    const __m512 v0 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88), v1 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xDD);
    const __m512 w0 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88),
                 w1 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xDD);
    t[k] = _mm512_shuffle_f32x4(v0, w0, 0x88);
    t[4 + k] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    t[8 + k] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
    t[12 + k] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
  }
  for (std::size_t j = 0; j < std::min<std::size_t>(rows, 16); ++j) _mm512_mask_storeu_ps(to + j * ldt, cols, t[j]);
}
#pragma GCC diagnostic pop

// The columns' gradient at every input pixel q = (iy, ix), all channels at once: dx_t [H·W, C16] row q = Σ over
// the taps (ky, kx) in order, where output pixel (oy, ox) with oy·stride + ky = iy + p, ox·stride + kx = ix + p
// exists, of cols_t's row (oy, ox) at tap (ky, kx) (C floats). col2im adds each element's terms in the same order,
// from 0. Row by row, tap by tap across the row: the adds of one row's pixels are independent (one pixel's 25 taps in
// a row would wait on each other's latency).
__attribute__((target("avx512f"))) void gather_taps(float* dx_t, std::size_t C16, const float* cols_t,
                                                    std::size_t KK16, const Conv2dShape& s) {
  const std::size_t K = s.K, C = s.C, OH = s.OH(), OW = s.OW(), vc = C16 / 16, stride = s.stride;
  const auto pad = static_cast<std::ptrdiff_t>(s.padding), W = static_cast<std::ptrdiff_t>(s.W);
  for (std::size_t iy = 0; iy < s.H; ++iy) {
    float* row = dx_t + iy * s.W * C16;
    std::fill(row, row + s.W * C16, 0.0f);
    for (std::size_t ky = 0; ky < K; ++ky) {
      const std::size_t ty = iy + s.padding;  // oy·stride + ky
      if (ty < ky || (ty - ky) % stride != 0 || (ty - ky) / stride >= OH) continue;
      const float* taps = cols_t + ((ty - ky) / stride) * OW * KK16 + ky * K * C;
      for (std::size_t kx = 0; kx < K; ++kx)
        for (std::size_t ox = 0; ox < OW; ++ox) {
          const std::ptrdiff_t ix = static_cast<std::ptrdiff_t>(ox * stride + kx) - pad;
          if (ix < 0 || ix >= W) continue;
          const float* t = taps + ox * KK16 + kx * C;
          float* d = row + static_cast<std::size_t>(ix) * C16;
          for (std::size_t v = 0; v < vc; ++v)
            _mm512_storeu_ps(d + 16 * v, _mm512_add_ps(_mm512_loadu_ps(d + 16 * v), _mm512_loadu_ps(t + 16 * v)));
        }
    }
  }
}

}  // namespace

bool conv2d_input_gradient_sparse(float* dx_n, std::vector<float>& w_by_tap, const float* w, const float* dy_n,
                                  const Conv2dShape& s) {
  const std::size_t O = s.O, P = s.pixels(), KK = s.patch(), C = s.C, K = s.K, HW = s.H * s.W;
  // Under 16 channels the taps' sums leave lanes idle: lenet5.conv2 (6 channels) took 0.91-1.12 ms a batch this
  // way, 0.97-1.15 ms dense (paired), no clear gain.
  if (!kHaveAvx512 || C < 16 || C > 64) return false;
  // Each channel's nonzeros in pixel order (the first channel as a sample: a dense one costs only its pass), then
  // each pixel's links in channel order.
  const std::uint32_t* pixel = iota_tags(P);
  thread_local std::vector<float> g;
  thread_local std::vector<std::uint32_t> at, count;
  thread_local std::vector<Link> links;
  g.resize(P + 16);
  at.resize(P + 16);
  count.assign(P, 0);
  links.resize(P * O);
  std::size_t total = 0;
  for (std::size_t o = 0; o < O; ++o) {
    const Nonzeros nz = compress_nonzero(g.data(), at.data(), dy_n + o * P, pixel, P);
    if (o == 0 && !sparse_enough(nz.n, 2 * P)) return false;
    total += nz.n;
    if (!sparse_enough(total, O * P)) return false;
    for (std::size_t i = 0; i < nz.n; ++i) {
      const std::uint32_t p = nz.at[i];
      links[p * O + count[p]++] = {static_cast<std::uint32_t>(o), nz.g[i]};
    }
  }
  if (w_by_tap.empty()) {  // W [O, C, K, K] as [O, K, K, C]: a tap's channels side by side
    w_by_tap.resize(O * KK);
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t k = 0; k < K * K; ++k) w_by_tap[(o * K * K + k) * C + c] = w[(o * C + c) * K * K + k];
  }
  // Each output pixel's column of Wᵀ · dy_n, taps by channel, as row p of cols_t [P, KK16].
  const std::size_t vectors = (KK + 15) / 16, KK16 = vectors * 16;
  const std::size_t most = std::clamp<std::size_t>(kBlockBytes / (O * 16 * sizeof(float)), 1, kMaxBlock);
  const std::size_t blocks = (vectors + most - 1) / most, per_block = (vectors + blocks - 1) / blocks;
  thread_local std::vector<float> cols_t;
  cols_t.resize(P * KK16 + 64);  // + the far lanes of the last tap's loads in gather_taps
  for (std::size_t v0 = 0; v0 < vectors; v0 += per_block) {
    const std::size_t nv = std::min(per_block, vectors - v0), r_end = std::min(KK, (v0 + nv) * 16);
    const auto last = static_cast<__mmask16>((1u << (r_end - (v0 + nv - 1) * 16)) - 1u);
    const ColumnBlock block = column_block_of(nv);
    for (std::size_t p = 0; p < P; ++p)
      block(cols_t.data() + p * KK16 + v0 * 16, w_by_tap.data() + v0 * 16, KK, links.data() + p * O, count[p], last);
  }
  // col2im with every input pixel's channels in one row of dx_t [HW16, C16], then transposed into dx_n [C, H·W].
  const std::size_t C16 = (C + 15) / 16 * 16, HW16 = (HW + 15) / 16 * 16;
  thread_local std::vector<float> dx_t;
  dx_t.resize(HW16 * C16);
  gather_taps(dx_t.data(), C16, cols_t.data(), KK16, s);
  for (std::size_t q0 = 0; q0 < HW; q0 += 16) {
    const auto cols = static_cast<__mmask16>(q0 + 16 <= HW ? 0xFFFFu : (1u << (HW - q0)) - 1u);
    for (std::size_t c0 = 0; c0 < C; c0 += 16)
      transpose16(dx_n + c0 * HW + q0, HW, dx_t.data() + q0 * C16 + c0, C16, C - c0, cols);
  }
  ++sparse_gradient_runs();
  return true;
}

}  // namespace mnist::kernels
