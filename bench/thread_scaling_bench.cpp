// Paired: the tutorial's run on one thread against the same run on two, alternating in one process (order swapped
// every round), so that this VM's drift hits both alike; the "2 threads vs 1" figure of the performance issue
// (target: 1.6x) with its spread, and a check that both give the same bits.
// Usage: mnist_thread_scaling_bench [DATA_DIR=/usr/share/datasets/fashion-mnist] [MODELS=logistic,hidden,hidden-relu]
//                                   [ROUNDS=10] [THREADS=2]
// Prints per model: min and median seconds on 1 and on THREADS threads, the mean of 1-thread / THREADS-thread time
// over the pairs with its lowest and highest pair, the pairs at 1.6x or more, and whether every run's bits (history
// and final parameters) were the same.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"

int main(int argc, char** argv) {
  try {
    const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const std::vector<std::string> models = split_commas(argc > 2 ? argv[2] : "logistic,hidden,hidden-relu");
    const int rounds = argc > 3 ? std::stoi(argv[3]) : 10;
    const int threads = argc > 4 ? std::stoi(argv[4]) : 2;
    if (rounds < 1) throw std::invalid_argument("ROUNDS must be at least 1");
    if (threads < 2) throw std::invalid_argument("THREADS must be at least 2");
    const mnist::Dataset train_set = mnist::load_dataset_dir(dir, mnist::Split::Train);
    for (const std::string& model : models) {
      std::vector<std::uint64_t> bits;
      const PairedTimes t = time_paired(rounds, [&](int v) {
        const TutorialRun run = run_tutorial(train_set, model, 0, v == 0 ? 1 : threads, 10);
        bits.push_back(run_bits(run));
        return run.seconds;
      });
      std::vector<double> speedup;
      for (int r = 0; r < rounds; ++r) speedup.push_back(t.seconds[0][r] / t.seconds[1][r]);
      const auto [lo, hi] = std::minmax_element(speedup.begin(), speedup.end());
      const auto at_target = std::count_if(speedup.begin(), speedup.end(), [](double s) { return s >= 1.6; });
      const bool same = std::all_of(bits.begin(), bits.end(), [&](std::uint64_t b) { return b == bits.front(); });
      std::printf("%-12s 1 thread: min %.3f med %.3f  %d threads: min %.3f med %.3f  speedup mean %.3f "
                  "(pairs %.3f-%.3f, %ld of %d at >= 1.6x)  bits %s\n",
                  model.c_str(), t.min(0), t.median(0), threads, t.min(1), t.median(1), t.mean_ratio(), *lo, *hi,
                  static_cast<long>(at_target), rounds, same ? "identical" : "DIFFER");
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_thread_scaling_bench: %s\n", e.what());
    return 1;
  }
}
