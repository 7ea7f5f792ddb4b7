#include "mnist/optim.hpp"

#include <cmath>

#include "kernels/parallel.hpp"
#include "mnist/error.hpp"

namespace mnist {

namespace {
// Below this many parameters one thread updates them all: a hand-over costs more than it saves.
constexpr std::size_t kParallelMinParameters = 16384;
}  // namespace

SGD::SGD(Model& model, SgdOptions options) : Optimizer(model), options_(options) {
  if (!(options_.lr >= 0)) throw UsageError("SGD: learning rate must be >= 0, got " + std::to_string(options_.lr));
  if (!(options_.momentum >= 0)) throw UsageError("SGD: momentum must be >= 0");
  if (!(options_.weight_decay >= 0)) throw UsageError("SGD: weight decay must be >= 0");
  if (options_.nesterov && (options_.momentum <= 0 || options_.dampening != 0))
    throw UsageError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening");
}

void SGD::step() { update(false); }

void SGD::step_and_zero_grad() { update(true); }

// Same operations, in the same order and in float, as torch.optim.SGD's single-tensor path, so that results agree
// to the last bit where the gradients do. With zero_grads, each gradient is cleared once it has been used.
void SGD::update(bool zero_grads) {
  std::span<float> p = model_->parameters();
  std::span<float> g = model_->gradients();
  const float lr = static_cast<float>(options_.lr), wd = static_cast<float>(options_.weight_decay);
  const float mom = static_cast<float>(options_.momentum), damp = 1.0f - static_cast<float>(options_.dampening);
  const bool first = momentum_buffer_.empty();
  const bool nesterov = options_.nesterov;
  if (mom != 0.0f && first) momentum_buffer_.assign(p.size(), 0.0f);
  float* buffer = momentum_buffer_.data();
  // Elementwise, so chunks (fixed by the size alone) change nothing but who computes what.
  const std::size_t chunks = p.size() >= kParallelMinParameters ? 2 : 1;
  auto chunk = [&](std::size_t c) {
    const kernels::Range r = kernels::chunk_range(p.size(), chunks, c, 16);
    if (wd == 0.0f && mom == 0.0f && zero_grads) {
      for (std::size_t i = r.begin; i < r.end; ++i) {  // the tutorial's case, vectorised
        p[i] += -lr * g[i];
        g[i] = 0.0f;
      }
      return;
    }
    if (wd == 0.0f && mom == 0.0f) {
      for (std::size_t i = r.begin; i < r.end; ++i) p[i] += -lr * g[i];
      return;
    }
    for (std::size_t i = r.begin; i < r.end; ++i) {
      float d = g[i];
      if (wd != 0.0f) d += wd * p[i];
      if (mom != 0.0f) {
        float& buf = buffer[i];
        buf = first ? d : buf * mom + damp * d;
        d = nesterov ? d + mom * buf : buf;
      }
      p[i] += -lr * d;
      if (zero_grads) g[i] = 0.0f;
    }
  };
  kernels::parallel_for_chunks(chunks, chunk);
  ++steps_;
}

std::vector<OptimizerState> SGD::state() { return {{"momentum_buffer", &momentum_buffer_}}; }

Adam::Adam(Model& model, AdamOptions options) : Optimizer(model), options_(options) {
  if (!(options_.lr >= 0)) throw UsageError("Adam: learning rate must be >= 0, got " + std::to_string(options_.lr));
  if (!(options_.beta1 >= 0 && options_.beta1 < 1) || !(options_.beta2 >= 0 && options_.beta2 < 1))
    throw UsageError("Adam: betas must be in [0, 1)");
  if (!(options_.eps >= 0)) throw UsageError("Adam: eps must be >= 0");
  if (!(options_.weight_decay >= 0)) throw UsageError("Adam: weight decay must be >= 0");
}

void Adam::step() {
  std::span<float> p = model_->parameters();
  std::span<const float> g = model_->gradients();
  if (exp_avg_.size() != p.size()) {
    exp_avg_.assign(p.size(), 0.0f);
    exp_avg_sq_.assign(p.size(), 0.0f);
  }
  ++steps_;
  const double t = static_cast<double>(steps_);
  // Scalars in double, as Python computes them; tensor arithmetic in float, as torch does.
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, t);
  const float step_size = static_cast<float>(options_.lr / bias_correction1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float b1 = static_cast<float>(options_.beta1), b2 = static_cast<float>(options_.beta2);
  const float one_b1 = static_cast<float>(1.0 - options_.beta1), one_b2 = static_cast<float>(1.0 - options_.beta2);
  const float eps = static_cast<float>(options_.eps), wd = static_cast<float>(options_.weight_decay);
  for (std::size_t i = 0; i < p.size(); ++i) {
    float d = g[i];
    if (wd != 0.0f) d += wd * p[i];
    exp_avg_[i] = exp_avg_[i] * b1 + one_b1 * d;
    exp_avg_sq_[i] = exp_avg_sq_[i] * b2 + one_b2 * d * d;
    const float denom = std::sqrt(exp_avg_sq_[i]) / bc2_sqrt + eps;
    p[i] += -step_size * (exp_avg_[i] / denom);
  }
}

std::vector<OptimizerState> Adam::state() { return {{"exp_avg", &exp_avg_}, {"exp_avg_sq", &exp_avg_sq_}}; }

}  // namespace mnist
