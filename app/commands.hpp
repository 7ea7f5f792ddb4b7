// The subcommands of the mnist CLI: each file app/cmd_<name>.cpp registers one with the app.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace mnist::cli {

void register_info(CLI::App& app);
void register_show(CLI::App& app);
void register_evaluate(CLI::App& app);
void register_predict(CLI::App& app);
void register_train(CLI::App& app);
void register_compare(CLI::App& app);
void register_plot(CLI::App& app);  // plot and plot-activation
void register_version(CLI::App& app);  // version and --version
/// What `mnist version` prints: version, build, options, libraries (several lines, newline-terminated).
std::string version_text();
void register_serve(CLI::App& app);
void register_export(CLI::App& app);
void register_show_filters(CLI::App& app);

}  // namespace mnist::cli
