// The thread pool: every chunk of every job runs exactly once, whatever the timing, and background tasks run once
// while jobs go on.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "kernels/parallel.hpp"

using namespace mnist::kernels;

namespace {
// Restores one thread at the end of a test, whatever happens in it.
struct TwoThreads {
  TwoThreads() { set_num_threads(2); }
  ~TwoThreads() { set_num_threads(1); }
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

void spin_for(std::chrono::nanoseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}
}  // namespace

// Jobs of different chunk counts back to back, the worker made late again and again by background tasks: a late
// worker must never claim a chunk of the job being set up with the previous job's claim (it once did: a chunk ran
// twice and the job's count of finished chunks overshot, so the caller waited forever).
TEST(Parallel, EveryChunkRunsOnceWhileJobsFollowEachOtherAndBackgroundTasksDelayTheWorker) {
  Watchdog watchdog(std::chrono::seconds(60));
  TwoThreads two;
  std::array<std::atomic<int>, 8> runs{};
  int background_posted = 0;
  // Background tasks of varied lengths, so that the worker comes back to the jobs at every moment of their set-up.
  struct Task {
    std::atomic<int> runs{0};
    int length = 0;
  } task;
  auto background = [](void* ctx) {
    auto& t = *static_cast<Task*>(ctx);
    spin_for(std::chrono::nanoseconds(t.length));
    t.runs.fetch_add(1);
  };
  for (int job = 0; job < 200000; ++job) {
    const std::size_t chunks = 2 + static_cast<std::size_t>(job % 3) * 3;  // 2, 5, 8, 2, ...
    if (job % 3 == 0) {
      task.length = (job * 7919) % 3000;
      run_in_background(background, &task);
      ++background_posted;
    }
    for (auto& r : runs) r.store(0);
    auto chunk = [&](std::size_t c) {
      runs[c].fetch_add(1);
      spin_for(std::chrono::nanoseconds(200 * (c % 2)));
    };
    parallel_for_chunks(chunks, chunk);
    for (std::size_t c = 0; c < runs.size(); ++c)
      ASSERT_EQ(runs[c].load(), c < chunks ? 1 : 0) << "job " << job << " (" << chunks << " chunks), chunk " << c;
  }
  wait_background();
  EXPECT_EQ(task.runs.load(), background_posted);
}

// A background task runs once, on the caller when no worker came for it, and its writes are visible after
// wait_background(); with one thread it runs at once.
TEST(Parallel, BackgroundTasksRunOnceAndTheirWritesAreVisibleAfterTheWait) {
  int value = 0;
  auto set = [](void* ctx) { *static_cast<int*>(ctx) += 1; };
  run_in_background(set, &value);  // one thread: runs now
  EXPECT_EQ(value, 1);
  TwoThreads two;
  for (int i = 0; i < 10000; ++i) {
    run_in_background(set, &value);
    wait_background();
    ASSERT_EQ(value, 2 + i);
  }
  wait_background();  // nothing in flight: returns at once
  EXPECT_EQ(value, 10001);
}
