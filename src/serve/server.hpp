// The web server of `mnist serve` and `mnist train --serve` (cpp-httplib): the embedded page and the JSON API.
//   GET  /, /app.js, /style.css, /chart.min.js   the page (embedded assets only; any other path is a 404)
//   GET  /api/model                             the model's description
//   POST /api/predict                           image/png, image/jpeg or application/json -> probabilities
//   GET  /api/test                              the test split's predictions and confusion matrix (when known)
//   GET  /api/events                            Server-Sent Events of a training run (train --serve)
// Bodies over 2 MB get 413, bad ones 400 with {"error": ...}; a failing request never stops the server.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "serve/event_log.hpp"
#include "serve/model_service.hpp"

namespace mnist::serve {

struct ServeContext {
  ModelInfo model;
  Predictor* predictor = nullptr;   // not owned; outlives the server
  EventLog* events = nullptr;       // train --serve: the live events; null for mnist serve
  /// GET /api/test's JSON, computed on first use; null when there is no test view. It may throw Unavailable.
  std::function<std::string()> test_results;
};

class WebServer {
 public:
  explicit WebServer(ServeContext context);
  ~WebServer();  // stop()
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  /// Binds host:port (0: a free port) and starts answering on a thread of its own; returns the port bound.
  /// Throws mnist::Error naming the address when it cannot be bound.
  int start(const std::string& host, int port);
  /// Stops accepting, lets the requests in flight finish (waiting at most about half a second for them), ends the
  /// event streams. Returns false when some connection was still busy after that (the caller then leaves with
  /// std::_Exit rather than destroying a server that a thread still uses).
  bool stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True for the addresses only this machine reaches: 127.0.0.0/8, ::1, localhost.
bool is_loopback(const std::string& host);

/// The version of cpp-httplib the server was compiled with ("0.11.4"; the library is header-only).
std::string httplib_version();

}  // namespace mnist::serve
