#include "kernels/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace mnist::kernels {

namespace {

// Workers spin briefly (a training step hands out work every few tens of microseconds), then sleep on the atomic
// (futex) so that an idle pool costs nothing.
constexpr int kSpins = 4000;

// The most threads a pool runs (set_num_threads clamps to it): one home block each.
constexpr int kMaxThreads = 64;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Chunks are CLAIMED, not assigned: threads take unclaimed chunks until none is left. Which thread runs a chunk
// therefore varies, but never what the chunk computes, so results stay bit-identical. What it buys: on a busy
// machine a worker that the OS has descheduled simply claims nothing, and the others do its work instead of waiting
// a whole scheduler time slice for it (with fixed assignment, two threads ran 4x SLOWER than one under a load of 4).
//
// Each thread has a home block of chunks (block t = chunk_range(chunks, threads, t); the caller is thread 0) that it
// claims first, from the front, before it takes what is left in the other blocks. So when every thread keeps up, the
// same thread runs the same chunk of every job, and consecutive layers that cut a batch the same way find their
// images in their own core's cache: on this VM a core reads data the other core has just written 3-4x slower than
// its own (docs/performance.md, "Two threads on lenet5").
//
// Block t's state packs (job id << 32 | its next chunk). A thread claims chunk i of job J with a compare-and-swap
// from (J, i) to (J, i + 1); success proves job J is still running, so the job's fn/ctx/chunks it read after seeing
// J are J's: run() closes every block under the next id (no chunk claimable) before it writes the next job's
// fn/ctx/chunks.
class Pool {
 public:
  ~Pool() { resize(1); }

  int threads() const { return threads_; }
  int limit() const { return limit_.load(std::memory_order_relaxed); }
  int active() const { return std::min(threads_, limit()); }
  // Workers beyond a lowered limit sleep on standby_ until it changes, instead of waking (and spinning) for every
  // job they take no part in.
  void set_limit(int limit) {
    limit_.store(limit, std::memory_order_release);
    standby_.fetch_add(1, std::memory_order_release);
    standby_.notify_all();
  }

