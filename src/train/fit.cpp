#include <chrono>

#include "kernels/parallel.hpp"
#include "kernels/softmax_cross_entropy.hpp"

#include "mnist/dist.hpp"
#include "mnist/loss.hpp"
#include "mnist/train.hpp"
#include "nn/eval_scope.hpp"

namespace mnist {

std::vector<double> History::loss_history() const {
  std::vector<double> out;
  for (const EpochStats& e : epochs) out.push_back(e.train_loss);
  return out;
}

std::vector<double> History::val_history() const {
  std::vector<double> out;
  for (const EpochStats& e : epochs) out.push_back(e.val_accuracy);
  return out;
}

namespace {
// Loss sum and correct count of n rows (x [n, dim], labels y), each row's prediction into pred. Inferred in pieces
// of the model's inference chunk: a conv net's activations for a 1000-image batch take hundreds of MB.
struct Scored {
  double loss_sum = 0.0;
  std::size_t correct = 0;
};
Scored score_rows(Model& model, std::span<const float> x, std::span<const std::int32_t> y, std::size_t n,
                  std::size_t dim, std::vector<float>& probs, std::span<std::int32_t> pred) {
  const std::size_t C = model.num_classes(), chunk = model.inference_chunk();
  Scored out;
  for (std::size_t s = 0; s < n; s += chunk) {
    const std::size_t m = std::min(chunk, n - s);
    const std::span<const float> logits = model.infer(x.subspan(s * dim, m * dim), m);
    probs.resize(std::max(probs.size(), m * C));
    out.loss_sum += cross_entropy(probs, logits, y.subspan(s, m), m, C) * static_cast<double>(m);
    kernels::argmax_rows(pred.subspan(s, m), logits, m, C);
    for (std::size_t i = 0; i < m; ++i) out.correct += pred[s + i] == y[s + i];
  }
  return out;
}
}  // namespace

EvalResult evaluate(Model& model, DataLoader& loader) {
  const nn::EvalScope scope(model);
  EvalResult r;
  r.predictions.reserve(loader.size());
  r.labels.reserve(loader.size());
  std::vector<float> probs;
  std::vector<std::int32_t> pred(loader.batch_size());
  double loss_sum = 0.0, batch_acc_sum = 0.0;
  std::size_t batches = 0;
  Batch b;
  loader.start_epoch(0);
  while (loader.next(b)) {
    const Scored scored = score_rows(model, b.x, b.y, b.size, b.dim, probs, pred);
    loss_sum += scored.loss_sum;
    const std::span<const std::int32_t> p(pred.data(), b.size);
    const std::size_t correct = scored.correct;
    batch_acc_sum += static_cast<double>(correct) / static_cast<double>(b.size);
    r.correct += correct;
    r.total += b.size;
    r.predictions.insert(r.predictions.end(), p.begin(), p.end());
    r.labels.insert(r.labels.end(), b.y.begin(), b.y.end());
    ++batches;
  }
  if (r.total > 0) {
    r.loss = loss_sum / static_cast<double>(r.total);
    r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.total);
    r.batch_mean_accuracy = batch_acc_sum / static_cast<double>(batches);
  }
  return r;
}

EvalResult evaluate(Model& model, DataLoader& loader, dist::Communicator& comm) {
  if (comm.size() == 1) return evaluate(model, loader);
  const nn::EvalScope scope(model);
  // Per batch, this rank's share of [correct, loss sum]; summed over ranks in one allreduce, then over batches in
  // batch order, so that every rank computes the same figures (and the counts are exact: whole numbers in doubles).
  std::vector<double> sums(2 * loader.num_batches(), 0.0);
  std::vector<double> batch_sizes;
  std::vector<float> probs;
  std::vector<std::int32_t> pred(loader.batch_size());
  Batch b;
  loader.start_epoch(0);
  for (std::size_t i = 0; loader.next(b); ++i) {
    batch_sizes.push_back(static_cast<double>(b.size));
    const dist::Shard s = dist::shard_of(b.size, comm.rank(), comm.size());
    if (s.count == 0) continue;
    const Scored scored = score_rows(model, b.x.subspan(s.begin * b.dim, s.count * b.dim),
                                     b.y.subspan(s.begin, s.count), s.count, b.dim, probs, pred);
    sums[2 * i + 1] = scored.loss_sum;
    sums[2 * i] = static_cast<double>(scored.correct);
  }
  comm.allreduce_sum(sums);
  EvalResult r;
  double loss_sum = 0.0, batch_acc_sum = 0.0;
  for (std::size_t i = 0; i < batch_sizes.size(); ++i) {
    r.correct += static_cast<std::size_t>(sums[2 * i]);
    r.total += static_cast<std::size_t>(batch_sizes[i]);
    loss_sum += sums[2 * i + 1];
    batch_acc_sum += sums[2 * i] / batch_sizes[i];
  }
  if (r.total > 0) {
    r.loss = loss_sum / static_cast<double>(r.total);
    r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.total);
    r.batch_mean_accuracy = batch_acc_sum / static_cast<double>(batch_sizes.size());
  }
  return r;
}

