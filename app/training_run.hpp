// One training run as train and compare do it: the training flags, loading and splitting the data once, and a run
// that trains through the library's fit() and leaves its files in a directory after every epoch (checkpoint,
// resume state, history), so that an interruption or a divergence loses at most the epoch in progress.
#pragma once
#include <CLI/CLI.hpp>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common_options.hpp"
#include "mnist/dataset.hpp"
#include "mnist/dist.hpp"
#include "mnist/loader.hpp"
#include "mnist/nn.hpp"
#include "mnist/schedule.hpp"
#include "mnist/train.hpp"
#include "run_outputs.hpp"

namespace mnist::cli {

/// The flags train and compare share (besides --model/--models and --out).
struct TrainingFlags {
  CommonOptions common;
  long long epochs = 10;
  double lr = 0.1;
  long long batch_size = 128;
  double val_fraction = 0.1;
  std::string optimizer = "sgd";
  double momentum = 0.0;
  double weight_decay = 0.0;
  std::string lr_schedule = "none";  // none, step, cosine, onecycle (mnist/schedule.hpp)
  long long lr_step_size = 0;        // step: epochs between decays; 0: max(1, epochs / 3)
  double lr_gamma = 0.1;             // step: decay factor
  long long lr_t_max = 0;            // cosine: T_max; 0: the epochs (set from the resume state only)
  long long lr_total_steps = 0;      // onecycle: total_steps; 0: epochs x batches (set from the resume state only)
  std::string augment = "none";      // none, shift (training images only)
  long long stop_after_batches = 0;  // test hook (hidden from --help): behave as if Ctrl-C came after N batches
};

inline constexpr long long kMaxEpochs = 100000;

/// --epochs --lr --batch-size --val-fraction --optimizer --momentum --weight-decay, the data and compute flags, and
/// the hidden --stop-after-batches.
void add_training_flags(CLI::App& command, TrainingFlags& flags);
/// The run's learning-rate schedule: --lr-schedule with its parameters resolved (defaults from the epochs and the
/// batches per epoch), base or max lr --lr.
LrSchedule make_schedule(const TrainingFlags& flags, std::size_t batches_per_epoch);

/// Cross-flag checks that need no data (--momentum with adam); throws UsageError naming the flag.
void check_training_flags(const TrainingFlags& flags);

/// Train and test splits loaded once, and the train split divided into train/val by the seed (every model of a
/// compare sees the same split). Not movable: the subsets point into the datasets.
struct PreparedData {
  Dataset train, test;
  std::vector<Subset> split;  // [train, val]
  PreparedData() = default;
  PreparedData(const PreparedData&) = delete;
  PreparedData& operator=(const PreparedData&) = delete;
};
/// Loads both splits, checks that they agree (image size, classes: Error naming the test split's file) and splits
/// train; throws UsageError when --batch-size or --val-fraction do not fit the data, or, when settings_source is not
/// empty (the settings came from that file: train --resume), Error naming it.
std::unique_ptr<PreparedData> prepare_data(const TrainingFlags& flags, const std::string& settings_source = "");

/// Checks, without building the model, that spec fits the data: as many inputs as the images have pixels, as many
/// outputs as the training split has classes. Throws UsageError beginning with `what` (e.g. "--model 784-5") saying
/// how to fix the spec.
void check_model_fits(const std::string& what, const std::string& spec, const Dataset& train);

/// The files a training run writes into its directory: model.safetensors, history.json, history.csv,
/// resume.safetensors, loss.png, accuracy.png.
const std::vector<std::string>& run_files();
/// Those of names that exist in dir (as files, links or anything else), in the order of names.
std::vector<std::string> existing_files(const std::filesystem::path& dir, const std::vector<std::string>& names);
/// Removes those of names that exist in dir; Error naming the file when one cannot be removed.
void remove_files(const std::filesystem::path& dir, const std::vector<std::string>& names);
/// "a, b and c"
std::string join_names(const std::vector<std::string>& names);

/// The default output directory of a run, base, if it holds nothing of an earlier run (holds_run(dir) false), else
/// the first of base-2, base-3, ... that holds nothing: running the same command again keeps the earlier results
/// and still runs. (An --out the user gives is never renamed: it is refused instead.)
std::string fresh_default_dir(const std::string& base,
                              const std::function<bool(const std::filesystem::path&)>& holds_run);

/// Where the training should start (for --resume).
struct RunStart {
  std::filesystem::path dir;  // holds model.safetensors and resume.safetensors
};

struct RunResult {
  RunRecord record;
  std::size_t parameters = 0;
  bool interrupted = false;  // by a signal or the test hook: files hold the last completed epoch
};

/// What a caller may watch of a run as it trains (train --serve): called on the training thread, with the model
/// between two steps (never in the middle of one).
struct TrainingObserver {
  std::function<void(const Model&, std::size_t first_epoch, std::size_t epochs, std::size_t batches)> on_start;
  std::function<void(const Model&, const BatchEvent&)> on_batch;
  std::function<void(const Model&, const EpochStats&)> on_epoch;
  std::function<void(const Model&, double test_accuracy)> on_test;
};

/// Trains spec (or continues the run in resume->dir) and writes into out: after every epoch model.safetensors,
/// resume.safetensors, history.json/csv; at the end the test accuracy in history.json, loss.png and accuracy.png.
/// Prints progress. Throws Error on divergence (naming epoch and batch). stop: polled once per batch.
/// With comm of N > 1 ranks (mpirun), every rank calls it with the same arguments: the ranks first check that they
/// agree (program, settings, data, starting state; Error if not), train one model together, and only rank 0 prints
/// and writes into out.
RunResult run_training(const TrainingFlags& flags, const std::string& spec, const PreparedData& data,
                       const std::filesystem::path& out, const std::optional<RunStart>& resume,
                       const std::atomic<bool>* stop, dist::Communicator& comm,
                       const TrainingObserver* observer = nullptr);

/// Reads the settings of an earlier run from dir/resume.safetensors into flags (epochs, lr, batch_size,
/// val_fraction, optimizer, momentum, weight_decay, seed, dataset, and the data directory when one is saved) and
/// the number of epochs it completed into *epochs_completed; returns the model spec, for --resume. Throws Error naming
/// the file when it is missing or unreadable, or a saved value is invalid or out of the flags' ranges.
std::string read_resume_settings(const std::filesystem::path& dir, TrainingFlags& flags,
                                 std::size_t* epochs_completed = nullptr);

/// "mnist: interrupted ..." message and the exit code 130, after the files are in place.
[[noreturn]] void exit_interrupted(const std::filesystem::path& out, const RunRecord& record, long long epochs);

}  // namespace mnist::cli
