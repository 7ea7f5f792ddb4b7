// The world communicator of a build without MPI: one process. Started by mpirun as one of several, each process
// would train the whole model alone and all would write the same files: refused, saying how to get MPI.
#include "mnist/dist.hpp"
#include "mnist/error.hpp"

namespace mnist::dist {

bool mpi_supported() { return false; }

Communicator& world() {
  const int n = launcher_world_size();
  if (n > 1)
    throw UsageError("started by mpirun as one of " + std::to_string(n) +
                     " processes, but this mnist was built without MPI: install Open MPI (apt-get install "
                     "libopenmpi-dev openmpi-bin, as scripts/setup.sh does) and rebuild, or run without mpirun");
  static SingleProcess single;
  return single;
}

bool world_is_distributed() { return false; }

void abort_world(int) {}

}  // namespace mnist::dist
