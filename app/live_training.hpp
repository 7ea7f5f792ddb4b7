// train --serve: the page of `mnist serve` while a model trains, with its live charts. The training thread reports
// to a TrainingObserver; this turns the reports into Server-Sent Events and answers the page's predictions between
// batches with the current weights (serve::TrainingModel).
#pragma once
#if MNIST_HAVE_SERVE
#include <chrono>
#include <memory>
#include <string>

#include "serve/event_log.hpp"
#include "serve/model_service.hpp"
#include "training_run.hpp"

namespace mnist::cli {

class LiveTraining {
 public:
  LiveTraining(const std::string& spec, const std::string& dataset, std::size_t train_images, std::size_t val_images);
  /// Reports to pass to run_training.
  const TrainingObserver& observer() const { return observer_; }
  serve::EventLog& events() { return events_; }
  serve::TrainingModel& predictor() { return predictor_; }

 private:
  serve::EventLog events_;
  serve::TrainingModel predictor_;
  TrainingObserver observer_;
  std::string spec_, dataset_;
  std::size_t train_images_, val_images_;
  std::size_t first_epoch_ = 0, epochs_ = 0, batches_ = 0, steps_done_ = 0;
  std::chrono::steady_clock::time_point start_, last_batch_event_;
};

}  // namespace mnist::cli
#endif
