// skiptune/train/schedule.hpp — learning-rate schedules stepped once per epoch, as the reference
// implementation (Dassl, used by CoOp and Skip Tuning) steps them.
//
// CosineWithConstantWarmup is torch.optim.lr_scheduler.CosineAnnealingLR(T_max = max_epochs,
// eta_min = 0) wrapped in Dassl's ConstantWarmupScheduler(warmup_epoch, cons_lr), with Dassl's
// default WARMUP_RECOUNT = True (the cosine is not fast-forwarded past the warm-up):
//   epoch e < warmup_epochs:  lr = warmup_lr                       (the same for every group)
//   epoch e ≥ warmup_epochs:  lr = base·(1 + cos(π·(e − warmup_epochs)/max_epochs))/2
// Two consequences worth knowing: the cosine still has period T_max = max_epochs although it
// starts late, so with a warm-up the last epoch's LR is not the cosine's minimum; and the
// warm-up LR is absolute — Dassl hands cons_lr to every parameter group unscaled — while the
// cosine scales each group's own base LR. Hence `learning_rates_at_epoch(epoch, group bases)`.
//
// Agreement with torch: torch steps the cosine recursively (lr_e from lr_{e−1}); this closed
// form computes the same expression torch's closed form does, in the same order. The two differ
// by at most 6.5e-16 relative over the reference schedules (tests/fixtures/optimizers.txt,
// measured by scripts/make_optimizer_fixture.py); the tests hold them to 2e-15 relative.
#pragma once

#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

#include "skiptune/core/errors.hpp"

namespace skiptune {

/// The same learning rate every epoch (each group keeps its own base LR).
struct ConstantLr {
  double learning_rate = 0;

  void validate() const {
    require<ConfigError>(learning_rate >= 0, "constant schedule: learning rate must be >= 0, got ", learning_rate);
  }
  [[nodiscard]] double lr_at_epoch(std::size_t /*epoch*/) const {
    validate();
    return learning_rate;
  }
  /// The LR of a group whose base LR is `group_base_lr`: that base, unchanged.
  [[nodiscard]] double lr_at_epoch(std::size_t /*epoch*/, double group_base_lr) const {
    require<ConfigError>(group_base_lr >= 0, "constant schedule: group base learning rate must be >= 0, got ",
                         group_base_lr);
    return group_base_lr;
  }
  /// One LR per group (e.g. an optimizer's base_learning_rates()).
  [[nodiscard]] std::vector<double> learning_rates_at_epoch(std::size_t epoch,
                                                            const std::vector<double>& group_base_lrs) const {
    std::vector<double> rates;
    rates.reserve(group_base_lrs.size());
    for (double base : group_base_lrs) rates.push_back(lr_at_epoch(epoch, base));
    return rates;
  }
};

/// Dassl's "cosine" schedule with a "constant" warm-up, stepped per epoch (see the file comment).
/// `epoch` is 0-based; epochs at or past max_epochs are an error (torch's cosine would rise again).
struct CosineWithConstantWarmup {
  double base_lr = 0;
  std::size_t max_epochs = 1;
  std::size_t warmup_epochs = 0;
  double warmup_lr = 0;

  void validate() const {
    require<ConfigError>(base_lr >= 0, "cosine schedule: base learning rate must be >= 0, got ", base_lr);
    require<ConfigError>(max_epochs >= 1, "cosine schedule: max_epochs must be >= 1, got ", max_epochs);
    require<ConfigError>(warmup_epochs <= max_epochs, "cosine schedule: warmup_epochs must be <= max_epochs (",
                         max_epochs, "), got ", warmup_epochs);
    require<ConfigError>(warmup_lr >= 0, "cosine schedule: warm-up learning rate must be >= 0, got ", warmup_lr);
  }

  /// The LR during `epoch` for a group at this schedule's base_lr.
  [[nodiscard]] double lr_at_epoch(std::size_t epoch) const { return lr_at_epoch(epoch, base_lr); }

  /// The LR during `epoch` for a group whose own base LR is `group_base_lr`: the warm-up LR as
  /// is, then that group's base on the shared cosine.
  [[nodiscard]] double lr_at_epoch(std::size_t epoch, double group_base_lr) const {
    validate();
    require<ConfigError>(group_base_lr >= 0, "cosine schedule: group base learning rate must be >= 0, got ",
                         group_base_lr);
    require<InputError>(epoch < max_epochs, "cosine schedule: epoch ", epoch, " is past the last epoch (",
                        max_epochs - 1, ")");
    if (epoch < warmup_epochs) return warmup_lr;
    const double cosine_epoch = static_cast<double>(epoch - warmup_epochs);
    // torch's closed form, same operation order: eta_min + (base − eta_min)·(1 + cos(π·e/T))/2, eta_min = 0.
    return group_base_lr * (1 + std::cos(std::numbers::pi * cosine_epoch / static_cast<double>(max_epochs))) / 2;
  }

  /// One LR per group (e.g. an optimizer's base_learning_rates()).
  [[nodiscard]] std::vector<double> learning_rates_at_epoch(std::size_t epoch,
                                                            const std::vector<double>& group_base_lrs) const {
    std::vector<double> rates;
    rates.reserve(group_base_lrs.size());
    for (double base : group_base_lrs) rates.push_back(lr_at_epoch(epoch, base));
    return rates;
  }
};

}  // namespace skiptune
