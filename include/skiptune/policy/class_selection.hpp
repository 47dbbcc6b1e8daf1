// skiptune/policy/class_selection.hpp — ClassSkip's choice of class prompts for one batch, as
// pure functions: how many classes are always kept (K), the keep probability of every rank,
// the random keep mask over ranks, and the selection itself (kept classes + remapped labels).
//
// It follows the reference `select_classes` of Skip Tuning (Wu et al., CVPR 2025; see
// docs/class_skip.md and shared/docs/SKIP_TUNING.md, "CSkip exactly") step by step:
//   1. K = ceil(ρ·C) if ρ ≤ 1 else ceil(min(ρ, C)); K = min(K, max_top). ρ == 1 or K == C: keep all.
//   2. S = normalize(image features) · prototypesᵀ                        [B, C] (the caller's input)
//   3. S[i, y_i] = 1e4: ground-truth classes go to the top.
//   4. score[c] = max_i S[i, c]; sort classes by score, descending → ranks 0..C−1.
//   5. keep probability by rank: 1 below K; over the C−K tail ranks x = linspace(0, 5, C−K),
//      p(x) = exp(−x/λ)/λ, min-max normalised (first tail rank 1, last 0).
//   6. Bernoulli keep mask over rank positions (drawn once per run in the reference).
//   7. class at rank r is kept iff mask[r]; kept classes re-sorted ascending; labels remapped.
//
// Decisions where the reference is silent, unstable or wrong (each one tested in
// tests/test_class_selection.cpp against scripts/make_class_selection_cases.py):
//   * Ties in score (step 4): the lower class index ranks first. The reference's descending
//     torch sort is not stable, so its tie order is unspecified; ours is deterministic.
//   * C − K == 1 (step 5): the reference divides 0 by 0 (NaN). The single tail rank is "the first
//     tail rank" and gets probability 1, as the first tail rank always does when C − K ≥ 2.
//   * More distinct ground-truth classes in a batch than K (step 7): the reference forces all
//     of them to 1e4, so some land in the tail; if the mask drops one, the reference silently
//     maps its label to position 0 (a wrong label). Here every ground-truth class of the batch is
//     always kept, whatever the mask says: for cosine similarities (|S| ≤ 1 < 1e4) this is the
//     reference with K replaced by max(K, distinct labels). This is the one place where the
//     selection differs from the reference, and only where the reference mislabels.
//   * The mask over ranks (step 6): positions whose probability is exactly 1 (ranks < K and the
//     first tail rank) or exactly 0 (the last tail rank) are decided without consuming
//     randomness; every other position consumes one rng.bernoulli(p), in rank order. Whether the
//     mask is drawn once per run (reference) or per batch is the caller's choice
//     (ClassSkipOptions::mask_draw); these functions only draw when asked.
//   * Step 5 is evaluated as (e^{−x/λ} − e^{−5/λ}) / (1 − e^{−5/λ}) with expm1: algebraically the
//     reference's min-max of e^{−x/λ}/λ (the 1/λ cancels), equal to it within ~1e-15 for sane λ,
//     and free of 0/0 and overflow for every finite λ > 0 (the reference gives NaN for huge λ).
//   * K itself is computed with the reference's double arithmetic, quirks included:
//     ρ = 0.14, C = 50 gives ρ·C = 7.000000000000001 and K = 8.
//
// Cost of select_classes: O(B·C + C log C) time, three O(C) scratch buffers; no O(C²) step
// (C = 1000 in the cross-dataset setting).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"

namespace skiptune::policy {

/// ClassSkip's hyperparameters (reference defaults: TOP_RATIO 0.5, MAX_TOP 50, RESERVE_SCALE 0.3).
struct ClassSkipOptions {
  /// ρ: fraction of the classes always kept (ρ ≤ 1), or their count (ρ > 1, capped at C).
  double top_ratio = 0.5;
  /// Upper bound on K, the number of always-kept ranks.
  std::size_t max_top = 50;
  /// λ: scale of the exponential that thins the tail; smaller λ keeps fewer tail classes.
  double reserve_scale = 0.3;
  /// When the keep mask over ranks is drawn: once for the whole run (the reference, so the
  /// number of kept classes m is fixed), or afresh for every batch.
  enum class MaskDraw { once_per_run, per_batch };
  MaskDraw mask_draw = MaskDraw::once_per_run;

