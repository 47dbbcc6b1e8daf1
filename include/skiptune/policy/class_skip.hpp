// skiptune/policy/class_skip.hpp — ClassSkip: each batch sends only a subset of the class
// prompts through the (upper) text tower: every ground-truth class, the classes most similar to
// the batch's images under frozen zero-shot prototypes, and a random tail that thins out with
// rank (policy/class_selection.hpp has the algorithm, exactly as the reference).
//
// Runtime hyperparameters: ρ (top_ratio), max_top, λ (reserve_scale), and whether the keep mask
// over rank positions is drawn once per run (the reference) or redrawn for every batch.
#pragma once

#include <cstddef>
#include <algorithm>
#include <numeric>
#include <vector>

#include "skiptune/policy/class_selection.hpp"
#include "skiptune/policy/hooks.hpp"

namespace skiptune {

struct ClassSkip {
  using hooks = skiptune::hooks<hook::select_classes, hook::on_fit_begin>;

  policy::ClassSkipOptions options{};

  ClassSkip() = default;
  explicit ClassSkip(policy::ClassSkipOptions o) : options(o) {}
  ClassSkip(double top_ratio, std::size_t max_top, double reserve_scale) {
    options.top_ratio = top_ratio;
    options.max_top = max_top;
    options.reserve_scale = reserve_scale;
  }

  void on_fit_begin(const PolicyFitContext& context, Rng& rng) {
    options.validate();
    classes_ = context.classes;
    top_count_ = policy::class_skip_top_count(classes_, options);
    keeps_all_ = policy::class_skip_keeps_all(classes_, options);
    keep_probabilities_ = policy::class_skip_keep_probabilities(classes_, top_count_, options.reserve_scale);
    if (options.mask_draw == policy::ClassSkipOptions::MaskDraw::once_per_run)
      rank_mask_ = policy::draw_rank_mask(keep_probabilities_, rng);
  }

  template <class T>
  void select_classes(const ClassSelectionInput<T>& input, policy::ClassSelection& selection, Rng& rng) {
    require<ConfigError>(input.classes == classes_, "ClassSkip: prepared for ", classes_, " classes, got ",
                         input.classes, " (call on_fit_begin first)");
    if (keeps_all_) {
      selection.kept_classes.resize(input.classes);
      std::iota(selection.kept_classes.begin(), selection.kept_classes.end(), 0);
      selection.remapped_labels.assign(input.labels, input.labels + input.batch);
      return;
    }
    if (options.mask_draw == policy::ClassSkipOptions::MaskDraw::per_batch)
      rank_mask_ = policy::draw_rank_mask(keep_probabilities_, rng);
    selection = policy::select_classes(input.similarity, input.labels, input.batch, input.classes, rank_mask_,
                                       top_count_);
  }

  [[nodiscard]] std::size_t top_count() const noexcept { return top_count_; }
  [[nodiscard]] const std::vector<std::uint8_t>& rank_mask() const noexcept { return rank_mask_; }
  /// Number of classes the fixed mask keeps (the reference's m).
  [[nodiscard]] std::size_t kept_by_mask() const noexcept {
    if (keeps_all_) return classes_;
    return static_cast<std::size_t>(std::count(rank_mask_.begin(), rank_mask_.end(), std::uint8_t{1}));
  }

 private:
  std::size_t classes_ = 0;
  std::size_t top_count_ = 0;
  bool keeps_all_ = false;
  std::vector<double> keep_probabilities_;
  std::vector<std::uint8_t> rank_mask_;
};

}  // namespace skiptune
