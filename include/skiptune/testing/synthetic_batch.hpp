// skiptune/testing/synthetic_batch.hpp — seeded random inputs for a CLIP config: images,
// prompts shaped like real ones (start token, a few word ids, end-of-text, zero padding) and
// labels. Used by tests, benchmarks and the demo; real data comes through io/ and data/.
#pragma once

#include <algorithm>
#include <cstdint>

#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/config.hpp"

namespace skiptune::testing {

/// Images ~ N(0, 1); prompt c has `min_tokens + rng.below(spread)` word ids between the start
/// token (vocab − 2) and end-of-text (vocab − 1, the largest id, as in CLIP); labels uniform.
/// `prompt_tokens` caps the prompt length (including start and end), default: the full context.
template <class T = float>
struct SyntheticBatchOf {
  Tensor<T> images;
  Tensor<std::int32_t> token_ids;
  Tensor<std::int32_t> labels;
  Index longest_prompt = 0;
};

template <class T = float>
SyntheticBatchOf<T> make_synthetic_batch(const ClipConfig& config, Index batch, Index classes, MemoryMeter& meter,
                                         Rng& rng, Index prompt_tokens = 0) {
  const Index R = config.vision.image_size, L = config.text.context_length, V = config.text.vocab_size;
  const Index max_len = prompt_tokens > 0 ? std::min(prompt_tokens, L) : L;
  require<ConfigError>(max_len >= 2 && V >= 3, "synthetic prompts need a context of >= 2 and a vocabulary of >= 3");
  SyntheticBatchOf<T> out;
  out.images = Tensor<T>({batch, 3, R, R}, meter, MemoryCategory::inputs);
  for (Index i = 0; i < out.images.numel(); ++i) out.images[i] = static_cast<T>(rng.normal());
  out.token_ids = Tensor<std::int32_t>::zeros({classes, L}, meter, MemoryCategory::inputs);
  for (Index c = 0; c < classes; ++c) {
    // Lengths spread over [max(2, max_len/2), max_len]; the first prompt always has the longest.
    const Index low = std::max<Index>(2, max_len / 2);
    const Index length = c == 0 ? max_len : low + static_cast<Index>(rng.below(std::uint64_t(max_len - low + 1)));
    std::int32_t* row = out.token_ids.data() + c * L;
    row[0] = static_cast<std::int32_t>(V - 2);
    for (Index t = 1; t + 1 < length; ++t) row[t] = static_cast<std::int32_t>(1 + rng.below(std::uint64_t(V - 3)));
    row[length - 1] = static_cast<std::int32_t>(V - 1);
    out.longest_prompt = std::max(out.longest_prompt, length);
  }
  out.labels = Tensor<std::int32_t>({batch}, meter, MemoryCategory::inputs);
  for (Index b = 0; b < batch; ++b) out.labels[b] = static_cast<std::int32_t>(rng.below(std::uint64_t(classes)));
  return out;
}

}  // namespace skiptune::testing
