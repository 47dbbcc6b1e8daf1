// skiptune/train/optimizer.hpp — optimizers over parameter groups: Sgd (exactly torch.optim.SGD
// with momentum, dampening 0, coupled L2 weight decay, no Nesterov) and AdamW (exactly
// torch.optim.AdamW without amsgrad). A parameter group is a list of (name, value, gradient)
// with its own base learning rate, so the text and image towers can train at different rates
// (the paper's base-to-new recipe: text 2e-5, image 5e-6).
//
// Learning rates are absolute. Each group carries its own base LR (torch's per-group "lr" /
// "initial_lr"); every step takes one absolute LR per group, which the trainer gets from a
// schedule (train/schedule.hpp) applied to each group's base LR. Groups do not carry a scale of
// one shared LR because the reference schedule is not a shared factor: Dassl's constant warm-up
// gives *every* group the same absolute LR (1e-6) while the cosine that follows scales each
// group's own base LR — no single factor per group reproduces both.
//
// Memory: all optimizer state is allocated once, at construction, as zero-filled tensors under
// MemoryCategory::optimizer_state — one tensor per parameter for SGD with momentum > 0, none for
// momentum 0, two per parameter for AdamW (the memory planner counts exactly this). step()
// allocates nothing.
//
// Non-finite values: the optimizers do not look for NaN/Inf in gradients (that would cost a
// reduction over every gradient each step); a NaN gradient simply propagates into its parameter
// and state, as in torch. The guard is the trainer's loss check (ClipTrainer throws NumericError
// on a NaN/Inf loss before any update).
#pragma once

#include <cmath>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/errors.hpp"
#include "skiptune/core/memory.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/train/sgd.hpp"

namespace skiptune {

/// One trained parameter as an optimizer sees it. The optimizer does not own either tensor;
/// both must outlive it. `name` names the parameter's state in checkpoints.
template <class T>
struct ParameterRef {
  std::string name;
  Tensor<T>* value = nullptr;
  Tensor<T>* gradient = nullptr;
};

/// Parameters that share a learning rate (and, optionally, a weight decay).
template <class T>
struct ParameterGroup {
  std::string name;
  /// Absolute base LR of this group (what a schedule starts from); unset → the options' LR.
  std::optional<double> learning_rate;
  /// This group's weight decay (e.g. 0 for biases and LayerNorm); unset → the options' value.
  std::optional<double> weight_decay;
  std::vector<ParameterRef<T>> parameters;
};

/// torch.optim.AdamW's hyperparameters, with torch's defaults.
struct AdamWOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 1e-2;

  void validate() const {
    require<ConfigError>(learning_rate >= 0, "AdamW learning rate must be >= 0, got ", learning_rate);
    require<ConfigError>(beta1 >= 0 && beta1 < 1, "AdamW beta1 must be in [0, 1), got ", beta1);
    require<ConfigError>(beta2 >= 0 && beta2 < 1, "AdamW beta2 must be in [0, 1), got ", beta2);
    require<ConfigError>(epsilon > 0, "AdamW epsilon must be > 0, got ", epsilon);
    require<ConfigError>(weight_decay >= 0, "AdamW weight decay must be >= 0, got ", weight_decay);
  }
};

/// The scalars of one AdamW step for one group, computed in double as torch does (Python floats).
struct AdamWStepScalars {
  double decay_factor;        // 1 − lr·wd (decoupled weight decay)
  double beta1, beta2;
  double step_size;           // lr / (1 − β1^t)
  double bias_correction2_sqrt;  // sqrt(1 − β2^t)
  double epsilon;

  static AdamWStepScalars make(const AdamWOptions& options, double learning_rate, double weight_decay,
                               std::size_t step) {
    const double t = static_cast<double>(step);
    return {1 - learning_rate * weight_decay,
            options.beta1,
            options.beta2,
            learning_rate / (1 - std::pow(options.beta1, t)),
            std::sqrt(1 - std::pow(options.beta2, t)),
            options.epsilon};
  }
};

