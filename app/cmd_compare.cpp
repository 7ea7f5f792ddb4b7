// mnist compare: the tutorial end to end - several models trained on the same split, each in DIR/<model>/, their
// curves overlaid in DIR/loss.png and DIR/accuracy.png, and a table (printed and in DIR/summary.md).
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "output_path.hpp"
#include "commands.hpp"
#include "mnist/dist.hpp"
#include "mnist/error.hpp"
#include "mnist/nn.hpp"
#include "signals.hpp"
#include "training_run.hpp"
#include "util/files.hpp"

namespace mnist::cli {
namespace {

struct CompareOptions {
  TrainingFlags flags;
  std::vector<std::string> models{"logistic", "hidden", "hidden-relu"};
  std::string out = "runs/compare";
  bool out_given = false;
  bool overwrite = false;
};

// What compare itself writes into --out, besides a directory per model.
const std::vector<std::string>& compare_files() {
  static const std::vector<std::string> names = {"summary.md", "loss.png", "accuracy.png"};
  return names;
}

// Whether dir holds any file an earlier compare (or train) of these models wrote.
bool holds_run(const std::filesystem::path& dir, const std::vector<std::string>& models) {
  if (!existing_files(dir, compare_files()).empty()) return true;
  return std::any_of(models.begin(), models.end(),
                     [&dir](const std::string& m) { return !existing_files(dir / m, run_files()).empty(); });
}

// An earlier compare's (or train's) files where this one writes: refused unless --overwrite, for every model before
// the data is loaded, so that nothing is trained when one would be refused.
void check_out_is_free(const CompareOptions& o) {
  if (o.overwrite) return;
  const std::filesystem::path out = o.out;
  const auto refuse = [&o](const std::filesystem::path& dir, const std::vector<std::string>& found) {
    throw UsageError(fmt::format("--out {}: {} already holds a run's files ({}); pass --overwrite to replace them, or "
                                 "another --out",
                                 o.out, dir.string(), join_names(found)));
  };
  if (const auto found = existing_files(out, compare_files()); !found.empty()) refuse(out, found);
  for (const std::string& m : o.models)
    if (const auto found = existing_files(out / m, run_files()); !found.empty()) refuse(out / m, found);
}

std::string summary_table(const std::vector<std::string>& models, const std::vector<RunResult>& results) {
  std::string t = "| model | parameters | final train loss | final val accuracy | test accuracy | seconds |\n";
  t += "|---|---:|---:|---:|---:|---:|\n";
  for (std::size_t i = 0; i < models.size(); ++i) {
    const RunRecord& r = results[i].record;
    t += fmt::format("| {} | {} | {:.4f} | {:.4f} | {:.4f} | {:.1f} |\n", models[i], results[i].parameters,
                     r.epochs.back().train_loss, r.epochs.back().val_accuracy, r.test_accuracy, r.train_seconds);
  }
  return t;
}

void run_compare(CompareOptions& o) {
  // Under mpirun, every rank runs this command; rank 0 alone checks --out, prints and writes.
  dist::Communicator& comm = dist::world();
  const bool writer = comm.rank() == 0;
  check_training_flags(o.flags);
  if (writer) check_output_dir("--out", o.out);
  std::set<std::string> seen;
  for (const std::string& m : o.models) {
    try {
      parse_model_spec(m);
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("--models: '{}': {}", m, e.what()));
    }
    if (!seen.insert(m).second) throw UsageError(fmt::format("--models names '{}' twice; list each model once", m));
  }
  if (writer && !o.out_given && !o.overwrite)
    o.out = fresh_default_dir(o.out, [&o](const std::filesystem::path& dir) { return holds_run(dir, o.models); });
  if (writer) check_out_is_free(o);
  std::atomic<bool>& stop = install_stop_signal_handlers();
  const std::unique_ptr<PreparedData> data = prepare_data(o.flags);
  // Every model is checked against the data before any is trained (and before any directory is made).
  for (const std::string& m : o.models) check_model_fits(fmt::format("--models: '{}'", m), m, data->train);
  const std::filesystem::path out = o.out;
  if (writer && o.overwrite) {  // nothing of the earlier run may stay beside the new one's files
    remove_files(out, compare_files());
    for (const std::string& m : o.models) remove_files(out / m, run_files());
  }
  std::vector<RunResult> results;
  for (const std::string& m : o.models) {
    if (writer) {
      fmt::print("== {} ({} train / {} val images, {} epochs{}) -> {}\n", m, data->split[0].size(),
                 data->split[1].size(), o.flags.epochs,
                 comm.size() > 1 ? fmt::format(", {} processes", comm.size()) : std::string(), (out / m).string());
      std::fflush(stdout);
    }
    results.push_back(run_training(o.flags, m, *data, out / m, std::nullopt, &stop, comm));
    if (results.back().interrupted) {
      if (!writer) std::exit(130);
      exit_interrupted(out / m, results.back().record, o.flags.epochs);
    }
    if (writer) fmt::print("   test accuracy {:.4f}\n", results.back().record.test_accuracy);
  }
  if (!writer) return;
  std::vector<std::pair<std::string, const RunRecord*>> runs;
  for (std::size_t i = 0; i < o.models.size(); ++i) runs.emplace_back(o.models[i], &results[i].record);
  write_charts(out, runs);
  const std::string table = summary_table(o.models, results);
  const std::string md = fmt::format("# mnist compare on {} ({} epochs, {} lr {}, batch {}, seed {})\n\n{}",
                                     o.flags.common.data.dataset, o.flags.epochs, o.flags.optimizer, o.flags.lr,
                                     o.flags.batch_size, o.flags.common.seed, table);
  util::write_file_atomically(out / "summary.md",
                              std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(md.data()), md.size()));
  fmt::print("\n{}\nwrote {}/summary.md, {}/loss.png, {}/accuracy.png\n", table, out.string(), out.string(), out.string());
}

}  // namespace

void register_compare(CLI::App& app) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* command = app.add_subcommand(
      "compare", "Train several models on the same split; overlay their charts and tabulate the results");
  command->add_option("--models", o->models, "Comma-separated presets or specs, MLP or conv (e.g. logistic,hidden-relu,lenet5,cnn); all checked before any training")
      ->delimiter(',')
      ->type_name("LIST")
      ->capture_default_str();
  CLI::Option* out = command->add_option("--out", o->out,
                                         "Output directory (one subdirectory per model; by default runs/compare, or "
                                         "runs/compare-2, -3, ... when it holds an earlier run)")
                          ->type_name("DIR")
                          ->capture_default_str();
  command->add_flag("--overwrite", o->overwrite,
                    "Replace the runs already in --out (without it, compare refuses an --out holding a run's files)");
  add_training_flags(*command, o->flags);
  command->callback([o, out] {
    o->out_given = out->count() > 0;
    run_compare(*o);
  });
}

}  // namespace mnist::cli
