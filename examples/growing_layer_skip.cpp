// growing_layer_skip — a custom policy in action: FineTuner<Clip<float>, FullFineTune,
// GrowingLayerSkip> fine-tunes the tiny CLIP on seeded synthetic data while ω grows from 2 to 4
// in the image tower and from 1 to 3 in the text tower. Prints, per epoch, the ω of each tower,
// the mean loss and the live MemoryMeter bytes of gradients, optimizer state and caches — the
// gradient and optimizer bytes shrink as more blocks freeze.
//   usage: growing_layer_skip [epochs = 5]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "skiptune/skiptune.hpp"
#include "skiptune/testing/synthetic_batch.hpp"
#include "skiptune/train/fine_tuner.hpp"

#include "growing_layer_skip.hpp"

namespace {

using Tuner = skiptune::FineTuner<skiptune::Clip<float>, skiptune::FullFineTune, example::GrowingLayerSkip>;

/// A fit() observer: at each epoch end, what the policy asked for, what the tuner resolved, and
/// what is live in the meter (the trained part's gradients and optimizer state, the caches).
struct EpochReport {
  Tuner* tuner;
  skiptune::MemoryMeter* meter;

  void on_epoch_end(const skiptune::EpochEnd& e) const {
    using skiptune::MemoryCategory;
    using skiptune::format_bytes;
    const auto& policy = tuner->policy<example::GrowingLayerSkip>();
    const auto& live = meter->current();
    std::printf("epoch %zu/%zu  ω vision %zu (resolved %zu)  ω text %zu (resolved %zu)  loss %.4f  "
                "gradients %10s  optimizer %10s  cache %10s  epoch peak %10s\n",
                e.epoch + 1, e.epochs, policy.vision_omega, tuner->vision_parts().first_trained_block,
                policy.text_omega, tuner->text_parts().first_trained_block, e.mean_loss,
                format_bytes(live[MemoryCategory::gradients]).c_str(),
                format_bytes(live[MemoryCategory::optimizer_state]).c_str(),
                format_bytes(live[MemoryCategory::cache]).c_str(), format_bytes(e.peak_bytes).c_str());
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace skiptune;
  const long epochs = argc > 1 ? std::atol(argv[1]) : 5;
  if (epochs <= 0) {
    std::fprintf(stderr, "usage: %s [epochs > 0]\n", argv[0]);
    return 2;
  }
  try {
    MemoryMeter meter;
    const ClipConfig config = ClipConfig::tiny();  // 4 blocks per tower
    Clip<float> model(config, meter);
    Rng rng(2025);
    model.initialize(rng);

    // 6 classes × 8 images, one synthetic prompt (≤ 10 tokens) per class. The images are noise
    // plus a fixed random pattern of their class, so there is something to learn.
    const Index classes = 6, shots = 8;
    auto synthetic = testing::make_synthetic_batch<float>(config, classes * shots, classes, meter, rng, 10);
    const Index per_image = synthetic.images.numel() / synthetic.images.dim(0);
    Tensor<float> patterns({classes, per_image}, meter, MemoryCategory::inputs);
    for (Index i = 0; i < patterns.numel(); ++i) patterns[i] = static_cast<float>(rng.normal());
    for (Index i = 0; i < classes * shots; ++i)
      for (Index k = 0; k < per_image; ++k) synthetic.images[i * per_image + k] += patterns[(i % classes) * per_image + k];
    ClipDataset<float> data;
    data.images = &synthetic.images;
    data.class_token_ids = &synthetic.token_ids;
    for (Index i = 0; i < classes * shots; ++i) data.labels.push_back(static_cast<std::int32_t>(i % classes));

    FitOptions options;
    options.epochs = static_cast<std::size_t>(epochs);
    options.batch_size = 4;
    options.batching = Batching::random;  // mixed-class batches: a clearer signal on this small task
    options.text_learning_rate = 1e-3;
    options.vision_learning_rate = 1e-3;
    options.warmup_epochs = 0;
    options.seed = 5;

    const example::GrowingLayerSkip growing{{2, 4}, {1, 3}};
    Tuner tuner(model, FullFineTune{}, growing);
    std::printf("GrowingLayerSkip on the tiny CLIP (%zu blocks per tower): ω vision %zu → %zu, ω text %zu → %zu "
                "over %ld epochs\n",
                model.visual.num_blocks(), growing.vision.from, growing.vision.to, growing.text.from, growing.text.to,
                epochs);
    const auto result = tuner.fit(data, options, EpochReport{&tuner, &meter});
    std::printf("%zu steps in %.2f s; final %s\n", result.steps, result.seconds, tuner.description().c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
