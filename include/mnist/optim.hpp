// Optimizers over a model's flat parameter buffer, with exactly torch.optim's update rules.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mnist/nn.hpp"

namespace mnist {

/// A named piece of optimizer state (for checkpoints): "momentum_buffer", "exp_avg", "exp_avg_sq", "step".
/// Each float buffer mirrors the model's flat parameter buffer.
struct OptimizerState {
  std::string name;            ///< PyTorch's state key: "momentum_buffer", "exp_avg", "exp_avg_sq" or "step"
  std::vector<float>* values;  ///< the optimizer's own buffer (not owned; valid while the optimizer lives)
};

/// The interface fit() drives: one update of a model's parameters per step(), PyTorch's optimizer API.
/// An optimizer keeps a pointer to its model: the model must outlive it.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// One update of model.parameters() from model.gradients() (the gradients are not cleared).
  virtual void step() = 0;
  /// Clears the model's gradients (optimizer.zero_grad() in PyTorch).
  void zero_grad() { model_->zero_grad(); }
  /// step() then zero_grad(), as a training loop does after every backward; the same result, and an optimizer
  /// may do both in one pass over the gradients (SGD does).
  virtual void step_and_zero_grad() {
    step();
    zero_grad();
  }
  /// "sgd" / "adam".
  virtual std::string name() const = 0;
  /// The current learning rate.
  virtual double lr() const = 0;
  /// Changes the learning rate for the following steps (e.g. a schedule); the state is kept.
  virtual void set_lr(double lr) = 0;
  /// Number of step() calls so far.
  std::uint64_t steps() const { return steps_; }
  /// Sets the step count, when restoring a checkpoint (Adam's bias correction depends on it).
  void set_steps(std::uint64_t steps) { steps_ = steps; }
  /// The state buffers, to save and restore (restore: resize and fill them, then set_steps()).
  virtual std::vector<OptimizerState> state() = 0;

 protected:
  /// Binds the optimizer to model (kept by pointer: the model must outlive the optimizer).
  explicit Optimizer(Model& model) : model_(&model) {}
  Model* model_;            ///< the model whose parameters step() updates (not owned)
  std::uint64_t steps_ = 0; ///< step() calls so far (t in Adam's bias correction)
};

/// torch.optim.SGD's arguments (the tutorial uses lr = 0.1 and nothing else).
struct SgdOptions {
  double lr = 0.1;            ///< learning rate, >= 0
  double momentum = 0.0;      ///< momentum factor, >= 0 (0: plain SGD, no buffer)
  double dampening = 0.0;     ///< fraction of the gradient left out of the momentum buffer
  double weight_decay = 0.0;  ///< L2 penalty, >= 0, added to the gradient as weight_decay * p
  bool nesterov = false;      ///< Nesterov momentum (needs momentum > 0 and dampening 0)
};

/// torch.optim.SGD: g = grad + weight_decay·p; with momentum, buf = g on the first step, else
/// buf = momentum·buf + (1 − dampening)·g; g = nesterov ? g + momentum·buf : buf; p −= lr·g.
/// Throws UsageError for lr < 0, momentum < 0, weight_decay < 0, or nesterov without momentum / with dampening.
class SGD : public Optimizer {
 public:
  /// An SGD optimizer over model (which must outlive it); throws UsageError for invalid options (see above).
  SGD(Model& model, SgdOptions options);
  void step() override;
  /// Updates each parameter and clears its gradient in the same pass (one pass and one hand-off between threads
  /// fewer per training step).
  void step_and_zero_grad() override;
  std::string name() const override { return "sgd"; }
  /// The current learning rate (options().lr).
  double lr() const override { return options_.lr; }
  /// Changes the learning rate; the momentum buffer is kept.
  void set_lr(double lr) override { options_.lr = lr; }
  std::vector<OptimizerState> state() override;
  /// The options in force (lr reflects set_lr).
  const SgdOptions& options() const { return options_; }

 private:
  void update(bool zero_grads);
  SgdOptions options_;
  std::vector<float> momentum_buffer_;  // empty until the first step with momentum
};

/// torch.optim.Adam's arguments, with its defaults.
struct AdamOptions {
  double lr = 1e-3;           ///< learning rate, >= 0
  double beta1 = 0.9;         ///< decay of the gradient's running mean, in [0, 1)
  double beta2 = 0.999;       ///< decay of the squared gradient's running mean, in [0, 1)
  double eps = 1e-8;          ///< added to the denominator for stability, >= 0
  double weight_decay = 0.0;  ///< L2 penalty, >= 0, added to the gradient as weight_decay * p
};

/// torch.optim.Adam (amsgrad=False): g = grad + weight_decay·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
/// p −= lr/(1−β1ᵗ) · m / (sqrt(v)/sqrt(1−β2ᵗ) + eps).
class Adam : public Optimizer {
 public:
  /// An Adam optimizer over model (which must outlive it); throws UsageError for a negative lr, eps or
  /// weight_decay, or betas outside [0, 1).
  Adam(Model& model, AdamOptions options);
  void step() override;
  std::string name() const override { return "adam"; }
  /// The current learning rate (options().lr).
  double lr() const override { return options_.lr; }
  /// Changes the learning rate; the moment estimates and step count are kept.
  void set_lr(double lr) override { options_.lr = lr; }
  std::vector<OptimizerState> state() override;
  /// The options in force (lr reflects set_lr).
  const AdamOptions& options() const { return options_; }

 private:
  AdamOptions options_;
  std::vector<float> exp_avg_, exp_avg_sq_;
};

}  // namespace mnist
