// What the CPU can do, for the kernels that have a vector path and a scalar one computing the same sums.
#pragma once

namespace mnist::kernels {

/// The CPU has AVX2 and FMA: the kernels take their vector paths, else scalar ones with the same sums.
/// (Read only at run time, after static initialisation.)
extern const bool kHaveAvx2;

}  // namespace mnist::kernels
