#include "kernels/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace mnist::kernels {

namespace {

// Workers spin briefly (a training step hands out work every few tens of microseconds), then sleep on the atomic
// (futex) so that an idle pool costs nothing.
constexpr int kSpins = 4000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class Pool {
 public:
  ~Pool() { resize(1); }

  int threads() const { return threads_; }

  void resize(int threads) {
    if (threads == threads_) return;
    if (!workers_.empty()) {
      quit_.store(true);
      generation_.fetch_add(1);
      generation_.notify_all();
      for (std::thread& t : workers_) t.join();
      workers_.clear();
      quit_.store(false);
    }
    threads_ = threads;
    // Each worker starts from the generation current now, so it cannot miss a hand-over made before it runs.
    const unsigned start = generation_.load();
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t, start] { work(t, start); });
  }

  void run(std::size_t chunks, void (*fn)(void*, std::size_t), void* ctx) {
    if (threads_ == 1 || chunks <= 1) {
      for (std::size_t c = 0; c < chunks; ++c) fn(ctx, c);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    chunks_ = chunks;
    pending_.store(threads_ - 1);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    run_mine(0);
    for (int s = 0; pending_.load(std::memory_order_acquire) != 0; ++s) {
      if (s < kSpins) {
        cpu_relax();
      } else {
        const int p = pending_.load(std::memory_order_acquire);
        if (p != 0) pending_.wait(p);
      }
    }
  }

 private:
  void run_mine(int t) {
    for (std::size_t c = static_cast<std::size_t>(t); c < chunks_; c += static_cast<std::size_t>(threads_))
      fn_(ctx_, c);
  }

  void work(int t, unsigned seen) {
    for (;;) {
      for (int s = 0; generation_.load(std::memory_order_acquire) == seen; ++s) {
        if (s < kSpins) cpu_relax();
        else generation_.wait(seen);
      }
      seen = generation_.load(std::memory_order_acquire);
      if (quit_.load()) return;
      run_mine(t);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::atomic<unsigned> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> quit_{false};
  void (*fn_)(void*, std::size_t) = nullptr;
  void* ctx_ = nullptr;
  std::size_t chunks_ = 0;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_num_threads(int threads) { pool().resize(std::clamp(threads, 1, 64)); }

int num_threads() { return pool().threads(); }

void parallel_chunks(std::size_t chunks, void (*fn)(void* ctx, std::size_t chunk), void* ctx) {
  pool().run(chunks, fn, ctx);
}

Range chunk_range(std::size_t n, std::size_t chunks, std::size_t c, std::size_t align) {
  const std::size_t units = (n + align - 1) / align;
  const std::size_t base = units / chunks, extra = units % chunks;
  const std::size_t b = c * base + std::min(c, extra), e = b + base + (c < extra ? 1 : 0);
  return {std::min(n, b * align), std::min(n, e * align)};
}

}  // namespace mnist::kernels
