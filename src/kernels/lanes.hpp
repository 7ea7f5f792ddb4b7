// The sum of an 8-lane vector's lanes in ONE fixed order, ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)), on the AVX path
// and on the scalar one alike: the kernels whose sums run in vector lanes (the dot kernels, the softmax) end with
// it, so that a CPU without AVX2 gets the same bits.
#pragma once
#include <immintrin.h>

namespace mnist::kernels {

/// The lanes l[0..8) added in the fixed order.
inline float lanes_total(const float* l) {
  return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

/// The lanes of v added in the same order.
__attribute__((target("avx2,fma"))) inline float lanes_total_avx2(__m256 v) {
  const __m128 four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // l0+l4 .. l3+l7
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));  // (l0+l4)+(l2+l6), (l1+l5)+(l3+l7)
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

}  // namespace mnist::kernels
