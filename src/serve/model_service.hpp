// What the web server asks of a model: its description for GET /api/model, and probabilities for one image at a time,
// from any number of request threads. Model is not thread-safe (forward uses internal buffers) and the engine's
// thread pool runs one job at a time, so every implementation here runs the model on one thread at a time.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "mnist/nn.hpp"

namespace mnist::serve {

/// The model as GET /api/model describes it.
struct ModelInfo {
  std::string spec;                  ///< "hidden-relu", "784-128-relu-10", ...
  std::string dataset;               ///< "mnist", "fashion-mnist", ... (empty when the checkpoint names none)
  std::vector<std::string> classes;  ///< one name per output
  std::size_t channels = 1, rows = 28, cols = 28;  ///< the input image [C, H, W]
  std::size_t parameters = 0;
  std::size_t input_size() const { return channels * rows * cols; }
};

/// Thrown when no prediction can be made now (the model is not built yet, or training kept it busy too long): 503.
struct Unavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Thread-safe predictions.
class Predictor {
 public:
  virtual ~Predictor() = default;
  /// Softmax probabilities [n, classes] of x [n, input] (pixels / 255). Throws Unavailable.
  virtual std::vector<float> predict(std::span<const float> x, std::size_t n) = 0;
};

/// One model behind a mutex (mnist serve): requests take turns, each prediction takes well under a millisecond.
class LockedModel final : public Predictor {
 public:
  explicit LockedModel(Model model) : model_(std::move(model)) {}
  std::vector<float> predict(std::span<const float> x, std::size_t n) override;

 private:
  std::mutex mutex_;
  Model model_;
};

/// Predictions with the weights of a model that another thread is training (mnist train --serve). That thread owns
/// the model and runs the engine's thread pool; request threads must use neither. So requests are queued, and the
/// training thread answers them between two batches (service()), on a copy of the model taken then: a prediction
/// never sees a model in the middle of a step. After training (finish()), requests are answered at once on the
/// final weights.
class TrainingModel final : public Predictor {
 public:
  std::vector<float> predict(std::span<const float> x, std::size_t n) override;
  /// Training thread, between batches: answers the queued requests on a copy of model (copied only when a request
  /// waits and the weights changed since the last copy). Costs one lock when nothing waits.
  void service(const Model& model);
  /// The weights changed (after a step): the next service() copies them.
  void weights_changed() { changed_ = true; }
  /// Training is over and no thread pool job will run any more on the training thread: answer requests directly.
  void finish(const Model& model);

 private:
  struct Request {
    std::span<const float> x;
    std::size_t n = 0;
    std::vector<float> result;
    bool done = false;
  };
  std::mutex mutex_;
  std::condition_variable answered_;
  std::deque<Request*> queue_;
  std::unique_ptr<Model> snapshot_;  // the copy predictions run on
  bool changed_ = true, finished_ = false;
};

}  // namespace mnist::serve
