// mnist train: train one model and leave in --out its checkpoint, history and the tutorial's two charts.
// Ctrl-C finishes the batch, keeps the last completed epoch's files and exits 130; --resume DIR continues.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "output_path.hpp"
#include "commands.hpp"
#include "mnist/dist.hpp"
#include "mnist/error.hpp"
#include "mnist/nn.hpp"
#include "signals.hpp"
#include "training_run.hpp"
#include "live_training.hpp"
#include "web_session.hpp"

namespace mnist::cli {
namespace {

struct TrainOptions {
  TrainingFlags flags;
  std::string model = "hidden-relu";
  std::string out;
  std::string resume;
  bool overwrite = false;
  std::string serve;  // --serve [PORT]: "" for the default port
};

constexpr int kDefaultServePort = 8080;

// --serve's port: none given means the default; 0 a free one.
int serve_port(const std::string& text) {
  if (text.empty()) return kDefaultServePort;
  if (text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("--serve " + text + ": give a port 1..65535, 0 for a free one, or nothing for " +
                     std::to_string(kDefaultServePort));
  const long long port = std::stoll(text);
  check_port(port, "--serve");
  return static_cast<int>(port);
}

std::string real_text(double v) { return fmt::format("{}", v); }

// --resume: the run continues with the settings saved in RUN/resume.safetensors. A flag that would change the run is
// refused (one equal to the saved value is accepted); --epochs may raise the total (or lower it, down to the epochs
// already done); --threads, --download and --mirror change no result. Fills o with the run's settings.
void resume_settings(TrainOptions& o, const CLI::App& command) {
  const std::filesystem::path run = o.resume;
  const std::string src = (run / "resume.safetensors").string();
  TrainingFlags saved = o.flags;  // keeps what is not saved: --threads, --download, --mirror, the test hook
  saved.common.data.data_dir.reset();
  std::size_t done = 0;
  const std::string spec = read_resume_settings(run, saved, &done);
  const auto given = [&command](const char* flag) { return command.count(flag) > 0; };
  const auto refuse = [&](const std::string& flag, const std::string& value, const std::string& stored) {
    throw UsageError(fmt::format("{} {}: the run in {} was trained with {} {} (saved in {}); --resume continues a run "
                                 "with its own settings: drop {}, or start a new run with --out",
                                 flag, value, run.string(), flag, stored, src, flag));
  };
  if (given("--model") && o.model != spec) refuse("--model", o.model, spec);
  if (given("--dataset") && o.flags.common.data.dataset != saved.common.data.dataset)
    refuse("--dataset", o.flags.common.data.dataset, saved.common.data.dataset);
  if (given("--lr") && o.flags.lr != saved.lr) refuse("--lr", real_text(o.flags.lr), real_text(saved.lr));
  if (given("--batch-size") && o.flags.batch_size != saved.batch_size)
    refuse("--batch-size", std::to_string(o.flags.batch_size), std::to_string(saved.batch_size));
  if (given("--val-fraction") && o.flags.val_fraction != saved.val_fraction)
    refuse("--val-fraction", real_text(o.flags.val_fraction), real_text(saved.val_fraction));
  if (given("--optimizer") && o.flags.optimizer != saved.optimizer) refuse("--optimizer", o.flags.optimizer, saved.optimizer);
  if (given("--momentum") && o.flags.momentum != saved.momentum)
    refuse("--momentum", real_text(o.flags.momentum), real_text(saved.momentum));
  if (given("--weight-decay") && o.flags.weight_decay != saved.weight_decay)
    refuse("--weight-decay", real_text(o.flags.weight_decay), real_text(saved.weight_decay));
  if (given("--seed") && o.flags.common.seed != saved.common.seed)
    refuse("--seed", std::to_string(o.flags.common.seed), std::to_string(saved.common.seed));
  if (given("--lr-schedule") && o.flags.lr_schedule != saved.lr_schedule)
    refuse("--lr-schedule", o.flags.lr_schedule, saved.lr_schedule);
  if (given("--lr-step-size") && o.flags.lr_step_size != saved.lr_step_size)
    refuse("--lr-step-size", std::to_string(o.flags.lr_step_size),
           saved.lr_schedule == "step" ? std::to_string(saved.lr_step_size) : "no step schedule");
  if (given("--lr-gamma") && (saved.lr_schedule != "step" || o.flags.lr_gamma != saved.lr_gamma))
    refuse("--lr-gamma", real_text(o.flags.lr_gamma),
           saved.lr_schedule == "step" ? real_text(saved.lr_gamma) : "no step schedule");
  if (given("--augment") && o.flags.augment != saved.augment) refuse("--augment", o.flags.augment, saved.augment);
  if (given("--epochs")) {
    if (static_cast<std::size_t>(o.flags.epochs) < done)
      throw UsageError(fmt::format("--epochs {}: the run in {} has already completed {} epoch{} (saved in {}); give {} "
                                   "or more, or drop --epochs to finish its {}",
                                   o.flags.epochs, run.string(), done, done == 1 ? "" : "s", src, done, saved.epochs));
    saved.epochs = o.flags.epochs;
  }
  // The data: where the run found it (saved absolute). --data-dir may only name the same directory, or a new place
  // for it when the saved one is gone.
  const std::optional<std::filesystem::path>& saved_dir = saved.common.data.data_dir;
  std::error_code ec;
  const bool saved_dir_exists = saved_dir && std::filesystem::is_directory(*saved_dir, ec);
  if (given("--data-dir")) {
    if (saved_dir_exists && !same_path(o.flags.common.data.data_dir->string(), saved_dir->string()))
      throw UsageError(fmt::format("--data-dir {}: the run in {} was trained on the data in {} (saved in {}); "
                                   "--resume reads the same data: drop --data-dir, or start a new run with --out",
                                   o.flags.common.data.data_dir->string(), run.string(), saved_dir->string(), src));
    saved.common.data.data_dir = o.flags.common.data.data_dir;
  } else if (saved_dir && !saved_dir_exists) {
    throw Error(fmt::format("{}: the run's data directory {} is not a directory any more; if the data moved, pass "
                            "--data-dir DIR where its four files are now",
                            src, saved_dir->string()));
  } else if (!saved_dir && saved.common.data.dataset == "custom") {
    throw Error(src + ": the run read --dataset custom data but no data directory is saved; pass --data-dir DIR");
  }
  o.flags = saved;
  o.model = spec;
  o.out = o.resume;
}

// The files an earlier run left in dir: a new run refuses to mix its files with them unless --overwrite.
void check_out_is_free(const TrainOptions& o, bool out_given) {
  const std::vector<std::string> found = existing_files(o.out, run_files());
  if (found.empty() || o.overwrite) return;
  const bool resumable = std::find(found.begin(), found.end(), "resume.safetensors") != found.end();
  throw UsageError(fmt::format("--out {}{} already holds a run ({}); pass {}--overwrite to replace it, or another --out",
                               o.out, out_given ? "" : " (the default)", join_names(found),
                               resumable ? "--resume " + o.out + " to continue it, " : std::string()));
}

void print_result(const TrainOptions& o, const PreparedData& data, const RunResult& r) {
  fmt::print("test accuracy {:.4f} ({} images); {:.1f}s training, {:.0f} samples/s\n", r.record.test_accuracy,
             data.test.size(), r.record.train_seconds, r.record.samples_per_second);
  fmt::print("wrote {0}/model.safetensors, {0}/history.json, {0}/history.csv, {0}/loss.png, {0}/accuracy.png\n", o.out);
}

void run_train(TrainOptions& o, const CLI::App& command) {
  // Under mpirun, every rank runs this command; rank 0 alone checks --out, prints and writes.
  dist::Communicator& comm = dist::world();
  const bool writer = comm.rank() == 0;
  const bool serving = command.count("--serve") > 0;
  const int port = serving ? serve_port(o.serve) : 0;
#if !MNIST_HAVE_SERVE
  if (serving) throw Error(std::string("--serve: ") + kNoServer);
#endif
  if (serving && comm.size() > 1)
    throw UsageError("--serve trains in one process; drop --serve, or run without mpirun");
  std::optional<RunStart> start;
  if (command.count("--resume") > 0) {
    if (o.resume.empty()) throw UsageError("--resume: the directory name is empty");
    resume_settings(o, command);
    start = RunStart{o.resume};
  } else {
    check_training_flags(o.flags);
    try {
      parse_model_spec(o.model);
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("--model {}: {}", o.model, e.what()));
    }
    if (writer && command.count("--out") > 0) check_output_dir("--out", o.out);
    if (writer && o.out.empty()) {
      const std::string base = "runs/" + o.model;
      o.out = o.overwrite ? base : fresh_default_dir(base, [](const std::filesystem::path& dir) {
        return !existing_files(dir, run_files()).empty();
      });
    }
    if (writer) check_out_is_free(o, command.count("--out") > 0);  // before the data is loaded
  }
  std::atomic<bool>& stop = install_stop_signal_handlers();
  const std::string resume_file = start ? (start->dir / "resume.safetensors").string() : std::string();
  const std::unique_ptr<PreparedData> data = prepare_data(o.flags, resume_file);
  if (start) {
    try {
      check_model_fits("saved model " + o.model, o.model, data->train);
    } catch (const UsageError& e) {
      throw Error(resume_file + ": " + e.what());
    }
  } else {
    check_model_fits("--model " + o.model, o.model, data->train);
    // Nothing of the earlier run may stay beside the new one's files (an interrupted run would leave a mix).
    if (writer && o.overwrite) remove_files(o.out, run_files());
  }
  if (writer) {
    fmt::print("training {} on {} ({} train / {} val images, {} epochs, {} lr {}{}, batch {}{}{}) -> {}\n", o.model,
               o.flags.common.data.dataset, data->split[0].size(), data->split[1].size(), o.flags.epochs,
               o.flags.optimizer, o.flags.lr, o.flags.lr_schedule == "none" ? "" : " " + o.flags.lr_schedule,
               o.flags.batch_size, o.flags.augment == "none" ? "" : ", augment " + o.flags.augment,
               comm.size() > 1 ? fmt::format(" split across {} processes", comm.size()) : std::string(), o.out);
    std::fflush(stdout);
  }
  if (!serving) {
    const RunResult r = run_training(o.flags, o.model, *data, o.out, start, &stop, comm);
    if (r.interrupted) {
      if (!writer) std::exit(130);
      exit_interrupted(o.out, r.record, o.flags.epochs);
    }
    if (!writer) return;
    print_result(o, *data, r);
    return;
  }
#if MNIST_HAVE_SERVE
  // The page of mnist serve, answered by the weights being trained, and the live charts; after training it keeps
  // serving the trained model until Ctrl-C.
  LiveTraining live(o.model, o.flags.common.data.dataset, data->split[0].size(), data->split[1].size());
  const serve::ModelInfo info = spec_info(o.model, o.flags.common.data.dataset, data->train.classes(),
                                          data->train.rows(), data->train.cols());
  serve::WebServer server(serve::ServeContext{info, &live.predictor(), &live.events(), nullptr});
  start_serving(server, "127.0.0.1", port);
  const RunResult r = run_training(o.flags, o.model, *data, o.out, start, &stop, comm, &live.observer());
  if (r.interrupted) {
    server.stop();
    exit_interrupted(o.out, r.record, o.flags.epochs);
  }
  print_result(o, *data, r);
  fmt::print("training done; still serving the trained model (Ctrl-C stops)\n");
  std::fflush(stdout);
  serve_until(server, stop, 0);
#endif
}

}  // namespace

void register_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand("train", "Train a model; write its checkpoint, history and loss/accuracy charts");
  command->add_option("--model", o->model, "Preset (logistic, hidden, hidden-relu, lenet5, cnn, cnn-bn, cnn-dropout) or a spec: tokens joined by '-', "
                      "the input first: widths and relu (784-128-relu-10), or 1x28x28 then conv<O>k<K>[s<S>][p<P>], "
                      "maxpool<K>[s<S>], avgpool<K>[s<S>], bn, relu, dropout<P>, flatten, then widths "
                      "(1x28x28-conv32k3p1-bn-relu-maxpool2-flatten-128-relu-10)")
      ->type_name("SPEC")
      ->capture_default_str();
  command->add_option("--out", o->out, "Output directory (default runs/<model>, or runs/<model>-2, -3, ... when it holds an earlier run)")->type_name("DIR");
  CLI::Option* overwrite = command->add_flag(
      "--overwrite", o->overwrite,
      "Replace the run already in --out (without it, train refuses an --out that holds one's files)");
  command->add_option("--resume", o->resume,
                      "Continue the run in DIR with its saved settings; flags that would change them are refused, "
                      "--epochs may raise the total")
      ->type_name("DIR")
      ->excludes("--out")
      ->excludes(overwrite);
  command->add_option("--serve", o->serve,
                      "While training, serve the page of mnist serve with live loss/accuracy charts on 127.0.0.1:PORT "
                      "(default 8080; 0 takes a free one); after training it serves the trained model until Ctrl-C")
      ->expected(0, 1)
      ->type_name("[PORT]");
  add_training_flags(*command, o->flags);
  command->callback([o, command] { run_train(*o, *command); });
}

}  // namespace mnist::cli
