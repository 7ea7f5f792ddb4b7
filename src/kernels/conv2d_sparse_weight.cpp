#include "kernels/conv2d_sparse_weight.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu.hpp"
#include "kernels/nonzeros.hpp"

namespace mnist::kernels {

namespace {

// One channel's chains acc [K] (and its bias chain sum) over its nonzeros from the j0-th on.
template <int K, bool Bias>
__attribute__((target("avx512f,avx512vl,fma"), always_inline)) inline void runs_from(
    __m256 (&acc)[K], float& sum, const float* plane, std::size_t S, const Nonzeros& nz, std::size_t j0) {
  for (std::size_t j = j0; j < nz.n; ++j) {
    const __m256 g = _mm256_set1_ps(nz.g[j]);
    const float* from = plane + nz.at[j];
#pragma GCC unroll 8
    for (int ky = 0; ky < K; ++ky) acc[ky] = _mm256_fmadd_ps(g, _mm256_loadu_ps(from + ky * S), acc[ky]);
    if constexpr (Bias) sum += nz.g[j];
  }
}

// The K patch rows (c, ky, 0 .. K−1), ky = 0 .. K−1, of one input channel c for two output channels a and b at once
// (b.n == 0: a alone): their chains run in K lanes of K vectors per channel, a and b interleaved so that the 2·K
// chains hide each other's latency. Each row's K floats are read by an 8-lane load (the lanes past K, and the
// accumulator lanes they feed, are never stored): a masked load costs more on some cores. acc_a, acc_b: the
// channels' rows of acc at patch row (c, 0, 0); with bias, their bias elements at bias_a, bias_b. plane: input
// channel c's padded plane, rows S apart.
template <int K, bool Bias>
__attribute__((target("avx512f,avx512vl,fma"))) void channel_runs(float* acc_a, float* acc_b, float* bias_a,
                                                                  float* bias_b, const float* plane, std::size_t S,
                                                                  Nonzeros a, Nonzeros b) {
  const auto m = static_cast<__mmask8>((1u << K) - 1u);
  __m256 A[K], B[K];  // loops unrolled in full: the chains live in registers
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    A[ky] = _mm256_maskz_loadu_ps(m, acc_a + ky * K);
    B[ky] = b.n ? _mm256_maskz_loadu_ps(m, acc_b + ky * K) : _mm256_setzero_ps();
  }
  float sa = Bias ? *bias_a : 0.0f, sb = Bias && b.n ? *bias_b : 0.0f;
  const std::size_t both = std::min(a.n, b.n);
  std::size_t i = 0;
  for (; i < both; ++i) {
    const __m256 ga = _mm256_set1_ps(a.g[i]), gb = _mm256_set1_ps(b.g[i]);
    const float *pa = plane + a.at[i], *pb = plane + b.at[i];
#pragma GCC unroll 8
    for (int ky = 0; ky < K; ++ky) {
      A[ky] = _mm256_fmadd_ps(ga, _mm256_loadu_ps(pa + ky * S), A[ky]);
      B[ky] = _mm256_fmadd_ps(gb, _mm256_loadu_ps(pb + ky * S), B[ky]);
    }
    if constexpr (Bias) {  // fma(g, 1, s) is exactly s + g
      sa += a.g[i];
      sb += b.g[i];
    }
  }
  runs_from<K, Bias>(A, sa, plane, S, a, i);  // the longer channel's rest alone
  runs_from<K, Bias>(B, sb, plane, S, b, i);
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    _mm256_mask_storeu_ps(acc_a + ky * K, m, A[ky]);
    if (b.n) _mm256_mask_storeu_ps(acc_b + ky * K, m, B[ky]);
  }
  if constexpr (Bias) {
    *bias_a = sa;
    if (b.n) *bias_b = sb;
  }
}

using ChannelRuns = void (*)(float*, float*, float*, float*, const float*, std::size_t, Nonzeros, Nonzeros);

template <int K>
ChannelRuns runs_for(bool bias) {
  return bias ? &channel_runs<K, true> : &channel_runs<K, false>;
}

ChannelRuns runs_for(std::size_t K, bool bias) {
  switch (K) {
    case 1: return runs_for<1>(bias);
    case 2: return runs_for<2>(bias);
    case 3: return runs_for<3>(bias);
    case 4: return runs_for<4>(bias);
    case 5: return runs_for<5>(bias);
    case 6: return runs_for<6>(bias);
    case 7: return runs_for<7>(bias);
    case 8: return runs_for<8>(bias);
    default: return nullptr;
  }
}

// Offsets oy·S + ox of the output pixels in the padded plane, for the last shape asked (one table per thread).
const std::uint32_t* pixel_offsets32(const Conv2dShape& s) {
  thread_local std::vector<std::uint32_t> at;
  thread_local std::size_t for_ow = 0, for_s = 0;
  const std::size_t OW = s.OW(), S = s.W + 2 * s.padding, P = s.pixels();
  if (at.size() != P || for_ow != OW || for_s != S) {
    at.resize(P);
    for (std::size_t q = 0; q < P; ++q) at[q] = static_cast<std::uint32_t>((q / OW) * S + q % OW);
    for_ow = OW;
    for_s = S;
  }
  return at.data();
}

}  // namespace

bool conv2d_weight_image_sparse(float* acc, std::size_t R, const float* dy_n, std::size_t Oc, const float* pad,
                                const Conv2dShape& s, bool bias) {
  const std::size_t K = s.K, P = s.pixels();
  if (!kHaveAvx512vl || s.stride != 1 || K > 8 || Oc == 0) return false;
  // Every channel's nonzeros first (one pass over dy_n, which a wide layer's batch holds beyond the caches), then
  // the decision: a dense dy_n costs this pass and takes the dense product.
  const std::uint32_t* pixel_at = pixel_offsets32(s);
  const std::size_t room = P + 16;
  thread_local std::vector<float> g;
  thread_local std::vector<std::uint32_t> at;
  thread_local std::vector<Nonzeros> lists;
  g.resize(Oc * room);
  at.resize(Oc * room);
  lists.resize(Oc);
  // The first channel as a sample: a dense one (after a batch norm, say) costs one channel's pass, not all.
  lists[0] = compress_nonzero(g.data(), at.data(), dy_n, pixel_at, P);
  if (!sparse_enough(lists[0].n, 2 * P)) return false;
  std::size_t total = lists[0].n;
  for (std::size_t o = 1; o < Oc; ++o) {
    lists[o] = compress_nonzero(g.data() + o * room, at.data() + o * room, dy_n + o * P, pixel_at, P);
    total += lists[o].n;
  }
  if (!sparse_enough(total, Oc * P)) return false;
  const std::size_t S = s.W + 2 * s.padding, plane = (s.H + 2 * s.padding) * S, KK = s.patch();
  const ChannelRuns first = runs_for(K, bias), rest = runs_for(K, false);
  for (std::size_t o = 0; o < Oc; o += 2) {
    const Nonzeros none{nullptr, nullptr, 0}, &a = lists[o], &b = o + 1 < Oc ? lists[o + 1] : none;
    float *row_a = acc + o * R, *row_b = o + 1 < Oc ? row_a + R : row_a;  // row_b untouched when b is empty
    for (std::size_t c = 0; c < s.C; ++c)
      (c == 0 ? first : rest)(row_a + c * K * K, row_b + c * K * K, row_a + KK, row_b + KK, pad + c * plane, S, a, b);
  }
  ++sparse_gradient_runs();
  return true;
}

}  // namespace mnist::kernels
