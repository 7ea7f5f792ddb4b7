#include "training_run.hpp"

#include <algorithm>
#include <thread>
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "mnist/checkpoint.hpp"
#include "mnist/error.hpp"
#include "mnist/nn.hpp"
#include "mnist/optim.hpp"
#include "mnist/safetensors.hpp"
#include "mnist/train.hpp"
#include "output_path.hpp"
#include "progress.hpp"

namespace mnist::cli {
namespace {

// A mean batch loss above this is taken as divergence (see the batch callback).
constexpr double kDivergedLoss = 1e4;

// A real number in a range, checked as text so that "nan", "inf" and "1e400" are refused with the flag's name.
CLI::Validator real_in(double lo, bool lo_open, double hi, bool hi_open, const std::string& what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "'" + text + "' is not a number; give " + what;
        } catch (const std::exception&) {
          return "'" + text + "' is not a number; give " + what;
        }
        const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
        return ok ? std::string() : text + " is out of range; give " + what;
      },
      "");
}

// A whole number in [lo, hi], checked as text ("1e12", "-1", "" are refused).
CLI::Validator whole_in(long long lo, long long hi) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const std::string range = fmt::format("a whole number from {} to {}", lo, hi);
        if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos)
          return "'" + text + "' is not " + range;
        const long long v = std::stoll(text);
        return v >= lo && v <= hi ? std::string() : text + " is out of range; give " + range;
      },
      "");
}

std::string classes_json(const std::vector<std::string>& classes) { return nlohmann::json(classes).dump(); }

std::string real_text(double v) { return fmt::format("{}", v); }  // shortest text that reads back exactly

// The run's settings as the checkpoint stores them (all strings).
std::map<std::string, std::string> run_settings(const TrainingFlags& f, const Dataset& train) {
  return {{"dataset", f.common.data.dataset},
          {"classes", classes_json(train.classes())},
          {"input_shape", fmt::format("[1, {}, {}]", train.rows(), train.cols())},
          {"pixel_scaling", "x / 255"},
          {"epochs", std::to_string(f.epochs)},
          {"lr", real_text(f.lr)},
          {"batch_size", std::to_string(f.batch_size)},
          {"optimizer", f.optimizer},
          {"momentum", real_text(f.momentum)},
          {"weight_decay", real_text(f.weight_decay)},
          {"seed", std::to_string(f.common.seed)},
          {"val_fraction", real_text(f.val_fraction)},
          {"augment", f.augment}};
}

// The schedule's name and resolved parameters (PyTorch's argument names), saved with the other settings.
void add_schedule_settings(std::map<std::string, std::string>& m, const LrSchedule& s) {
  m["lr_schedule"] = schedule_name(s.kind);
  switch (s.kind) {
    case LrSchedule::Kind::step:
      m["lr_step_size"] = std::to_string(s.step_size);
      m["lr_gamma"] = real_text(s.gamma);
      break;
    case LrSchedule::Kind::cosine:
      m["lr_t_max"] = std::to_string(s.t_max);
      m["lr_eta_min"] = real_text(s.eta_min);
      break;
    case LrSchedule::Kind::onecycle:
      m["lr_total_steps"] = std::to_string(s.total_steps);
      m["lr_pct_start"] = real_text(s.pct_start);
      m["lr_div_factor"] = real_text(s.div_factor);
      m["lr_final_div_factor"] = real_text(s.final_div_factor);
      break;
    case LrSchedule::Kind::none:
      break;
  }
}

std::unique_ptr<Optimizer> make_optimizer(Model& model, const TrainingFlags& f) {
  if (f.optimizer == "adam") return std::make_unique<Adam>(model, AdamOptions{.lr = f.lr, .weight_decay = f.weight_decay});
  return std::make_unique<SGD>(model, SgdOptions{.lr = f.lr, .momentum = f.momentum, .weight_decay = f.weight_decay});
}

Model build_model(const std::string& spec, const TrainingFlags& f, const Dataset& train) {
  Model model;
  try {
    model = make_model(spec, f.common.seed);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("--model {}: {}", spec, e.what()));
  }
  check_model_fits("--model " + spec, spec, train);
  return model;
}

