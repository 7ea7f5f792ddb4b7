// Running the mnist binary from the evaluate/predict/bad-input tests, and small real data sets for them.
// The binary is found through $MNIST_CLI (set by mnist_add_test).
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "mnist/dataset.hpp"
#include "support/test_support.hpp"

namespace mnist::testing {

struct CliRun {
  int code = -1;    // exit code; 124 when the time limit killed it, -1 when it died of a signal
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `timeout SECONDS $MNIST_CLI args` through the shell (args are trusted test strings, quoted by the caller),
/// capturing both streams. A crash shows as code -1 or >= 128, a hang as 124.
inline CliRun run_cli(const std::string& args, int timeout_seconds = 60, const std::string& cwd = "") {
  const char* cli = std::getenv("MNIST_CLI");
  CliRun run;
  if (!cli) {
    ADD_FAILURE() << "MNIST_CLI is not set";
    return run;
  }
  TempDir capture;
  std::string command = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + "timeout -s KILL " +
                        std::to_string(timeout_seconds) + " '" + cli + "' " + args + " >'" +
                        (capture / "out").string() + "' 2>'" + (capture / "err").string() + "' </dev/null";
  int status = std::system(command.c_str());
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (run.code == 137) run.code = 124;  // timeout -s KILL reports 128 + 9
  auto out = read_file(capture / "out");
  auto err = read_file(capture / "err");
  run.out.assign(out.begin(), out.end());
  run.err.assign(err.begin(), err.end());
  return run;
}

inline std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

inline std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

/// Writes the four IDX files of a data set (uncompressed) into dir: train and test images [n, rows, cols] + labels.
inline void write_dataset_dir(const std::filesystem::path& dir, std::size_t rows, std::size_t cols,
                              const std::vector<std::uint8_t>& train_images,
                              const std::vector<std::uint8_t>& train_labels,
                              const std::vector<std::uint8_t>& test_images,
                              const std::vector<std::uint8_t>& test_labels) {
  std::filesystem::create_directories(dir);
  const auto r = static_cast<std::uint32_t>(rows), c = static_cast<std::uint32_t>(cols);
  write_file(dir / "train-images-idx3-ubyte",
             idx_bytes(0x08, {static_cast<std::uint32_t>(train_labels.size()), r, c}, train_images));
  write_file(dir / "train-labels-idx1-ubyte",
             idx_bytes(0x08, {static_cast<std::uint32_t>(train_labels.size())}, train_labels));
  write_file(dir / "t10k-images-idx3-ubyte",
             idx_bytes(0x08, {static_cast<std::uint32_t>(test_labels.size()), r, c}, test_images));
  write_file(dir / "t10k-labels-idx1-ubyte",
             idx_bytes(0x08, {static_cast<std::uint32_t>(test_labels.size())}, test_labels));
}

/// The images and labels of samples [begin, begin + count) of a data set.
inline void slice(const Dataset& data, std::size_t begin, std::size_t count, std::vector<std::uint8_t>& images,
                  std::vector<std::uint8_t>& labels) {
  auto all_images = data.images();
  auto all_labels = data.labels();
  images.assign(all_images.begin() + static_cast<std::ptrdiff_t>(begin * data.image_size()),
                all_images.begin() + static_cast<std::ptrdiff_t>((begin + count) * data.image_size()));
  labels.assign(all_labels.begin() + static_cast<std::ptrdiff_t>(begin),
                all_labels.begin() + static_cast<std::ptrdiff_t>(begin + count));
}

}  // namespace mnist::testing
