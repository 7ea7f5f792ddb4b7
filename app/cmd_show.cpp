// mnist show: look at images and their labels, as a PNG figure (-o) or drawn in the terminal (--ascii).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common_options.hpp"
#include "mnist/datasets.hpp"
#include "mnist/error.hpp"
#include "mnist/plot.hpp"
#include "output_path.hpp"

namespace mnist::cli {
namespace {

struct ShowOptions {
  CommonOptions common;
  std::vector<std::size_t> indices;
  std::string split = "train";
  bool ascii = false;
  std::string output;
  bool output_given = false;  // -o, even with an empty name (an error, not "no figure")
};

// Two characters per pixel so that the image keeps its proportions in a terminal.
void print_ascii(const Dataset& data, std::size_t index) {
  static constexpr char kRamp[] = " .:-=+*#%@";
  Sample sample = data[index];
  const std::string& name = data.classes()[static_cast<std::size_t>(sample.label)];
  if (name == std::to_string(sample.label))  // a custom data set's classes are just the numbers
    fmt::print("#{} Label: {}\n", index, sample.label);
  else
    fmt::print("#{} Label: {} ({})\n", index, sample.label, name);
  std::string border = "+" + std::string(2 * data.cols(), '-') + "+";
  fmt::print("{}\n", border);
  for (std::size_t r = 0; r < data.rows(); ++r) {
    std::string line = "|";
    for (std::size_t c = 0; c < data.cols(); ++c) {
      char ch = kRamp[sample.image[r * data.cols() + c] * (sizeof(kRamp) - 2) / 255];
      line += ch;
      line += ch;
    }
    fmt::print("{}|\n", line);
  }
  fmt::print("{}\n", border);
}

void run_show(const ShowOptions& options) {
  if (options.output_given) check_output_path("-o", options.output);
  Split split = options.split == "test" ? Split::Test : Split::Train;
  Dataset data = load_dataset(options.common.data, split);
  for (std::size_t index : options.indices)
    if (index >= data.size())
      throw UsageError(fmt::format("INDEX {} is out of range: the {} split has {} images (0 to {})", index,
                                   options.split, data.size(), data.size() - 1));
  if (!options.output.empty()) {
    std::vector<std::span<const std::uint8_t>> images;
    std::vector<std::string> titles;
    for (std::size_t index : options.indices) {
      images.push_back(data[index].image);
      titles.push_back(fmt::format("Label: {}", data[index].label));
    }
    if (images.size() == 1)
      plot_image(options.output, images[0], data.rows(), data.cols(), titles[0]);
    else
      plot_image_grid(options.output, images, data.rows(), data.cols(), titles);
    fmt::print("wrote {}\n", options.output);
  }
  if (options.ascii || options.output.empty())
    for (std::size_t index : options.indices) print_ascii(data, index);
}

}  // namespace

void register_show(CLI::App& app) {
  auto options = std::make_shared<ShowOptions>();
  CLI::App* command = app.add_subcommand(
      "show", "Show images and their labels: a PNG figure with -o (a grid for several), or drawn in the terminal");
  const CLI::Validator whole_number = whole_number_validator("an image index");
  command->add_option("INDEX", options->indices, "Index of an image in the split (one or more)")
      ->required()
      ->type_name("N")
      ->check(whole_number);
  command->add_option("--split", options->split, "Which split: train or test")
      ->check(CLI::IsMember({"train", "test"}))
      ->type_name("SPLIT")
      ->capture_default_str();
  command->add_flag("--ascii", options->ascii, "Draw the image(s) in the terminal (the default without -o)");
  command->add_option("-o,--output", options->output, "Write a PNG figure (grayscale, titled \"Label: N\")")
      ->type_name("FILE.png");
  add_data_options(*command, options->common);
  CLI::Option* output = command->get_option("--output");
  command->callback([options, output] {
    options->output_given = output->count() > 0;
    run_show(*options);
  });
}

}  // namespace mnist::cli
