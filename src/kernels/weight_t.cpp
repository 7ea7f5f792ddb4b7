#include "kernels/weight_t.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/parallel.hpp"

namespace mnist::kernels {

namespace {

// dst[c * dst_stride + r] = src[r * src_stride + c] (or += when add) for an 8x8 tile.
__attribute__((target("avx2,fma"))) void transpose_tile_avx2(float* dst, std::size_t dst_stride, const float* src,
                                                             std::size_t src_stride, bool add) {
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
  const __m256 rows[8] = {_mm256_permute2f128_ps(r[0], r[4], lo), _mm256_permute2f128_ps(r[1], r[5], lo),
                          _mm256_permute2f128_ps(r[2], r[6], lo), _mm256_permute2f128_ps(r[3], r[7], lo),
                          _mm256_permute2f128_ps(r[0], r[4], hi), _mm256_permute2f128_ps(r[1], r[5], hi),
                          _mm256_permute2f128_ps(r[2], r[6], hi), _mm256_permute2f128_ps(r[3], r[7], hi)};
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    float* d = dst + static_cast<std::size_t>(i) * dst_stride;
    _mm256_storeu_ps(d, add ? _mm256_add_ps(_mm256_loadu_ps(d), rows[i]) : rows[i]);
  }
}

}  // namespace

std::size_t padded_width(std::size_t D_out) { return (D_out + 7) / 8 * 8; }

std::size_t column_passes(std::size_t D) { return (D + kColumnsPerPass - 1) / kColumnsPerPass; }

std::span<float> cache_aligned(std::vector<float>& storage, std::size_t n) {
  constexpr std::size_t kLineFloats = 64 / sizeof(float);
  if (storage.size() < n + kLineFloats) storage.resize(n + kLineFloats);
  const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
  const std::size_t skip = ((64 - address % 64) % 64) / sizeof(float);
  return std::span<float>(storage).subspan(skip, n);
}

std::size_t transpose_chunks(std::size_t D_out, std::size_t D_in) { return D_out * D_in >= 8192 ? 2 : 1; }

void transpose_weight_chunk(std::span<float> weight_t, std::span<const float> weight, std::size_t D_out,
                            std::size_t D_in, std::size_t c, std::size_t chunks) {
  const std::size_t P = padded_width(D_out);
  const std::size_t full_rows = kHaveAvx2 ? D_out / 8 * 8 : 0, full_cols = kHaveAvx2 ? D_in / 8 * 8 : 0;
  const Range cols = chunk_range(D_in, chunks, c, 8);
  // 8x8 tiles with AVX shuffles, then only the leftover outputs (rows of weight) and inputs (its columns) one
  // by one, then the padding.
  for (std::size_t o = 0; o < full_rows; o += 8)
    for (std::size_t k = cols.begin; k < std::min(cols.end, full_cols); k += 8)
      transpose_tile_avx2(weight_t.data() + k * P + o, P, weight.data() + o * D_in + k, D_in, false);
  for (std::size_t o = full_rows; o < D_out; ++o)
    for (std::size_t k = cols.begin; k < cols.end; ++k) weight_t[k * P + o] = weight[o * D_in + k];
  for (std::size_t o = 0; o < full_rows; ++o)
    for (std::size_t k = std::max(cols.begin, full_cols); k < cols.end; ++k) weight_t[k * P + o] = weight[o * D_in + k];
  for (std::size_t k = cols.begin; k < cols.end; ++k)
    std::fill(weight_t.begin() + static_cast<std::ptrdiff_t>(k * P + D_out),
              weight_t.begin() + static_cast<std::ptrdiff_t>(k * P + P), 0.0f);
}

void transpose_weight(std::span<float> weight_t, std::span<const float> weight, std::size_t D_out,
                      std::size_t D_in) {
  const std::size_t chunks = transpose_chunks(D_out, D_in);
  auto chunk = [&](std::size_t c) { transpose_weight_chunk(weight_t, weight, D_out, D_in, c, chunks); };
  parallel_for_chunks(chunks, chunk);
}

// 8x8 tiles, then the leftovers one by one.
void add_transposed(std::span<float> dweight, std::span<const float> dweight_t, std::size_t k0, std::size_t k1,
                    std::size_t D_in, std::size_t D_out) {
  const std::size_t P = padded_width(D_out);
  const std::size_t full_rows = kHaveAvx2 ? D_out / 8 * 8 : 0, full_end = kHaveAvx2 ? k0 + (k1 - k0) / 8 * 8 : k0;
  for (std::size_t o = 0; o < full_rows; o += 8)
    for (std::size_t k = k0; k < full_end; k += 8)
      transpose_tile_avx2(dweight.data() + o * D_in + k, D_in, dweight_t.data() + k * P + o, P, true);
  for (std::size_t o = 0; o < D_out; ++o)
    for (std::size_t k = o < full_rows ? full_end : k0; k < k1; ++k) dweight[o * D_in + k] += dweight_t[k * P + o];
}

void pad_rows(std::span<float> padded, std::span<const float> src, std::size_t N, std::size_t rows, std::size_t D) {
  const std::size_t P = padded_width(D);
  for (std::size_t n = 0; n < rows; ++n) {
    float* d = padded.data() + n * P;
    if (n < N)
      std::copy(src.begin() + static_cast<std::ptrdiff_t>(n * D),
                src.begin() + static_cast<std::ptrdiff_t>((n + 1) * D), d);
    std::fill(d + (n < N ? D : 0), d + P, 0.0f);
  }
}

void unpad_rows(std::span<float> out, std::span<const float> padded, std::span<const float> bias, std::size_t n0,
                std::size_t n1, std::size_t D_out, bool relu) {
  const std::size_t P = padded_width(D_out);
  for (std::size_t n = n0; n < n1; ++n) {
    const float* total = padded.data() + n * P;
    float* out_row = out.data() + n * D_out;
    for (std::size_t o = 0; o < D_out; ++o) {
      const float v = total[o] + bias[o];
      out_row[o] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
  }
}

}  // namespace mnist::kernels
