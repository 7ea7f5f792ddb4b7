// What the end-to-end benchmarks share: the tutorial's training run as they time it, and their argument lists.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mnist/datasets.hpp"
#include "mnist/train.hpp"

// The tutorial's run: a 90/10 split of the training set, batches of 128 (training shuffled per epoch), SGD at lr 0.1,
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

// "a,b,c" -> {"a", "b", "c"}: the benchmarks' list arguments.
std::vector<std::string> split_commas(const std::string& s);
