// skiptune/policy/token_drop.hpp — TokenDrop: drop a random fraction of the cached image tokens
// before the trained blocks (the reference's DROP_RATIO). Unlike the reference, the class token
// (position 0) is never dropped: the image feature is read from it. The same positions are kept
// for every image of a batch (the batch stays rectangular); positional embeddings were added in
// the stem, so the kept tokens keep their positions' information. Needs LayerSkip's cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/policy/hooks.hpp"

namespace skiptune {

struct TokenDrop {
  using hooks = skiptune::hooks<hook::drop_tokens>;

  double drop_ratio = 0.0;  // fraction of the non-class tokens dropped, in [0, 1)

  TokenDrop() = default;
  explicit TokenDrop(double ratio) : drop_ratio(ratio) {
    require<ConfigError>(ratio >= 0.0 && ratio < 1.0, "TokenDrop: drop ratio must be in [0, 1), got ", ratio);
  }

  void drop_tokens(const TokenDropInput& input, std::vector<Index>& kept_tokens, Rng& rng) const {
    require<ConfigError>(drop_ratio >= 0.0 && drop_ratio < 1.0, "TokenDrop: drop ratio must be in [0, 1), got ",
                         drop_ratio);
    const std::size_t others = input.tokens - 1;
    const auto keep = static_cast<std::size_t>(std::llround(static_cast<double>(others) * (1.0 - drop_ratio)));
    std::vector<Index> candidates(others);
    std::iota(candidates.begin(), candidates.end(), Index{1});
    rng.shuffle(candidates);
    candidates.resize(keep);
    std::sort(candidates.begin(), candidates.end());
    kept_tokens.clear();
    kept_tokens.push_back(0);  // the class token always stays
    kept_tokens.insert(kept_tokens.end(), candidates.begin(), candidates.end());
  }
};

}  // namespace skiptune
