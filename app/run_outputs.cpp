#include "run_outputs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "mnist/error.hpp"
#include "util/files.hpp"

namespace mnist::cli {
namespace {

using json = nlohmann::json;

double exact_accuracy(const EpochStats& e) {
  return e.val_total ? static_cast<double>(e.val_correct) / static_cast<double>(e.val_total) : 0.0;
}

// JSON has no NaN or infinity: a diverged value is written as null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

void write_text(const std::filesystem::path& path, const std::string& text) {
  util::write_file_atomically(path, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

double read_number(const json& j, const char* key, const std::string& src) {
  const auto it = j.find(key);
  if (it == j.end()) throw Error(src + ": history.json lacks \"" + key + "\"");
  if (it->is_null()) return std::nan("");
  if (!it->is_number()) throw Error(src + ": \"" + key + "\" is not a number");
  return it->get<double>();
}

// One value of each epoch (train loss, validation accuracy, ...) against the epoch number from 1, labelled label.
Series epoch_series(const RunRecord& run, const std::string& label, double EpochStats::*value) {
  Series s{label, {}, {}};
  for (const EpochStats& e : run.epochs) {
    s.x.push_back(static_cast<double>(e.epoch + 1));
    s.y.push_back(e.*value);
  }
  return s;
}
}  // namespace

void set_throughput(RunRecord& run, std::size_t train_samples) {
  run.train_seconds = 0.0;
  for (const EpochStats& e : run.epochs) run.train_seconds += e.seconds;
  run.samples_per_second = run.train_seconds > 0
                               ? static_cast<double>(train_samples * run.epochs.size()) / run.train_seconds
                               : 0.0;
}

void write_history_json(const std::filesystem::path& path, const RunRecord& run) {
  json epochs = json::array();
  for (const EpochStats& e : run.epochs)
    epochs.push_back({{"epoch", e.epoch + 1},
                      {"train_loss", number(e.train_loss)},
                      {"val_accuracy", number(e.val_accuracy)},
                      {"val_accuracy_exact", number(exact_accuracy(e))},
                      {"val_loss", number(e.val_loss)},
                      {"seconds", e.seconds}});
  json j = {{"model", run.model},
            {"dataset", run.dataset},
            {"epochs", epochs},
            {"train_seconds", run.train_seconds},
            {"samples_per_second", run.samples_per_second},
            {"test_accuracy", run.test_accuracy >= 0 ? json(run.test_accuracy) : json(nullptr)},
            {"world_size", run.world_size},
            {"settings", run.settings}};
  write_text(path, j.dump(2) + "\n");
}

void write_history_csv(const std::filesystem::path& path, const RunRecord& run) {
  std::string text = "epoch,train_loss,val_accuracy,val_accuracy_exact,val_loss,seconds\n";
  for (const EpochStats& e : run.epochs)
    text += fmt::format("{},{:.9g},{:.9g},{:.9g},{:.9g},{:.4f}\n", e.epoch + 1, e.train_loss, e.val_accuracy,
                        exact_accuracy(e), e.val_loss, e.seconds);
  write_text(path, text);
}

RunRecord read_history_json(const std::filesystem::path& path) {
  const std::vector<std::uint8_t> bytes = util::read_file_bytes(path);
  const std::string src = path.string();
  const json j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(src + ": not a JSON object (expected a history.json of mnist train)");
  RunRecord run;
  if (!j.contains("model") || !j["model"].is_string()) throw Error(src + ": history.json lacks \"model\"");
  if (!j.contains("epochs") || !j["epochs"].is_array()) throw Error(src + ": history.json lacks \"epochs\"");
  run.model = j["model"].get<std::string>();
  if (j.contains("dataset") && j["dataset"].is_string()) run.dataset = j["dataset"].get<std::string>();
  for (const json& row : j["epochs"]) {
    if (!row.is_object()) throw Error(src + ": an entry of \"epochs\" is not an object");
    EpochStats e;
    const double epoch = read_number(row, "epoch", src);
    if (!(epoch >= 1 && epoch <= 1e6)) throw Error(src + ": \"epoch\" must be a number from 1");
    e.epoch = static_cast<std::size_t>(epoch) - 1;
    e.train_loss = read_number(row, "train_loss", src);
    e.val_accuracy = read_number(row, "val_accuracy", src);
    run.epochs.push_back(e);
  }
  if (j.contains("test_accuracy") && j["test_accuracy"].is_number()) run.test_accuracy = j["test_accuracy"].get<double>();
  if (j.contains("train_seconds") && j["train_seconds"].is_number()) run.train_seconds = j["train_seconds"].get<double>();
  return run;
}

void check_chartable(const RunRecord& run, const std::string& source) {
  if (run.epochs.empty()) throw Error(source + ": \"epochs\" is empty: the run has no completed epoch to plot");
  const auto any_finite = [&run](double EpochStats::*value) {
    return std::any_of(run.epochs.begin(), run.epochs.end(), [value](const EpochStats& e) { return std::isfinite(e.*value); });
  };
  if (!any_finite(&EpochStats::train_loss))
    throw Error(source + ": no epoch has a finite \"train_loss\" (all null), so there is no loss history to plot");
  if (!any_finite(&EpochStats::val_accuracy))
    throw Error(source + ": no epoch has a finite \"val_accuracy\" (all null), so there is no accuracy history to plot");
}

void write_charts(const std::filesystem::path& dir, const std::vector<std::pair<std::string, const RunRecord*>>& runs) {
  for (const auto& [label, run] : runs) check_chartable(*run, label);
  LineChart loss{"loss history", "epoch", "train loss", {}, true};
  LineChart acc{"validation accuracy history", "epoch", "validation accuracy", {}, true};
  for (const auto& [label, run] : runs) {
    loss.series.push_back(epoch_series(*run, label, &EpochStats::train_loss));
    acc.series.push_back(epoch_series(*run, label, &EpochStats::val_accuracy));
  }
  plot_lines(dir / "loss.png", loss);
  plot_lines(dir / "accuracy.png", acc);
}

}  // namespace mnist::cli
