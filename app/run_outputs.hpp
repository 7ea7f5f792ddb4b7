// What a training run leaves in its directory: history.json, history.csv and the tutorial's two charts; and reading
// history.json back (mnist plot).
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mnist/plot.hpp"
#include "mnist/train.hpp"

namespace mnist::cli {

/// One run's record, as history.json holds it.
struct RunRecord {
  std::string model, dataset;
  std::vector<EpochStats> epochs;  // EpochStats::epoch is 0-based; files number epochs from 1
  double train_seconds = 0.0;      // training-loop seconds, all epochs (validation included)
  double samples_per_second = 0.0;
  double test_accuracy = -1.0;     // < 0: not measured (yet)
  std::map<std::string, std::string> settings;  // hyperparameters, as stored in the checkpoint
  int world_size = 1;  // processes that trained it (mpirun -np N); a resumed run records its last N
};

/// train_seconds and samples_per_second from the epochs' seconds and the training split's size.
void set_throughput(RunRecord& run, std::size_t train_samples);

/// {"model", "dataset", "epochs": [{"epoch": 1, "train_loss", "val_accuracy", "val_accuracy_exact", "val_loss",
/// "seconds"}, ...], "train_seconds", "samples_per_second", "test_accuracy" (null before it is measured),
/// "settings": {...}}; written atomically.
void write_history_json(const std::filesystem::path& path, const RunRecord& run);
/// epoch,train_loss,val_accuracy,val_accuracy_exact,val_loss,seconds; written atomically.
void write_history_csv(const std::filesystem::path& path, const RunRecord& run);
/// Reads a history.json (Error naming the file when it cannot be read or lacks the schema).
RunRecord read_history_json(const std::filesystem::path& path);

/// Error naming source (a history.json, or the run's name) when the run cannot be charted: no epochs, or no finite
/// train loss or validation accuracy in any epoch (the chart would have nothing to draw).
void check_chartable(const RunRecord& run, const std::string& source);

/// "loss history" and "validation accuracy history" of several runs (a legend when more than one) into
/// dir/loss.png and dir/accuracy.png. Every run is checked (check_chartable, naming its label) before either file is
/// written, so that a failure never leaves a new loss.png beside an old accuracy.png.
void write_charts(const std::filesystem::path& dir, const std::vector<std::pair<std::string, const RunRecord*>>& runs);

}  // namespace mnist::cli
