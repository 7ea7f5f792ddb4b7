// Double-precision reference implementations for the engine's tests: plain loops, no BLAS, obviously right.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "mnist/nn.hpp"

namespace mnist::testing {

inline std::vector<float> random_floats(std::size_t n, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

inline std::vector<std::int32_t> random_labels(std::size_t n, std::size_t classes, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<std::int32_t> v(n);
  for (auto& y : v) y = static_cast<std::int32_t>(gen() % classes);
  return v;
}

// Largest |a - b| relative to the largest |b| (at least 1): sums of hundreds of products of either sign differ
// by rounding in proportion to their terms, not to the (possibly cancelled) result. A NaN on one side only, or a
// size mismatch, is an infinite difference (std::max would silently skip a NaN).
inline double worst_rel(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return HUGE_VAL;
  double worst = 0, scale = 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return HUGE_VAL;
    if (std::isnan(a[i])) continue;
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return worst / scale;
}

// out[N, O] = inp[N, I] · w[O, I]ᵀ + b[O]
inline std::vector<double> ref_linear(const std::vector<double>& inp, const std::vector<double>& w,
                                      const std::vector<double>& b, std::size_t N, std::size_t I, std::size_t O) {
  std::vector<double> out(N * O);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o) {
      double s = b[o];
      for (std::size_t i = 0; i < I; ++i) s += inp[n * I + i] * w[o * I + i];
      out[n * O + o] = s;
    }
  return out;
}

// Mean cross-entropy of logits[N, C].
inline double ref_cross_entropy(const std::vector<double>& logits, const std::vector<std::int32_t>& y, std::size_t N,
                                std::size_t C) {
  double total = 0;
  for (std::size_t n = 0; n < N; ++n) {
    double mx = logits[n * C];
    for (std::size_t c = 1; c < C; ++c) mx = std::max(mx, logits[n * C + c]);
    double s = 0;
    for (std::size_t c = 0; c < C; ++c) s += std::exp(logits[n * C + c] - mx);
    total += mx + std::log(s) - logits[n * C + static_cast<std::size_t>(y[n])];
  }
  return total / static_cast<double>(N);
}

// Logits of a model evaluated in double from its (float) layers and the given double parameters.
inline std::vector<double> ref_model_logits(const Model& model, const std::vector<double>& params,
                                            const std::vector<double>& x, std::size_t N) {
  std::vector<double> a = x;
  std::size_t offset = 0;
  for (const LayerSpec& l : model.layers()) {
    if (l.kind == LayerSpec::Kind::ReLU) {
      for (double& v : a) v = v > 0 ? v : 0;
      continue;
    }
    std::vector<double> w(params.begin() + static_cast<std::ptrdiff_t>(offset),
                          params.begin() + static_cast<std::ptrdiff_t>(offset + l.out * l.in));
    std::vector<double> b(params.begin() + static_cast<std::ptrdiff_t>(offset + l.out * l.in),
                          params.begin() + static_cast<std::ptrdiff_t>(offset + l.out * l.in + l.out));
    a = ref_linear(a, w, b, N, l.in, l.out);
    offset += l.out * l.in + l.out;
  }
  return a;
}

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// |a - b| / max(|a|, |b|, floor): relative error that does not blow up for gradients near zero.
inline double rel_error(double a, double b, double floor = 1e-6) {
  return std::abs(a - b) / std::max({std::abs(a), std::abs(b), floor});
}

}  // namespace mnist::testing
