#include "kernels/softmax_cross_entropy.hpp"

#include <cmath>

#include "kernels/parallel.hpp"

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

// Rows are cut into two fixed halves once a batch is large enough to pay for the hand-off (a row is ~40 ns):
// with two threads each takes one, with one thread the same halves run in turn.
std::size_t row_chunks(std::size_t N) { return N >= 64 ? 2 : 1; }
}  // namespace

void softmax_forward(std::span<float> probs, std::span<const float> logits, std::size_t N, std::size_t C) {
  for (std::size_t n = 0; n < N; ++n) softmax_row(probs.data() + n * C, logits.data() + n * C, C);
}

double softmax_cross_entropy_forward(std::span<float> probs, std::span<const float> logits,
                                     std::span<const std::int32_t> labels, std::size_t N, std::size_t C) {
  if (N == 0) return 0.0;
  // Each half sums its rows' losses in order, then the halves are added in order: the same sum for any thread
  // count.
  const std::size_t chunks = row_chunks(N);
  double half_total[2] = {0.0, 0.0};
  auto chunk = [&](std::size_t c) {
    const Range r = chunk_range(N, chunks, c);
    double total = 0.0;
    for (std::size_t n = r.begin; n < r.end; ++n) {
      const float* row = logits.data() + n * C;
      const float lse = softmax_row(probs.data() + n * C, row, C);
      total += static_cast<double>(lse) - static_cast<double>(row[labels[n]]);
    }
    half_total[c] = total;
  };
  parallel_for_chunks(chunks, chunk);
  return (half_total[0] + half_total[1]) / static_cast<double>(N);
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
