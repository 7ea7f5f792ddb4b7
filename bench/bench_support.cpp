#include "bench_support.hpp"

#include <algorithm>
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
  // The seed's MLPs train with plain SGD lr 0.1; a net with convolutions with lr 0.05 momentum 0.9, the conv presets'
  // recipe (and libtorch's cnn_bench, their peer).
  bool conv = false;
  for (const mnist::LayerSpec& l : run.model.layers()) conv = conv || l.kind == mnist::LayerSpec::Kind::Conv2d;
  mnist::SGD sgd(run.model, conv ? mnist::SgdOptions{.lr = 0.05, .momentum = 0.9} : mnist::SgdOptions{.lr = 0.1});
  mnist::FitOptions o;
  o.epochs = epochs;
  o.threads = threads;
  const double c0 = process_cpu_seconds();
  run.history = mnist::fit(run.model, train, val, sgd, o);
  run.cpu_seconds = process_cpu_seconds() - c0;
  for (const mnist::EpochStats& e : run.history.epochs) run.seconds += e.seconds;
  return run;
}

std::uint64_t run_bits(const TutorialRun& run) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over the bytes
  auto add = [&h](const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  add(run.history.step_losses.data(), run.history.step_losses.size() * sizeof(float));
  const mnist::Model& m = run.model;
  add(m.parameters().data(), m.parameters().size_bytes());
  return h;
}

PairedTimes time_paired(int rounds, const std::function<double(int variant)>& run) {
  PairedTimes t;
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < 2; ++k) {
      const int v = r % 2 == 0 ? k : 1 - k;
      t.seconds[v].push_back(run(v));
    }
  return t;
}

int PairedTimes::first_won() const {
  int won = 0;
  for (std::size_t r = 0; r < seconds[0].size(); ++r) won += seconds[0][r] < seconds[1][r];
  return won;
}

double PairedTimes::mean_ratio() const {
  double sum = 0;
  for (std::size_t r = 0; r < seconds[0].size(); ++r) sum += seconds[0][r] / seconds[1][r];
  return seconds[0].empty() ? 0 : sum / static_cast<double>(seconds[0].size());
}

double PairedTimes::min(int v) const { return *std::min_element(seconds[v].begin(), seconds[v].end()); }

double PairedTimes::median(int v) const {
  std::vector<double> s = seconds[v];
  std::sort(s.begin(), s.end());
  return s[s.size() / 2];
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}
