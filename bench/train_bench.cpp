// End-to-end: the tutorial's run (90/10 split, batch 128, SGD lr 0.1 (conv nets: lr 0.05 momentum 0.9), validation
// after every epoch) for each preset model, at each thread count, best of REPEATS runs.
// Usage: mnist_train_bench [DATA_DIR=/usr/share/datasets/fashion-mnist] [EPOCHS=10] [SEEDS=0]
//                          [MODELS=logistic,hidden,hidden-relu] [THREADS=1,2] [REPEATS=3]
// Prints first the dense limit measured now (OpenBLAS sgemm at the first layer's shape, 128x784 · 784x32, on 1
// and on 2 threads), then one line per model, seed and thread count:
//   step_threads the threads a training step of the model uses at that count (fit() sizes them by the step's work)
//   seconds      training-loop wall time (all epochs, validation included), best of REPEATS
//   cpu          CPU time of the process during that run (all threads): near `seconds` on an idle machine
//   samples/s    training images per second (54,000 x epochs / seconds)
//   GFLOP/s      the dense FLOP count of the run (forward + backward of every training image, forward of every
//                validation image; multiply-add = 2 FLOP) / seconds
//   limit        GFLOP/s as a share of the dense limit at that thread count
//   loss, val_acc, exact   last epoch's mean train loss, the tutorial's val accuracy, correct/total
//   bits         a hash of the history and final parameters: equal across thread counts = bit-identical runs
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "kernels/parallel.hpp"
#include "mnist/datasets.hpp"
#include "mnist/error.hpp"
#include "mnist/train.hpp"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best-of-5 GFLOP/s of sgemm at 128x784 · 784x32 on `threads` threads (each thread its own product).
double dense_limit(int threads) {
  const int N = 128, I = 784, O = 32;
  openblas_set_num_threads(1);  // as the models do (kernels::use_single_threaded_blas)
  mnist::set_num_threads(threads);
  std::vector<float> x(static_cast<std::size_t>(threads) * N * I, 0.5f), w(O * I, 0.25f),
      out(static_cast<std::size_t>(threads) * N * O);
  const int reps = 400;
  double best = 0;
  for (int trial = 0; trial < 5; ++trial) {
    auto work = [&](std::size_t c) {
      for (int r = 0; r < reps; ++r)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, I, 1.0f, x.data() + c * N * I, I, w.data(), I,
                    0.0f, out.data() + c * N * O, O);
    };
    const double t0 = now();
    mnist::kernels::parallel_for_chunks(static_cast<std::size_t>(threads), work);
    const double s = now() - t0;
    best = std::max(best, 2.0 * N * I * O * reps * threads / s / 1e9);
  }
  return best;
}

// Dense FLOPs per training image (forward + backward) and per validation image (forward).
struct Flops {
  double train = 0, val = 0;
};
Flops flops_of(const mnist::Model& m) {
  Flops f;
  bool first = true;
  for (const mnist::LayerSpec& l : m.layers()) {
    double mac = 0;
    if (l.kind == mnist::LayerSpec::Kind::Linear) mac = static_cast<double>(l.in * l.out);
    if (l.kind == mnist::LayerSpec::Kind::Conv2d)
      mac = static_cast<double>(l.out * l.in_shape[0] * l.kernel * l.kernel);  // out values x C·K·K each
    if (mac == 0) continue;
    f.val += 2 * mac;
    f.train += 2 * mac /*forward*/ + 2 * mac /*dweight*/ + (first ? 0 : 2 * mac) /*dinp*/;
    first = false;
  }
  return f;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const std::size_t epochs = argc > 2 ? std::stoul(argv[2]) : 10;
    const std::vector<std::string> seeds = split_commas(argc > 3 ? argv[3] : "0");
    const std::vector<std::string> models = split_commas(argc > 4 ? argv[4] : "logistic,hidden,hidden-relu");
    const std::vector<std::string> thread_counts = split_commas(argc > 5 ? argv[5] : "1,2");
    const int repeats = argc > 6 ? std::stoi(argv[6]) : 3;
    const double t0 = now();
    const mnist::Dataset train_set = mnist::load_dataset_dir(dir, mnist::Split::Train);
    std::printf("loaded %zu images from %s in %.3f s\n", train_set.size(), dir.c_str(), now() - t0);
    std::vector<double> limits;
    for (const std::string& t : thread_counts) {
      limits.push_back(dense_limit(std::stoi(t)));
      std::printf("dense limit threads=%s: sgemm 128x784x32 %.1f GFLOP/s\n", t.c_str(), limits.back());
    }
    std::fflush(stdout);
    for (const std::string& model_name : models) {
      for (const std::string& seed_text : seeds) {
        const std::uint64_t seed = std::stoull(seed_text);
        for (std::size_t ti = 0; ti < thread_counts.size(); ++ti) {
          const int threads = std::stoi(thread_counts[ti]);
          double best = 1e300, best_cpu = 0;
          mnist::History h;
          std::uint64_t bits = 0;
          Flops f;
          std::size_t n_train = 0, n_val = 0;
          int step_threads = 1;
          for (int rep = 0; rep < repeats; ++rep) {
            TutorialRun run = run_tutorial(train_set, model_name, seed, threads, epochs);
            if (run.seconds < best) {
              best = run.seconds;
              best_cpu = run.cpu_seconds;
            }
            f = flops_of(run.model);
            // The threads fit() let a step use (kernels::threads_for_work): fewer than asked for a small model.
            step_threads = std::min(threads, mnist::kernels::threads_for_work(run.model.step_multiply_adds(128)));
            n_train = run.n_train;
            n_val = run.n_val;
            bits = run_bits(run);
            h = std::move(run.history);
          }
          const double total_flop =
              static_cast<double>(epochs) * (static_cast<double>(n_train) * f.train + static_cast<double>(n_val) * f.val);
          const double gflops = total_flop / best / 1e9;
          const mnist::EpochStats& last = h.epochs.back();
          std::printf(
              "%-12s seed=%llu threads=%d step_threads=%d seconds=%.3f cpu=%.3f samples/s=%.0f GFLOP/s=%.1f "
              "limit=%.0f%% loss=%.4f val_acc=%.4f exact=%zu/%zu bits=%016llx\n",
              model_name.c_str(), static_cast<unsigned long long>(seed), threads, step_threads, best, best_cpu,
              static_cast<double>(n_train * epochs) / best, gflops, 100.0 * gflops / limits[ti], last.train_loss,
              last.val_accuracy, last.val_correct, last.val_total, static_cast<unsigned long long>(bits));
          std::fflush(stdout);
        }
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
