// mnist show-filters: a conv net's first-layer filters and one test image's feature maps, as a PNG figure.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "commands.hpp"
#include "mnist/error.hpp"
#include "mnist/plot.hpp"
#include "model_data.hpp"
#include "output_path.hpp"

namespace mnist::cli {
namespace {

struct ShowFiltersOptions : CheckpointOptions {
  std::string output;
  std::size_t index = 0;
  std::string split = "test";
};

void run_show_filters(const ShowFiltersOptions& options) {
  check_output_path("-o", options.output);
  check_not_input("-o", options.output, options.model_path);
  Checkpoint checkpoint = load_model_file(options.model_path, options.model_spec);
  if (first_conv_layer(checkpoint.model) == checkpoint.model.layers().size())
    throw UsageError(fmt::format("model {} has no Conv2d layer", options.model_path));
  const Dataset data =
      load_dataset(data_options_for(checkpoint, options), options.split == "train" ? Split::Train : Split::Test);
  check_model_fits(checkpoint, options.model_path, data);
  if (options.index >= data.size())
    throw UsageError(fmt::format("--index {} is out of range: the {} split has {} images (0 to {})", options.index,
                                 options.split, data.size(), data.size() - 1));
  const Sample sample = data[options.index];
  const std::string label = class_label(data.classes(), static_cast<std::size_t>(sample.label));
  plot_conv_filters(options.output, checkpoint.model, checkpoint.model.spec(), sample.image,
                    fmt::format("{} #{}, label {}", options.split, options.index, label));
  fmt::print("wrote {}\n", options.output);
}

}  // namespace

void register_show_filters(CLI::App& app) {
  auto options = std::make_shared<ShowFiltersOptions>();
  CLI::App* command = app.add_subcommand(
      "show-filters", "Draw a conv net's first-layer filters and one image's feature maps after that layer");
  add_checkpoint_options(*command, *options);
  command->add_option("-o,--output", options->output, "PNG file to write")->required()->type_name("FILE.png");
  command->add_option("--index", options->index, "Which image of the split")
      ->type_name("N")
      ->check(whole_number_validator("an image index"))
      ->capture_default_str();
  command->add_option("--split", options->split, "Which split: test or train")
      ->check(CLI::IsMember({"train", "test"}))
      ->type_name("SPLIT")
      ->capture_default_str();
  command->callback([options] { run_show_filters(*options); });
}

}  // namespace mnist::cli
