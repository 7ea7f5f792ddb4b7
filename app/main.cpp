// mnist: the command-line tool. Subcommands are registered here; each lives in its own file.
// Exit codes: 0 success, 2 usage error (bad flag or value), 1 any other error; errors are one line on stderr.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "mnist/error.hpp"

namespace {

// CLI11 messages may span lines; the contract is one line.
std::string one_line(std::string text) {
  for (char& ch : text)
    if (ch == '\n') ch = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// When no command was recognised, CLI11 says only "A subcommand is required": name what was given instead.
std::string no_command_message(CLI::App& app, const std::string& first) {
  std::string names;
  for (CLI::App* command : app.get_subcommands([](CLI::App*) { return true; }))
    names += (names.empty() ? "" : ", ") + command->get_name();
  if (!first.empty() && first[0] == '-')
    return "unknown option " + first + " before the command (commands: " + names + "; options go after the command)";
  return "unknown command '" + first + "' (commands: " + names + ")";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mnist: train image classifiers on MNIST-format data sets (MNIST, Fashion-MNIST, KMNIST)", "mnist"};
  app.require_subcommand(1);
  mnist::cli::register_info(app);
  mnist::cli::register_show(app);
  mnist::cli::register_evaluate(app);
  mnist::cli::register_predict(app);
  mnist::cli::register_train(app);
  mnist::cli::register_compare(app);
  mnist::cli::register_plot(app);
  mnist::cli::register_version(app);
  mnist::cli::register_export(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    const std::string message = app.get_subcommands().empty() && argc > 1 ? no_command_message(app, argv[1])
                                                                         : one_line(e.what());
    std::fprintf(stderr, "mnist: usage error: %s (see mnist --help)\n", message.c_str());
    return 2;
  } catch (const mnist::UsageError& e) {
    std::fprintf(stderr, "mnist: usage error: %s\n", one_line(e.what()).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist: error: %s\n", one_line(e.what()).c_str());
    return 1;
  }
}
