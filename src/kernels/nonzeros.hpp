// The nonzero elements of a gradient row, compressed in order: the sparse convolution gradients
// (kernels/conv2d_sparse_weight.hpp, kernels/conv2d_sparse_input.hpp) run over these alone.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mnist::kernels {

/// The nonzero elements of a row v [n] in order: their values g and a tag of each, at.
struct Nonzeros {
  const float* g;
  const std::uint32_t* at;
  std::size_t n;
};

/// g and at (room for n + 16 each) receive v's nonzero values (NaN counts as nonzero: it must reach the gradient as
/// in a dense product) and tag[i] of each, in order. AVX-512F only (the caller checks kernels/cpu.hpp).
Nonzeros compress_nonzero(float* g, std::uint32_t* at, const float* v, const std::uint32_t* tag, std::size_t n);

/// The tags 0, 1, .., n − 1 (one table per thread, grown as asked).
const std::uint32_t* iota_tags(std::size_t n);

/// Whether a sparse pass pays for nonzeros of total: at most a third nonzero (a 2x2 max pooling after the layer
/// leaves a quarter at most; measured with BM_ConvBackwardWeightPooled and BM_ConvBackwardInputPooled).
inline bool sparse_enough(std::size_t nonzeros, std::size_t total) { return nonzeros * 3 <= total; }

/// How many times a sparse gradient kernel has taken its sparse path on this thread (an image; a batch for the wide
/// weight gradient), for the tests that must know it ran.
std::size_t& sparse_gradient_runs();

}  // namespace mnist::kernels
