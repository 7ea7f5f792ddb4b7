// Learning-rate schedules with torch.optim.lr_scheduler's formulas: StepLR, CosineAnnealingLR, OneCycleLR.
// Each gives the learning rate as a pure function of the epoch and the global batch index, so that a resumed run
// continues exactly (no state to save but the parameters). fit() applies one before every batch (FitOptions).
#pragma once
#include <cstddef>
#include <string>

namespace mnist {

/// A schedule and its parameters. Build one with step_lr(), cosine_lr() or one_cycle_lr() (they check the values).
struct LrSchedule {
  /// Which formula: constant, StepLR, CosineAnnealingLR or OneCycleLR.
  enum class Kind { none, step, cosine, onecycle };
  Kind kind = Kind::none;        ///< the formula in force
  double base_lr = 0.1;          ///< the lr at epoch 0 (none, step, cosine); max_lr for onecycle
  std::size_t step_size = 1;     ///< step: epochs between decays
  double gamma = 0.1;            ///< step: decay factor
  std::size_t t_max = 1;         ///< cosine: epochs of the half cosine
  double eta_min = 0.0;          ///< cosine: the lr at epoch t_max
  std::size_t total_steps = 1;   ///< onecycle: batches of the whole run
  double pct_start = 0.3;        ///< onecycle: part of the steps spent rising
  double div_factor = 25.0;      ///< onecycle: initial_lr = max_lr / div_factor
  double final_div_factor = 1e4; ///< onecycle: min_lr = initial_lr / final_div_factor

  /// The learning rate for the batch of global index `step` (epoch * batches per epoch + batch) in `epoch`:
  ///   none:     base_lr
  ///   step:     base_lr * gamma^floor(epoch / step_size)                                    (StepLR)
  ///   cosine:   eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2           (CosineAnnealingLR,
  ///             its closed form)
  ///   onecycle: OneCycleLR's get_lr at step_num = step (anneal_strategy 'cos', three_phase False): rising from
  ///             max_lr/div_factor to max_lr over steps 0..pct_start*total_steps-1, then falling to
  ///             max_lr/div_factor/final_div_factor at step total_steps-1, by end + (start-end)/2 * (cos(pi*pct)+1).
  /// Throws UsageError for a onecycle step >= total_steps (PyTorch raises there too).
  double lr(std::size_t epoch, std::size_t step) const;
  /// Whether the lr changes within an epoch (onecycle: PyTorch steps it after every batch).
  bool per_batch() const { return kind == Kind::onecycle; }
};

/// No schedule: the lr stays base_lr.
LrSchedule constant_lr(double base_lr);
/// StepLR(step_size, gamma); UsageError for step_size 0 or gamma <= 0 (or not finite).
LrSchedule step_lr(double base_lr, std::size_t step_size, double gamma);
/// CosineAnnealingLR(T_max, eta_min); UsageError for t_max 0 or eta_min < 0.
LrSchedule cosine_lr(double base_lr, std::size_t t_max, double eta_min = 0.0);
/// OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy='cos', div_factor, final_div_factor,
/// three_phase=False, cycle_momentum=False); UsageError for total_steps 0, pct_start outside (0, 1), or a divisor <= 0.
LrSchedule one_cycle_lr(double max_lr, std::size_t total_steps, double pct_start = 0.3, double div_factor = 25.0,
                        double final_div_factor = 1e4);

/// "none", "step", "cosine", "onecycle".
std::string schedule_name(LrSchedule::Kind kind);
/// The kind named so; UsageError listing the names otherwise.
LrSchedule::Kind parse_schedule_kind(const std::string& name);

}  // namespace mnist
