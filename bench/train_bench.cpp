// End-to-end: the tutorial's run (90/10 split, batch 128, SGD lr 0.1) for each preset model, on one thread.
// Usage: mnist_train_bench [DATA_DIR=/usr/share/datasets/fashion-mnist] [EPOCHS=10] [SEEDS=0,1,2] [MODELS=logistic,hidden,hidden-relu]
// Prints per model and seed: training-loop seconds (all epochs incl. validation), final train loss, final val
// accuracy (the tutorial's mean of batch accuracies, and exact correct/total).
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

#include "mnist/datasets.hpp"
#include "mnist/error.hpp"
#include "mnist/train.hpp"

namespace {
std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const std::size_t epochs = argc > 2 ? std::stoul(argv[2]) : 10;
    const std::vector<std::string> seeds = split_commas(argc > 3 ? argv[3] : "0,1,2");
    const std::vector<std::string> models = split_commas(argc > 4 ? argv[4] : "logistic,hidden,hidden-relu");
    const auto t0 = std::chrono::steady_clock::now();
    const mnist::Dataset train_set = mnist::load_dataset_dir(dir, mnist::Split::Train);
    std::printf("loaded %zu images from %s in %.3f s\n", train_set.size(), dir.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    for (const std::string& model_name : models) {
      for (const std::string& seed_text : seeds) {
        const std::uint64_t seed = std::stoull(seed_text);
        const std::vector<mnist::Subset> parts = mnist::random_split(train_set, std::vector<double>{0.9, 0.1}, seed);
        mnist::DataLoader train(parts[0], {.batch_size = 128, .shuffle = true, .seed = seed});
        mnist::DataLoader val(parts[1], {.batch_size = 128});
        mnist::Model model = mnist::make_model(model_name, seed);
        const mnist::History h = mnist::fit(epochs, 0.1, model, train, val);
        double seconds = 0;
        for (const mnist::EpochStats& e : h.epochs) seconds += e.seconds;
        const mnist::EpochStats& last = h.epochs.back();
        std::printf("%-12s seed %-3llu seconds=%.3f loss=%.4f val_acc=%.4f exact=%zu/%zu\n", model_name.c_str(),
                    static_cast<unsigned long long>(seed), seconds, last.train_loss, last.val_accuracy,
                    last.val_correct, last.val_total);
        std::fflush(stdout);
      }
    }
  } catch (const mnist::Error& e) {
    std::fprintf(stderr, "mnist_train_bench: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_train_bench: %s\n", e.what());
    return 2;
  }
}
