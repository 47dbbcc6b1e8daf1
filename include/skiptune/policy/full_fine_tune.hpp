// skiptune/policy/full_fine_tune.hpp — the FT baseline of the Skip Tuning paper: every block and
// both heads train; the stems (patch/token embeddings, positional embeddings, class token,
// ln_pre) and logit_scale stay frozen, as in the reference code.
#pragma once

#include <cstddef>

#include "skiptune/policy/hooks.hpp"

namespace skiptune {

struct FullFineTune {
  using hooks = skiptune::hooks<hook::first_trained_block, hook::trains_stem>;

  std::size_t first_trained_block(Tower, std::size_t) const { return 0; }
  bool trains_stem(Tower) const { return false; }
};

}  // namespace skiptune
