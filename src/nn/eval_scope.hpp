// Eval mode (BatchNorm's running statistics, no dropout) for a scope: predictions and evaluation passes; the
// model's mode on entry is restored on exit, also when the scope is left by an exception.
#pragma once
#include "mnist/nn.hpp"

namespace mnist::nn {

class EvalScope {
 public:
  explicit EvalScope(Model& model) : model_(model), was_training_(model.training()) { model_.eval(); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;
  ~EvalScope() { model_.train(was_training_); }

 private:
  Model& model_;
  bool was_training_;
};

}  // namespace mnist::nn
