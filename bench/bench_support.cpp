#include "bench_support.hpp"

#include <ctime>
#include <sstream>

namespace {
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

TutorialRun run_tutorial(const mnist::Dataset& train_set, const std::string& model_name, std::uint64_t seed,
                         int threads, std::size_t epochs) {
  const std::vector<mnist::Subset> parts = mnist::random_split(train_set, std::vector<double>{0.9, 0.1}, seed);
  mnist::DataLoader train(parts[0], {.batch_size = 128, .shuffle = true, .seed = seed});
  mnist::DataLoader val(parts[1], {.batch_size = 128});
  TutorialRun run{
      .model = mnist::make_model(model_name, seed), .history = {}, .n_train = train.size(), .n_val = val.size()};
  mnist::SGD sgd(run.model, mnist::SgdOptions{.lr = 0.1});
  mnist::FitOptions o;
  o.epochs = epochs;
  o.threads = threads;
  const double c0 = process_cpu_seconds();
  run.history = mnist::fit(run.model, train, val, sgd, o);
  run.cpu_seconds = process_cpu_seconds() - c0;
  for (const mnist::EpochStats& e : run.history.epochs) run.seconds += e.seconds;
  return run;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}
