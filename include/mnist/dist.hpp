// Data parallelism: the few collective operations training needs, behind one interface, so that fit() runs the
// same in one process (SingleProcess) and on N processes started by mpirun (Open MPI, when the library is built
// with it). Every rank holds the whole model; each computes the gradient of its share of every batch, the shares
// are summed by allreduce_sum, and every rank applies the same optimizer step.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mnist/error.hpp"

namespace mnist {
class Model;
}

namespace mnist::dist {

/// A group of processes (ranks 0 .. size()-1) that run the same program on the same data. Every collective must be
/// called by every rank, in the same order, with buffers of the same length; the result is the same on every rank.
/// A failed collective (a rank died, the network broke) throws Error.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's rank, 0 .. size()-1; rank 0 prints and writes the outputs.
  virtual int rank() const = 0;
  /// Number of processes.
  virtual int size() const = 0;
  /// values[i] = the sum over ranks of values[i], in place (the gradients, once per step).
  virtual void allreduce_sum(std::span<float> values) = 0;
  /// The same for doubles (losses, counts: small vectors).
  virtual void allreduce_sum(std::span<double> values) = 0;
  /// Every rank's values become root's (state only rank 0 may decide, such as BatchNorm's running statistics).
  virtual void broadcast(std::span<float> values, int root) = 0;
  /// Each rank's `mine` (the same length everywhere), concatenated in rank order: size() * mine.size() values.
  virtual std::vector<std::uint64_t> allgather(std::span<const std::uint64_t> mine) = 0;
  /// Returns when every rank has called it.
  virtual void barrier() = 0;
};

/// An error every rank raises at the same point of the same computation (the ranks disagree, training diverged):
/// rank 0 reports it and the others stay silent, so that N ranks print one line, not N.
class CollectiveError : public Error {
 public:
  using Error::Error;
};

/// One process alone: rank 0 of 1; the collectives leave the values as they are.
class SingleProcess final : public Communicator {
 public:
  /// 0.
  int rank() const override { return 0; }
  /// 1.
  int size() const override { return 1; }
  /// Leaves values as they are (the sum over one rank).
  void allreduce_sum(std::span<float>) override {}
  /// Leaves values as they are.
  void allreduce_sum(std::span<double>) override {}
  /// Leaves values as they are (this rank is the root).
  void broadcast(std::span<float>, int) override {}
  /// A copy of mine.
  std::vector<std::uint64_t> allgather(std::span<const std::uint64_t> mine) override {
    return {mine.begin(), mine.end()};
  }
  /// Returns at once.
  void barrier() override {}
};

/// The rows of a batch of `batch` samples that rank `rank` of `ranks` computes: [begin, begin + count). The first
/// batch % ranks ranks get one more row than the others; count is 0 for some ranks when batch < ranks.
struct Shard {
  std::size_t begin = 0;  ///< first row of the batch
  std::size_t count = 0;  ///< rows, from begin
};
/// The shard of a batch of `batch` samples that rank `rank` of `ranks` computes (see Shard).
Shard shard_of(std::size_t batch, int rank, int ranks);

/// Whether this library was built with MPI (Open MPI's libmpi).
bool mpi_supported();
/// The number of processes the launcher started (OMPI_COMM_WORLD_SIZE, or PMI_SIZE / PMIX_SIZE for other
/// launchers); 1 when not started by mpirun. Needs no MPI: a build without it uses this to say what is missing.
int launcher_world_size();
/// This process's rank according to the launcher (OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK); 0 when none.
int launcher_rank();

/// The communicator of this process: MPI's world when started by a launcher with more than one process and built
/// with MPI (MPI is initialised on the first call and finalised at exit), otherwise a SingleProcess. Throws
/// UsageError when started by mpirun with N > 1 processes but built without MPI (saying how to get it).
Communicator& world();
/// Whether world() has started MPI with more than one process (so that an error must end the whole job).
bool world_is_distributed();
/// Ends every process of the job at once with exit code `code` (MPI_Abort) when world_is_distributed(); returns
/// otherwise. For an error on one rank: the other ranks would wait for it in the next collective for ever.
void abort_world(int code);

/// 64-bit FNV-1a of bytes, continuing from `hash` (pass the result of a previous call to hash several pieces).
std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t hash = 0xcbf29ce484222325ULL);
/// hash_bytes of a string's characters.
std::uint64_t hash_text(const std::string& text, std::uint64_t hash = 0xcbf29ce484222325ULL);
/// hash_bytes of a float buffer's bytes (parameters: equal hashes mean equal bits).
std::uint64_t hash_floats(std::span<const float> values, std::uint64_t hash = 0xcbf29ce484222325ULL);
/// A hash of the running program's executable and of the file holding this library (libmnist.so): ranks that run
/// different builds disagree on it.
std::uint64_t binary_hash();

/// One thing every rank must have the same of (the program, the settings, the data, the starting state), and the
/// hash of this rank's.
struct Fingerprint {
  std::string what;  ///< how the error names it: "the program (mnist and libmnist.so)", "the data", ...
  std::uint64_t hash = 0;  ///< this rank's hash of it (hash_bytes, hash_text, hash_floats, binary_hash)
};
/// Compares every rank's fingerprints (one allgather; every rank passes the same list of `what`s): throws Error
/// CollectiveError "the N ranks disagree on <what>: rank R's differs from rank 0's ..." naming the first mismatch,
/// on every rank.
void check_agreement(Communicator& comm, const std::vector<Fingerprint>& mine);

/// At the end of every epoch and before a checkpoint is written: checks that every rank holds the same parameters
/// bit for bit (a hash each, one allgather; CollectiveError if not, since the ranks would silently train different models) and
/// makes every rank's buffers rank 0's. `buffers` is the model's state that is not trained by the gradient - BatchNorm's
/// running mean and variance, which each rank updates from the statistics of its own share of the batch (as
/// PyTorch's DistributedDataParallel without SyncBatchNorm does): broadcasting rank 0's keeps the checkpoint and the
/// evaluation the same on every rank. Pass an empty span for a model without such buffers (the MLPs).
void synchronise_model(Communicator& comm, const Model& model, std::span<float> buffers);

}  // namespace mnist::dist
