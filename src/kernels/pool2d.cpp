#include "kernels/pool2d.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu.hpp"

namespace mnist::kernels {

namespace {
// PyTorch's update for one window element, without a branch (random data mispredicts half of them): a larger
// value or a NaN takes over.
inline void consider(float v, std::uint32_t i, float& best, std::uint32_t& at) {
  const bool take = v > best || v != v;
  best = take ? v : best;
  at = take ? i : at;
}

// What the pooling applies to each element before comparing it: nothing; ReLU (relu_forward's `x > 0 ? x : 0`); or
// batch norm's eval transform of the element's channel (batchnorm2d_forward_eval's product, rounded, then its sum)
// and then ReLU.
enum class Pre { None, Relu, AffineRelu };

template <Pre P>
inline float pooled(float v, ChannelAffine a) {
  if constexpr (P == Pre::AffineRelu) {
    const float scaled = v * a.alpha;  // (built with -ffp-contract=off: never one FMA, src/kernels/CMakeLists.txt)
    v = scaled + a.shift;
  }
  if constexpr (P != Pre::None) return v > 0.0f ? v : 0.0f;
  return v;
}

// The presets' 2x2 windows moved by 2: the four elements in row-major order, unrolled.
template <Pre P>
void maxpool_2x2(float* y, std::uint32_t* argmax, const float* x, const Pool2dShape& s, ChannelAffine a) {
  const std::size_t OH = s.OH(), OW = s.OW(), W = s.W;
  for (std::size_t oy = 0; oy < OH; ++oy)
    for (std::size_t ox = 0; ox < OW; ++ox) {
      const auto i = static_cast<std::uint32_t>(2 * oy * W + 2 * ox), j = static_cast<std::uint32_t>(i + W);
      float best = -std::numeric_limits<float>::infinity();
      std::uint32_t at = i;
      consider(pooled<P>(x[i], a), i, best, at);
      consider(pooled<P>(x[i + 1], a), i + 1, best, at);
      consider(pooled<P>(x[j], a), j, best, at);
      consider(pooled<P>(x[j + 1], a), j + 1, best, at);
      y[oy * OW + ox] = best;
      argmax[oy * OW + ox] = at;
    }
}
// The same on AVX-512, 16 windows of an output row at a time: the two input rows' even and odd columns split by a
// permute, then PyTorch's update as masked moves (scalar code compiles it to branches that random data mispredicts).
// The transforms as pooled() has them: the product and the sum with explicit rounding (the compiler may contract a
// plain multiply and add into one FMA, which rounds once); the ReLU keeps what is > 0 and zeroes the rest (a NaN or
// a -0 becomes +0).
template <Pre P>
__attribute__((target("avx512f"))) void maxpool_2x2_avx512(float* y, std::uint32_t* argmax, const float* x,
                                                            const Pool2dShape& s, ChannelAffine affine) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  constexpr __mmask16 kAll = 0xFFFF;  // (the unmasked forms read an undefined register in GCC 12's headers)
  const __m512 alpha = _mm512_set1_ps(affine.alpha), shift = _mm512_set1_ps(affine.shift);
  const std::size_t OH = s.OH(), OW = s.OW(), W = s.W;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
  for (std::size_t oy = 0; oy < OH; ++oy)
    for (std::size_t ox = 0; ox < OW; ox += 16) {
      const std::size_t n = std::min<std::size_t>(16, OW - ox), in = 2 * n;  // windows, input columns
      const __mmask16 out_mask = static_cast<__mmask16>((1u << n) - 1u);
      const __mmask16 lo = static_cast<__mmask16>(in >= 16 ? 0xFFFFu : (1u << in) - 1u);
      const __mmask16 hi = static_cast<__mmask16>(in <= 16 ? 0u : (1u << (in - 16)) - 1u);
      __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
      const auto first = static_cast<int>(2 * oy * W + 2 * ox);
      __m512i at = _mm512_add_epi32(_mm512_set1_epi32(first), lane2);
      for (std::size_t dy = 0; dy < 2; ++dy) {
        const float* row = x + (2 * oy + dy) * W + 2 * ox;
        const __m512 a = _mm512_maskz_loadu_ps(lo, row), b = _mm512_maskz_loadu_ps(hi, row + 16);
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first + dy * W)), lane2);
        for (int dx = 0; dx < 2; ++dx) {
          __m512 v = _mm512_permutex2var_ps(a, dx == 0 ? even : odd, b);
          if constexpr (P == Pre::AffineRelu)
            v = _mm512_maskz_add_round_ps(kAll, _mm512_maskz_mul_round_ps(kAll, v, alpha, kRound), shift, kRound);
          if constexpr (P != Pre::None)
            v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), v);
          const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
          best = _mm512_mask_mov_ps(best, take, v);
          at = _mm512_mask_mov_epi32(at, take, dx == 0 ? base : _mm512_add_epi32(base, _mm512_set1_epi32(1)));
        }
      }
      _mm512_mask_storeu_ps(y + oy * OW + ox, out_mask, best);
      _mm512_mask_storeu_epi32(argmax + oy * OW + ox, out_mask, at);
    }
}

