#include "web_session.hpp"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "mnist/error.hpp"

namespace mnist::cli {

void check_port(long long port, const char* flag) {
  if (port < 0 || port > 65535)
    throw UsageError(fmt::format("{} {}: a port is 1..65535, or 0 for a free one", flag, port));
}

#if MNIST_HAVE_SERVE
serve::ModelInfo model_info(const Model& model, const std::string& dataset, const std::vector<std::string>& classes,
                            std::size_t rows, std::size_t cols) {
  serve::ModelInfo info;
  info.spec = model.spec();
  info.dataset = dataset;
  info.classes = classes;
  for (std::size_t c = info.classes.size(); c < model.num_classes(); ++c) info.classes.push_back(std::to_string(c));
  info.classes.resize(model.num_classes());
  info.rows = rows;
  info.cols = cols;
  info.channels = 1;
  info.parameters = model.parameters().size();
  return info;
}

serve::ModelInfo spec_info(const std::string& spec, const std::string& dataset, const std::vector<std::string>& classes,
                           std::size_t rows, std::size_t cols) {
  serve::ModelInfo info;
  info.spec = spec;
  info.dataset = dataset;
  info.classes = classes;
  info.rows = rows;
  info.cols = cols;
  for (const auto& [name, shape] : parameter_shapes(parse_model_spec(spec))) {
    std::size_t count = 1;
    for (std::size_t d : shape) count *= d;
    info.parameters += count;
  }
  return info;
}

int start_serving(serve::WebServer& server, const std::string& host, int port) {
  std::signal(SIGPIPE, SIG_IGN);  // a browser that closes a connection mid-answer is that request's failure only
  const int bound = server.start(host, port);
  if (!serve::is_loopback(host))
    std::fprintf(stderr,
                 "mnist: warning: listening on %s: the model and its page are reachable from the network (no "
                 "authentication); the default --host 127.0.0.1 keeps them on this machine\n",
                 host.c_str());
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  fmt::print("serving http://{}:{}/\n", shown, bound);
  std::fflush(stdout);
  return bound;
}

void serve_until(serve::WebServer& server, const std::atomic<bool>& stop, int code) {
  while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!server.stop()) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
  }
}
#endif

}  // namespace mnist::cli
