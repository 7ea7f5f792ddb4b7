// A small persistent thread pool for deterministic data parallelism.
//
// Work is always cut into the same chunks, whatever the thread count (the caller fixes the chunking from the
// shapes alone); threads only decide WHO runs a chunk (each thread claims the unclaimed chunks of its own block
// first, then what is left of the others'). A chunk computes the same float operations in the same order on any
// thread, so one thread and two threads give bit-identical results.
#pragma once
#include <cstddef>

namespace mnist::kernels {

/// Sets the number of threads parallel_chunks uses (1 = everything on the caller's thread; clamped to 1..64).
/// Workers are started once and kept; not to be called while parallel_chunks runs.
void set_num_threads(int threads);
int num_threads();
/// The threads a job uses now: num_threads() under the ThreadLimit in force.
int active_threads();

/// Runs fn(ctx, c) for every c in [0, chunks), each chunk on whichever thread claims it first (the caller takes
/// part; with T threads, thread t starts on chunk_range(chunks, T, t), the caller being thread 0), and returns when
/// all are done. No allocation. Not reentrant: fn must not call parallel_chunks.
void parallel_chunks(std::size_t chunks, void (*fn)(void* ctx, std::size_t chunk), void* ctx);

/// The same for any callable f(std::size_t chunk).
template <class F>
void parallel_for_chunks(std::size_t chunks, F& f) {
  parallel_chunks(chunks, [](void* ctx, std::size_t c) { (*static_cast<F*>(ctx))(c); }, &f);
}

/// While it lives, parallel_chunks uses at most `threads` threads (the caller and threads - 1 workers; at least 1):
/// for work too small to be worth sharing. The chunks stay the same, so the bits do not change. Limits nest (the
/// previous one comes back); not to be created while parallel_chunks runs.
class ThreadLimit {
 public:
  explicit ThreadLimit(int threads);
  ~ThreadLimit();
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

 private:
  int previous_;
};

/// The threads a training step of `multiply_adds` multiply-adds (forward and backward, Model::step_multiply_adds)
/// is worth: one per 1.5 M, rounded down. Below two of them, handing a step's regions between cores costs more
/// than it saves: logistic and hidden (2.0 M and 2.8 M a step) ran 0.86-0.89x as fast on two threads as on one on
/// a 2-vCPU VM and 1.02x / 0.74x on 16 dedicated cores, where hidden-relu (6.5 M: 4 threads) ran best on 4
/// (1.48x) and lenet5 (about 150 M) gains 1.7x on two vCPUs (docs/performance.md).
int threads_for_work(std::size_t multiply_adds);

/// Chunks of a matrix product [N, D_in] x [D_in, D_out] (the linear kernels' split): 1 below 2^17 multiply-adds,
/// where splitting costs more than it saves, else 2. Fixed by the shapes, never by the thread count.
std::size_t product_chunks(std::size_t N, std::size_t D_in, std::size_t D_out);

/// Column ranges of a weight gradient computed per input column (the tiled and dot kernels): 4 when the product is
/// worth splitting, else 1. Threads claim them as they come free, which evens out a slower core (measured: two
/// threads 1.07-1.4x faster than one with two halves).
std::size_t column_chunks(std::size_t N, std::size_t D_in, std::size_t D_out);

/// [begin, end) of chunk c when n items are cut into `chunks` near-equal contiguous parts (first parts larger),
/// optionally rounded to multiples of `align` items.
struct Range {
  std::size_t begin, end;
};
Range chunk_range(std::size_t n, std::size_t chunks, std::size_t c, std::size_t align = 1);

}  // namespace mnist::kernels
