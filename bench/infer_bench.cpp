// Inference on the test split: evaluate() (eval mode, the model's inference chunks) over all test images of a data
// set, per preset model and thread count, best of REPEATS. The weights are the preset's initial ones: the work does
// not depend on them. The peer is bench/peers/libtorch_infer.cpp (scripts/bench_infer.sh runs both, paired).
// Usage: mnist_infer_bench [DATA_DIR=/usr/share/datasets/fashion-mnist] [MODELS=lenet5,cnn,cnn-bn] [THREADS=1]
//                          [REPEATS=5]
// Prints per model and thread count: seconds (the evaluate() call), images/s, accuracy (of the untrained model:
// only a check that the whole set ran).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "mnist/datasets.hpp"
#include "mnist/loader.hpp"
#include "mnist/error.hpp"
#include "mnist/train.hpp"

int main(int argc, char** argv) {
  try {
    const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const std::vector<std::string> models = split_commas(argc > 2 ? argv[2] : "lenet5,cnn,cnn-bn");
    const std::vector<std::string> thread_counts = split_commas(argc > 3 ? argv[3] : "1");
    const int repeats = argc > 4 ? std::stoi(argv[4]) : 5;
    const mnist::Dataset test = mnist::load_dataset_dir(dir, mnist::Split::Test);
    for (const std::string& name : models)
      for (const std::string& t : thread_counts) {
        mnist::set_num_threads(std::stoi(t));
        mnist::Model model = mnist::make_model(name, 0);
        double best = 1e300, accuracy = 0;
        for (int rep = 0; rep < repeats; ++rep) {
          mnist::DataLoader loader(mnist::Subset(test), {.batch_size = 1000});
          const auto t0 = std::chrono::steady_clock::now();
          accuracy = mnist::evaluate(model, loader).accuracy;
          best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::printf("%-8s threads=%s seconds=%.4f images/s=%.0f accuracy=%.4f\n", name.c_str(), t.c_str(), best,
                    static_cast<double>(test.size()) / best, accuracy);
        std::fflush(stdout);
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_infer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
