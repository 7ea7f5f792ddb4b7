#include "kernels/nonzeros.hpp"

#include <immintrin.h>

#include <bit>
#include <vector>

namespace mnist::kernels {

__attribute__((target("avx512f,popcnt"))) Nonzeros compress_nonzero(float* g, std::uint32_t* at, const float* v,
                                                                   const std::uint32_t* tag, std::size_t n) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; i += 16) {
    const auto in = static_cast<__mmask16>(i + 16 <= n ? 0xFFFFu : (1u << (n - i)) - 1u);
    const __m512 x = _mm512_maskz_loadu_ps(in, v + i);
    const __mmask16 m = _mm512_mask_cmp_ps_mask(in, x, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    // Compressed in registers and stored whole (a compressing store to memory is slow on some cores).
    _mm512_storeu_ps(g + count, _mm512_maskz_compress_ps(m, x));
    _mm512_storeu_si512(at + count, _mm512_maskz_compress_epi32(m, _mm512_maskz_loadu_epi32(in, tag + i)));
    count += static_cast<std::size_t>(std::popcount(static_cast<unsigned>(m)));
  }
  return {g, at, count};
}

std::size_t& sparse_gradient_runs() {
  thread_local std::size_t runs = 0;
  return runs;
}

const std::uint32_t* iota_tags(std::size_t n) {
  thread_local std::vector<std::uint32_t> tags;
  while (tags.size() < n) tags.push_back(static_cast<std::uint32_t>(tags.size()));
  return tags.data();
}

}  // namespace mnist::kernels
