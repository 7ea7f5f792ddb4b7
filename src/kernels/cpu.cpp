#include "kernels/cpu.hpp"

namespace mnist::kernels {

const bool kHaveAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");

}  // namespace mnist::kernels
