// mnist version (and mnist --version): the version, how this copy was built, and the libraries it runs with,
// so that a bug report or a figure can say exactly what produced it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "commands.hpp"
#include "mnist/version.hpp"
#if MNIST_HAVE_SERVE
#include "serve/assets.hpp"
#include "serve/server.hpp"
#endif

namespace mnist::cli {

std::string version_text() {
  BuildInfo info = build_info();
  info.libraries.push_back({"CLI11", CLI11_VERSION});  // the CLI's own parser, header-only, not in the library
#if MNIST_HAVE_SERVE
  // The web server (src/serve, a layer above the library): cpp-httplib compiled in, Chart.js embedded in the page.
  info.libraries.push_back({"cpp-httplib", serve::httplib_version()});
  info.libraries.push_back({"Chart.js", std::string(serve::chartjs_version())});
#endif
  std::string out = fmt::format("mnist {}\n", info.version);
  out += fmt::format("build:     {}, {}, C++{}, sanitizers {}\n", info.build_type, info.compiler,
                     __cplusplus / 100 % 100, info.sanitizers);
  out += fmt::format("kernels:   {} on this CPU\n", info.cpu_path);
  std::string options;
  for (const BuildFact& o : info.options) options += fmt::format("{}{} {}", options.empty() ? "" : ", ", o.name, o.value);
  out += fmt::format("options:   {}\n", options);
  out += "libraries:\n";
  std::size_t width = 0;
  for (const BuildFact& l : info.libraries) width = std::max(width, l.name.size());
  for (const BuildFact& l : info.libraries) out += fmt::format("  {:<{}}  {}\n", l.name, width, l.value);
  return out;
}

void register_version(CLI::App& app) {
  // --version on the app itself (CLI11 prints the text and exits 0, before any command is required).
  // CLI11 adds the last line break itself.
  app.set_version_flag(
      "--version",
      [] {
        std::string text = version_text();
        text.pop_back();
        return text;
      },
      "Print the version, the build's options and libraries, and exit");
  CLI::App* command = app.add_subcommand("version", "Print the version, the build's options and the libraries used");
  command->callback([] { fmt::print("{}", version_text()); });
}

}  // namespace mnist::cli
