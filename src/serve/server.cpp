#include "serve/server.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "mnist/error.hpp"
#include "serve/assets.hpp"
#include "serve/predict_request.hpp"

namespace mnist::serve {
namespace {

constexpr const char* kJson = "application/json";

// httplib's routes are regular expressions: an asset's URL with its '.' escaped matches that URL only.
std::string exact_route(std::string_view url) {
  std::string pattern;
  for (char c : url) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) pattern += '\\';
    pattern += c;
  }
  return pattern;
}

void send_error(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(error_json(message), kJson);
}

}  // namespace

struct WebServer::Impl {
  ServeContext context;
  httplib::Server http;
  std::thread listener;
  std::promise<void> listener_done;
  std::future<void> listener_finished = listener_done.get_future();
  bool running = false, stuck = false;

  void routes();
  void predict(const httplib::Request& req, httplib::Response& res);
};

void WebServer::Impl::routes() {
  // Enough workers for a page's event stream and a few pages or API clients at once (httplib's default is 8).
  http.new_task_queue = [] { return new httplib::ThreadPool(16); };
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second server share a port already serving.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_payload_max_length(kMaxBodyBytes);  // httplib answers 413 itself, before reading the body
  http.set_keep_alive_timeout(2);
  http.set_read_timeout(10);
  http.set_write_timeout(10);
  // Every error gets a JSON body (404 for any path that is not an asset or an endpoint, 413, ...).
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* what = res.status == 404   ? "not found"
                       : res.status == 413 ? "the request body is over 2 MB"
                       : res.status == 405 ? "method not allowed"
                                           : "bad request";
    res.set_content(error_json(what), kJson);
  });
  // A handler that throws answers 500 and the server goes on.
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, what);
  });
  for (const Asset& asset : embedded_assets()) {
    http.Get(exact_route(asset.url), [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type).c_str());
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
    });
  }
  http.Get("/api/model", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(model_json(context.model, context.events != nullptr), kJson);
  });
  http.Post("/api/predict", [this](const httplib::Request& req, httplib::Response& res) { predict(req, res); });
  http.Get("/api/test", [this](const httplib::Request&, httplib::Response& res) {
    if (!context.test_results) return send_error(res, 404, "no test view while training");
    try {
      res.set_content(context.test_results(), kJson);
    } catch (const Unavailable& e) {
      send_error(res, 404, e.what());
    }
  });
  http.Get("/api/events", [this](const httplib::Request&, httplib::Response& res) {
    if (!context.events) return send_error(res, 404, "no training runs in this server (mnist train --serve has one)");
    res.set_header("Cache-Control", "no-cache");
    EventLog* events = context.events;
    res.set_chunked_content_provider("text/event-stream", [events, next = std::size_t{0}](
                                                              std::size_t, httplib::DataSink& sink) mutable {
      // Waits a little for news, so that the connection notices a stop or a closed page within a fraction of a
      // second; httplib calls again while the connection is writable and the server runs.
      const std::string text = events->read(next, &next, std::chrono::milliseconds(200));
      if (events->closed()) {
        sink.done();
        return true;
      }
      if (!text.empty() && !sink.write(text.data(), text.size())) return false;
      return sink.is_writable();
    });
  });
}

void WebServer::Impl::predict(const httplib::Request& req, httplib::Response& res) {
  try {
    const std::vector<std::uint8_t> pixels =
        request_pixels(req.get_header_value("Content-Type"), req.body, context.model);
    std::vector<float> x(pixels.size());  // [1, input] pixels / 255, as in training
    for (std::size_t i = 0; i < pixels.size(); ++i) x[i] = static_cast<float>(pixels[i]) / 255.0f;
    const std::vector<float> p = context.predictor->predict(x, 1);
    res.set_content(prediction_json(p, pixels, context.model), kJson);
  } catch (const BadRequest& e) {
    send_error(res, e.status, e.what());
  } catch (const Unavailable& e) {
    send_error(res, 503, e.what());
  }
}

WebServer::WebServer(ServeContext context) : impl_(std::make_unique<Impl>()) {
  impl_->context = std::move(context);
  impl_->routes();
}

WebServer::~WebServer() {
  stop();
  if (impl_->stuck) (void)impl_.release();  // a detached thread may still use it; the process is about to end
}

int WebServer::start(const std::string& host, int port) {
  if (is_loopback(host)) {
    // DNS rebinding: a web page elsewhere can point a name of its own at 127.0.0.1 and make the browser call this
    // server as that name. A server only this machine reaches answers only requests addressed to it by a local name.
    impl_->http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      std::string name = req.get_header_value("Host");
      name = name.rfind('[', 0) == 0 ? name.substr(0, name.find(']') + 1) : name.substr(0, name.find(':'));
      if (name == "localhost" || name == "[::1]" || name.rfind("127.", 0) == 0) return httplib::Server::HandlerResponse::Unhandled;
      send_error(res, 403, "this server answers requests to 127.0.0.1 or localhost only");
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  int bound = port;
  if (port == 0) {
    bound = impl_->http.bind_to_any_port(host);
  } else if (!impl_->http.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0)
    throw Error(fmt::format("cannot listen on {}:{} (in use, not an address of this machine, or not allowed); try "
                            "another --port, or --port 0 for a free one",
                            host, port));
  impl_->running = true;
  impl_->listener = std::thread([impl = impl_.get()] {
    impl->http.listen_after_bind();  // returns after stop(), once the workers are done
    impl->listener_done.set_value();
  });
  return bound;
}

bool WebServer::stop() {
  if (!impl_->running) return !impl_->stuck;
  impl_->running = false;
  if (impl_->context.events) impl_->context.events->close();
  impl_->http.stop();
  // In-flight requests take milliseconds; an idle keep-alive connection may hold a worker until its timeout.
  if (impl_->listener_finished.wait_for(std::chrono::milliseconds(600)) == std::future_status::ready) {
    impl_->listener.join();
    return true;
  }
  impl_->listener.detach();
  impl_->stuck = true;
  return false;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string httplib_version() { return CPPHTTPLIB_VERSION; }

}  // namespace mnist::serve
