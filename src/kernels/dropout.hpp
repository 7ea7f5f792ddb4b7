// Dropout (torch.nn.Dropout in training mode): each element is zeroed with probability p, the rest scaled by
// 1/(1 − p). The mask is a pure function of (seed, element index), so it is the same for any thread count and any
// chunking, and a run can be resumed from the seed and step count alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace mnist::kernels {

/// y[i] = keep(i) ? x[i]·scale : 0 and mask[i] = keep(i) ? scale : 0 for i in [i0, i1), where keep(i) is true
/// with probability 1 − p, drawn from a counter-based hash of (seed, first + i); scale = 1/(1 − p). p in [0, 1):
/// p = 0 keeps everything. first: the index of x[0] in a larger tensor whose masks these are (a share of a batch).
void dropout_forward(std::span<float> y, std::span<float> mask, std::span<const float> x, float p,
                     std::uint64_t seed, std::size_t i0, std::size_t i1, std::size_t first = 0);
/// dx[i] = dy[i]·mask[i] for i in [i0, i1).
void dropout_backward(std::span<float> dx, std::span<const float> dy, std::span<const float> mask, std::size_t i0,
                      std::size_t i1);

}  // namespace mnist::kernels
