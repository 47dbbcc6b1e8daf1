// skiptune/testing/synthetic_clip_task.hpp — a tiny CLIP with a seeded synthetic classification
// task: `shots` images per class (image i has label i mod classes) and one prompt per class,
// wired into a ClipDataset. For tests, examples and quick experiments with policies.
#pragma once

#include <cstdint>
#include <utility>

#include "skiptune/core/memory.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/model/clip.hpp"
#include "skiptune/testing/synthetic_batch.hpp"
#include "skiptune/train/dataset.hpp"

namespace skiptune::testing {

struct SyntheticClipTask {
  MemoryMeter meter;
  ClipConfig config = ClipConfig::tiny();
  Clip<float> model{config, meter};
  Tensor<float> images;             // [classes·shots, 3, R, R]
  Tensor<std::int32_t> prompts;     // [classes, context]
  ClipDataset<float> data;          // views of the two above

  explicit SyntheticClipTask(Index classes = 6, Index shots = 4, std::uint64_t seed = 11, Index prompt_tokens = 10) {
    Rng rng(seed);
    model.initialize(rng);
    auto batch = make_synthetic_batch<float>(config, classes * shots, classes, meter, rng, prompt_tokens);
    images = std::move(batch.images);
    prompts = std::move(batch.token_ids);
    data.images = &images;
    data.class_token_ids = &prompts;
    for (Index i = 0; i < classes * shots; ++i) data.labels.push_back(static_cast<std::int32_t>(i % classes));
  }
  SyntheticClipTask(const SyntheticClipTask&) = delete;  // `data` points into this object
  SyntheticClipTask& operator=(const SyntheticClipTask&) = delete;
};

}  // namespace skiptune::testing
