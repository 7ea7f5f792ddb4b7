#include "serve/model_service.hpp"

#include <chrono>

namespace mnist::serve {
namespace {

std::vector<float> run(Model& model, std::span<const float> x, std::size_t n) {
  const Tensor probs = model.predict_proba(x, n);  // [n, classes]
  return std::vector<float>(probs.data(), probs.data() + n * model.num_classes());
}

// How long a request waits for the training thread (which answers between batches; an epoch's validation can take
// a while on a big model) before it gets a 503.
constexpr auto kTrainingWait = std::chrono::seconds(10);

}  // namespace

std::vector<float> LockedModel::predict(std::span<const float> x, std::size_t n) {
  std::lock_guard lock(mutex_);
  return run(model_, x, n);
}

std::vector<float> TrainingModel::predict(std::span<const float> x, std::size_t n) {
  std::unique_lock lock(mutex_);
  if (finished_) return run(*snapshot_, x, n);
  Request request{x, n, {}, false};
  queue_.push_back(&request);
  if (!answered_.wait_for(lock, kTrainingWait, [&] { return request.done; })) {
    std::erase(queue_, &request);
    throw Unavailable("the training thread did not answer in time; try again");
  }
  return std::move(request.result);
}

void TrainingModel::service(const Model& model) {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) return;
  if (!snapshot_ || changed_) {
    snapshot_ = std::make_unique<Model>(model);
    changed_ = false;
  }
  for (Request* request : queue_) {
    request->result = run(*snapshot_, request->x, request->n);
    request->done = true;
  }
  queue_.clear();
  answered_.notify_all();
}

void TrainingModel::finish(const Model& model) {
  std::lock_guard lock(mutex_);
  snapshot_ = std::make_unique<Model>(model);
  for (Request* request : queue_) {
    request->result = run(*snapshot_, request->x, request->n);
    request->done = true;
  }
  queue_.clear();
  finished_ = true;
  answered_.notify_all();
}

}  // namespace mnist::serve
