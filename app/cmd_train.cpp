// mnist train: train one model and leave in --out its checkpoint, history and the tutorial's two charts.
// Ctrl-C finishes the batch, keeps the last completed epoch's files and exits 130; --resume DIR continues.
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>

#include "output_path.hpp"
#include "commands.hpp"
#include "mnist/error.hpp"
#include "mnist/nn.hpp"
#include "signals.hpp"
#include "training_run.hpp"

namespace mnist::cli {
namespace {

struct TrainOptions {
  TrainingFlags flags;
  std::string model = "hidden-relu";
  std::string out;
  std::string resume;
};

void run_train(TrainOptions& o, const CLI::App& command) {
  std::optional<RunStart> start;
  if (command.count("--resume") > 0) {
    if (o.resume.empty()) throw UsageError("--resume: the directory name is empty");
    // The run's own settings come back from its files; only --epochs (to train longer), the data location and
    // --threads may be given again.
    const long long epochs_flag = o.flags.epochs;
    const bool epochs_given = command.count("--epochs") > 0;
    o.model = read_resume_settings(o.resume, o.flags);
    if (epochs_given) o.flags.epochs = epochs_flag;
    o.out = o.resume;
    start = RunStart{o.resume};
  } else {
    check_training_flags(o.flags);
    try {
      parse_model_spec(o.model);
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("--model {}: {}", o.model, e.what()));
    }
    if (command.count("--out") > 0) check_output_dir("--out", o.out);
    if (o.out.empty()) o.out = "runs/" + o.model;
  }
  std::atomic<bool>& stop = install_stop_signal_handlers();
  const std::unique_ptr<PreparedData> data = prepare_data(o.flags);
  fmt::print("training {} on {} ({} train / {} val images, {} epochs, {} lr {}, batch {}) -> {}\n", o.model,
             o.flags.common.data.dataset, data->split[0].size(), data->split[1].size(), o.flags.epochs,
             o.flags.optimizer, o.flags.lr, o.flags.batch_size, o.out);
  std::fflush(stdout);
  const RunResult r = run_training(o.flags, o.model, *data, o.out, start, &stop);
  if (r.interrupted) exit_interrupted(o.out, r.record, o.flags.epochs);
  fmt::print("test accuracy {:.4f} ({} images); {:.1f}s training, {:.0f} samples/s\n", r.record.test_accuracy,
             data->test.size(), r.record.train_seconds, r.record.samples_per_second);
  fmt::print("wrote {0}/model.safetensors, {0}/history.json, {0}/history.csv, {0}/loss.png, {0}/accuracy.png\n", o.out);
}

}  // namespace

void register_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand("train", "Train a model; write its checkpoint, history and loss/accuracy charts");
  command->add_option("--model", o->model, "Preset (logistic, hidden, hidden-relu) or MLP spec such as 784-128-relu-10")
      ->type_name("SPEC")
      ->capture_default_str();
  command->add_option("--out", o->out, "Output directory (default runs/<model>)")->type_name("DIR");
  command->add_option("--resume", o->resume,
                      "Continue the interrupted run in DIR with its saved settings (--epochs may raise the total)")
      ->type_name("DIR")
      ->excludes("--model")
      ->excludes("--out");
  add_training_flags(*command, o->flags);
  command->callback([o, command] { run_train(*o, *command); });
}

}  // namespace mnist::cli
