#include "kernels/softmax_cross_entropy.hpp"

#include <cmath>

namespace mnist::kernels {

namespace {
// Writes exp(row - max) into p and returns log(sum) + max = logsumexp(row); then normalises p.
float softmax_row(float* p, const float* row, std::size_t C) {
  float mx = row[0];
  for (std::size_t c = 1; c < C; ++c) mx = row[c] > mx ? row[c] : mx;
  float sum = 0.0f;
  for (std::size_t c = 0; c < C; ++c) {
    p[c] = std::exp(row[c] - mx);
    sum += p[c];
  }
  const float inv = 1.0f / sum;
  for (std::size_t c = 0; c < C; ++c) p[c] *= inv;
  return mx + std::log(sum);
}
}  // namespace

void softmax_forward(std::span<float> probs, std::span<const float> logits, std::size_t N, std::size_t C) {
  for (std::size_t n = 0; n < N; ++n) softmax_row(probs.data() + n * C, logits.data() + n * C, C);
}

double softmax_cross_entropy_forward(std::span<float> probs, std::span<const float> logits,
                                     std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  if (N == 0) return 0.0;
  double total = 0.0;
  for (std::size_t n = 0; n < N; ++n) {
    const float* row = logits.data() + n * C;
    const float lse = softmax_row(probs.data() + n * C, row, C);
    total += static_cast<double>(lse) - static_cast<double>(row[labels[n]]);
  }
  return total / static_cast<double>(N);
}

void softmax_cross_entropy_backward(std::span<float> dlogits, std::span<const float> probs,
                                    std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  const float inv_n = 1.0f / static_cast<float>(N);
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t c = 0; c < C; ++c) dlogits[n * C + c] = probs[n * C + c] * inv_n;
    dlogits[n * C + static_cast<std::size_t>(labels[n])] -= inv_n;
  }
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