/// One AdamW update of `parameter`, in torch's operation order (so float64 agrees to the last
/// bits): p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g·g;
/// p ← p − step_size·m / (sqrt(v) / sqrt(1 − β2^t) + ε).
template <class T>
inline void adamw_update(cpu, Tensor<T>& parameter, const Tensor<T>& gradient, Tensor<T>& exp_avg,
                         Tensor<T>& exp_avg_sq, const AdamWStepScalars& s) {
  const Index n = parameter.numel();
  T* p = parameter.data();
  const T* g = gradient.data();
  T* m = exp_avg.data();
  T* v = exp_avg_sq.data();
  const T decay = static_cast<T>(s.decay_factor), b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2),
          one_minus_b1 = static_cast<T>(1 - s.beta1), one_minus_b2 = static_cast<T>(1 - s.beta2),
          negative_step = static_cast<T>(-s.step_size), bc2_sqrt = static_cast<T>(s.bias_correction2_sqrt),
          eps = static_cast<T>(s.epsilon);
#pragma omp parallel for schedule(static) if (n > skiptune::detail::parallel_grain)
  for (Index i = 0; i < n; ++i) {
    const T decayed = p[i] * decay;
    const T m_i = m[i] = m[i] * b1 + one_minus_b1 * g[i];
    const T v_i = v[i] = v[i] * b2 + one_minus_b2 * g[i] * g[i];
    const T denominator = std::sqrt(v_i) / bc2_sqrt + eps;
    p[i] = decayed + negative_step * m_i / denominator;
  }
}

namespace detail {

/// Checks shared by every optimizer: at least one group, valid per-group hyperparameters, every
/// parameter with a gradient of its own shape, no parameter (or name) twice.
template <class T>
inline void validate_parameter_groups(const std::vector<ParameterGroup<T>>& groups, std::string_view optimizer) {
  require<ConfigError>(!groups.empty(), optimizer, ": needs at least one parameter group");
  std::set<const Tensor<T>*> seen_values;
  std::set<std::string> seen_names;
  for (const auto& group : groups) {
    if (group.learning_rate)
      require<ConfigError>(*group.learning_rate >= 0, optimizer, ": group '", group.name,
                           "' learning rate must be >= 0, got ", *group.learning_rate);
    if (group.weight_decay)
      require<ConfigError>(*group.weight_decay >= 0, optimizer, ": group '", group.name,
                           "' weight decay must be >= 0, got ", *group.weight_decay);
    for (const auto& ref : group.parameters) {
      require<ConfigError>(ref.value != nullptr, optimizer, ": parameter '", ref.name, "' in group '", group.name,
                           "' has no value tensor");
      require<ConfigError>(ref.gradient != nullptr, optimizer, ": parameter '", ref.name, "' in group '",
                           group.name, "' has no gradient (frozen parameters do not belong in an optimizer)");
      expect_shape(*ref.gradient, ref.value->shape(), "gradient of " + ref.name);
      require<ConfigError>(seen_values.insert(ref.value).second, optimizer, ": parameter '", ref.name,
                           "' appears more than once in the parameter groups");
      require<ConfigError>(seen_names.insert(ref.name).second, optimizer, ": two parameters are named '", ref.name,
                           "' (names identify optimizer state in checkpoints)");
    }
  }
}

/// A group's value if it has one, the optimizer-wide default otherwise.
inline std::vector<double> resolve_per_group(const std::vector<std::optional<double>>& per_group, double fallback) {
  std::vector<double> resolved;
  resolved.reserve(per_group.size());
  for (const auto& value : per_group) resolved.push_back(value.value_or(fallback));
  return resolved;
}

/// Checks the per-step LR list handed to step(): one finite, non-negative LR per group.
template <class T>
inline void validate_step_learning_rates(const std::vector<ParameterGroup<T>>& groups,
                                         const std::vector<double>& learning_rate_per_group,
                                         std::string_view optimizer) {
  require<ConfigError>(learning_rate_per_group.size() == groups.size(), optimizer, ": step got ",
                       learning_rate_per_group.size(), " learning rates for ", groups.size(), " parameter groups");
  for (std::size_t k = 0; k < groups.size(); ++k)
    require<ConfigError>(learning_rate_per_group[k] >= 0 && std::isfinite(learning_rate_per_group[k]), optimizer,
                         ": learning rate of group '", groups[k].name, "' must be finite and >= 0, got ",
                         learning_rate_per_group[k]);
}

template <class T, class Member>
inline std::vector<std::optional<double>> collect(const std::vector<ParameterGroup<T>>& groups, Member member) {
  std::vector<std::optional<double>> values;
  for (const auto& group : groups) values.push_back(group.*member);
  return values;
}

}  // namespace detail