// Planes [p0, p1); with AffineRelu, plane p is of channel p % C (NCHW) and takes affine[p % C].
// avx512: 2x2 stride-2 windows on the AVX-512 path (the CPU's choice, but for the tests that compare the paths).
template <Pre P>
void maxpool_planes(std::span<float> y_, std::span<std::uint32_t> argmax_, std::span<const float> x_,
                    const Pool2dShape& s, std::size_t p0, std::size_t p1, std::span<const ChannelAffine> affine = {},
                    bool avx512 = kHaveAvx512) {
  const std::size_t OH = s.OH(), OW = s.OW(), in = s.H * s.W, out = OH * OW;
  for (std::size_t plane = p0; plane < p1; ++plane) {
    const float* x = x_.data() + plane * in;
    float* y = y_.data() + plane * out;
    std::uint32_t* argmax = argmax_.data() + plane * out;
    const ChannelAffine a = P == Pre::AffineRelu ? affine[plane % affine.size()] : ChannelAffine{};
    if (s.K == 2 && s.stride == 2) {
      if (avx512) maxpool_2x2_avx512<P>(y, argmax, x, s, a);
      else maxpool_2x2<P>(y, argmax, x, s, a);
      continue;
    }
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox) {
        // PyTorch's loop: start below everything at the window's first index; a larger value or a NaN takes over,
        // so ties keep the first maximum and a NaN (the last one) wins.
        const std::size_t first = oy * s.stride * s.W + ox * s.stride;
        float best = -std::numeric_limits<float>::infinity();
        auto at = static_cast<std::uint32_t>(first);
        for (std::size_t ky = 0; ky < s.K; ++ky)
          for (std::size_t kx = 0; kx < s.K; ++kx) {
            const std::size_t i = first + ky * s.W + kx;
            consider(pooled<P>(x[i], a), static_cast<std::uint32_t>(i), best, at);
          }
        y[oy * OW + ox] = best;
        argmax[oy * OW + ox] = at;
      }
  }
}

// dx of planes [p0, p1): zeroed, then each window's gradient added at its argmax; with a mask (the ReLU variant),
// only where the window's output is positive.
void scatter_planes(std::span<float> dx_, std::span<const float> dy_, const float* y_,
                    std::span<const std::uint32_t> argmax_, const Pool2dShape& s, std::size_t p0, std::size_t p1) {
  const std::size_t in = s.H * s.W, out = s.OH() * s.OW();
  for (std::size_t plane = p0; plane < p1; ++plane) {
    float* dx = dx_.data() + plane * in;
    const float* dy = dy_.data() + plane * out;
    const std::uint32_t* argmax = argmax_.data() + plane * out;
    std::fill(dx, dx + in, 0.0f);
    if (y_ == nullptr) {
      for (std::size_t o = 0; o < out; ++o) dx[argmax[o]] += dy[o];
      continue;
    }
    const float* y = y_ + plane * out;
    for (std::size_t o = 0; o < out; ++o) {
      const float d = dy[o];  // read whatever the sign: a conditional read keeps a mispredicted branch
      dx[argmax[o]] += y[o] > 0.0f ? d : 0.0f;
    }
  }
}
}  // namespace

