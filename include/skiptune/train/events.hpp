// skiptune/train/events.hpp — what `FineTuner::fit(dataset, options, observers...)` tells its
// observers. Plain structs, filled by the trainer and passed by const reference to the optional
// hooks listed in train/observers.hpp: on_fit_begin(FitBegin), on_step_end(StepEnd),
// on_epoch_end(EpochEnd), on_fit_end(FitEnd).
//
// Conventions shared by every event:
// * counters (epoch, step_in_epoch, global_step) are 0-based, as in the loop that produces them;
//   totals (epochs, steps_per_epoch) are counts. Human-facing text (ProgressBar, stop reasons)
//   adds 1 when it prints "epoch k/K".
// * seconds are wall-clock seconds measured by the trainer.
// * bytes are MemoryMeter bytes (core/memory.hpp): exact, by allocation, not process RSS.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace skiptune {

/// Sent once, before the first step.
struct FitBegin {
  std::size_t epochs = 0;              // planned number of epochs
  std::size_t steps_per_epoch = 0;     // optimizer steps in one epoch
  std::size_t trained_parameters = 0;  // scalars that receive gradients (frozen ones excluded)
  std::size_t planned_peak_bytes = 0;  // the memory planner's prediction for one step
  std::string description;             // e.g. "SkipTuning(omega=6, rho=0.5) on 83 classes"
};

/// Sent after every optimizer step.
struct StepEnd {
  std::size_t epoch = 0;            // 0-based
  std::size_t epochs = 0;           // planned number of epochs
  std::size_t step_in_epoch = 0;    // 0-based
  std::size_t steps_per_epoch = 0;  // steps in this epoch
  std::size_t global_step = 0;      // 0-based, counts every step of the fit
  double loss = 0;                  // this step's training loss
  double learning_rate = 0;         // the rate this step used (after any schedule)
  double seconds = 0;               // wall time of this step
  std::size_t peak_bytes = 0;       // MemoryMeter peak during this step
  std::size_t kept_classes = 0;     // classes sent through the text tower this step (ClassSkip's m)
};

/// Sent after the last step of each epoch (and after the evaluation, if the trainer ran one).
struct EpochEnd {
  std::size_t epoch = 0;           // 0-based
  std::size_t epochs = 0;          // planned number of epochs
  double mean_loss = 0;            // mean of the epoch's step losses
  double seconds = 0;              // wall time of the epoch, evaluation included
  std::optional<double> accuracy;  // fraction in [0, 1]; empty when the trainer did not evaluate
  std::size_t peak_bytes = 0;      // MemoryMeter peak over the epoch
};

/// Sent once, after the last epoch or after a stop was requested.
struct FitEnd {
  std::size_t epochs_run = 0;  // epochs completed
  double seconds = 0;          // wall time of the whole fit
  bool stopped_early = false;  // an observer asked to stop before the planned epochs
  std::string stop_reason;     // why (e.g. EarlyStop::stop_reason()); empty if not stopped early
};

}  // namespace skiptune
