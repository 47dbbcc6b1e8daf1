// examples/growing_layer_skip.hpp — a custom gradient-flow policy written the way a researcher
// would: GrowingLayerSkip is a LayerSkip whose ω differs per tower and grows during training, so
// early epochs adapt deep into each tower and later epochs freeze more and more of it (cheaper
// steps, less gradient and optimizer memory).
//
//   FineTuner<Clip<float>, FullFineTune, GrowingLayerSkip> tuner(model, FullFineTune{},
//                                                                GrowingLayerSkip{{2, 4}, {1, 3}});
//
// ω of a tower moves linearly from `from` (first epoch) to `to` (last epoch), rounded down:
//   ω(e) = from + (to − from) · e / (E − 1)          e.g. 2 → 4 over 3 epochs: 2, 3, 4
// The policy only answers two hooks (see skiptune/policy/hooks.hpp):
//   on_epoch_begin(e, E)        moves ω to the epoch's value (called before anything else of the epoch)
//   first_trained_block(t, N)   reports the current ω of tower t
// FineTuner does the rest: it re-resolves the trained parts right after on_epoch_begin, frees the
// gradient and optimizer buffers of newly frozen blocks, keeps the optimizer state of blocks that
// stay trained, and rebuilds the block-ω caches of the towers whose ω moved.
#pragma once

#include <algorithm>
#include <cstddef>

#include "skiptune/core/errors.hpp"
#include "skiptune/policy/hooks.hpp"

namespace example {

struct GrowingLayerSkip {
  using hooks = skiptune::hooks<skiptune::hook::first_trained_block, skiptune::hook::on_epoch_begin>;

  /// ω of one tower over the run: `from` in the first epoch, `to` in the last (to < from shrinks).
  struct Ramp {
    std::size_t from = 0;
    std::size_t to = 0;
    /// The ramp's ω in epoch `epoch` of `epochs`.
    [[nodiscard]] std::size_t at(std::size_t epoch, std::size_t epochs) const noexcept {
      if (epochs <= 1) return to;
      const std::size_t last = epochs - 1, e = std::min(epoch, last);
      return to >= from ? from + (to - from) * e / last : from - (from - to) * e / last;
    }
  };

  Ramp vision{2, 4};
  Ramp text{1, 3};
  // The ω in force now. They start at `from`: FineTuner::prepare() asks first_trained_block
  // before the first on_epoch_begin, and must see the first epoch's ω then.
  std::size_t vision_omega = vision.from;
  std::size_t text_omega = text.from;

  GrowingLayerSkip() = default;
  GrowingLayerSkip(Ramp vision_ramp, Ramp text_ramp)
      : vision(vision_ramp), text(text_ramp), vision_omega(vision_ramp.from), text_omega(text_ramp.from) {}

  /// Hook: the start of epoch `epoch` of `epochs` — move each tower's ω along its ramp.
  void on_epoch_begin(std::size_t epoch, std::size_t epochs) {
    vision_omega = vision.at(epoch, epochs);
    text_omega = text.at(epoch, epochs);
  }

  /// Hook: blocks below the answer are frozen (and cached) in this tower.
  std::size_t first_trained_block(skiptune::Tower tower, std::size_t num_blocks) const {
    const std::size_t omega = tower == skiptune::Tower::vision ? vision_omega : text_omega;
    skiptune::require<skiptune::ConfigError>(omega <= num_blocks, "GrowingLayerSkip: ω = ", omega, " for the ",
                                             skiptune::to_string(tower), " tower is outside [0, N = ", num_blocks,
                                             "]");
    return omega;
  }
};

static_assert(skiptune::check_policy<GrowingLayerSkip, float>());

}  // namespace example
