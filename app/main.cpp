// mnist: the command-line tool. Subcommands are registered here; each lives in its own file.
// Exit codes: 0 success, 2 usage error (bad flag or value), 1 any other error; errors are one line on stderr.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>

#include "commands.hpp"
#include "mnist/dist.hpp"
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

// Prints "mnist: <kind>: <message>" and returns code. Under mpirun (N > 1 ranks):
// - a CollectiveError is met by every rank at the same point: rank 0 prints it, and all return (MPI is finalised
//   together at exit);
// - any other error may be this rank's alone, and the others would wait for it in their next collective: the job is
//   ended at once (abort_world). A usage error, though, is usually every rank's (they parse the same command line):
//   ranks other than 0 give rank 0 a moment to print it and end the job (mpirun stops the others when one rank
//   fails), and only if it does not, print their own (naming the rank) and end it themselves.
int fail(int code, const char* kind, const std::string& message, bool usage) {
  using mnist::dist::world_is_distributed;
  const bool distributed = world_is_distributed();
  const int rank = distributed ? mnist::dist::world().rank() : mnist::dist::launcher_rank();
  if (rank != 0 && usage && mnist::dist::launcher_world_size() > 1) std::this_thread::sleep_for(std::chrono::seconds(5));
  if (rank == 0)
    std::fprintf(stderr, "mnist: %s: %s\n", kind, one_line(message).c_str());
  else
    std::fprintf(stderr, "mnist: %s: rank %d: %s\n", kind, rank, one_line(message).c_str());
  std::fflush(stderr);
  if (distributed) mnist::dist::abort_world(code);
  return code;
}

int fail_together(int code, const std::string& message) {
  const int rank = mnist::dist::world_is_distributed() ? mnist::dist::world().rank() : 0;
  if (rank == 0) std::fprintf(stderr, "mnist: error: %s\n", one_line(message).c_str());
  return code;
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
  mnist::cli::register_serve(app);
  mnist::cli::register_export(app);
  mnist::cli::register_show_filters(app);
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
    return fail(2, "usage error", message + " (see mnist --help)", true);
  } catch (const mnist::UsageError& e) {
    return fail(2, "usage error", e.what(), true);
  } catch (const mnist::dist::CollectiveError& e) {
    return fail_together(1, e.what());
  } catch (const std::exception& e) {
    return fail(1, "error", e.what(), false);
  }
}
