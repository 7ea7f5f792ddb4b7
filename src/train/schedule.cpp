#include "mnist/schedule.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "mnist/error.hpp"

namespace mnist {
namespace {
// torch.optim.lr_scheduler._annealing_cos, term for term (the same rounding).
double annealing_cos(double start, double end, double pct) {
  const double cos_out = std::cos(std::numbers::pi * pct) + 1.0;
  return end + (start - end) / 2.0 * cos_out;
}

void check_positive(double v, const char* what) {
  if (!(std::isfinite(v) && v > 0.0)) throw UsageError(std::string(what) + " must be a finite number > 0");
}
}  // namespace

double LrSchedule::lr(std::size_t epoch, std::size_t step) const {
  switch (kind) {
    case Kind::none:
      return base_lr;
    case Kind::step:
      return base_lr * std::pow(gamma, static_cast<double>(epoch / step_size));
    case Kind::cosine:
      return eta_min + (base_lr - eta_min) *
                           (1.0 + std::cos(std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max))) /
                           2.0;
    case Kind::onecycle: {
      if (step >= total_steps)
        throw UsageError("onecycle schedule: step " + std::to_string(step) + " is past its " +
                         std::to_string(total_steps) + " total steps");
      // OneCycleLR.__init__/get_lr: two phases, end steps as floats, the last phase taking whatever is left.
      const double initial_lr = base_lr / div_factor, min_lr = initial_lr / final_div_factor;
      const double end1 = pct_start * static_cast<double>(total_steps) - 1.0;
      const double end2 = static_cast<double>(total_steps) - 1.0;
      const double s = static_cast<double>(step);
      // (PyTorch divides by zero when pct_start * total_steps is exactly 1; the rise is then one step long.)
      if (s <= end1) return annealing_cos(initial_lr, base_lr, end1 > 0.0 ? s / end1 : 1.0);
      return annealing_cos(base_lr, min_lr, (s - end1) / (end2 - end1));
    }
  }
  return base_lr;
}

LrSchedule constant_lr(double base_lr) {
  LrSchedule s;
  s.base_lr = base_lr;
  return s;
}

LrSchedule step_lr(double base_lr, std::size_t step_size, double gamma) {
  if (step_size == 0) throw UsageError("step schedule: step_size must be at least 1");
  check_positive(gamma, "step schedule: gamma");
  LrSchedule s = constant_lr(base_lr);
  s.kind = LrSchedule::Kind::step;
  s.step_size = step_size;
  s.gamma = gamma;
  return s;
}

LrSchedule cosine_lr(double base_lr, std::size_t t_max, double eta_min) {
  if (t_max == 0) throw UsageError("cosine schedule: T_max must be at least 1");
  if (!(std::isfinite(eta_min) && eta_min >= 0.0)) throw UsageError("cosine schedule: eta_min must be >= 0");
  LrSchedule s = constant_lr(base_lr);
  s.kind = LrSchedule::Kind::cosine;
  s.t_max = t_max;
  s.eta_min = eta_min;
  return s;
}

LrSchedule one_cycle_lr(double max_lr, std::size_t total_steps, double pct_start, double div_factor,
                        double final_div_factor) {
  if (total_steps == 0) throw UsageError("onecycle schedule: total_steps must be at least 1");
  if (!(pct_start > 0.0 && pct_start < 1.0)) throw UsageError("onecycle schedule: pct_start must be in (0, 1)");
  check_positive(div_factor, "onecycle schedule: div_factor");
  check_positive(final_div_factor, "onecycle schedule: final_div_factor");
  LrSchedule s = constant_lr(max_lr);
  s.kind = LrSchedule::Kind::onecycle;
  s.total_steps = total_steps;
  s.pct_start = pct_start;
  s.div_factor = div_factor;
  s.final_div_factor = final_div_factor;
  return s;
}

std::string schedule_name(LrSchedule::Kind kind) {
  switch (kind) {
    case LrSchedule::Kind::step: return "step";
    case LrSchedule::Kind::cosine: return "cosine";
    case LrSchedule::Kind::onecycle: return "onecycle";
    case LrSchedule::Kind::none: break;
  }
  return "none";
}

LrSchedule::Kind parse_schedule_kind(const std::string& name) {
  for (LrSchedule::Kind k : {LrSchedule::Kind::none, LrSchedule::Kind::step, LrSchedule::Kind::cosine,
                             LrSchedule::Kind::onecycle})
    if (schedule_name(k) == name) return k;
  throw UsageError("unknown learning-rate schedule '" + name.substr(0, 40) + "'; give none, step, cosine or onecycle");
}

}  // namespace mnist