double parse_real(const std::map<std::string, std::string>& m, const std::string& key, const std::string& src) {
  const auto it = m.find(key);
  if (it == m.end()) throw Error(src + ": metadata \"" + key + "\" is missing");
  try {
    std::size_t used = 0;
    const double v = std::stod(it->second, &used);
    if (used == it->second.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw Error(src + ": metadata \"" + key + "\" is not a number: " + it->second.substr(0, 40));
}

// A saved setting must be one its flag accepts: a value the flag would refuse is the file's fault, not the user's.
double saved_real(const std::map<std::string, std::string>& m, const std::string& key, const std::string& src, double lo,
                  bool lo_open, double hi, bool hi_open) {
  const double v = parse_real(m, key, src);
  if ((lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi)) return v;
  throw Error(fmt::format("{}: saved {} {} is out of range ({}{}, {}{}); the resume state is damaged", src, key,
                          m.at(key).substr(0, 40), lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]"));
}

long long saved_whole(const std::map<std::string, std::string>& m, const std::string& key, const std::string& src,
                      long long lo, long long hi) {
  const double v = parse_real(m, key, src);
  if (v >= static_cast<double>(lo) && v <= static_cast<double>(hi) && v == std::floor(v)) return static_cast<long long>(v);
  throw Error(fmt::format("{}: saved {} {} is out of range (a whole number from {} to {}); the resume state is damaged",
                          src, key, m.at(key).substr(0, 40), lo, hi));
}

std::string saved_text(const std::map<std::string, std::string>& m, const std::string& key, const std::string& src) {
  const auto it = m.find(key);
  if (it == m.end()) throw Error(src + ": metadata \"" + key + "\" is missing");
  return it->second;
}

// Every rank must train the same run: the same program, settings (those saved in the checkpoint, the epochs to run
// and the test hook), data (the files' content: each rank reads its own copy) and starting parameters and optimizer
// state (read by each rank from the run's directory when resuming). --threads may differ: it changes no result.
void check_ranks_agree(dist::Communicator& comm, const std::map<std::string, std::string>& settings,
                       const PreparedData& data, Model& model, Optimizer& optimizer, std::size_t first_epoch,
                       long long stop_after_batches) {
  std::uint64_t flags = dist::hash_text(fmt::format("{} {}", first_epoch, stop_after_batches));
  for (const auto& [key, value] : settings) flags = dist::hash_text(key + "=" + value + "\n", flags);
  std::uint64_t files = dist::hash_bytes(data.train.images());
  files = dist::hash_bytes(data.train.labels(), files);
  files = dist::hash_bytes(data.test.images(), files);
  files = dist::hash_bytes(data.test.labels(), files);
  std::uint64_t state = dist::hash_floats(model.parameters());
  for (const OptimizerState& s : optimizer.state()) state = dist::hash_floats(*s.values, dist::hash_text(s.name, state));
  state = dist::hash_text(std::to_string(optimizer.steps()), state);
  dist::check_agreement(comm, {{"the program (the mnist and libmnist.so files)", dist::binary_hash()},
                               {"the training settings (flags, or the run resumed)", flags},
                               {"the data (the contents of the train and test files)", files},
                               {"the starting parameters and optimizer state", state}});
}

}  // namespace

void check_model_fits(const std::string& what, const std::string& spec, const Dataset& train) {
  const std::vector<LayerSpec> layers = parse_model_spec(spec);
  const std::size_t inputs = layers.front().in, outputs = layers.back().out;
  const Shape& shape = layers.front().in_shape;
  if (shape.size() == 3 && (shape[0] != 1 || shape[1] != train.rows() || shape[2] != train.cols()))
    throw UsageError(fmt::format("{} takes {}x{}x{} images but the {} images are 1x{}x{}; start the spec with 1x{}x{}",
                                 what, shape[0], shape[1], shape[2], train.name(), train.rows(), train.cols(),
                                 train.rows(), train.cols()));
  if (inputs != train.image_size())
    throw UsageError(fmt::format("{} takes {} inputs but the {} images are {}x{} = {} pixels; start the spec with {} "
                                 "(e.g. {}-32-relu-{})",
                                 what, inputs, train.name(), train.rows(), train.cols(), train.image_size(),
                                 train.image_size(), train.image_size(), train.num_classes()));
  if (outputs != train.num_classes())
    throw UsageError(fmt::format("{} has {} outputs but the data set has {} classes; end the spec with {}", what, outputs,
                                 train.num_classes(), train.num_classes()));
}

const std::vector<std::string>& run_files() {
  static const std::vector<std::string> names = {"model.safetensors", "history.json", "history.csv",
                                                 "resume.safetensors", "loss.png",     "accuracy.png"};
  return names;
}

std::vector<std::string> existing_files(const std::filesystem::path& dir, const std::vector<std::string>& names) {
  std::vector<std::string> found;
  for (const std::string& name : names) {
    std::error_code ec;
    if (std::filesystem::symlink_status(dir / name, ec).type() != std::filesystem::file_type::not_found && !ec)
      found.push_back(name);
  }
  return found;
}

void remove_files(const std::filesystem::path& dir, const std::vector<std::string>& names) {
  for (const std::string& name : existing_files(dir, names)) {
    std::error_code ec;
    std::filesystem::remove(dir / name, ec);
    if (ec) throw Error(fmt::format("{}: cannot remove it (--overwrite): {}", (dir / name).string(), ec.message()));
  }
}

std::string fresh_default_dir(const std::string& base,
                              const std::function<bool(const std::filesystem::path&)>& holds_run) {
  if (!holds_run(base)) return base;
  for (int n = 2;; ++n) {
    const std::string dir = fmt::format("{}-{}", base, n);
    if (!holds_run(dir)) return dir;
  }
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return out;
}

void add_training_flags(CLI::App& command, TrainingFlags& f) {
  command.add_option("--epochs", f.epochs, "Passes over the training split")
      ->check(whole_in(1, kMaxEpochs))
      ->type_name("N")
      ->capture_default_str();
  command.add_option("--lr", f.lr, "Learning rate")
      ->check(real_in(0, true, 1e6, false, "a learning rate > 0 such as 0.1"))
      ->type_name("LR")
      ->capture_default_str();
  command.add_option("--batch-size", f.batch_size, "Images per training batch")
      ->check(whole_in(1, 10'000'000))
      ->type_name("N")
      ->capture_default_str();
  command.add_option("--val-fraction", f.val_fraction, "Part of the training split held out for validation")
      ->check(real_in(0, true, 1, true, "a fraction strictly between 0 and 1 such as 0.1"))
      ->type_name("F")
      ->capture_default_str();
  command.add_option("--optimizer", f.optimizer, "sgd or adam")
      ->check(CLI::IsMember({"sgd", "adam"}))
      ->type_name("NAME")
      ->capture_default_str();
  command.add_option("--momentum", f.momentum, "SGD momentum")
      ->check(real_in(0, false, 1, true, "a momentum in [0, 1) such as 0.9"))
      ->type_name("M")
      ->capture_default_str();
  command.add_option("--weight-decay", f.weight_decay, "L2 penalty (weight decay)")
      ->check(real_in(0, false, 1e6, false, "a weight decay >= 0 such as 0.0005"))
      ->type_name("W")
      ->capture_default_str();
  command.add_option("--lr-schedule", f.lr_schedule,
                     "Learning-rate schedule, as PyTorch's: none, step (StepLR), cosine (CosineAnnealingLR, T_max = "
                     "--epochs) or onecycle (OneCycleLR, max_lr = --lr, stepped every batch)")
      ->check(CLI::IsMember({"none", "step", "cosine", "onecycle"}))
      ->type_name("NAME")
      ->capture_default_str();
  command.add_option("--lr-step-size", f.lr_step_size, "step schedule: epochs between decays (default max(1, epochs/3))")
      ->check(whole_in(1, kMaxEpochs))
      ->type_name("N");
  command.add_option("--lr-gamma", f.lr_gamma, "step schedule: factor of each decay")
      ->check(real_in(0, true, 1e6, false, "a factor > 0 such as 0.1"))
      ->type_name("G")
      ->capture_default_str();
  command.add_option("--augment", f.augment,
                     "Training-image augmentation: none, or shift (random translations of up to 2 pixels, seeded)")
      ->check(CLI::IsMember({"none", "shift"}))
      ->type_name("NAME")
      ->capture_default_str();
  command.add_option("--stop-after-batches", f.stop_after_batches)->check(whole_in(1, 1'000'000'000))->group("");
  add_data_options(command, f.common);
  add_compute_options(command, f.common);
}

LrSchedule make_schedule(const TrainingFlags& f, std::size_t batches_per_epoch) {
  const std::size_t epochs = static_cast<std::size_t>(f.epochs);
  switch (parse_schedule_kind(f.lr_schedule)) {
    case LrSchedule::Kind::step:
      return step_lr(f.lr, f.lr_step_size > 0 ? static_cast<std::size_t>(f.lr_step_size) : std::max<std::size_t>(1, epochs / 3),
                     f.lr_gamma);
    case LrSchedule::Kind::cosine:
      return cosine_lr(f.lr, f.lr_t_max > 0 ? static_cast<std::size_t>(f.lr_t_max) : epochs, 0.0);
    case LrSchedule::Kind::onecycle:
      return one_cycle_lr(f.lr, f.lr_total_steps > 0 ? static_cast<std::size_t>(f.lr_total_steps) : epochs * batches_per_epoch);
    case LrSchedule::Kind::none:
      break;
  }
  return constant_lr(f.lr);
}

void check_training_flags(const TrainingFlags& f) {
  if (f.lr_schedule != "step" && (f.lr_step_size != 0 || f.lr_gamma != 0.1))
    throw UsageError("--lr-step-size and --lr-gamma apply to --lr-schedule step; add --lr-schedule step or drop them");
  if (f.optimizer == "adam" && f.momentum != 0.0)
    throw UsageError("--momentum applies to --optimizer sgd only (Adam has its own betas); drop --momentum");
}

std::unique_ptr<PreparedData> prepare_data(const TrainingFlags& f, const std::string& settings_source) {
  auto d = std::make_unique<PreparedData>();
  // Work is cut into chunks fixed by the shapes alone, so the thread count changes speed, never results.
  set_num_threads(f.common.threads == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                                        : f.common.threads);
  d->train = load_dataset(f.common.data, Split::Train);
  d->test = load_dataset(f.common.data, Split::Test);
  check_splits_agree(d->train, d->test);  // a model trained on one split is tested on the other
  const std::vector<std::size_t> counts = split_counts(d->train.size(), {1.0 - f.val_fraction, f.val_fraction});
  // With --resume the settings are the run's own: the resume file is at fault, not a flag.
  const bool saved = !settings_source.empty();
  if (counts[0] == 0 || counts[1] == 0) {
    if (saved)
      throw Error(fmt::format("{}: saved val_fraction {} leaves {} training and {} validation images of the {} in {}",
                              settings_source, real_text(f.val_fraction), counts[0], counts[1], d->train.size(),
                              d->train.root().string()));
    throw UsageError(fmt::format("--val-fraction {} leaves {} training and {} validation images of {}; give a fraction "
                                 "that leaves both non-empty",
                                 f.val_fraction, counts[0], counts[1], d->train.size()));
  }
  if (static_cast<std::size_t>(f.batch_size) > counts[0]) {
    if (saved)
      throw Error(fmt::format("{}: saved batch_size {} is larger than the training split ({} images of {})",
                              settings_source, f.batch_size, counts[0], d->train.root().string()));
    throw UsageError(fmt::format("--batch-size {} is larger than the training split ({} images); give at most {}",
                                 f.batch_size, counts[0], counts[0]));
  }
  d->split = random_split(d->train, std::vector<double>{1.0 - f.val_fraction, f.val_fraction}, f.common.seed);
  return d;
}

std::string read_resume_settings(const std::filesystem::path& dir, TrainingFlags& f, std::size_t* epochs_completed) {
  const std::filesystem::path path = dir / "resume.safetensors";
  if (!std::filesystem::exists(path))
    throw Error(path.string() + ": no resume state here (a run writes it after its first completed epoch)");
  const SafetensorsFile file = SafetensorsFile::read(path);
  const std::map<std::string, std::string>& m = file.metadata();
  const std::string src = path.string();
  // The same ranges as the flags (add_training_flags).
  f.epochs = saved_whole(m, "epochs", src, 1, kMaxEpochs);
  f.lr = saved_real(m, "lr", src, 0, true, 1e6, false);
  f.batch_size = saved_whole(m, "batch_size", src, 1, 10'000'000);
  f.val_fraction = saved_real(m, "val_fraction", src, 0, true, 1, true);
  f.momentum = saved_real(m, "momentum", src, 0, false, 1, true);
  f.weight_decay = saved_real(m, "weight_decay", src, 0, false, 1e6, false);
  f.optimizer = saved_text(m, "optimizer", src);
  if (f.optimizer != "sgd" && f.optimizer != "adam")
    throw Error(src + ": saved optimizer '" + f.optimizer.substr(0, 40) + "' is neither sgd nor adam");
  if (f.optimizer == "adam" && f.momentum != 0.0)
    throw Error(src + ": saved momentum " + real_text(f.momentum) + " with optimizer adam (momentum is for sgd only)");
  // Schedule and augmentation: absent from runs saved before they existed (none).
  f.lr_schedule = m.count("lr_schedule") ? m.at("lr_schedule") : "none";
  if (f.lr_schedule != "none" && f.lr_schedule != "step" && f.lr_schedule != "cosine" && f.lr_schedule != "onecycle")
    throw Error(src + ": saved lr_schedule '" + f.lr_schedule.substr(0, 40) + "' is not a known schedule");
  f.lr_step_size = f.lr_schedule == "step" ? saved_whole(m, "lr_step_size", src, 1, kMaxEpochs) : 0;
  f.lr_gamma = f.lr_schedule == "step" ? saved_real(m, "lr_gamma", src, 0, true, 1e6, false) : 0.1;
  f.lr_t_max = f.lr_schedule == "cosine" ? saved_whole(m, "lr_t_max", src, 1, kMaxEpochs) : 0;
  f.lr_total_steps = f.lr_schedule == "onecycle" ? saved_whole(m, "lr_total_steps", src, 1, 1'000'000'000'000) : 0;
  f.augment = m.count("augment") ? m.at("augment") : "none";
  if (f.augment != "none" && f.augment != "shift")
    throw Error(src + ": saved augment '" + f.augment.substr(0, 40) + "' is neither none nor shift");
  f.common.data.dataset = saved_text(m, "dataset", src);
  if (f.common.data.dataset != "custom" && !is_dataset_name(f.common.data.dataset))
    throw Error(src + ": saved dataset '" + f.common.data.dataset.substr(0, 40) + "' is not a known data set");
  const std::string seed = saved_text(m, "seed", src);
  if (seed.empty() || seed.find_first_not_of("0123456789") != std::string::npos || seed.size() > 19)
    throw Error(src + ": metadata \"seed\" is not a whole number: " + seed.substr(0, 40));
  f.common.seed = std::stoull(seed);
  if (m.count("resume.data_dir")) {
    if (m.at("resume.data_dir").empty()) throw Error(src + ": saved resume.data_dir is empty");
    f.common.data.data_dir = m.at("resume.data_dir");
  }
  if (epochs_completed) {
    const auto it = m.find("resume.epochs_completed");
    if (it == m.end() || it->second.empty() || it->second.size() > 18 ||
        it->second.find_first_not_of("0123456789") != std::string::npos)
      throw Error(src + ": metadata \"resume.epochs_completed\" is missing or not a whole number");
    *epochs_completed = std::stoull(it->second);
  }
  const std::string& spec = file.metadata("model");
  check_checkpoint_holds(dir / "model.safetensors", spec, src + ": metadata \"model\"");  // before a model is built
  return spec;
}

RunResult run_training(const TrainingFlags& f, const std::string& spec, const PreparedData& data,
                       const std::filesystem::path& out, const std::optional<RunStart>& resume,
                       const std::atomic<bool>* stop, dist::Communicator& comm, const TrainingObserver* observer) {
  const bool writer = comm.rank() == 0;  // only rank 0 prints and writes
  const std::filesystem::path model_path = out / "model.safetensors", resume_path = out / "resume.safetensors";
  const std::size_t batch = static_cast<std::size_t>(f.batch_size);
  DataLoader train(data.split[0], {.batch_size = batch, .shuffle = true, .seed = f.common.seed,
                                   .augment = parse_augment(f.augment)});
  DataLoader val(data.split[1], {.batch_size = batch});  // never augmented
  const LrSchedule schedule = make_schedule(f, train.num_batches());
  if (schedule.kind == LrSchedule::Kind::onecycle && static_cast<std::size_t>(f.epochs) * train.num_batches() > schedule.total_steps)
    throw UsageError(fmt::format("--epochs {}: the run's onecycle schedule ends after {} steps ({} epochs of {} batches); "
                                 "it cannot be extended: drop --epochs, or start a new run with --out",
                                 f.epochs, schedule.total_steps, schedule.total_steps / train.num_batches(),
                                 train.num_batches()));

  Model model = build_model(spec, f, data.train);
  std::unique_ptr<Optimizer> optimizer = make_optimizer(model, f);
  std::map<std::string, std::string> settings = run_settings(f, data.train);
  add_schedule_settings(settings, schedule);
  settings["model"] = spec;  // read back by --resume
  RunResult result;
  RunRecord& run = result.record;
  run.model = spec;
  run.dataset = f.common.data.dataset;
  run.settings = settings;
  std::size_t first_epoch = 0;
  if (resume) {
    Checkpoint ck = load_checkpoint(resume->dir / "model.safetensors");
    if (ck.model.spec() != spec || ck.model.parameters().size() != model.parameters().size())
      throw Error((resume->dir / "model.safetensors").string() + ": holds model " + ck.model.spec() + ", the resume state " + spec);
    model = std::move(ck.model);
    optimizer = make_optimizer(model, f);  // bound to the loaded model
    const ResumeState state = load_resume_state(resume->dir / "resume.safetensors", model, *optimizer);
    const auto it = ck.metadata.find("epochs_completed");
    if (it == ck.metadata.end() || it->second != std::to_string(state.epochs_completed))
      throw Error((resume->dir / "model.safetensors").string() + ": was not written at the same epoch as resume.safetensors (" +
                  std::to_string(state.epochs_completed) + " epochs); the run cannot be resumed exactly");
    first_epoch = state.epochs_completed;
    run.epochs = state.history;
    // Dropout's masks continue from the saved count of training steps (0 for a state written before it was kept).
    const auto steps = state.metadata.find("resume.dropout_steps");
    std::uint64_t dropout_steps = 0;
    if (steps != state.metadata.end() &&
        (steps->second.empty() || steps->second.size() > 18 || steps->second.find_first_not_of("0123456789") != std::string::npos))
      throw Error((resume->dir / "resume.safetensors").string() + ": metadata \"resume.dropout_steps\" is not a whole number");
    if (steps != state.metadata.end()) dropout_steps = std::stoull(steps->second);
    model.set_dropout_state(static_cast<std::uint64_t>(f.common.seed), dropout_steps);
  }
  result.parameters = model.parameters().size();
  run.world_size = comm.size();
  if (comm.size() > 1) check_ranks_agree(comm, settings, data, model, *optimizer, first_epoch, f.stop_after_batches);
  // Only now, with the model built (and any resume state read), is the directory made: a run refused by a check
  // leaves none behind.
  if (writer) create_output_dir(out);
  const std::size_t total = static_cast<std::size_t>(f.epochs);
  const std::string data_root = std::filesystem::absolute(data.train.root()).lexically_normal().string();

  // After every completed epoch: the model, the optimizer state and the history, each written atomically.
  auto save_epoch = [&](std::size_t completed) {
    if (!writer) return;
    std::map<std::string, std::string> meta = settings;
    meta["epochs_completed"] = std::to_string(completed);
    save_checkpoint(model_path, model, meta);
    ResumeState state{completed, run.epochs, settings};
    // Absolute, so that --resume works from any working directory; the directory the data was found in, so that a
    // resumed run reads the same files even where a search would find others.
    state.metadata["resume.data_dir"] = data_root;
    state.metadata["resume.dropout_steps"] = std::to_string(model.dropout_steps());
    save_resume_state(resume_path, *optimizer, state);
    set_throughput(run, train.size());
    write_history_json(out / "history.json", run);
    write_history_csv(out / "history.csv", run);
  };

  if (first_epoch < total) {
    Progress progress(total, batch);
    long long batches_seen = 0;
    bool diverged = false;
    BatchEvent bad;
    FitOptions fo;
    fo.first_epoch = first_epoch;
    fo.epochs = total - first_epoch;
    fo.stop_flag = stop;
    fo.schedule = &schedule;
    fo.on_batch = [&](BatchEvent& ev) {
      // Non-finite, or so large that the logits have blown up (a mean cross-entropy of 1e4 means the true class
      // scores 1e4 below the best one: no run recovers from that; lr 1e4 on hidden-relu reaches 5e11 while finite).
      if (!std::isfinite(ev.loss) || ev.loss > kDivergedLoss) {
        diverged = true;
        bad = ev;
        ev.stop = true;
        return;
      }
      if (writer) progress.on_batch(ev);
      if (observer && observer->on_batch) observer->on_batch(model, ev);
      if (f.stop_after_batches > 0 && ++batches_seen >= f.stop_after_batches) {
        result.interrupted = true;
        ev.stop = true;
      }
    };
    fo.on_epoch = [&](EpochEvent& ev) {
      run.epochs.push_back(*ev.stats);
      if (writer) progress.on_epoch(*ev.stats);
      save_epoch(ev.stats->epoch + 1);
      if (observer && observer->on_epoch) observer->on_epoch(model, *ev.stats);
    };
    if (observer && observer->on_start) observer->on_start(model, first_epoch, total, train.num_batches());
    fo.comm = &comm;
    fit(model, train, val, *optimizer, fo);
    if (writer) progress.clear();
    if (diverged) {
      const std::string saved =
          run.epochs.empty() ? "no epoch completed, so no checkpoint was written"
                             : fmt::format("the last good checkpoint (epoch {}) stays in {}", run.epochs.back().epoch + 1,
                                           model_path.string());
      throw dist::CollectiveError(fmt::format("training diverged: the loss became {} at epoch {}, batch {} of {}; try a lower learning "
                              "rate (--lr {} now, e.g. --lr {}); {}",
                              std::isnan(bad.loss) ? std::string("nan") : fmt::format("{:.4g}", bad.loss), bad.epoch + 1, bad.batch + 1, bad.num_batches, real_text(f.lr),
                              real_text(f.lr / 10), saved));
    }
    if (result.interrupted || (stop && stop->load())) {
      result.interrupted = true;
      return result;
    }
  }

  DataLoader test(Subset(data.test), {.batch_size = 1000});
  run.test_accuracy = evaluate(model, test, comm).accuracy;
  if (observer && observer->on_test) observer->on_test(model, run.test_accuracy);
  if (!writer) return result;
  set_throughput(run, train.size());
  write_history_json(out / "history.json", run);
  write_history_csv(out / "history.csv", run);
  write_charts(out, {{spec, &run}});
  return result;
}

void exit_interrupted(const std::filesystem::path& out, const RunRecord& run, long long epochs) {
  std::fflush(stdout);
  if (run.epochs.empty())
    std::fprintf(stderr, "mnist: interrupted before the first epoch completed; nothing was saved in %s\n",
                 out.string().c_str());
  else
    std::fprintf(stderr,
                 "mnist: interrupted; %s/model.safetensors, resume.safetensors and history.json hold epoch %zu of %lld; "
                 "continue with: mnist train --resume %s\n",
                 out.string().c_str(), run.epochs.back().epoch + 1, epochs, out.string().c_str());
  std::fflush(stderr);
  std::exit(130);
}

}  // namespace mnist::cli
