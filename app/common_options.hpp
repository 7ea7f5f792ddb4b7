// Flags shared by the commands: where the data comes from (--dataset --data-dir --download --mirror) and how to
// compute (--seed --threads).
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>

#include "mnist/datasets.hpp"

namespace mnist::cli {

struct CommonOptions {
  DataOptions data;
  std::uint64_t seed = 0;
  int threads = 1;  // 0: all cores; results are the same for any count
};

/// --dataset NAME (mnist, fashion-mnist, kmnist, custom), --data-dir DIR, --download, --mirror URL (repeatable).
/// --data-dir without --dataset means --dataset custom. Uses the command's parse_complete_callback.
void add_data_options(CLI::App& command, CommonOptions& options, const std::string& default_dataset = "mnist");
/// Accepts only a whole number >= 0 (up to 18 digits), checked as text before CLI11 converts it: an unsigned
/// conversion would silently wrap "-1" around. what names the value in the message ("an image index").
CLI::Validator whole_number_validator(const std::string& what);

/// --seed N, --threads N.
void add_compute_options(CLI::App& command, CommonOptions& options);

}  // namespace mnist::cli
