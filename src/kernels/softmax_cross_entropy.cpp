#include "kernels/softmax_cross_entropy.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu.hpp"
#include "kernels/lanes.hpp"
#include "kernels/parallel.hpp"

namespace mnist::kernels {

namespace {
// exp(x) for the softmax's x = logit - max <= 0 (and NaN, passed through), in float, the same bits on the vector
// and the scalar path: x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts), e^r by a degree-7 polynomial
// (Cephes' expf coefficients, within about 1 ulp), times 2^n built in the exponent field. Below kExpLow (e^x under
// 2^-125, a probability no float sum can notice next to the max's 1) the result is 0.
constexpr float kExpLow = -87.0f, kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

float exp_scalar(float x) {
  if (std::isnan(x)) return x;
  if (x < kExpLow) return 0.0f;
  const float n = std::nearbyint(x * kLog2e);
  const float r = std::fma(n, -kLn2Lo, std::fma(n, -kLn2Hi, x));
  float p = std::fma(kP0, r, kP1);
  p = std::fma(p, r, kP2);
  p = std::fma(p, r, kP3);
  p = std::fma(p, r, kP4);
  p = std::fma(p, r, kP5);
  const float y = std::fma(p, r * r, r) + 1.0f;
  const std::uint32_t bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

__attribute__((target("avx2,fma"))) __m256 exp_avx2(__m256 x) {
  const __m256 low = _mm256_set1_ps(kExpLow);
  const __m256 under = _mm256_cmp_ps(x, low, _CMP_LT_OQ);
  const __m256 xc = _mm256_max_ps(low, x);  // a NaN x stays (max_ps returns its second operand then)
  const __m256 n =
      _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r =
      _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Lo), _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Hi), xc));
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kP0), r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(y, _mm256_castsi256_ps(bits)));
}

// Writes exp(row - max) / sum into p and returns log(sum) + max = logsumexp(row). The max skips NaNs (a NaN
// logit still makes the row NaN through its exp); the sum runs in 8 lanes, class c in lane c % 8.
float softmax_row_scalar(float* p, const float* row, std::size_t C) {
  float mx = -std::numeric_limits<float>::infinity();
  for (std::size_t c = 0; c < C; ++c) mx = row[c] > mx ? row[c] : mx;
  float lanes[8] = {};
  for (std::size_t c = 0; c < C; ++c) {
    p[c] = exp_scalar(row[c] - mx);
    lanes[c % 8] += p[c];
  }
  const float sum = lanes_total(lanes), inv = 1.0f / sum;
  for (std::size_t c = 0; c < C; ++c) p[c] *= inv;
  return mx + std::log(sum);
}

// The lanes of the 8 classes from c0 on that exist (all but the last chunk's tail), for maskload/maskstore.
__attribute__((target("avx2,fma"))) __m256i mask_at(std::size_t c0, std::size_t C) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<std::size_t>(C - c0, 8))), lane);
}

// The row's classes from c0 on (at most 8), the missing lanes -inf.
__attribute__((target("avx2,fma"))) __m256 load_classes(const float* row, std::size_t c0, std::size_t C) {
  const __m256i k = mask_at(c0, C);
  return _mm256_blendv_ps(_mm256_set1_ps(-std::numeric_limits<float>::infinity()), _mm256_maskload_ps(row + c0, k),
                          _mm256_castsi256_ps(k));
}

__attribute__((target("avx2,fma"))) float max_of_lanes(__m256 v) {
  float lanes[8];
  _mm256_storeu_ps(lanes, v);
  float m = lanes[0];
  for (int l = 1; l < 8; ++l) m = lanes[l] > m ? lanes[l] : m;
  return m;
}

// Up to 16 classes (the tutorial's 10) in two registers from load to store; more in a loop over chunks of 8.
// (A NaN logit makes the whole row NaN either way, through its exp and the sum, as on the scalar path.)
__attribute__((target("avx2,fma"))) float softmax_row_avx2(float* p, const float* row, std::size_t C) {
  if (C <= 16) {
    const __m256 x0 = load_classes(row, 0, C);
    const __m256 x1 = C > 8 ? load_classes(row, 8, C) : _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    const float mx = max_of_lanes(_mm256_max_ps(x1, x0));
    const __m256 m = _mm256_set1_ps(mx);
    const __m256 e0 = exp_avx2(_mm256_sub_ps(x0, m)), e1 = exp_avx2(_mm256_sub_ps(x1, m));  // -inf lanes: 0
    const float total = lanes_total_avx2(_mm256_add_ps(e0, e1));
    const __m256 inv = _mm256_set1_ps(1.0f / total);
    if (C >= 8) _mm256_storeu_ps(p, _mm256_mul_ps(e0, inv));
    else _mm256_maskstore_ps(p, mask_at(0, C), _mm256_mul_ps(e0, inv));
    if (C > 8) _mm256_maskstore_ps(p + 8, mask_at(8, C), _mm256_mul_ps(e1, inv));
    return mx + std::log(total);
  }
  __m256 mx = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::size_t c0 = 0; c0 < C; c0 += 8) mx = _mm256_max_ps(load_classes(row, c0, C), mx);
  const float m = max_of_lanes(mx);
  const __m256 mv = _mm256_set1_ps(m);
  __m256 sum = _mm256_setzero_ps();
  for (std::size_t c0 = 0; c0 < C; c0 += 8) {
    const __m256i k = mask_at(c0, C);
    const __m256 e = exp_avx2(_mm256_sub_ps(load_classes(row, c0, C), mv));
    _mm256_maskstore_ps(p + c0, k, e);
    sum = _mm256_add_ps(sum, e);
  }
  const float total = lanes_total_avx2(sum);
  const __m256 inv = _mm256_set1_ps(1.0f / total);
  for (std::size_t c0 = 0; c0 < C; c0 += 8) {
    const __m256i k = mask_at(c0, C);
    _mm256_maskstore_ps(p + c0, k, _mm256_mul_ps(_mm256_maskload_ps(p + c0, k), inv));
  }
  return m + std::log(total);
}

