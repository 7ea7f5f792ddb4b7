// Assembling a batch from a data set's bytes: the only place pixels become floats.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace mnist::kernels {

/// For b < B: out_x[b, :] = images_u8[indices[b], :] / 255 and out_y[b] = labels_u8[indices[b]].
/// images_u8 is [count, D], labels_u8 [count]; out_x [B, D], out_y [B]. Indices must be < count.
void gather_batch(std::span<float> out_x, std::span<std::int32_t> out_y, std::span<const std::uint8_t> images_u8,
                  std::span<const std::uint8_t> labels_u8, std::span<const std::size_t> indices, std::size_t B,
                  std::size_t D);

/// Translation with zero fill: out[r, c] = in[r - dy, c - dx] where that lies inside the image, else 0.
/// out and in are [rows, cols] and must not overlap.
void shift_image(std::span<float> out, std::span<const float> in, std::size_t rows, std::size_t cols, int dx, int dy);

}  // namespace mnist::kernels
