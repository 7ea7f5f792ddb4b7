// Paired A/B of where the training images live: the buffer the IDX reader fills (advised to 2 MiB pages) against a
// copy held on 4 KiB pages, the same tutorial run alternating between the two (order swapped every round), so that
// this VM's drifting speed hits both alike. Wall-clock runs one after another could not tell them apart.
// Usage: mnist_huge_pages_bench [DATA_DIR=/usr/share/datasets/fashion-mnist] [MODELS=logistic,hidden,hidden-relu]
//                               [THREADS=1] [ROUNDS=10]
// Prints how much of each buffer is on huge pages, then per model: min and median seconds of each, the pairs the
// huge-page buffer won and the mean of huge / 4k over the pairs.
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "data/pages.hpp"

namespace {
// The same images and labels, the image bytes on 4 KiB pages (advised before they are first touched).
mnist::Dataset copy_on_small_pages(const mnist::Dataset& d) {
  std::vector<std::uint8_t> images;
  images.reserve(d.images().size());
  mnist::data::advise_pages(images.data(), images.capacity(), mnist::data::Pages::Small);
  images.assign(d.images().begin(), d.images().end());
  std::vector<std::uint8_t> labels(d.labels().begin(), d.labels().end());
  return mnist::Dataset(d.name(), d.root(), d.split(), d.rows(), d.cols(), std::move(images), std::move(labels),
                        d.classes());
}

std::string huge_pages_of(const mnist::Dataset& d) {
  return mnist::data::mapping_field(d.images().data() + d.images().size() / 2, "AnonHugePages");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const std::vector<std::string> models = split_commas(argc > 2 ? argv[2] : "logistic,hidden,hidden-relu");
    const int threads = argc > 3 ? std::stoi(argv[3]) : 1;
    const int rounds = argc > 4 ? std::stoi(argv[4]) : 10;
    if (rounds < 1) throw std::invalid_argument("ROUNDS must be at least 1");
    const mnist::Dataset loaded = mnist::load_dataset_dir(dir, mnist::Split::Train);
    const mnist::Dataset copy = copy_on_small_pages(loaded);
    const mnist::Dataset* sets[2] = {&loaded, &copy};
    std::printf("image bytes (%zu kB) on huge pages: as loaded %s, the copy %s\n", loaded.images().size() / 1024,
                huge_pages_of(loaded).c_str(), huge_pages_of(copy).c_str());
    for (const std::string& model : models) {
      const PairedTimes t =
          time_paired(rounds, [&](int v) { return run_tutorial(*sets[v], model, 0, threads, 10).seconds; });
      std::printf("%-12s threads=%d huge: min %.3f med %.3f  4k: min %.3f med %.3f  huge won %d/%d pairs, "
                  "mean huge/4k %.3f\n",
                  model.c_str(), threads, t.min(0), t.median(0), t.min(1), t.median(1), t.first_won(), rounds,
                  t.mean_ratio());
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_huge_pages_bench: %s\n", e.what());
    return 1;
  }
}