  void resize(int threads) {
    if (threads == threads_) return;
    if (!workers_.empty()) {
      quit_.store(true);
      wake_.fetch_add(1);
      wake_.notify_all();
      standby_.fetch_add(1);
      standby_.notify_all();
      for (std::thread& t : workers_) t.join();
      workers_.clear();
      quit_.store(false);
    }
    threads_ = threads;
    const unsigned start = wake_.load();
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, start, t] { work(start, t); });
  }

  void run(std::size_t chunks, void (*fn)(void*, std::size_t), void* ctx) {
    const int active = this->active();
    if (active == 1 || chunks <= 1 || chunks >= kClosed) {  // (4 G chunks: beyond any job here, run inline)
      for (std::size_t c = 0; c < chunks; ++c) fn(ctx, c);
      return;
    }
    // Close the previous job first (a new id, no chunk claimable in any block), then describe the new one, then open
    // it. A worker that comes late to the previous job and reads the new description fails its claim, as the id has
    // moved on (the release fence orders the closing before the description: see claim_and_run). Describing the new
    // job while the previous one still looked open let such a worker run a chunk of the new job under the old id:
    // the chunk ran twice, and the count of finished chunks could overshoot and leave the caller waiting forever
    // (tests/engine/test_parallel.cpp). Every thread's block is closed, also those beyond the job's limit: a late
    // worker reading the new description with the old limit would otherwise find its block still under the old id
    // and claim the new job's chunks in it a second time.
    const std::uint32_t job = job_.load(std::memory_order_relaxed) + 1;
    const std::size_t blocks = static_cast<std::size_t>(active);
    for (int b = 0; b < threads_; ++b) blocks_[b].state.store(pack(job, kClosed), std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    fn_.store(fn, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    chunks_.store(chunks, std::memory_order_relaxed);
    blocks_used_.store(blocks, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    for (std::size_t b = 0; b < blocks; ++b)
      blocks_[b].state.store(pack(job, chunk_range(chunks, blocks, b).begin), std::memory_order_release);
    job_.store(job, std::memory_order_release);
    wake_.fetch_add(1, std::memory_order_release);
    wake_.notify_all();
    claim_and_run(job, 0);
    for (int s = 0;; ++s) {
      const std::size_t done = done_.load(std::memory_order_acquire);
      if (done == chunks) break;
      if (s < kSpins) cpu_relax();
      else done_.wait(done, std::memory_order_acquire);
    }
  }

 private:
  // The chunk field of a job being described: above any chunk count, so nothing can be claimed.
  static constexpr std::uint64_t kClosed = 0xffffffffu;

  static std::uint64_t pack(std::uint32_t job, std::uint64_t chunk) { return std::uint64_t{job} << 32 | chunk; }

  // Runs unclaimed chunks of `job`, those of block `home` first, until there are none; returns at once if `job` is
  // over.
  void claim_and_run(std::uint32_t job, std::size_t home) {
    void (*fn)(void*, std::size_t) = fn_.load(std::memory_order_relaxed);
    void* ctx = ctx_.load(std::memory_order_relaxed);
    const std::size_t chunks = chunks_.load(std::memory_order_relaxed);
    const std::size_t blocks = blocks_used_.load(std::memory_order_relaxed);
    // Pairs with run()'s release fence: had the description read come from a later job, every block's state read
    // below shows that job's id (or its closing) and nothing is claimed.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (home >= blocks) return;  // a thread beyond the job's limit (ThreadLimit) takes no part
    for (std::size_t k = 0; k < blocks; ++k) {
      const std::size_t b = (home + k) % blocks, end = chunk_range(chunks, blocks, b).end;
      std::atomic<std::uint64_t>& state = blocks_[b].state;
      std::uint64_t seen = state.load(std::memory_order_acquire);
      for (;;) {
        if ((seen >> 32) != job) return;  // the job is over (and the next one being set up or running)
        const std::size_t c = seen & 0xffffffffu;
        if (c >= end) break;  // this block is drained: on to the next
        if (!state.compare_exchange_weak(seen, seen + 1, std::memory_order_acq_rel, std::memory_order_acquire))
          continue;
        fn(ctx, c);
        if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) done_.notify_all();
        seen = state.load(std::memory_order_acquire);
      }
    }
  }

  void work(unsigned seen, std::size_t home) {
    for (;;) {
      // Beyond the limit in force: asleep until the limit changes or the pool quits. (Jobs opened meanwhile move
      // wake_ on; claim_and_run then finds them over, or running without this thread, and returns.)
      for (unsigned gen = standby_.load(std::memory_order_acquire);
           static_cast<int>(home) >= limit_.load(std::memory_order_acquire) && !quit_.load();
           gen = standby_.load(std::memory_order_acquire))
        standby_.wait(gen, std::memory_order_acquire);
      for (int s = 0; wake_.load(std::memory_order_acquire) == seen; ++s) {
        if (s < kSpins) cpu_relax();
        else wake_.wait(seen);
      }
      seen = wake_.load(std::memory_order_acquire);
      if (quit_.load()) return;
      claim_and_run(job_.load(std::memory_order_acquire), home);
    }
  }

  // One block's state on a cache line of its own, so that claims in different blocks do not contend.
  struct alignas(64) Block {
    std::atomic<std::uint64_t> state{0};  // (job id << 32) | next unclaimed chunk of the block
  };

  int threads_ = 1;
  std::atomic<int> limit_{kMaxThreads};   // ThreadLimit's, set between jobs by the caller
  std::vector<std::thread> workers_;
  std::atomic<unsigned> wake_{0};          // bumped for every job (and to quit): what idle workers wait on
  std::atomic<unsigned> standby_{0};       // bumped when the limit changes (and to quit): what excluded workers wait on
  std::atomic<std::uint32_t> job_{0};      // the id of the job last opened
  std::atomic<std::size_t> done_{0};       // chunks of the current job finished
  std::atomic<bool> quit_{false};
  Block blocks_[kMaxThreads];
  // The current job, written by run() before it opens the job's blocks (release), read after seeing it.
  // Atomic only because a late worker may read them while the next job is being written (its claim then fails
  // and it discards what it read); relaxed order costs nothing.
  std::atomic<void (*)(void*, std::size_t)> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<std::size_t> chunks_{0};
  std::atomic<std::size_t> blocks_used_{0};  // the threads taking part: min(threads_, limit_)
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_num_threads(int threads) { pool().resize(std::clamp(threads, 1, kMaxThreads)); }

int num_threads() { return pool().threads(); }

int active_threads() { return pool().active(); }

void parallel_chunks(std::size_t chunks, void (*fn)(void* ctx, std::size_t chunk), void* ctx) {
  pool().run(chunks, fn, ctx);
}

ThreadLimit::ThreadLimit(int threads) : previous_(pool().limit()) {
  pool().set_limit(std::clamp(threads, 1, previous_));
}

ThreadLimit::~ThreadLimit() { pool().set_limit(previous_); }

int threads_for_work(std::size_t multiply_adds) {
  constexpr std::size_t kMultiplyAddsPerThread = 1'500'000;
  return static_cast<int>(std::clamp<std::size_t>(multiply_adds / kMultiplyAddsPerThread, 1, kMaxThreads));
}

std::size_t product_chunks(std::size_t N, std::size_t D_in, std::size_t D_out) {
  constexpr std::size_t kParallelMinMacs = std::size_t{1} << 17, kChunks = 2;
  return N * D_in * D_out >= kParallelMinMacs && N >= 2 * kChunks ? kChunks : 1;
}

std::size_t column_chunks(std::size_t N, std::size_t D_in, std::size_t D_out) {
  return product_chunks(N, D_in, D_out) > 1 ? 4 : 1;
}

Range chunk_range(std::size_t n, std::size_t chunks, std::size_t c, std::size_t align) {
  const std::size_t units = (n + align - 1) / align;
  const std::size_t base = units / chunks, extra = units % chunks;
  const std::size_t b = c * base + std::min(c, extra), e = b + base + (c < extra ? 1 : 0);
  return {std::min(n, b * align), std::min(n, e * align)};
}

}  // namespace mnist::kernels