/// torch.optim.SGD (dampening 0, no Nesterov): g' = g + wd·p; v = μ·v + g'; p −= lr·v. The
/// momentum buffer starts at zero, which equals torch's "v = g' on the first step" bit for bit.
template <class T, class Backend = cpu>
class Sgd {
 public:
  Sgd(std::vector<ParameterGroup<T>> groups, MemoryMeter& meter, SgdOptions options = {})
      : groups_(std::move(groups)), options_(options) {
    options_.validate();
    detail::validate_parameter_groups(groups_, "SGD");
    base_learning_rates_ =
        detail::resolve_per_group(detail::collect(groups_, &ParameterGroup<T>::learning_rate), options_.learning_rate);
    weight_decays_ =
        detail::resolve_per_group(detail::collect(groups_, &ParameterGroup<T>::weight_decay), options_.weight_decay);
    // Momentum 0 keeps no state at all (the planner counts none).
    if (options_.momentum > 0)
      for (const auto& group : groups_)
        for (const auto& ref : group.parameters)
          momentum_buffers_.push_back(Tensor<T>::zeros(ref.value->shape(), meter, MemoryCategory::optimizer_state));
  }

  /// One update of every parameter, group k at the absolute `learning_rate_per_group[k]`.
  void step(const std::vector<double>& learning_rate_per_group) {
    detail::validate_step_learning_rates(groups_, learning_rate_per_group, "SGD");
    std::size_t buffer = 0;
    for (std::size_t k = 0; k < groups_.size(); ++k) {
      SgdOptions group_options = options_;
      group_options.weight_decay = weight_decays_[k];
      for (auto& ref : groups_[k].parameters)
        sgd_update(Backend{}, *ref.value, *ref.gradient,
                   momentum_buffers_.empty() ? no_momentum_ : momentum_buffers_[buffer++], group_options,
                   learning_rate_per_group[k]);
    }
    ++step_count_;
  }
  /// One update at each group's base learning rate (a constant schedule).
  void step() { step(base_learning_rates_); }

  /// f(name, state tensor) for every state tensor: "<parameter>.momentum_buffer" (torch's state
  /// key), in group order. Nothing when momentum is 0. For saving and restoring checkpoints.
  template <class F>
  void for_each_state_tensor(F&& f) {
    if (momentum_buffers_.empty()) return;
    std::size_t buffer = 0;
    for (const auto& group : groups_)
      for (const auto& ref : group.parameters) f(ref.name + ".momentum_buffer", momentum_buffers_[buffer++]);
  }

  /// Number of step() calls so far (restore it with set_step_count when loading a checkpoint).
  [[nodiscard]] std::size_t step_count() const noexcept { return step_count_; }
  void set_step_count(std::size_t steps) noexcept { step_count_ = steps; }

  [[nodiscard]] const std::vector<ParameterGroup<T>>& groups() const noexcept { return groups_; }
  /// Each group's base LR (its own, or the options' when it has none): what schedules start from.
  [[nodiscard]] const std::vector<double>& base_learning_rates() const noexcept { return base_learning_rates_; }
  [[nodiscard]] const SgdOptions& options() const noexcept { return options_; }

