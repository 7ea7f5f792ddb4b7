// What `mnist serve` and `mnist train --serve` share: the model's description for the page, starting the web server
// (the "serving http://..." line the tests and scripts wait for) and stopping it on Ctrl-C / SIGTERM.
#pragma once
#include <atomic>
#include <string>

#include "mnist/checkpoint.hpp"
#include "mnist/nn.hpp"

#if MNIST_HAVE_SERVE
#include "serve/server.hpp"
#endif

namespace mnist::cli {

/// The one-line reason a command that serves cannot run in a binary built without cpp-httplib.
inline constexpr const char* kNoServer =
    "this mnist was built without its web server: install libcpp-httplib-dev and libjs-chart.js (scripts/setup.sh "
    "does) and build again";

/// --port's check: a whole number 0..65535 (0 takes a free port).
void check_port(long long port, const char* flag);

#if MNIST_HAVE_SERVE
/// The model as the page shows it: spec, data set, class names (one per output), input [1, rows, cols].
serve::ModelInfo model_info(const Model& model, const std::string& dataset, const std::vector<std::string>& classes,
                            std::size_t rows, std::size_t cols);

/// The same for a model not built yet (train --serve): the parameter count from the spec's shapes.
serve::ModelInfo spec_info(const std::string& spec, const std::string& dataset, const std::vector<std::string>& classes,
                           std::size_t rows, std::size_t cols);

/// Starts server on host:port and prints "serving http://HOST:PORT/" on stdout (flushed), after a warning on stderr
/// when host is reachable from other machines. Returns the port bound.
int start_serving(serve::WebServer& server, const std::string& host, int port);

/// Waits for stop (set by the SIGINT/SIGTERM handlers), then stops the server; leaves the process at once with exit
/// code `code` when a connection kept it busy beyond the stop's grace time.
void serve_until(serve::WebServer& server, const std::atomic<bool>& stop, int code);
#endif

}  // namespace mnist::cli
