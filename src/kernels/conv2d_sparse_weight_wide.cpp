// The sparse weight gradient of a layer with many input and output channels (kernels/conv2d_sparse_weight.hpp).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/conv2d_sparse_weight.hpp"
#include "kernels/cpu.hpp"
#include "kernels/nonzeros.hpp"

namespace mnist::kernels {

namespace {

// acc [NV·16] (one output channel's chains over one tap row (ky, 0 .. K−1) × channels, lanes past `last` of the
// last vector unused) += Σ over the channel's nonzeros in pixel order of g · the row's K·C floats of the
// channels-last padded input at row + at[i]; with Bias, *bias += each g as well (fma(g, 1, s) is exactly s + g).
// Loops unrolled in full, so that the chains live in registers.
template <int NV, bool Bias>
__attribute__((target("avx512f"))) void tap_row(float* acc, float* bias, const float* row, Nonzeros nz,
                                                __mmask16 last) {
  __m512 a[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) a[v] = _mm512_loadu_ps(acc + 16 * v);
  float b = Bias ? *bias : 0.0f;
  for (std::size_t i = 0; i < nz.n; ++i) {
    const __m512 g = _mm512_set1_ps(nz.g[i]);
    const float* from = row + nz.at[i];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      a[v] = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(v + 1 < NV ? __mmask16(0xFFFF) : last, from + 16 * v), a[v]);
    if constexpr (Bias) b += nz.g[i];
  }
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) _mm512_storeu_ps(acc + 16 * v, a[v]);
  if constexpr (Bias) *bias = b;
}

using TapRow = void (*)(float*, float*, const float*, Nonzeros, __mmask16);

template <int NV>
TapRow tap_row_for(bool bias) {
  return bias ? &tap_row<NV, true> : &tap_row<NV, false>;
}

// Tap rows of up to 12 vectors (K·C <= 192: cnn.conv2's 3 x 32 = 96 floats is 6).
constexpr std::size_t kMaxVectors = 12;
TapRow tap_row_for(std::size_t vectors, bool bias) {
  switch (vectors) {
    case 1: return tap_row_for<1>(bias);
    case 2: return tap_row_for<2>(bias);
    case 3: return tap_row_for<3>(bias);
    case 4: return tap_row_for<4>(bias);
    case 5: return tap_row_for<5>(bias);
    case 6: return tap_row_for<6>(bias);
    case 7: return tap_row_for<7>(bias);
    case 8: return tap_row_for<8>(bias);
    case 9: return tap_row_for<9>(bias);
    case 10: return tap_row_for<10>(bias);
    case 11: return tap_row_for<11>(bias);
    default: return tap_row_for<12>(bias);
  }
}

// Image [C, H, W] zero-padded and channels-last into pad [H + 2p, S, C] (S = W + 2p), with 16 floats of slack.
void padded_channels_last(std::vector<float>& pad, const float* image, const Conv2dShape& s) {
  const std::size_t p = s.padding, S = s.W + 2 * p, C = s.C;
  pad.assign((s.H + 2 * p) * S * C + 16, 0.0f);
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t iy = 0; iy < s.H; ++iy) {
      const float* from = image + (c * s.H + iy) * s.W;
      float* to = pad.data() + ((iy + p) * S + p) * C + c;
      for (std::size_t ix = 0; ix < s.W; ++ix) to[ix * C] = from[ix];
    }
}

}  // namespace

bool conv2d_weight_sparse_wide(float* dw, float* db, const float* dy, const float* x, const Conv2dShape& s,
                               std::size_t N, std::size_t o0, std::size_t o1) {
  const std::size_t C = s.C, K = s.K, P = s.pixels(), KK = s.patch(), O = s.O, row_floats = K * C;
  const std::size_t vectors = (row_floats + 15) / 16, row16 = vectors * 16;
  if (!kHaveAvx512 || s.stride != 1 || C < 16 || C > 64 || vectors > kMaxVectors || o1 <= o0 || N == 0) return false;
  const std::size_t S = s.W + 2 * s.padding, image = C * s.H * s.W;
  // Pixel (oy, ox)'s offset in the channels-last plane: its window's corner.
  thread_local std::vector<std::uint32_t> corner;
  corner.resize(P);
  for (std::size_t q = 0; q < P; ++q) corner[q] = static_cast<std::uint32_t>(((q / s.OW()) * S + q % s.OW()) * C);
  const std::size_t room = P + 16;
  thread_local std::vector<float> g;
  thread_local std::vector<std::uint32_t> at;
  g.resize(room);
  at.resize(room);
  std::size_t sample = 0;  // image 0's nonzeros over the range
  for (std::size_t o = o0; o < o1; ++o)
    sample += compress_nonzero(g.data(), at.data(), dy + o * P, corner.data(), P).n;
  if (!sparse_enough(sample, (o1 - o0) * P)) return false;
  // The chains [o1 − o0, K, row16] (taps by channel, each tap row padded to whole vectors), from dw's values.
  thread_local std::vector<float> acc;
  thread_local std::vector<float> pad;
  acc.assign((o1 - o0) * K * row16, 0.0f);
  for (std::size_t o = o0; o < o1; ++o)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t ky = 0; ky < K; ++ky)
        for (std::size_t kx = 0; kx < K; ++kx)
          acc[((o - o0) * K + ky) * row16 + kx * C + c] = dw[o * KK + (c * K + ky) * K + kx];
  const auto last = static_cast<__mmask16>((1u << (row_floats - (vectors - 1) * 16)) - 1u);
  const TapRow first = tap_row_for(vectors, db != nullptr), rest = tap_row_for(vectors, false);
  for (std::size_t n = 0; n < N; ++n) {
    padded_channels_last(pad, x + n * image, s);
    for (std::size_t o = o0; o < o1; ++o) {
      const Nonzeros nz = compress_nonzero(g.data(), at.data(), dy + (n * O + o) * P, corner.data(), P);
      for (std::size_t ky = 0; ky < K; ++ky)
        (ky == 0 ? first : rest)(acc.data() + ((o - o0) * K + ky) * row16, db ? db + o : nullptr,
                                 pad.data() + ky * S * C, nz, last);
    }
  }
  for (std::size_t o = o0; o < o1; ++o)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t ky = 0; ky < K; ++ky)
        for (std::size_t kx = 0; kx < K; ++kx)
          dw[o * KK + (c * K + ky) * K + kx] = acc[((o - o0) * K + ky) * row16 + kx * C + c];
  ++sparse_gradient_runs();
  return true;
}

}  // namespace mnist::kernels
