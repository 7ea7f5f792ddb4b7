#include "model_data.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "mnist/error.hpp"
#include "mnist/nn.hpp"

namespace mnist::cli {

void add_checkpoint_options(CLI::App& command, CheckpointOptions& options) {
  command.add_option("MODEL", options.model_path,
                     "Checkpoint (.safetensors) written by mnist train, or PyTorch parameters with --model")
      ->required()
      ->type_name("MODEL.safetensors");
  const std::string model_help =
      "Architecture of a checkpoint without metadata (a preset or a spec (MLP or conv) such as 784-32-relu-10 or "
      "1x28x28-conv8k5-relu-maxpool2-flatten-10)";
  options.model_flag = command.add_option("--model", options.model_spec, model_help)->type_name("SPEC");
  add_data_options(command, options.common);
  // The data set defaults to the one the checkpoint was trained on, known only once it is read: mnist, the fallback
  // for a checkpoint that records none, is not the default to show.
  CLI::Option* dataset = command.get_option("--dataset");
  dataset->default_str("");
  dataset->description(dataset->get_description() +
                       "; default: the data set recorded in the checkpoint (mnist if it records none)");
  options.dataset_flag = dataset;
  options.data_dir_flag = command.get_option("--data-dir");
}

Checkpoint load_model_file(const std::string& path, const std::string& model_flag) {
  if (!model_flag.empty()) parse_model_spec(model_flag);  // a bad spec is a usage error before any file is read
  Checkpoint checkpoint = load_checkpoint(path, model_flag);
  auto recorded = checkpoint.metadata.find("model");
  if (!model_flag.empty() && recorded != checkpoint.metadata.end() && recorded->second != model_flag)
    throw UsageError(fmt::format("--model {} contradicts {}, which records model {}; drop --model", model_flag, path,
                                 recorded->second));
  auto scaling = checkpoint.metadata.find("pixel_scaling");
  if (scaling != checkpoint.metadata.end() && scaling->second != "x / 255")
    throw Error(fmt::format("{}: pixel_scaling '{}' is not supported (only 'x / 255')", path, scaling->second));
  return checkpoint;
}

DataOptions data_options_for(const Checkpoint& checkpoint, const CheckpointOptions& options) {
  DataOptions given = options.common.data;
  if (options.dataset_given() || options.data_dir_given() || checkpoint.dataset.empty()) return given;
  if (checkpoint.dataset == "custom")
    throw UsageError(fmt::format("{} was trained on a custom data set: give its directory with --data-dir DIR",
                                 options.model_path));
  // Any other name is the file's fault, not the caller's: a runtime error naming it (quoted as JSON: one line).
  if (!is_dataset_name(checkpoint.dataset))
    throw Error(fmt::format(
        "{}: metadata \"dataset\" {} is not a known data set; give --dataset or --data-dir", options.model_path,
        nlohmann::json(checkpoint.dataset).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).substr(0, 80)));
  given.dataset = checkpoint.dataset;
  return given;
}

void check_model_fits(const Checkpoint& checkpoint, const std::string& model_path, const Dataset& data) {
  const Model& model = checkpoint.model;
  const std::string where = data.root().string();
  if (model.input_size() != data.image_size())
    throw Error(fmt::format("{}: the model takes {} inputs per image, but the images in {} are {}x{} ({} pixels)",
                            model_path, model.input_size(), where, data.rows(), data.cols(), data.image_size()));
  std::uint8_t largest = 0;
  for (std::uint8_t label : data.labels()) largest = std::max(largest, label);
  if (data.size() > 0 && largest >= model.num_classes())
    throw Error(fmt::format("{}: the model has {} classes, but {} has a label {}", model_path, model.num_classes(),
                            where, largest));
}

ImageShape model_image_shape(const Checkpoint& checkpoint, const std::string& model_path) {
  const std::size_t inputs = checkpoint.model.input_size();
  // load_checkpoint has checked that "input_shape" multiplies out to the input size; [1, H, W] and [H, W] say the
  // image's sides, anything else ([784]) does not.
  auto recorded = checkpoint.metadata.find("input_shape");
  if (recorded != checkpoint.metadata.end()) {
    nlohmann::json shape = nlohmann::json::parse(recorded->second, nullptr, false);
    if (shape.is_array() && shape.size() == 3 && shape[0] == 1) shape.erase(0);
    if (shape.is_array() && shape.size() == 2 && shape[0].is_number_unsigned() && shape[1].is_number_unsigned()) {
      const ImageShape s{shape[0].get<std::size_t>(), shape[1].get<std::size_t>()};
      if (s.rows * s.cols == inputs) return s;
    }
  }
  const auto side = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(inputs))));
  if (side * side == inputs) return {side, side};
  throw Error(fmt::format("{}: the model takes {} inputs, which is no square image, and the file records no "
                          "input_shape [1, H, W]",
                          model_path, inputs));
}

std::string class_name(const std::vector<std::string>& classes, std::size_t c) {
  return c < classes.size() ? classes[c] : std::to_string(c);
}

std::string class_label(const std::vector<std::string>& classes, std::size_t c) {
  const std::string name = class_name(classes, c);
  return name == std::to_string(c) ? name : std::to_string(c) + " " + name;
}

}  // namespace mnist::cli
