#include "support/cli_runner.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <regex>

#include "support/test_support.hpp"

namespace mnist::testing {

CliRun run_cli(const std::string& args, int timeout_seconds, const std::string& cwd) {
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

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::vector<int> predicted_classes(const std::string& out) {
  std::vector<int> classes;
  const std::regex line(R"(Predicted: (\d+))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it)
    classes.push_back(std::stoi((*it)[1].str()));
  return classes;
}

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

}  // namespace mnist::testing
