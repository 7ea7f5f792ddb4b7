// Training progress for a person: on a terminal, a bar per epoch on stderr (batches, running loss, samples/s, ETA);
// otherwise (a log, a pipe) one line per epoch on stdout: "epoch 3/10  loss 0.4123  val_acc 0.8512  1.2s".
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

#include "mnist/train.hpp"

namespace mnist::cli {

class Progress {
 public:
  /// total_epochs: the run's planned epochs; batch_size: to turn batches into samples/s.
  Progress(std::size_t total_epochs, std::size_t batch_size);
  /// After each batch (draws at most ~10 times a second).
  void on_batch(const BatchEvent& event);
  /// After each epoch's validation: the epoch's summary line.
  void on_epoch(const EpochStats& stats);
  /// Clears a partly drawn bar (before printing an error or interruption message).
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  std::size_t total_epochs_, batch_size_;
  bool tty_;
  bool drawn_ = false;
  std::size_t current_epoch_ = static_cast<std::size_t>(-1);
  double loss_sum_ = 0.0;
  Clock::time_point epoch_start_, last_draw_;
};

}  // namespace mnist::cli
