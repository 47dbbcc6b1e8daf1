// skiptune/policy/layer_skip.hpp — LayerSkip: the first ω blocks of each tower are frozen, run
// once (no gradients) to cache their outputs, and never run in a training step; training
// starts at block ω from the cache. Frozen parts own no gradient or optimizer buffers and
// backward stops at block ω (this is structural, not a zero learning rate).
//
// ω may differ per tower. ω = 0 is full fine-tuning of the blocks; ω = N trains only the
// heads. The image cache is rebuilt at the start of every epoch under a fresh augmentation
// (the reference's behaviour); the text cache goes through frozen layers only and is built once.
#pragma once

#include <cstddef>

#include "skiptune/core/errors.hpp"
#include "skiptune/policy/hooks.hpp"

namespace skiptune {

struct LayerSkip {
  using hooks = skiptune::hooks<hook::first_trained_block, hook::refreshes_image_cache>;

  std::size_t vision_omega = 6;
  std::size_t text_omega = 6;
  /// Rebuild the image cache every epoch (fresh augmentation). Off: build it once.
  bool refresh_every_epoch = true;

  LayerSkip() = default;
  explicit LayerSkip(std::size_t omega) : vision_omega(omega), text_omega(omega) {}
  LayerSkip(std::size_t vision, std::size_t text) : vision_omega(vision), text_omega(text) {}

  std::size_t first_trained_block(Tower tower, std::size_t num_blocks) const {
    const std::size_t omega = tower == Tower::vision ? vision_omega : text_omega;
    require<ConfigError>(omega <= num_blocks, "LayerSkip: ω = ", omega, " for the ", to_string(tower),
                         " tower is outside [0, N = ", num_blocks, "] (N = only the head trains)");
    return omega;
  }
  bool refreshes_image_cache(std::size_t) const { return refresh_every_epoch; }
};

}  // namespace skiptune