  /// Throws ConfigError naming the field and the value if an option cannot work.
  void validate() const {
    require<ConfigError>(std::isfinite(top_ratio) && top_ratio > 0.0,
                         "ClassSkipOptions::top_ratio (rho) must be a finite number > 0, got ", top_ratio);
    require<ConfigError>(max_top >= 1, "ClassSkipOptions::max_top must be >= 1, got ", max_top);
    require<ConfigError>(std::isfinite(reserve_scale) && reserve_scale > 0.0,
                         "ClassSkipOptions::reserve_scale (lambda) must be a finite number > 0, got ",
                         reserve_scale);
  }
};

/// What one batch sends through the text tower.
struct ClassSelection {
  /// Original class indices of the kept prompts, ascending.                         [m]
  std::vector<std::int32_t> kept_classes;
  /// For each batch item, the position of its label in kept_classes.               [B]
  std::vector<std::int32_t> remapped_labels;
};

namespace detail {

/// The value the reference writes into S[i, y_i] so ground-truth classes rank first.
inline constexpr double forced_ground_truth_score = 1e4;

inline void check_classes(std::size_t classes) {
  require<InputError>(classes >= 1, "ClassSkip needs at least one class, got 0");
  require<ShapeError>(classes <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                      "ClassSkip: ", classes, " classes do not fit the int32 class indices");
}

inline void check_top_count(std::size_t classes, std::size_t top_count) {
  require<ConfigError>(top_count >= 1 && top_count <= classes, "ClassSkip: top_count K must be in [1, ", classes,
                       "] for ", classes, " classes, got ", top_count);
}

/// Class count usable, batch non-empty, pointers present, every label in [0, classes).
inline void check_batch(const void* similarity, const std::int32_t* labels, std::size_t batch,
                        std::size_t classes) {
  check_classes(classes);
  require<ShapeError>(batch >= 1, "ClassSkip: the batch is empty (similarity has 0 rows)");
  require<InputError>(similarity != nullptr && labels != nullptr,
                      "ClassSkip: similarity and labels must not be null for a batch of ", batch);
  for (std::size_t i = 0; i < batch; ++i)
    require<InputError>(labels[i] >= 0 && static_cast<std::size_t>(labels[i]) < classes, "ClassSkip: label of batch item ",
                        i, " is ", labels[i], ", outside [0, ", classes, ")");
}

}  // namespace detail

/// K, the number of top ranks that are always kept (reference step 1, its double arithmetic).
inline std::size_t class_skip_top_count(std::size_t classes, const ClassSkipOptions& options) {
  options.validate();
  detail::check_classes(classes);
  const double class_count = static_cast<double>(classes);
  const double rho = options.top_ratio;
  // ρ ≤ 1 is a fraction (ρ·C ≤ C after rounding, since C is exact); ρ > 1 a count capped at C.
  // Either way the result is in [1, C] because ρ > 0.
  const double wanted = rho <= 1.0 ? std::ceil(rho * class_count) : std::ceil(std::min(rho, class_count));
  const auto top_count = static_cast<std::size_t>(wanted);
  return std::min(top_count, options.max_top);
}

/// True when ClassSkip is off for this class count: ρ == 1 or K == C (reference step 1). Note
/// ρ == 1 keeps everything even when max_top caps K below C, as the reference does.
inline bool class_skip_keeps_all(std::size_t classes, const ClassSkipOptions& options) {
  return options.top_ratio == 1.0 || class_skip_top_count(classes, options) == classes;
}

/// Keep probability of each rank 0..C−1 (reference step 5).                          -> [C]
/// Ranks < K: 1. Tail ranks K..C−1 (n = C−K of them): x_j = linspace(0, 5, n), and the
/// min-max normalised exp(−x/λ)/λ, i.e. 1 at the first tail rank, 0 at the last.
/// n == 1: the single tail rank gets 1 (documented decision; the reference divides by zero).
inline std::vector<double> class_skip_keep_probabilities(std::size_t classes, std::size_t top_count,
                                                         double reserve_scale) {
  detail::check_classes(classes);
  detail::check_top_count(classes, top_count);
  require<ConfigError>(std::isfinite(reserve_scale) && reserve_scale > 0.0,
                       "ClassSkip: reserve_scale (lambda) must be a finite number > 0, got ", reserve_scale);
  std::vector<double> keep_probabilities(classes, 1.0);
  const std::size_t tail = classes - top_count;
  if (tail < 2) return keep_probabilities;  // no tail, or the single tail rank kept with probability 1

  // Like numpy/torch linspace: x_j = j·step, the last point exactly 5.
  constexpr double x_end = 5.0;
  const double step = x_end / static_cast<double>(tail - 1);
  const double lambda = reserve_scale;
  // (e^{−x/λ} − e^{−5/λ}) / (1 − e^{−5/λ}) = e^{−x/λ}·(1 − e^{−(5−x)/λ}) / (1 − e^{−5/λ}):
  // no cancellation (expm1), no 0/0 for large λ, no 1/λ overflow for tiny λ.
  const double denominator = -std::expm1(-x_end / lambda);
  for (std::size_t j = 0; j < tail; ++j) {
    const bool last = j + 1 == tail;
    const double x = last ? x_end : static_cast<double>(j) * step;
    const double numerator = std::exp(-x / lambda) * -std::expm1(-(x_end - x) / lambda);
    keep_probabilities[top_count + j] = numerator / denominator;
  }
  return keep_probabilities;
}

/// A Bernoulli keep flag per rank position, in rank order (reference step 6).         -> [C]
/// Probability exactly 1 → kept, exactly 0 → dropped, both without consuming randomness (so the
/// ranks < K never do); every other position consumes exactly one rng.bernoulli(p). The same
/// generator state therefore always gives the same mask. Probabilities must be in [0, 1].
inline std::vector<std::uint8_t> draw_rank_mask(const std::vector<double>& keep_probabilities, Rng& rng) {
  std::vector<std::uint8_t> rank_mask(keep_probabilities.size(), 0);
  for (std::size_t rank = 0; rank < keep_probabilities.size(); ++rank) {
    const double p = keep_probabilities[rank];
    require<InputError>(p >= 0.0 && p <= 1.0, "draw_rank_mask: keep probability of rank ", rank, " is ", p,
                        ", outside [0, 1]");
    if (p == 1.0)
      rank_mask[rank] = 1;
    else if (p > 0.0)
      rank_mask[rank] = rng.bernoulli(p) ? 1 : 0;
  }
  return rank_mask;
}

/// Steps 1, 5 and 6 in one call: the rank mask for `classes` classes under `options`.   -> [C]
/// Draw it once and reuse it for MaskDraw::once_per_run; call it per batch for per_batch.
inline std::vector<std::uint8_t> draw_class_skip_rank_mask(std::size_t classes, const ClassSkipOptions& options,
                                                           Rng& rng) {
  const std::size_t top_count = class_skip_top_count(classes, options);
  return draw_rank_mask(class_skip_keep_probabilities(classes, top_count, options.reserve_scale), rng);
}

/// Score per class (reference steps 3–4): max over the batch of S[i, c], where the entries
/// S[i, y_i] count as 1e4 instead of their value.                                     -> [C]
/// similarity: [batch, classes] row-major, finite; labels: [batch] in [0, classes).
template <class Scalar>
std::vector<Scalar> class_skip_scores(const Scalar* similarity, const std::int32_t* labels, std::size_t batch,
                                      std::size_t classes) {
  static_assert(std::is_floating_point_v<Scalar>, "similarities are float or double");
  detail::check_batch(similarity, labels, batch, classes);
  const auto forced = static_cast<Scalar>(detail::forced_ground_truth_score);
  std::vector<Scalar> scores(classes, -std::numeric_limits<Scalar>::infinity());
  // One row-major pass: row i updates every column maximum.
  for (std::size_t i = 0; i < batch; ++i) {
    const Scalar* row = similarity + i * classes;
    const auto ground_truth = static_cast<std::size_t>(labels[i]);
    for (std::size_t c = 0; c < classes; ++c) {
      require<InputError>(std::isfinite(row[c]), "ClassSkip: similarity[", i, ", ", c, "] is ", row[c],
                          "; image features or prototypes are not finite");
      const Scalar value = c == ground_truth ? forced : row[c];
      if (value > scores[c]) scores[c] = value;
    }
  }
  return scores;
}

/// Classes in rank order: score descending, ties broken by the lower class index first
/// (deterministic; the reference's sort leaves tie order unspecified).                -> [C]
/// Scores must not be NaN (class_skip_scores guarantees it).
template <class Scalar>
std::vector<std::int32_t> rank_classes_by_score(const std::vector<Scalar>& scores) {
  detail::check_classes(scores.size());
  std::vector<std::int32_t> class_at_rank(scores.size());
  std::iota(class_at_rank.begin(), class_at_rank.end(), std::int32_t{0});
  std::sort(class_at_rank.begin(), class_at_rank.end(), [&scores](std::int32_t a, std::int32_t b) {
    const Scalar score_a = scores[static_cast<std::size_t>(a)];
    const Scalar score_b = scores[static_cast<std::size_t>(b)];
    return score_a > score_b || (score_a == score_b && a < b);
  });
  return class_at_rank;
}

/// The selection for one batch (reference steps 3–7), written into `out` (its vectors' capacity
/// is reused across batches).
///   similarity: [batch, classes] row-major, normalize(image features) · prototypesᵀ, finite
///   labels:     [batch], each in [0, classes)
///   rank_mask:  [classes], nonzero = keep the class at that rank; ranks < top_count must be set
///               (draw it with draw_rank_mask / draw_class_skip_rank_mask)
///   top_count:  K from class_skip_top_count
/// Every ground-truth class of the batch is kept even where the mask says no (see the top of
/// this file); out.kept_classes ascending [m], out.remapped_labels [batch].
template <class Scalar>
void select_classes(const Scalar* similarity, const std::int32_t* labels, std::size_t batch, std::size_t classes,
                    const std::vector<std::uint8_t>& rank_mask, std::size_t top_count, ClassSelection& out) {
  detail::check_classes(classes);
  require<ShapeError>(rank_mask.size() == classes, "ClassSkip: rank_mask has ", rank_mask.size(),
                      " entries, expected one per class (", classes, ")");
  detail::check_top_count(classes, top_count);
  for (std::size_t rank = 0; rank < top_count; ++rank)
    require<InputError>(rank_mask[rank] != 0, "ClassSkip: rank_mask[", rank, "] is 0, but ranks below top_count K = ",
                        top_count, " are always kept; draw the mask with draw_rank_mask");

  const std::vector<Scalar> scores = class_skip_scores(similarity, labels, batch, classes);
  const std::vector<std::int32_t> class_at_rank = rank_classes_by_score(scores);

  // kept[c] = 1 if class c goes through the text tower: its rank is in the mask, or it is a
  // ground-truth class of this batch (kept unconditionally: the reference would mislabel it).
  std::vector<std::uint8_t> kept(classes, 0);
  for (std::size_t i = 0; i < batch; ++i) kept[static_cast<std::size_t>(labels[i])] = 1;
  for (std::size_t rank = 0; rank < classes; ++rank)
    if (rank_mask[rank] != 0) kept[static_cast<std::size_t>(class_at_rank[rank])] = 1;

  // Ascending original order falls out of a scan over class indices: no second sort.
  out.kept_classes.clear();
  out.kept_classes.reserve(static_cast<std::size_t>(std::count(kept.begin(), kept.end(), std::uint8_t{1})));
  for (std::size_t c = 0; c < classes; ++c)
    if (kept[c] != 0) out.kept_classes.push_back(static_cast<std::int32_t>(c));

  out.remapped_labels.resize(batch);
  for (std::size_t i = 0; i < batch; ++i) {
    const auto position = std::lower_bound(out.kept_classes.begin(), out.kept_classes.end(), labels[i]);
    // Cannot fail (ground truth is marked above); checked because a wrong label trains silently.
    require<Error>(position != out.kept_classes.end() && *position == labels[i], "ClassSkip dropped ground-truth class ",
                   labels[i], ": batch item ", i, " would be mislabelled (internal error)");
    out.remapped_labels[i] = static_cast<std::int32_t>(position - out.kept_classes.begin());
  }
}

/// As above, returning a fresh ClassSelection.
template <class Scalar>
ClassSelection select_classes(const Scalar* similarity, const std::int32_t* labels, std::size_t batch,
                              std::size_t classes, const std::vector<std::uint8_t>& rank_mask, std::size_t top_count) {
  ClassSelection selection;
  select_classes(similarity, labels, batch, classes, rank_mask, top_count, selection);
  return selection;
}

}  // namespace skiptune::policy
