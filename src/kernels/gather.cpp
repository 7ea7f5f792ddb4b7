#include "kernels/gather.hpp"

#include "kernels/parallel.hpp"

namespace mnist::kernels {

namespace {
// v / 255 as torchvision's ToTensor computes it: a float division, correctly rounded, so bit-identical to PyTorch
// (the kernel tests check all 256 bytes). It vectorises (vdivps, 8 lanes); the next image's bytes are prefetched
// while this one converts, because images are visited in random order and each one is a fresh miss.
__attribute__((target_clones("avx2", "default"))) void convert_row(float* dst, const std::uint8_t* src,
                                                                     std::size_t D) {
  for (std::size_t d = 0; d < D; ++d) dst[d] = static_cast<float>(src[d]) / 255.0f;
}

void prefetch_image(const std::uint8_t* image, std::size_t D) {
  for (std::size_t d = 0; d < D; d += 64) __builtin_prefetch(image + d);
}

constexpr std::size_t kParallelMinBytes = 32768;
constexpr std::size_t kChunks = 2;
}  // namespace

void gather_batch(std::span<float> out_x, std::span<std::int32_t> out_y, std::span<const std::uint8_t> images_u8,
                  std::span<const std::uint8_t> labels_u8, std::span<const std::size_t> indices, std::size_t B,
                  std::size_t D) {
  for (std::size_t b = 0; b < B; ++b) out_y[b] = labels_u8[indices[b]];
  const std::size_t chunks = B * D >= kParallelMinBytes && B >= kChunks ? kChunks : 1;
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(B, chunks, c);
    for (std::size_t b = r.begin; b < r.end; ++b) {
      if (b + 1 < r.end) prefetch_image(images_u8.data() + indices[b + 1] * D, D);
      convert_row(out_x.data() + b * D, images_u8.data() + indices[b] * D, D);
    }
  };
  parallel_for_chunks(chunks, chunk);
}

}  // namespace mnist::kernels

namespace mnist::kernels {

void shift_image(std::span<float> out, std::span<const float> in, std::size_t rows, std::size_t cols, int dx, int dy) {
  // out: [rows, cols]; in: [rows, cols]
  const long R = static_cast<long>(rows), C = static_cast<long>(cols);
  for (long r = 0; r < R; ++r) {
    const long sr = r - dy;
    for (long c = 0; c < C; ++c) {
      const long sc = c - dx;
      out[static_cast<std::size_t>(r * C + c)] =
          sr >= 0 && sr < R && sc >= 0 && sc < C ? in[static_cast<std::size_t>(sr * C + sc)] : 0.0f;
    }
  }
}

}  // namespace mnist::kernels
