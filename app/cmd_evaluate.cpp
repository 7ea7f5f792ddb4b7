// mnist evaluate: how good a trained model is on a split: accuracy, per-class precision and recall, the confusion
// matrix as a table and (-o) as a heatmap, and (--json) all of it for scripts.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "common_options.hpp"
#include "metrics_table.hpp"
#include "mnist/checkpoint.hpp"
#include "mnist/datasets.hpp"
#include "mnist/error.hpp"
#include "mnist/loader.hpp"
#include "mnist/metrics.hpp"
#include "mnist/plot.hpp"
#include "mnist/train.hpp"
#include "model_data.hpp"
#include "output_path.hpp"
#include "util/files.hpp"

namespace mnist::cli {
namespace {

struct EvaluateOptions : CheckpointOptions {  // MODEL, --model, the data options
  std::string split = "test";
  std::string output;  // -o heatmap PNG
  std::string json;    // --json FILE
  bool output_given = false, json_given = false;  // given, even if empty
};

// Class names for the report: the data's own when it is a built-in data set (they name the true labels), else the
// checkpoint's.
std::vector<std::string> report_classes(const Dataset& data, const Checkpoint& checkpoint, std::size_t n) {
  std::vector<std::string> names = data.name() != "custom" ? data.classes() : checkpoint.classes;
  names.resize(std::max(names.size(), n));
  for (std::size_t c = 0; c < names.size(); ++c)
    if (names[c].empty()) names[c] = std::to_string(c);
  names.resize(n);
  return names;
}

void write_json(const std::string& path, const EvaluateOptions& options, const Checkpoint& checkpoint,
                const Dataset& data, const EvalResult& result, const ConfusionMatrix& matrix,
                const std::vector<std::string>& classes) {
  nlohmann::ordered_json j;
  j["model_file"] = options.model_path;
  j["model"] = checkpoint.model.spec();
  j["dataset"] = data.name();
  j["data_dir"] = data.root().string();
  j["split"] = options.split;
  j["accuracy"] = result.accuracy;
  j["loss"] = result.loss;
  j["correct"] = result.correct;
  j["total"] = result.total;
  j["classes"] = classes;
  nlohmann::ordered_json per_class = nlohmann::ordered_json::array();
  for (std::size_t c = 0; c < matrix.num_classes(); ++c)
    per_class.push_back({{"class", classes[c]},
                         {"precision", matrix.precision(c)},
                         {"recall", matrix.recall(c)},
                         {"f1", matrix.f1(c)},
                         {"support", matrix.support(c)}});
  j["per_class"] = per_class;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (std::size_t t = 0; t < matrix.num_classes(); ++t) {
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    for (std::size_t p = 0; p < matrix.num_classes(); ++p) row.push_back(matrix.count(t, p));
    rows.push_back(row);
  }
  j["confusion_matrix"] = rows;  // [true][predicted]
  const std::string text = j.dump(2) + "\n";
  util::write_file_atomically(path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

void run_evaluate(EvaluateOptions& options) {
  // Flags are checked before the data is read; outputs before anything is computed.
  if (options.model_spec_given() && options.model_spec.empty()) throw UsageError("--model: the spec is empty");
  if (options.output_given) check_output_path("-o", options.output);
  if (options.json_given) check_output_path("--json", options.json);
  if (options.output_given) check_not_input("-o", options.output, options.model_path);
  if (options.json_given) check_not_input("--json", options.json, options.model_path);
  if (options.output_given && options.json_given) check_distinct_outputs("-o", options.output, "--json", options.json);
  Checkpoint checkpoint = load_model_file(options.model_path, options.model_spec);
  if (options.output_given && checkpoint.model.num_classes() > kMaxHeatmapClasses)
    throw Error(fmt::format("{}: has {} classes; the -o heatmap draws at most {} (--json holds the whole matrix)",
                            options.model_path, checkpoint.model.num_classes(), kMaxHeatmapClasses));
  const Dataset data =
      load_dataset(data_options_for(checkpoint, options), options.split == "train" ? Split::Train : Split::Test);
  check_model_fits(checkpoint, options.model_path, data);

  DataLoader loader(data, LoaderOptions{.batch_size = 1000});
  const EvalResult result = evaluate(checkpoint.model, loader);
  const std::size_t n = checkpoint.model.num_classes();
  const ConfusionMatrix matrix(result.labels, result.predictions, n);
  const std::vector<std::string> classes = report_classes(data, checkpoint, n);

  std::string trained_on = checkpoint.dataset.empty() ? "" : ", trained on " + checkpoint.dataset;
  fmt::print("Model:    {} ({}, {} parameters{})\n", options.model_path, checkpoint.model.spec(),
             checkpoint.model.parameters().size(), trained_on);
  fmt::print("Data:     {}, {} split, {} images ({})\n", data.name(), options.split, data.size(),
             data.root().string());
  if (!checkpoint.dataset.empty() && checkpoint.dataset != data.name())
    fmt::print("Note:     the model was trained on {}, the data is {}\n", checkpoint.dataset, data.name());
  fmt::print("Accuracy: {:.4f} ({} of {} correct)\n", result.accuracy, result.correct, result.total);
  fmt::print("Loss:     {:.4f} (mean cross-entropy)\n\n", result.loss);
  fmt::print("Per class:\n{}\n", per_class_table(matrix, classes));
  fmt::print("Confusion matrix (rows: true class, columns: predicted class):\n{}", confusion_table(matrix, classes));

  if (!options.output.empty()) {
    // Short: the figure's title line holds about 45 characters; the model and data are in the text output.
    plot_heatmap(options.output, matrix.rows(), classes,
                 fmt::format("Confusion matrix, {} accuracy {:.2f}%", options.split, 100.0 * result.accuracy));
    fmt::print("wrote {}\n", options.output);
  }
  if (!options.json.empty()) {
    write_json(options.json, options, checkpoint, data, result, matrix, classes);
    fmt::print("wrote {}\n", options.json);
  }
}

}  // namespace

void register_evaluate(CLI::App& app) {
  auto options = std::make_shared<EvaluateOptions>();
  CLI::App* command = app.add_subcommand(
      "evaluate", "Evaluate a trained model on a split: accuracy, per-class precision/recall, confusion matrix");
  add_checkpoint_options(*command, *options);
  command->add_option("--split", options->split, "Which split: test or train")
      ->check(CLI::IsMember({"train", "test"}))
      ->type_name("SPLIT")
      ->capture_default_str();
  command->add_option("-o,--output", options->output, "Write the confusion matrix as a PNG heatmap")
      ->type_name("FILE.png");
  command->add_option("--json", options->json, "Write accuracy, per-class metrics and the confusion matrix as JSON")
      ->type_name("FILE");
  CLI::Option* output = command->get_option("--output");
  CLI::Option* json = command->get_option("--json");
  command->callback([options, output, json] {
    options->output_given = output->count() > 0;
    options->json_given = json->count() > 0;
    run_evaluate(*options);
  });
}

}  // namespace mnist::cli
