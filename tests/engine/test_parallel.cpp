// The thread pool: every chunk of every job runs exactly once, whatever the timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/parallel.hpp"

using namespace mnist::kernels;

namespace {
// Restores one thread at the end of a test, whatever happens in it.
struct Threads {
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(1); }
};

// Ends the process with a message if the test has not finished within `limit` (a lost chunk leaves the caller
// waiting forever: better a clear failure than a CI timeout).
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "test_parallel: still waiting after %lld s: a job never finished\n",
                         static_cast<long long>(limit.count()));
            std::_Exit(1);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

// A third thread that only yields, so that the pool's worker comes back to the jobs at every moment of their set-up.
class BusyThread {
 public:
  BusyThread()
      : thread_([this] {
          while (!stop_.load()) std::this_thread::yield();
        }) {}
  ~BusyThread() {
    stop_.store(true);
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

// Jobs of different chunk counts back to back, the worker made late again and again by a busy third thread: a late
// worker must never claim a chunk of the job being set up with the previous job's claim (it once did: a chunk ran
// twice and the job's count of finished chunks overshot, so the caller waited forever; before the fix 6 of 6 runs of
// this test failed or hung, each within a second).
TEST(Parallel, EveryChunkRunsOnceWhileJobsFollowEachOtherAndTheWorkerIsLate) {
  Watchdog watchdog(std::chrono::seconds(30));
  const Threads two(2);
  BusyThread busy;  // on this 2-core machine the OS keeps taking the pool's worker off its core for it
  std::array<std::atomic<int>, 8> runs{};
  for (int job = 0; job < 2000000; ++job) {
    const std::size_t chunks = 2 + static_cast<std::size_t>(job % 3) * 3;  // 2, 5, 8, 2, ...
    for (auto& r : runs) r.store(0);
    auto chunk = [&](std::size_t c) { runs[c].fetch_add(1); };
    parallel_for_chunks(chunks, chunk);
    for (std::size_t c = 0; c < runs.size(); ++c)
      ASSERT_EQ(runs[c].load(), c < chunks ? 1 : 0) << "job " << job << " (" << chunks << " chunks), chunk " << c;
  }
}

// Each thread claims its own block of a job first (the caller chunks [0, n/2), the worker [n/2, n) on two threads),
// so that layers which cut a batch the same way find their images in the cache of the core that wrote them. Chunks
// that take 20 ms each leave neither thread room to drain its block and take from the other's, unless one of them
// is held up for longer than a chunk.
TEST(Parallel, EachThreadRunsItsOwnBlockOfChunksWhenBothKeepUp) {
  Watchdog watchdog(std::chrono::seconds(30));
  const Threads two(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::array<std::thread::id, 8> ran{};
  auto record = [&](std::size_t c) {
    ran[c] = std::this_thread::get_id();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  int tries = 0;
  auto own_blocks = [&] {
    for (std::size_t c = 0; c < ran.size(); ++c)
      if ((ran[c] == caller) != (c < ran.size() / 2)) return false;
    return true;
  };
  // A worker the OS keeps off its core for a whole chunk may rightly lose its block once; five times running
  // would be the claiming order.
  do parallel_for_chunks(ran.size(), record);
  while (!own_blocks() && ++tries < 5);
  for (std::size_t c = 0; c < ran.size(); ++c)
    EXPECT_EQ(ran[c] == caller, c < ran.size() / 2)
        << "chunk " << c << " ran on the " << (ran[c] == caller ? "caller" : "worker");
}

// A ThreadLimit keeps the jobs on the first threads (the caller alone at 1) and gives the previous limit back; the
// chunks stay the same.
TEST(Parallel, AThreadLimitKeepsJobsOnItsThreadsAndNests) {
  Watchdog watchdog(std::chrono::seconds(30));
  const Threads four(4);
  std::array<std::thread::id, 8> ran{};
  auto record = [&](std::size_t c) {
    ran[c] = std::this_thread::get_id();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  auto threads_that_ran = [&] {
    std::vector<std::thread::id> ids(ran.begin(), ran.end());
    std::sort(ids.begin(), ids.end());
    return static_cast<std::size_t>(std::unique(ids.begin(), ids.end()) - ids.begin());
  };
  // Several jobs each, so that a thread beyond the limit would have every chance to take part.
  auto most_threads_over_jobs = [&] {
    std::size_t most = 0;
    for (int job = 0; job < 5; ++job) {
      parallel_for_chunks(ran.size(), record);
      most = std::max(most, threads_that_ran());
    }
    return most;
  };
  {
    const ThreadLimit two(2);
    EXPECT_EQ(active_threads(), 2);
    EXPECT_LE(most_threads_over_jobs(), 2u);
    {
      const ThreadLimit one(1);
      parallel_for_chunks(ran.size(), record);
      EXPECT_EQ(threads_that_ran(), 1u);
      EXPECT_EQ(ran[0], std::this_thread::get_id());
      const ThreadLimit more(3);  // nested: no more than the limit around it
      EXPECT_EQ(active_threads(), 1);
    }
    EXPECT_EQ(active_threads(), 2);
    EXPECT_LE(most_threads_over_jobs(), 2u);
  }
  // The limit gone, the other workers take their blocks again (one held off its core may lose its block once).
  EXPECT_EQ(active_threads(), 4);
  EXPECT_GT(most_threads_over_jobs(), 2u);
}

// One thread per 1.5 M multiply-adds of a step, at least one: logistic and hidden (2.0 M, 2.8 M at batch 128) on
// one, hidden-relu (6.5 M) on up to four.
TEST(Parallel, ThreadsForWorkGrowWithTheWork) {
  EXPECT_EQ(threads_for_work(0), 1);
  EXPECT_EQ(threads_for_work(2'999'999), 1);
  EXPECT_EQ(threads_for_work(3'000'000), 2);
  EXPECT_EQ(threads_for_work(6'540'000), 4);
  EXPECT_EQ(threads_for_work(std::size_t{1} << 40), 64);
}

// More threads than cores, limits changing between jobs and a busy thread making workers late: every chunk still
// runs once, whichever blocks the threads start on.
TEST(Parallel, EveryChunkRunsOnceOnFourThreadsUnderChangingLimits) {
  Watchdog watchdog(std::chrono::seconds(60));
  const Threads four(4);
  BusyThread busy;
  std::array<std::atomic<int>, 40> runs{};
  for (int job = 0; job < 300000; ++job) {
    const std::size_t chunks = 1 + static_cast<std::size_t>(job * 7 % 37);
    const ThreadLimit limit(1 + job / 3 % 5);  // 1 .. 5: at, under and over the pool's 4
    for (auto& r : runs) r.store(0);
    auto chunk = [&](std::size_t c) { runs[c].fetch_add(1); };
    parallel_for_chunks(chunks, chunk);
    for (std::size_t c = 0; c < runs.size(); ++c)
      ASSERT_EQ(runs[c].load(), c < chunks ? 1 : 0) << "job " << job << " (" << chunks << " chunks), chunk " << c;
  }
}
