#include "common_options.hpp"

namespace mnist::cli {

void add_data_options(CLI::App& command, CommonOptions& options, const std::string& default_dataset) {
  options.data.dataset = default_dataset;
  std::vector<std::string> names = dataset_names();
  names.push_back("custom");
  command.add_option("--dataset", options.data.dataset, "Data set: mnist, fashion-mnist, kmnist, or custom (any image size; needs --data-dir)")
      ->check(CLI::IsMember(names))
      ->capture_default_str();
  command.add_option("--data-dir", options.data.data_dir, "Directory holding the four IDX files (skips the search)");
  command.add_flag("--download", options.data.download, "Download the data set into ./data/<name>/ when not found");
  command.add_option("--mirror", options.data.mirrors, "Base URL to download from (repeatable; replaces the built-in mirrors)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
}

void add_compute_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--seed", options.seed, "Random seed (same seed, same result)")->capture_default_str();
  command.add_option("--threads", options.threads, "Threads to use (0: all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
}

}  // namespace mnist::cli
