// What the launcher (mpirun) tells a process through its environment: readable without MPI, so that a build
// without it can still tell that it was started as one of several processes.
#include <cstdlib>
#include <string>

#include "mnist/dist.hpp"

namespace mnist::dist {
namespace {
int env_number(const char* const* names, int fallback) {
  for (const char* const* name = names; *name != nullptr; ++name) {
    const char* v = std::getenv(*name);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end == '\0' && n >= 0 && n < 1'000'000) return static_cast<int>(n);
  }
  return fallback;
}
}  // namespace

int launcher_world_size() {
  static const char* const names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", nullptr};
  const int n = env_number(names, 1);
  return n < 1 ? 1 : n;
}

int launcher_rank() {
  static const char* const names[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", nullptr};
  return env_number(names, 0);
}

}  // namespace mnist::dist