float softmax_row(float* p, const float* row, std::size_t C) {
  return kHaveAvx2 ? softmax_row_avx2(p, row, C) : softmax_row_scalar(p, row, C);
}

__attribute__((target("avx2,fma"))) float exp_avx2_lane(float x) {
  float lanes[8];
  _mm256_storeu_ps(lanes, exp_avx2(_mm256_set1_ps(x)));
  return lanes[0];
}

// Rows are cut into two fixed halves once a batch is large enough to pay for the hand-off (a row is ~40 ns):
// with two threads each takes one, with one thread the same halves run in turn.
std::size_t row_chunks(std::size_t N) { return N >= 64 ? 2 : 1; }
}  // namespace

float softmax_exp(float x, bool vector) { return vector && kHaveAvx2 ? exp_avx2_lane(x) : exp_scalar(x); }

void softmax_forward(std::span<float> probs, std::span<const float> logits, std::size_t N, std::size_t C) {
  for (std::size_t n = 0; n < N; ++n) softmax_row(probs.data() + n * C, logits.data() + n * C, C);
}

namespace {
// Rows [r0, r1): probs (softmax), and the sum of the rows' losses in order; with dlogits non-null, also the
// gradient of the mean loss over N rows, (probs - onehot) / N, written there (it may be probs itself).
double cross_entropy_rows(float* probs, float* dlogits, const float* logits, const std::int32_t* labels,
                          std::size_t r0, std::size_t r1, std::size_t N, std::size_t C) {
  const float inv_n = 1.0f / static_cast<float>(N);
  double total = 0.0;
  for (std::size_t n = r0; n < r1; ++n) {
    const float* row = logits + n * C;
    float* p = probs + n * C;
    const float lse = softmax_row(p, row, C);
    total += static_cast<double>(lse) - static_cast<double>(row[labels[n]]);
    if (dlogits == nullptr) continue;
    float* d = dlogits + n * C;
    for (std::size_t c = 0; c < C; ++c) d[c] = p[c] * inv_n;
    d[static_cast<std::size_t>(labels[n])] -= inv_n;
  }
  return total;
}

// Each half sums its rows' losses in order, then the halves are added in order: the same sum for any thread count.
double cross_entropy_halves(float* probs, float* dlogits, const float* logits, const std::int32_t* labels,
                            std::size_t N, std::size_t C) {
  if (N == 0) return 0.0;
  const std::size_t chunks = row_chunks(N);
  double half_total[2] = {0.0, 0.0};
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(N, chunks, c);
    half_total[c] = cross_entropy_rows(probs, dlogits, logits, labels, r.begin, r.end, N, C);
  };
  parallel_for_chunks(chunks, chunk);
  return (half_total[0] + half_total[1]) / static_cast<double>(N);
}
}  // namespace

double softmax_cross_entropy_forward(std::span<float> probs, std::span<const float> logits,
                                     std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  return cross_entropy_halves(probs.data(), nullptr, logits.data(), labels.data(), N, C);
}

double softmax_cross_entropy_forward_backward(std::span<float> dlogits, std::span<const float> logits,
                                              std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  return cross_entropy_halves(dlogits.data(), dlogits.data(), logits.data(), labels.data(), N, C);
}

void softmax_cross_entropy_backward(std::span<float> dlogits, std::span<const float> probs,
                                    std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  const float inv_n = 1.0f / static_cast<float>(N);
  const std::size_t chunks = row_chunks(N);
  auto chunk = [&](std::size_t ch) {
    const Range r = chunk_range(N, chunks, ch);
    for (std::size_t n = r.begin; n < r.end; ++n) {
      for (std::size_t c = 0; c < C; ++c) dlogits[n * C + c] = probs[n * C + c] * inv_n;
      dlogits[n * C + static_cast<std::size_t>(labels[n])] -= inv_n;
    }
  };
  parallel_for_chunks(chunks, chunk);
}

void argmax_rows(std::span<std::int32_t> out, std::span<const float> values, std::size_t N, std::size_t C) {
  for (std::size_t n = 0; n < N; ++n) {
    const float* row = values.data() + n * C;
    std::size_t best = 0;
    for (std::size_t c = 1; c < C; ++c)
      if (row[c] > row[best]) best = c;
    out[n] = static_cast<std::int32_t>(best);
  }
}

}  // namespace mnist::kernels
