#include "kernels/merged_linear.hpp"

#include "kernels/dot_linear.hpp"
#include "kernels/parallel.hpp"

namespace mnist::kernels {

// W = W2 W1 is "dweight += doutᵀ · inp" with dout = W2ᵀ [H rows, C outputs] and inp = W1 [H rows, D_in]: the dot
// kernels' weight gradient over H rows.
std::size_t merge_weights_tasks(std::size_t D_in, std::size_t H, std::size_t C) { return column_chunks(H, D_in, C); }

void merge_weights_task(std::span<float> weight, std::span<const float> w2t, std::span<const float> w1,
                        std::size_t D_in, std::size_t H, std::size_t C, std::size_t t) {
  dot_linear_backward_chunk(weight, {}, w2t, w1, H, D_in, C, t, merge_weights_tasks(D_in, H, C), Write::Overwrite);
}

void merge_bias(std::span<float> bias, std::span<const float> w2, std::span<const float> b1,
                std::span<const float> b2, std::size_t H, std::size_t C) {
  for (std::size_t j = 0; j < C; ++j) {
    float sum = 0.0f;
    for (std::size_t h = 0; h < H; ++h) sum += w2[j * H + h] * b1[h];
    bias[j] = sum + b2[j];
  }
}

void transpose_small(std::span<float> dst, std::span<const float> src, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

// dW1 += W2ᵀ g is "dweight += doutᵀ · inp" with dout = W2 [C rows, H outputs] and inp = g [C rows, D_in];
// t = g W1ᵀ is the dot kernels' forward of C rows through a layer with weight W1 [H, D_in] and no bias.
std::size_t merged_backward_tasks(std::size_t D_in, std::size_t H, std::size_t C) {
  return column_chunks(C, D_in, H) + product_chunks(C, D_in, H);
}

void merged_backward_task(std::span<float> dw1, std::span<float> t, std::span<const float> zeros,
                          std::span<const float> g, std::span<const float> w1, std::span<const float> w2,
                          std::size_t D_in, std::size_t H, std::size_t C, std::size_t u) {
  const std::size_t columns = column_chunks(C, D_in, H);
  if (u < columns) {
    dot_linear_backward_chunk(dw1, {}, w2, g, C, D_in, H, u, columns);
    return;
  }
  const Range rows = chunk_range(C, product_chunks(C, D_in, H), u - columns, 2);
  dot_linear_forward_rows(t, g, w1, zeros, rows.begin, rows.end, D_in, H, false);
}

void merged_backward_finish(std::span<float> dw2, std::span<float> db1, std::span<float> db2,
                            std::span<const float> t, std::span<const float> s, std::span<const float> w2,
                            std::span<const float> b1, std::size_t H, std::size_t C) {
  for (std::size_t j = 0; j < C; ++j) {
    for (std::size_t h = 0; h < H; ++h) dw2[j * H + h] += t[j * H + h] + s[j] * b1[h];
    db2[j] += s[j];
  }
  for (std::size_t h = 0; h < H; ++h) {
    float sum = 0.0f;
    for (std::size_t j = 0; j < C; ++j) sum += w2[j * H + h] * s[j];
    db1[h] += sum;
  }
}

}  // namespace mnist::kernels
