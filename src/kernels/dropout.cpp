#include "kernels/dropout.hpp"

namespace mnist::kernels {

namespace {
// splitmix64's finaliser: a bijection of 64-bit words whose every output bit depends on every input bit.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

void dropout_forward(std::span<float> y, std::span<float> mask, std::span<const float> x, float p,
                     std::uint64_t seed, std::size_t i0, std::size_t i1, std::size_t first) {
  // keep(i): the top 32 bits of mix(key + i·golden) at or above p·2³² (probability 1 − p to within 2⁻³²); the key
  // is the seed mixed once, so that seeds s and s + 1 do not give shifted copies of one stream.
  const auto threshold = static_cast<std::uint64_t>(static_cast<double>(p) * 4294967296.0);
  const auto scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(p)));
  const std::uint64_t key = mix(seed ^ 0x6A09E667F3BCC909ull);
  for (std::size_t i = i0; i < i1; ++i) {
    const bool keep = (mix(key + (first + i) * 0x9E3779B97F4A7C15ull) >> 32) >= threshold;
    mask[i] = keep ? scale : 0.0f;
    y[i] = x[i] * mask[i];
  }
}

void dropout_backward(std::span<float> dx, std::span<const float> dy, std::span<const float> mask, std::size_t i0,
                      std::size_t i1) {
  for (std::size_t i = i0; i < i1; ++i) dx[i] = dy[i] * mask[i];
}

}  // namespace mnist::kernels
