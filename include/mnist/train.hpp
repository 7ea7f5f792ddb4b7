// The training loop of the tutorial: fit() and evaluate().
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "mnist/dist.hpp"
#include "mnist/loader.hpp"
#include "mnist/nn.hpp"
#include "mnist/optim.hpp"
#include "mnist/schedule.hpp"

namespace mnist {

/// What one pass over a loader measured.
struct EvalResult {
  double loss = 0.0;                  ///< mean cross-entropy over samples
  double accuracy = 0.0;              ///< correct / total
  double batch_mean_accuracy = 0.0;   ///< mean over batches of each batch's accuracy (the tutorial's val metric)
  std::size_t correct = 0;            ///< samples whose predicted class equals the label
  std::size_t total = 0;              ///< samples evaluated
  std::vector<std::int32_t> predictions;  ///< predicted class per sample, in loader order
  std::vector<std::int32_t> labels;       ///< true class per sample, in loader order (for a confusion matrix)
};

/// Per-epoch record of fit().
struct EpochStats {
  std::size_t epoch = 0;          ///< 0-based
  double train_loss = 0.0;        ///< mean of the epoch's batch losses (the tutorial's loss_history)
  double val_loss = 0.0;          ///< mean cross-entropy over validation samples
  double val_accuracy = 0.0;      ///< mean over validation batches of batch accuracy (the tutorial's val_history)
  std::size_t val_correct = 0;    ///< validation samples classified correctly
  std::size_t val_total = 0;      ///< validation samples; exact accuracy = val_correct / val_total
  double seconds = 0.0;           ///< wall time of the epoch, training and validation
};

/// What fit() returns: per-epoch statistics and every batch's loss.
struct History {
  std::vector<EpochStats> epochs;  ///< one per completed epoch, in order
  std::vector<float> step_losses;  ///< every batch's loss, in order
  bool stopped = false;            ///< true when a callback or the stop flag ended training early
  /// train_loss per epoch: the tutorial's loss_history, ready for plot_lines.
  std::vector<double> loss_history() const;
  /// val_accuracy per epoch: the tutorial's val_history (mean of batch accuracies).
  std::vector<double> val_history() const;
};

/// Passed to the per-batch callback after each optimizer step. Set stop = true to end training after this batch.
struct BatchEvent {
  std::size_t epoch = 0;        ///< 0-based epoch
  std::size_t batch = 0;        ///< 0-based batch within the epoch
  std::size_t num_batches = 0;  ///< batches in the epoch
  double loss = 0.0;            ///< this batch's mean cross-entropy (before the step)
  bool stop = false;            ///< set to true to stop training after this batch
};
/// Passed to the per-epoch callback after validation. Set stop = true to end training after this epoch.
struct EpochEvent {
  const EpochStats* stats = nullptr;  ///< the epoch just finished (valid during the callback only)
  std::size_t epochs = 0;  ///< total planned
  bool stop = false;       ///< set to true to stop training after this epoch
};

/// How long fit() trains and what it calls back (progress bars, early stopping, checkpoints).
struct FitOptions {
  std::size_t epochs = 10;      ///< number of epochs to run
  std::size_t first_epoch = 0;  ///< start at this epoch (for resuming: the loader's shuffle depends on the epoch)
  std::function<void(BatchEvent&)> on_batch;  ///< called after each optimizer step, when set
  std::function<void(EpochEvent&)> on_epoch;  ///< called after each epoch's validation, when set
  /// Polled once per batch (e.g. set by a SIGINT handler): when true, training stops after the current batch.
  const std::atomic<bool>* stop_flag = nullptr;
  /// When set, the optimizer's lr is set to schedule->lr(epoch, epoch * batches per epoch + batch) before every
  /// batch (see schedule.hpp): a pure function of the position, so that a run resumed at first_epoch continues
  /// exactly. Not owned; must outlive the call. nullptr: the optimizer's lr is left alone.
  const LrSchedule* schedule = nullptr;
  /// Threads for the run (calls set_num_threads; see nn.hpp): results are bit-identical for any count.
  /// 0 keeps the current setting. A step uses at most one per 1.5 M multiply-adds of its work
  /// (Model::step_multiply_adds): a smaller step is not worth sharing between cores.
  int threads = 0;
  /// Data parallelism (see dist.hpp): when set and of more than one rank, every rank calls fit() with the same
  /// model, loaders and options; each computes the gradient of its shard of every batch (dist::shard_of), scaled so
  /// that the sum over ranks is the whole batch's mean gradient, the sum is allreduced and every rank takes the same
  /// step. Losses and validation are reduced the same way, so every rank gets the same History; the batch callback
  /// runs on every rank and must decide `stop` the same everywhere (stop_flag may differ: it is agreed each batch).
  /// nullptr: one process.
  dist::Communicator* comm = nullptr;
};

/// Trains model with optimizer over train for options.epochs epochs, evaluating on val after each epoch
/// (softmax cross-entropy loss, accuracy metric). When stopped early, the last, partial epoch is not recorded.
History fit(Model& model, DataLoader& train, DataLoader& val, Optimizer& optimizer, const FitOptions& options = {});
/// The tutorial's signature: plain SGD at lr.
History fit(std::size_t epochs, double lr, Model& model, DataLoader& train, DataLoader& val);

/// Loss, accuracy and predictions of model over one pass of loader (in its epoch-0 order).
EvalResult evaluate(Model& model, DataLoader& loader);
/// The same, each rank of comm evaluating its shard of every batch: loss, accuracies and counts are reduced (every
/// rank gets them); predictions and labels stay empty when comm has more than one rank.
EvalResult evaluate(Model& model, DataLoader& loader, dist::Communicator& comm);

}  // namespace mnist
