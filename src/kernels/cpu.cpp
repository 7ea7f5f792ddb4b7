#include "kernels/cpu.hpp"

namespace mnist::kernels {

const bool kHaveAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
const bool kHaveAvx512 = __builtin_cpu_supports("avx512f");
const bool kHaveAvx512vl = kHaveAvx512 && __builtin_cpu_supports("avx512vl");

}  // namespace mnist::kernels
