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
  std::string name;
  std::vector<float>* values;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// One update of model.parameters() from model.gradients() (the gradients are not cleared).
  virtual void step() = 0;
  void zero_grad() { model_->zero_grad(); }
  /// "sgd" / "adam".
  virtual std::string name() const = 0;
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  /// Number of step() calls so far.
  std::uint64_t steps() const { return steps_; }
  void set_steps(std::uint64_t steps) { steps_ = steps; }
  /// The state buffers, to save and restore (restore: resize and fill them, then set_steps()).
  virtual std::vector<OptimizerState> state() = 0;

 protected:
  explicit Optimizer(Model& model) : model_(&model) {}
  Model* model_;
  std::uint64_t steps_ = 0;
};

struct SgdOptions {
  double lr = 0.1;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

/// torch.optim.SGD: g = grad + weight_decay·p; with momentum, buf = g on the first step, else
/// buf = momentum·buf + (1 − dampening)·g; g = nesterov ? g + momentum·buf : buf; p −= lr·g.
/// Throws UsageError for lr < 0, momentum < 0, weight_decay < 0, or nesterov without momentum / with dampening.
class SGD : public Optimizer {
 public:
  SGD(Model& model, SgdOptions options);
  void step() override;
  std::string name() const override { return "sgd"; }
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override { options_.lr = lr; }
  std::vector<OptimizerState> state() override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
  std::vector<float> momentum_buffer_;  // empty until the first step with momentum
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

/// torch.optim.Adam (amsgrad=False): g = grad + weight_decay·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
/// p −= lr/(1−β1ᵗ) · m / (sqrt(v)/sqrt(1−β2ᵗ) + eps).
class Adam : public Optimizer {
 public:
  Adam(Model& model, AdamOptions options);
  void step() override;
  std::string name() const override { return "adam"; }
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override { options_.lr = lr; }
  std::vector<OptimizerState> state() override;
  const AdamOptions& options() const { return options_; }

 private:
  AdamOptions options_;
  std::vector<float> exp_avg_, exp_avg_sq_;
};

}  // namespace mnist
