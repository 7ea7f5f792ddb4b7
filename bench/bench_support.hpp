// What the end-to-end benchmarks share: the tutorial's training run as they time it, and their argument lists.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mnist/datasets.hpp"
#include "mnist/train.hpp"

// The tutorial's run: a 90/10 split of the training set, batches of 128 (training shuffled per epoch), SGD at lr 0.1
// (a net with convolutions: lr 0.05, momentum 0.9),
// validation after every epoch.
struct TutorialRun {
  mnist::Model model;
  mnist::History history;
  double seconds = 0;      // training-loop wall time, validation included (the epochs' seconds summed)
  double cpu_seconds = 0;  // CPU time of the whole process during fit (all threads)
  std::size_t n_train = 0, n_val = 0;
};

TutorialRun run_tutorial(const mnist::Dataset& train_set, const std::string& model_name, std::uint64_t seed,
                         int threads, std::size_t epochs);

// A hash of the run's step losses and final parameters: equal hashes = bit-identical runs.
std::uint64_t run_bits(const TutorialRun& run);

// Two variants of a run timed in pairs: run(v) for v = 0 and 1, `rounds` times each, alternating in one process with
// the order swapped every round, so that this VM's drifting speed hits both alike (runs one after another cannot
// tell 10% apart here). seconds[v][r] is variant v's time in round r.
struct PairedTimes {
  std::vector<double> seconds[2];
  int first_won() const;             // rounds where variant 0 was faster
  double mean_ratio() const;         // mean over the rounds of seconds[0][r] / seconds[1][r]
  double min(int v) const;
  double median(int v) const;
};
PairedTimes time_paired(int rounds, const std::function<double(int variant)>& run);

// "a,b,c" -> {"a", "b", "c"}: the benchmarks' list arguments.
std::vector<std::string> split_commas(const std::string& s);
