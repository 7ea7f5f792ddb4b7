// Running the mnist binary from the CLI tests (exit code and both streams of one run, with a time limit), and reading
// what it printed. The binary is found through $MNIST_CLI (set by mnist_add_test).
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace mnist::testing {

struct CliRun {
  int code = -1;    // exit code; 124 when the time limit killed it, -1 when it died of a signal
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `timeout SECONDS $MNIST_CLI args` through the shell in cwd (the current directory when empty), stdin
/// /dev/null, capturing both streams. args are trusted test strings, quoted by the caller. A crash shows as code -1
/// or >= 128, a hang as 124. A missing $MNIST_CLI fails the test and returns code -1.
CliRun run_cli(const std::string& args, int timeout_seconds = 60, const std::string& cwd = "");

/// The number of '\n' in text: the tests' "one line of error" check.
std::size_t line_count(const std::string& text);

/// The classes in predict's output ("Predicted: 7 Sneaker (probability ...)"), in order.
std::vector<int> predicted_classes(const std::string& out);

/// path in single quotes, for a run_cli argument string.
std::string quoted(const std::filesystem::path& path);

}  // namespace mnist::testing