 private:
  std::vector<ParameterGroup<T>> groups_;
  SgdOptions options_;
  std::vector<double> base_learning_rates_;
  std::vector<double> weight_decays_;
  std::vector<Tensor<T>> momentum_buffers_;  // one per parameter, in group order; empty when μ = 0
  Tensor<T> no_momentum_;                    // sgd_update's "momentum 0" marker: an empty tensor
  std::size_t step_count_ = 0;
};

/// torch.optim.AdamW (amsgrad off): decoupled weight decay p ← p·(1 − lr·wd) first, then the
/// moments m, v with bias correction, ε added to sqrt(v̂). Every parameter steps every time, so
/// one step counter serves all of them (torch keeps one per parameter; they are equal here).
template <class T, class Backend = cpu>
class AdamW {
 public:
  AdamW(std::vector<ParameterGroup<T>> groups, MemoryMeter& meter, AdamWOptions options = {})
      : groups_(std::move(groups)), options_(options) {
    options_.validate();
    detail::validate_parameter_groups(groups_, "AdamW");
    base_learning_rates_ =
        detail::resolve_per_group(detail::collect(groups_, &ParameterGroup<T>::learning_rate), options_.learning_rate);
    weight_decays_ =
        detail::resolve_per_group(detail::collect(groups_, &ParameterGroup<T>::weight_decay), options_.weight_decay);
    for (const auto& group : groups_)
      for (const auto& ref : group.parameters) {
        exp_avg_.push_back(Tensor<T>::zeros(ref.value->shape(), meter, MemoryCategory::optimizer_state));
        exp_avg_sq_.push_back(Tensor<T>::zeros(ref.value->shape(), meter, MemoryCategory::optimizer_state));
      }
  }

  /// One update of every parameter, group k at the absolute `learning_rate_per_group[k]`.
  void step(const std::vector<double>& learning_rate_per_group) {
    detail::validate_step_learning_rates(groups_, learning_rate_per_group, "AdamW");
    ++step_count_;  // torch increments before use: the first step has t = 1
    std::size_t state = 0;
    for (std::size_t k = 0; k < groups_.size(); ++k) {
      const auto scalars =
          AdamWStepScalars::make(options_, learning_rate_per_group[k], weight_decays_[k], step_count_);
      for (auto& ref : groups_[k].parameters) {
        adamw_update(Backend{}, *ref.value, *ref.gradient, exp_avg_[state], exp_avg_sq_[state], scalars);
        ++state;
      }
    }
  }
  /// One update at each group's base learning rate (a constant schedule).
  void step() { step(base_learning_rates_); }

  /// f(name, state tensor) for every state tensor: "<parameter>.exp_avg" then
  /// "<parameter>.exp_avg_sq" (torch's state keys), in group order. Restore step_count too.
  template <class F>
  void for_each_state_tensor(F&& f) {
    std::size_t state = 0;
    for (const auto& group : groups_)
      for (const auto& ref : group.parameters) {
        f(ref.name + ".exp_avg", exp_avg_[state]);
        f(ref.name + ".exp_avg_sq", exp_avg_sq_[state]);
        ++state;
      }
  }

  /// Number of step() calls so far: the t of the bias correction. A restored checkpoint must
  /// restore it too, or the next steps are bias-corrected as if training had just begun.
  [[nodiscard]] std::size_t step_count() const noexcept { return step_count_; }
  void set_step_count(std::size_t steps) noexcept { step_count_ = steps; }

  [[nodiscard]] const std::vector<ParameterGroup<T>>& groups() const noexcept { return groups_; }
  /// Each group's base LR (its own, or the options' when it has none): what schedules start from.
  [[nodiscard]] const std::vector<double>& base_learning_rates() const noexcept { return base_learning_rates_; }
  [[nodiscard]] const AdamWOptions& options() const noexcept { return options_; }

 private:
  std::vector<ParameterGroup<T>> groups_;
  AdamWOptions options_;
  std::vector<double> base_learning_rates_;
  std::vector<double> weight_decays_;
  std::vector<Tensor<T>> exp_avg_, exp_avg_sq_;  // one each per parameter, in group order
  std::size_t step_count_ = 0;
};

}  // namespace skiptune
