#include "common_options.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace mnist::cli {

namespace {
CLI::Validator web_url_validator() {
  // The downloader speaks only http and https (also after redirects): anything else would fail for every file,
  // in one long error per file, after the data directory was made.
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::size_t sep = text.find("://");
        std::string scheme = text.substr(0, sep);
        std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
        const bool web = sep != std::string::npos && (scheme == "http" || scheme == "https");
        if (!web || sep + 3 >= text.size() || text[sep + 3] == '/')
          return "'" + text + "' is not an http:// or https:// URL with a host";
        return {};
      },
      "");
}
}  // namespace

void add_data_options(CLI::App& command, CommonOptions& options, const std::string& default_dataset) {
  options.data.dataset = default_dataset;
  std::vector<std::string> names = dataset_names();
  names.push_back("custom");
  CLI::Option* dataset = command.add_option("--dataset", options.data.dataset, "Data set: mnist, fashion-mnist, kmnist, or custom (any image size; needs --data-dir)")
      ->check(CLI::IsMember(names))
      ->type_name("NAME")
      ->capture_default_str();
  CLI::Option* data_dir = command.add_option(
      "--data-dir", options.data.data_dir,
      "Directory holding the IDX files (skips the search); without --dataset, read as 'custom' (any image size)")
      ->type_name("DIR");
  command.add_flag("--download", options.data.download, "Download the data set into ./data/<name>/ when not found");
  command.add_option("--mirror", options.data.mirrors, "Base URL to download from (repeatable; replaces the built-in mirrors)")
      ->type_name("URL")
      ->check(web_url_validator())
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  // A directory given without --dataset is not assumed to hold MNIST: reading it as custom names no wrong classes.
  command.parse_complete_callback([dataset, data_dir, &options] {
    if (data_dir->count() > 0 && dataset->count() == 0) options.data.dataset = "custom";
  });
}

CLI::Validator whole_number_validator(const std::string& what) {
  return CLI::Validator(
      [what](std::string& text) -> std::string {
        if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
          return "'" + text + "' is not " + what + " (a whole number >= 0)";
        return {};
      },
      "");
}

void add_compute_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--seed", options.seed, "Random seed (same seed, same result)")
      ->type_name("N")
      ->check(whole_number_validator("a seed"))
      ->capture_default_str();
  command.add_option("--threads", options.threads,
                     "Threads to use (0: all cores; a small model's steps use fewer); the result is the same for any "
                     "count")
      ->check(CLI::Range(0, 1024))
      ->type_name("N")
      ->capture_default_str();
}

}  // namespace mnist::cli
