// What the CPU can do, for the kernels that have a vector path and a scalar one computing the same sums.
#pragma once

namespace mnist::kernels {

/// The CPU has AVX2 and FMA: the kernels take their vector paths, else scalar ones with the same sums.
/// (Read only at run time, after static initialisation.)
extern const bool kHaveAvx2;

/// The CPU has AVX-512F: the convolution kernels take 16-lane paths computing the same chains as the others.
extern const bool kHaveAvx512;
/// The CPU has AVX-512VL as well (8- and 4-lane masked moves).
extern const bool kHaveAvx512vl;

}  // namespace mnist::kernels
