#include "live_training.hpp"

#if MNIST_HAVE_SERVE
#include <nlohmann/json.hpp>

namespace mnist::cli {
namespace {

// Batch events at most this often (the last batch of an epoch always): a small model trains thousands of batches a
// second, more than a chart can show or a browser wants to receive.
constexpr auto kBatchEventInterval = std::chrono::milliseconds(50);

std::string text(const nlohmann::json& doc) { return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

LiveTraining::LiveTraining(const std::string& spec, const std::string& dataset, std::size_t train_images,
                           std::size_t val_images)
    : spec_(spec), dataset_(dataset), train_images_(train_images), val_images_(val_images) {
  observer_.on_start = [this](const Model&, std::size_t first_epoch, std::size_t epochs, std::size_t batches) {
    first_epoch_ = first_epoch;
    epochs_ = epochs;
    batches_ = batches;
    start_ = std::chrono::steady_clock::now();
    events_.append("start", text({{"model", spec_},
                                  {"dataset", dataset_},
                                  {"first_epoch", first_epoch},
                                  {"epochs", epochs},
                                  {"batches", batches},
                                  {"train_images", train_images_},
                                  {"val_images", val_images_}}));
  };
  observer_.on_batch = [this](const Model& model, const BatchEvent& ev) {
    predictor_.weights_changed();
    predictor_.service(model);
    ++steps_done_;
    const auto now = std::chrono::steady_clock::now();
    const bool last = ev.batch + 1 == ev.num_batches;
    if (!last && now - last_batch_event_ < kBatchEventInterval) return;
    last_batch_event_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double total_steps = static_cast<double>((epochs_ - first_epoch_) * batches_);
    const double progress = total_steps > 0 ? static_cast<double>(steps_done_) / total_steps : 1.0;
    events_.append("batch", text({{"epoch", ev.epoch},
                                  {"batch", ev.batch},
                                  {"batches", ev.num_batches},
                                  {"step", ev.epoch * ev.num_batches + ev.batch},
                                  {"loss", ev.loss},
                                  {"elapsed", elapsed},
                                  {"progress", progress},
                                  {"eta", progress > 0 ? elapsed * (1 - progress) / progress : 0.0}}));
  };
  observer_.on_epoch = [this](const Model& model, const EpochStats& stats) {
    predictor_.service(model);
    events_.append("epoch", text({{"epoch", stats.epoch},
                                  {"train_loss", stats.train_loss},
                                  {"val_loss", stats.val_loss},
                                  {"val_accuracy", stats.val_accuracy},
                                  {"seconds", stats.seconds}}));
  };
  observer_.on_test = [this](const Model& model, double test_accuracy) {
    predictor_.finish(model);
    events_.append("done", text({{"test_accuracy", test_accuracy},
                                 {"elapsed", std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count()}}));
  };
}

}  // namespace mnist::cli
#endif