void maxpool2d_forward(std::span<float> y, std::span<std::uint32_t> argmax, std::span<const float> x,
                       const Pool2dShape& s, std::size_t p0, std::size_t p1) {
  maxpool_planes<Pre::None>(y, argmax, x, s, p0, p1);
}

void relu_maxpool2d_forward(std::span<float> y, std::span<std::uint32_t> argmax, std::span<const float> x,
                            const Pool2dShape& s, std::size_t p0, std::size_t p1) {
  maxpool_planes<Pre::Relu>(y, argmax, x, s, p0, p1);
}

void batchnorm_relu_maxpool2d_forward(std::span<float> y, std::span<std::uint32_t> argmax, std::span<const float> x,
                                      std::span<const ChannelAffine> affine, const Pool2dShape& s, std::size_t p0,
                                      std::size_t p1) {
  maxpool_planes<Pre::AffineRelu>(y, argmax, x, s, p0, p1, affine);
}

void maxpool2d_forward_on(bool avx512, MaxPoolInput input, std::span<float> y, std::span<std::uint32_t> argmax,
                          std::span<const float> x, std::span<const ChannelAffine> affine, const Pool2dShape& s,
                          std::size_t p0, std::size_t p1) {
  switch (input) {
    case MaxPoolInput::Plain: return maxpool_planes<Pre::None>(y, argmax, x, s, p0, p1, {}, avx512);
    case MaxPoolInput::Relu: return maxpool_planes<Pre::Relu>(y, argmax, x, s, p0, p1, {}, avx512);
    case MaxPoolInput::BatchNormRelu: return maxpool_planes<Pre::AffineRelu>(y, argmax, x, s, p0, p1, affine, avx512);
  }
}

void maxpool2d_backward(std::span<float> dx, std::span<const float> dy, std::span<const std::uint32_t> argmax,
                        const Pool2dShape& s, std::size_t p0, std::size_t p1) {
  scatter_planes(dx, dy, nullptr, argmax, s, p0, p1);
}

void relu_maxpool2d_backward(std::span<float> dx, std::span<const float> dy, std::span<const float> y,
                             std::span<const std::uint32_t> argmax, const Pool2dShape& s, std::size_t p0,
                             std::size_t p1) {
  scatter_planes(dx, dy, y.data(), argmax, s, p0, p1);
}

void avgpool2d_forward(std::span<float> y_, std::span<const float> x_, const Pool2dShape& s, std::size_t p0,
                       std::size_t p1) {
  const std::size_t OH = s.OH(), OW = s.OW(), in = s.H * s.W, out = OH * OW;
  const auto count = static_cast<float>(s.K * s.K);
  for (std::size_t plane = p0; plane < p1; ++plane) {
    const float* x = x_.data() + plane * in;
    float* y = y_.data() + plane * out;
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox) {
        const float* w = x + oy * s.stride * s.W + ox * s.stride;
        float sum = 0.0f;  // row-major window order, then one division (PyTorch's sum / divide_factor)
        for (std::size_t ky = 0; ky < s.K; ++ky)
          for (std::size_t kx = 0; kx < s.K; ++kx) sum += w[ky * s.W + kx];
        y[oy * OW + ox] = sum / count;
      }
  }
}

void avgpool2d_backward(std::span<float> dx_, std::span<const float> dy_, const Pool2dShape& s, std::size_t p0,
                        std::size_t p1) {
  const std::size_t OH = s.OH(), OW = s.OW(), in = s.H * s.W, out = OH * OW;
  const auto count = static_cast<float>(s.K * s.K);
  for (std::size_t plane = p0; plane < p1; ++plane) {
    float* dx = dx_.data() + plane * in;
    const float* dy = dy_.data() + plane * out;
    std::fill(dx, dx + in, 0.0f);
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox) {
        const float g = dy[oy * OW + ox] / count;
        float* w = dx + oy * s.stride * s.W + ox * s.stride;
        for (std::size_t ky = 0; ky < s.K; ++ky)
          for (std::size_t kx = 0; kx < s.K; ++kx) w[ky * s.W + kx] += g;
      }
  }
}

}  // namespace mnist::kernels
