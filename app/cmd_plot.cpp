// mnist plot: redraw the loss and accuracy charts of earlier runs together, from their history.json files.
// mnist plot-activation relu: the tutorial's ReLU figure over [-10, 10).
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "output_path.hpp"
#include "commands.hpp"
#include "mnist/plot.hpp"
#include "run_outputs.hpp"

namespace mnist::cli {
namespace {

struct PlotOptions {
  std::vector<std::string> histories;
  std::string out = ".";
};

// The legend names each run by its model; runs of the same model are told apart by their directory.
std::vector<std::string> labels_for(const std::vector<std::string>& paths, const std::vector<RunRecord>& runs) {
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::size_t same = 0;
    for (const RunRecord& r : runs) same += r.model == runs[i].model;
    const std::string dir = std::filesystem::path(paths[i]).parent_path().filename().string();
    labels.push_back(same > 1 && !dir.empty() ? fmt::format("{} ({})", runs[i].model, dir) : runs[i].model);
  }
  return labels;
}

void run_plot(const PlotOptions& o) {
  check_output_dir("-o", o.out);
  std::vector<RunRecord> runs;
  // Every history is read and checked before anything is written (or the directory made): a bad one leaves the
  // directory as it was, never a new loss.png beside an old accuracy.png.
  for (const std::string& p : o.histories) {
    runs.push_back(read_history_json(p));
    check_chartable(runs.back(), p);
  }
  const std::vector<std::string> labels = labels_for(o.histories, runs);
  std::vector<std::pair<std::string, const RunRecord*>> series;
  for (std::size_t i = 0; i < runs.size(); ++i) series.emplace_back(labels[i], &runs[i]);
  create_output_dir(o.out);
  write_charts(o.out, series);
  const std::filesystem::path out = o.out;
  fmt::print("wrote {} and {} ({} run{})\n", (out / "loss.png").string(), (out / "accuracy.png").string(), runs.size(),
             runs.size() == 1 ? "" : "s");
}

void run_plot_activation(const std::string& name, const std::string& out) {
  check_output_path("-o", out);
  Series s{fmt::format("{}(x)", name), {}, {}};
  for (int i = -100; i < 100; ++i) {  // torch.arange(-10, 10, 0.1)
    const double x = i / 10.0;
    s.x.push_back(x);
    s.y.push_back(x > 0 ? x : 0.0);
  }
  plot_lines(out, {.title = "ReLU", .x_label = "x", .y_label = "relu(x)", .series = {s}, .integer_x = false});
  fmt::print("wrote {}\n", out);
}

}  // namespace

void register_plot(CLI::App& app) {
  auto o = std::make_shared<PlotOptions>();
  CLI::App* plot = app.add_subcommand("plot", "Redraw the loss and accuracy charts of earlier runs together");
  plot->add_option("HISTORY", o->histories, "history.json files written by mnist train or compare")
      ->required()
      ->type_name("HISTORY.json")
      ->check(CLI::ExistingFile);
  plot->add_option("-o,--out", o->out, "Directory for loss.png and accuracy.png")->type_name("DIR")->capture_default_str();
  plot->callback([o] { run_plot(*o); });

  auto name = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("relu.png");
  CLI::App* act = app.add_subcommand("plot-activation", "Draw an activation function over [-10, 10) (the tutorial's ReLU figure)");
  act->add_option("FUNCTION", *name, "The activation: relu")->required()->check(CLI::IsMember({"relu"}))->type_name("NAME");
  act->add_option("-o,--output", *out, "PNG file to write")->type_name("FILE.png")->capture_default_str();
  act->callback([name, out] { run_plot_activation(*name, *out); });
}

}  // namespace mnist::cli