namespace {
// One data-parallel step's gradient: this rank's shard of batch b, its dlogits scaled by shard / batch so that the
// allreduced sum of the ranks' gradients is the whole batch's mean gradient. Returns the mean loss over the whole
// batch and whether any rank's stop flag was set (both agreed by every rank). A rank whose shard of a short batch is
// empty runs forward and backward all the same, on no rows: BatchNorm's statistics are summed over every rank, and
// Dropout's step counter stays the ranks'.
double shard_step(Model& model, const Batch& b, std::span<float> grad, dist::Communicator& comm, bool stop_here,
                  bool& stop_anywhere) {
  const std::size_t C = model.num_classes();
  const dist::Shard s = dist::shard_of(b.size, comm.rank(), comm.size());
  double local[2] = {0.0, stop_here ? 1.0 : 0.0};  // [loss sum over the shard, stop requested]
  const std::span<const float> logits =
      model.forward(b.x.subspan(s.begin * b.dim, s.count * b.dim), s.count, s.begin);
  const std::span<float> dlogits = grad.first(s.count * C);
  if (s.count > 0) {
    const double loss = cross_entropy_with_grad(dlogits, logits, b.y.subspan(s.begin, s.count), s.count, C);
    const float scale = static_cast<float>(s.count) / static_cast<float>(b.size);
    for (float& g : dlogits) g *= scale;
    local[0] = loss * static_cast<double>(s.count);
  }
  model.backward(dlogits);
  comm.allreduce_sum(model.gradients());
  comm.allreduce_sum(std::span<double>(local, 2));
  stop_anywhere = local[1] > 0.0;
  return local[0] / static_cast<double>(b.size);
}

// While it lives, the model's BatchNorm layers sum their statistics over comm's ranks (one process: nothing to do);
// the model's own setting comes back after.
class CrossProcessStatistics {
 public:
  CrossProcessStatistics(Model& model, dist::Communicator& comm) : model_(model), before_(model.cross_process_sum()) {
    if (comm.size() > 1) model.set_cross_process_sum([&comm](std::span<double> v) { comm.allreduce_sum(v); });
  }
  ~CrossProcessStatistics() { model_.set_cross_process_sum(before_); }
  CrossProcessStatistics(const CrossProcessStatistics&) = delete;
  CrossProcessStatistics& operator=(const CrossProcessStatistics&) = delete;

 private:
  Model& model_;
  std::function<void(std::span<double>)> before_;
};
}  // namespace

History fit(Model& model, DataLoader& train, DataLoader& val, Optimizer& optimizer, const FitOptions& options) {
  using Clock = std::chrono::steady_clock;
  if (options.threads > 0) set_num_threads(options.threads);
  dist::SingleProcess single;
  dist::Communicator& comm = options.comm ? *options.comm : single;
  const bool parallel = comm.size() > 1;
  const CrossProcessStatistics synchronised_batchnorm(model, comm);
  // A step too small to share between cores runs on fewer threads (the same chunks, so the same bits).
  const std::size_t share = dist::shard_of(train.batch_size(), comm.rank(), comm.size()).count;
  const kernels::ThreadLimit step_threads(kernels::threads_for_work(model.step_multiply_adds(share)));
  const std::size_t C = model.num_classes();
  // The loop's only buffer, sized once: the gradient of the logits.
  std::vector<float> grad(train.batch_size() * C);
  History h;
  h.step_losses.reserve(options.epochs * train.num_batches());
  for (std::size_t epoch = options.first_epoch; epoch < options.first_epoch + options.epochs; ++epoch) {
    const auto start = Clock::now();
    model.train();
    train.start_epoch(epoch);
    double loss_sum = 0.0;
    std::size_t batches = 0;
    Batch b;
    while (train.next(b)) {
      if (options.schedule) optimizer.set_lr(options.schedule->lr(epoch, epoch * train.num_batches() + batches));
      double loss = 0.0;
      bool stop_anywhere = false;
      if (parallel) {
        loss = shard_step(model, b, grad, comm, options.stop_flag && options.stop_flag->load(), stop_anywhere);
      } else {
        const std::span<const float> logits = model.forward(b.x, b.size);
        const std::span<float> dlogits(grad.data(), b.size * C);
        loss = cross_entropy_with_grad(dlogits, logits, b.y, b.size, C);
        model.backward(dlogits);
      }
      optimizer.step_and_zero_grad();
      h.step_losses.push_back(static_cast<float>(loss));
      loss_sum += loss;
      ++batches;
      BatchEvent ev{epoch, batches - 1, train.num_batches(), loss, false};
      if (options.on_batch) options.on_batch(ev);
      if (ev.stop || stop_anywhere || (!parallel && options.stop_flag && options.stop_flag->load())) {
        h.stopped = true;
        return h;
      }
    }
    // The ranks must hold one model. BatchNorm's running statistics come from the same whole-batch sums on every
    // rank; rank 0's are made everyone's all the same, so that validation and the checkpoint agree to the bit even
    // if an allreduce rounded differently on some rank.
    dist::synchronise_model(comm, model, model.buffers());
    const EvalResult v = evaluate(model, val, comm);
    EpochStats s;
    s.epoch = epoch;
    s.train_loss = batches ? loss_sum / static_cast<double>(batches) : 0.0;
    s.val_loss = v.loss;
    s.val_accuracy = v.batch_mean_accuracy;
    s.val_correct = v.correct;
    s.val_total = v.total;
    s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    h.epochs.push_back(s);
    EpochEvent ev{&h.epochs.back(), options.first_epoch + options.epochs, false};
    if (options.on_epoch) options.on_epoch(ev);
    if (ev.stop) {
      h.stopped = epoch + 1 < options.first_epoch + options.epochs;
      return h;
    }
  }
  return h;
}

History fit(std::size_t epochs, double lr, Model& model, DataLoader& train, DataLoader& val) {
  SGD sgd(model, SgdOptions{.lr = lr});
  FitOptions o;
  o.epochs = epochs;
  return fit(model, train, val, sgd, o);
}

}  // namespace mnist
