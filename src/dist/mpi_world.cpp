// The world communicator over Open MPI: started by mpirun with N > 1 processes, MPI is initialised on first use and
// finalised at exit. Errors come back as return codes (MPI_ERRORS_RETURN) and become Error, so that the rank that saw
// one prints one line and ends the job (abort_world) instead of MPI printing its own report.
// The C API only: Open MPI's mpi.h otherwise pulls in its deprecated C++ bindings (and their library).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include "mnist/dist.hpp"
#include "mnist/error.hpp"

namespace mnist::dist {
namespace {

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    // A rank that writes to the socket of a rank that just died must not die of SIGPIPE itself: mpirun would then
    // report it (and its signal 13) as the job's failure when it happens to notice it before the rank really lost.
    // Ignored, the write fails, and the job ends when mpirun sees the lost rank.
    std::signal(SIGPIPE, SIG_IGN);
    int initialised = 0;
    MPI_Initialized(&initialised);
    // The training threads never call MPI: only the main thread does.
    int provided = 0;
    if (!initialised && MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw Error("distributed training: MPI_Init failed");
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    std::atexit(finalise);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(std::span<float> values) override {
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), count(values.size()), MPI_FLOAT, MPI_SUM, comm_), "MPI_Allreduce");
  }
  void allreduce_sum(std::span<double> values) override {
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), count(values.size()), MPI_DOUBLE, MPI_SUM, comm_),
          "MPI_Allreduce");
  }
  void broadcast(std::span<float> values, int root) override {
    check(MPI_Bcast(values.data(), count(values.size()), MPI_FLOAT, root, comm_), "MPI_Bcast");
  }
  std::vector<std::uint64_t> allgather(std::span<const std::uint64_t> mine) override {
    std::vector<std::uint64_t> all(mine.size() * static_cast<std::size_t>(size_));
    check(MPI_Allgather(mine.data(), count(mine.size()), MPI_UINT64_T, all.data(), count(mine.size()), MPI_UINT64_T,
                        comm_),
          "MPI_Allgather");
    return all;
  }
  void barrier() override { check(MPI_Barrier(comm_), "MPI_Barrier"); }

  static void finalise() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Finalize();
  }

 private:
  // MPI counts are int: a model of more than 2^31 - 1 parameters would need chunking.
  int count(std::size_t n) const {
    if (n > static_cast<std::size_t>(INT32_MAX))
      throw Error("distributed training: a message of " + std::to_string(n) + " values is larger than MPI's int count");
    return static_cast<int>(n);
  }
  void check(int code, const char* what) const {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw Error("distributed training: " + std::string(what) + " failed on rank " + std::to_string(rank_) + " of " +
                std::to_string(size_) + ": " + std::string(text, static_cast<std::size_t>(length)) +
                " (another rank died or the network failed)");
  }
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

bool distributed = false;

}  // namespace

bool mpi_supported() { return true; }

Communicator& world() {
  // mpirun -np 1, or no launcher at all: one process, and MPI is not started (nothing to talk to).
  if (launcher_world_size() <= 1) {
    static SingleProcess single;
    return single;
  }
  static MpiWorld mpi;
  distributed = mpi.size() > 1;
  return mpi;
}

bool world_is_distributed() { return distributed; }

void abort_world(int code) {
  if (!distributed) return;
  // Leaving without MPI_Finalize: mpirun sees a rank end with a non-zero status and ends the others within a second,
  // with one report. (MPI_Abort would do the same but adds a second, garbled report in Open MPI 4.1.)
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace mnist::dist
