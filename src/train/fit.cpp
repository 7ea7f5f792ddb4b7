#include <chrono>

#include "kernels/softmax_cross_entropy.hpp"

#include "mnist/loss.hpp"
#include "mnist/train.hpp"

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

EvalResult evaluate(Model& model, DataLoader& loader) {
  // Eval mode (BatchNorm's running statistics, no dropout) for the pass; the caller's mode restored after.
  struct EvalScope {
    Model& m;
    bool was_training = m.training();
    ~EvalScope() { m.train(was_training); }
  } scope{model};
  model.eval();
  const std::size_t C = model.num_classes();
  EvalResult r;
  r.predictions.reserve(loader.size());
  r.labels.reserve(loader.size());
  std::vector<float> probs(loader.batch_size() * C);
  std::vector<std::int32_t> pred(loader.batch_size());
  double loss_sum = 0.0, batch_acc_sum = 0.0;
  std::size_t batches = 0;
  Batch b;
  loader.start_epoch(0);
  while (loader.next(b)) {
    const std::span<const float> logits = model.forward(b.x, b.size);
    loss_sum += cross_entropy(probs, logits, b.y, b.size, C) * static_cast<double>(b.size);
    kernels::argmax_rows(pred, logits, b.size, C);
    const std::span<const std::int32_t> p(pred.data(), b.size);
    std::size_t correct = 0;
    for (std::size_t n = 0; n < b.size; ++n) correct += p[n] == b.y[n];
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

History fit(Model& model, DataLoader& train, DataLoader& val, Optimizer& optimizer, const FitOptions& options) {
  using Clock = std::chrono::steady_clock;
  if (options.threads > 0) set_num_threads(options.threads);
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
      const std::span<const float> logits = model.forward(b.x, b.size);
      const std::span<float> dlogits(grad.data(), b.size * C);
      const double loss = cross_entropy_with_grad(dlogits, logits, b.y, b.size, C);
      model.backward(dlogits);
      optimizer.step_and_zero_grad();
      h.step_losses.push_back(static_cast<float>(loss));
      loss_sum += loss;
      ++batches;
      BatchEvent ev{epoch, batches - 1, train.num_batches(), loss, false};
      if (options.on_batch) options.on_batch(ev);
      if (ev.stop || (options.stop_flag && options.stop_flag->load())) {
        h.stopped = true;
        return h;
      }
    }
    const EvalResult v = evaluate(model, val);
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
