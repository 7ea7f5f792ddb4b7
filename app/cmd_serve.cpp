// mnist serve: a local web page to draw a digit and see what a trained model thinks, and a JSON API (src/serve).
// Runs until Ctrl-C or SIGTERM, then exits 0.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "commands.hpp"
#include "mnist/error.hpp"
#include "model_data.hpp"
#include "signals.hpp"
#include "web_session.hpp"

#if MNIST_HAVE_SERVE
#include "serve/test_view.hpp"
#endif

namespace mnist::cli {
namespace {

struct ServeOptions : CheckpointOptions {
  std::string host = "127.0.0.1";
  long long port = 8080;
};

#if MNIST_HAVE_SERVE
// The test view's data set: the checkpoint's own (or --dataset/--data-dir), read on first use; the view is simply
// absent when the data is not on this machine.
std::function<std::string()> test_view(const ServeOptions& o, const Checkpoint& checkpoint,
                                       serve::Predictor& predictor, const serve::ModelInfo& info) {
  struct Cache {
    std::mutex mutex;
    std::optional<std::string> json;
    std::string unavailable;
  };
  auto cache = std::make_shared<Cache>();
  DataOptions data;
  try {
    data = data_options_for(checkpoint, o);
  } catch (const std::exception& e) {
    cache->unavailable = e.what();
  }
  return [cache, data, &predictor, info, path = o.model_path] {
    std::lock_guard lock(cache->mutex);
    if (!cache->json && cache->unavailable.empty()) {
      try {
        const Dataset test = load_dataset(data, Split::Test);
        if (test.image_size() != info.input_size() || test.num_classes() != info.classes.size())
          throw Error(fmt::format("the test split in {} does not fit the model", test.root().string()));
        cache->json = serve::test_view_json(predictor, info, test);
      } catch (const Error& e) {
        cache->unavailable = fmt::format("no test set for this model: {}", e.what());
      }
    }
    if (!cache->json) throw serve::Unavailable(cache->unavailable);
    return *cache->json;
  };
}
#endif

void run_serve(const ServeOptions& o) {
  check_port(o.port, "--port");
  if (o.host.empty()) throw UsageError("--host: the address is empty");
#if MNIST_HAVE_SERVE
  if (o.model_spec_given() && o.model_spec.empty()) throw UsageError("--model: the spec is empty");
  Checkpoint checkpoint = load_model_file(o.model_path, o.model_spec);
  const ImageShape shape = model_image_shape(checkpoint, o.model_path);
  const serve::ModelInfo info =
      model_info(checkpoint.model, checkpoint.dataset, checkpoint.classes, shape.rows, shape.cols);
  serve::LockedModel predictor(checkpoint.model);
  serve::ServeContext context{info, &predictor, nullptr, nullptr};
  context.test_results = test_view(o, checkpoint, predictor, info);
  std::atomic<bool>& stop = install_stop_signal_handlers();
  serve::WebServer server(std::move(context));
  start_serving(server, o.host, static_cast<int>(o.port));
  serve_until(server, stop, 0);
#else
  throw Error(kNoServer);
#endif
}

}  // namespace

void register_serve(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* command = app.add_subcommand(
      "serve", "Serve a web page to draw digits and see a trained model's predictions, and a JSON API (Ctrl-C stops)");
  add_checkpoint_options(*command, *options);
  command->add_option("--host", options->host,
                      "Address to listen on; anything but 127.0.0.1/localhost makes the model reachable from the network")
      ->type_name("ADDR")
      ->capture_default_str();
  command->add_option("--port", options->port, "TCP port; 0 takes a free one (the address is printed)")
      ->type_name("PORT")
      ->capture_default_str();
  command->callback([options] { run_serve(*options); });
}

}  // namespace mnist::cli
