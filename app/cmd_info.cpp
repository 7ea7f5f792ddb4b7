// mnist info: what a data set is: for each split, the summary, the image size and how many images of each class.
#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "commands.hpp"
#include "common_options.hpp"
#include "mnist/datasets.hpp"

namespace mnist::cli {
namespace {

void print_split(const Dataset& data) {
  fmt::print("{}\n", data.summary());
  fmt::print("    Image size: {}x{} (uint8, 1 channel)\n", data.rows(), data.cols());
  std::vector<std::size_t> counts(data.num_classes(), 0);
  for (std::uint8_t label : data.labels()) ++counts[label];
  std::size_t width = 0;
  for (const auto& name : data.classes()) width = std::max(width, name.size());
  fmt::print("    Images per class:\n");
  for (std::size_t c = 0; c < counts.size(); ++c)
    fmt::print("      {:>2} {:<{}} {:>6}\n", c, data.classes()[c], width, counts[c]);
}

void run_info(const CommonOptions& options) {
  // Both splits are loaded before printing so that a missing or bad file is reported before any output.
  Dataset train = load_dataset(options.data, Split::Train);
  Dataset test = load_dataset(options.data, Split::Test);
  print_split(train);
  fmt::print("\n");
  print_split(test);
}

}  // namespace

void register_info(CLI::App& app) {
  auto options = std::make_shared<CommonOptions>();
  CLI::App* command = app.add_subcommand("info", "Describe a data set: both splits, image size, images per class");
  add_data_options(*command, *options);
  command->callback([options] { run_info(*options); });
}

}  // namespace mnist::cli
