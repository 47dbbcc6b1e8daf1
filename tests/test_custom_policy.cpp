// A custom policy through FineTuner<Clip>: GrowingLayerSkip (examples/growing_layer_skip.hpp), a
// LayerSkip whose ω grows per tower during training. Checks that the tuner applies the schedule at
// each epoch start, frees the gradient and optimizer buffers of newly frozen blocks, keeps newly
// frozen blocks bit-identical from then on, and rebuilds the block-ω caches for the new ω.
// Two regression tests guard defects of FineTuner<Clip> found while writing this (fixed since):
// AdamW's step count across an ω change, and a second prepare() on the same tuner.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "../examples/growing_layer_skip.hpp"
#include "skiptune/skiptune.hpp"
#include "skiptune/testing/synthetic_batch.hpp"
#include "skiptune/testing/synthetic_clip_task.hpp"
#include "skiptune/train/fine_tuner.hpp"

using namespace skiptune;
using example::GrowingLayerSkip;

namespace {

/// A tiny CLIP with `shots` synthetic images per class and one prompt per class.
using Fixture = testing::SyntheticClipTask;

FitOptions quick_options(std::size_t epochs) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = 4;
  o.batching = Batching::random;
  o.text_learning_rate = 1e-2;
  o.vision_learning_rate = 5e-3;
  o.warmup_epochs = 0;
  o.seed = 5;
  return o;
}

using Growing = FineTuner<Clip<float>, FullFineTune, GrowingLayerSkip>;

std::vector<float> values_of(nn::BlockWeights<float>& block) {
  std::vector<float> out;
  block.for_each([&](const char*, Tensor<float>& t) { out.insert(out.end(), t.data(), t.data() + t.numel()); });
  return out;
}

double max_abs_diff(const Tensor<float>& a, const Tensor<float>& b) {
  REQUIRE(a.numel() == b.numel());
  double d = 0;
  for (Index i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}

}  // namespace

TEST_CASE("GrowingLayerSkip's ramp", "[custom_policy]") {
  const GrowingLayerSkip::Ramp up{2, 4}, down{3, 1};
  CHECK(up.at(0, 3) == 2);
  CHECK(up.at(1, 3) == 3);
  CHECK(up.at(2, 3) == 4);
  CHECK(up.at(0, 5) == 2);  // 2, 2, 3, 3, 4: rounded down
  CHECK(up.at(1, 5) == 2);
  CHECK(up.at(2, 5) == 3);
  CHECK(up.at(4, 5) == 4);
  CHECK(up.at(0, 1) == 4);  // a one-epoch run uses the final ω
  CHECK(down.at(0, 3) == 3);
  CHECK(down.at(2, 3) == 1);
  GrowingLayerSkip policy{{2, 4}, {1, 3}};
  CHECK(policy.first_trained_block(Tower::vision, 4) == 2);  // before the first epoch: `from`
  CHECK(policy.first_trained_block(Tower::text, 4) == 1);
  policy.on_epoch_begin(2, 3);
  CHECK(policy.first_trained_block(Tower::vision, 4) == 4);
  CHECK(policy.first_trained_block(Tower::text, 4) == 3);
  CHECK_THROWS_AS(policy.first_trained_block(Tower::vision, 3), ConfigError);
}

TEST_CASE("FineTuner applies GrowingLayerSkip's ω at each epoch start and frees what froze",
          "[custom_policy][finetuner]") {
  Fixture f;
  Growing tuner(f.model, FullFineTune{}, GrowingLayerSkip{{2, 4}, {1, 3}});
  const auto options = quick_options(3);
  tuner.prepare(f.data, options);
  CHECK(tuner.vision_parts().first_trained_block == 2);  // prepare already sees the first epoch's ω
  CHECK(tuner.text_parts().first_trained_block == 1);

  const std::size_t expected_vision[] = {2, 3, 4}, expected_text[] = {1, 2, 3};
  std::size_t previous_gradient_bytes = 0;
  std::vector<float> vision_block_2_when_frozen;
  Rng batch_rng(9);
  for (std::size_t epoch = 0; epoch < 3; ++epoch) {
    tuner.begin_epoch(epoch);
    INFO("epoch " << epoch);
    const std::size_t omega_v = expected_vision[epoch], omega_t = expected_text[epoch];
    CHECK(tuner.policy<GrowingLayerSkip>().vision_omega == omega_v);
    CHECK(tuner.vision_parts().first_trained_block == omega_v);
    CHECK(tuner.text_parts().first_trained_block == omega_t);
    CHECK_FALSE(tuner.vision_parts().stem);

    // Gradient buffers exist for exactly the blocks at or above ω (not zeros below: nothing).
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(tuner.vision_gradients().blocks[i].has_value() == (i >= omega_v));
      CHECK(tuner.text_gradients().blocks[i].has_value() == (i >= omega_t));
    }
    // The meter agrees: live gradient bytes = the trained parameters' bytes; SGD with momentum
    // keeps one buffer per trained parameter; both shrink as ω grows.
    std::size_t trained_bytes = 0;
    tuner.for_each_trained([&](const std::string&, Tensor<float>& p, Tensor<float>&, bool) { trained_bytes += p.bytes(); });
    const auto& live = f.meter.current();
    CHECK(live[MemoryCategory::gradients] == trained_bytes);
    CHECK(live[MemoryCategory::optimizer_state] == trained_bytes);
    if (epoch > 0) CHECK(live[MemoryCategory::gradients] < previous_gradient_bytes);
    previous_gradient_bytes = live[MemoryCategory::gradients];

    // The caches hold block-ω outputs for the new ω (tiny CLIP: 17 image tokens, width 64).
    CHECK(tuner.image_cache().numel() == static_cast<Index>(f.data.size()) * 17 * 64);
    CHECK(tuner.text_cache().numel() > 0);

    // Vision block 2 trains in epoch 0 and is frozen from epoch 1 on: from then it must not move.
    if (epoch == 1) vision_block_2_when_frozen = values_of(f.model.visual.block(2));
    const auto [text_lr, vision_lr] = tuner.learning_rates(epoch);
    for (const auto& batch : make_epoch_batches(f.data.labels, f.data.classes(), 4, Batching::random, batch_rng)) {
      const auto step = tuner.train_step(batch, text_lr, vision_lr);
      CHECK(std::isfinite(step.loss));
    }
  }
  CHECK(values_of(f.model.visual.block(2)) == vision_block_2_when_frozen);
}

TEST_CASE("after ω grows, a step from the rebuilt caches equals a fresh LayerSkip at that ω",
          "[custom_policy][finetuner][equivalence]") {
  // If the tuner kept a cache from the old ω (or built it from the old weights), the logits would
  // differ: vision block 2 and text block 1 were trained during epoch 0 and are cached from epoch 1.
  Fixture f;
  Growing tuner(f.model, FullFineTune{}, GrowingLayerSkip{{2, 4}, {1, 3}});
  tuner.prepare(f.data, quick_options(3));
  tuner.begin_epoch(0);
  Rng batch_rng(9);
  for (const auto& batch : make_epoch_batches(f.data.labels, f.data.classes(), 4, Batching::random, batch_rng))
    tuner.train_step(batch, 1e-2, 5e-3);
  tuner.begin_epoch(1);  // ω: vision 3, text 2
  const std::vector<std::size_t> batch = {0, 7, 14, 21};
  Tensor<float> grown_logits, fresh_logits;
  const auto grown = tuner.train_step(batch, 0.0, 0.0, &grown_logits);  // lr 0: the weights stay put

  FineTuner<Clip<float>, FullFineTune, LayerSkip> fresh(f.model, FullFineTune{}, LayerSkip{3, 2});
  fresh.prepare(f.data, quick_options(3));
  fresh.begin_epoch(0);
  const auto reference = fresh.train_step(batch, 0.0, 0.0, &fresh_logits);
  // Same cache code, same chunks, same weights. Measured: max |Δ logits| = 0, |Δ loss| = 0.
  INFO("max |Δ logits| = " << max_abs_diff(grown_logits, fresh_logits));
  CHECK(max_abs_diff(grown_logits, fresh_logits) <= 1e-5);
  CHECK(std::abs(grown.loss - reference.loss) <= 1e-6);
}

TEST_CASE("fit() with GrowingLayerSkip ends at the last epoch's ω and the loss goes down", "[custom_policy][fit]") {
  Fixture f;
  Growing tuner(f.model, FullFineTune{}, GrowingLayerSkip{{2, 4}, {1, 3}});
  const auto result = tuner.fit(f.data, quick_options(5));
  REQUIRE(result.epoch_mean_loss.size() == 5);
  CHECK(tuner.vision_parts().first_trained_block == 4);
  CHECK(tuner.text_parts().first_trained_block == 3);
  for (const auto& b : tuner.vision_gradients().blocks) CHECK_FALSE(b.has_value());  // vision: head only
  CHECK(result.epoch_mean_loss.back() < result.epoch_mean_loss.front());
}

// Defect 1 — AdamW's bias-correction step counter is reset when ω changes mid-run.
// FineTuner<Clip>::rebuild_optimizer() (called by resolve_parts() whenever ω moves) copies every
// surviving parameter's exp_avg / exp_avg_sq into a fresh AdamW, but not AdamW::step_count(), so
// the next step is bias-corrected with t = 1 on moments accumulated over t > 1 steps. Every
// parameter that stays trained (here: the whole text tower and the vision head) then takes a
// different step than it would have without the rebuild.
// Setup: two tuners on identical models. Epoch 0 runs at learning rate 0 (a warm-up at 0), so
// the weights do not move but the moments fill. The grown tuner trains vision block 3 in epoch 0
// (ω_v = 3) and freezes it in epoch 1 (ω_v = 4); the constant one has ω_v = 4 throughout. Both
// keep text ω = 2. The parameters trained in both see the same gradients in epoch 0 (equal logits,
// see the equivalence test above), so after the first real step of epoch 1 they must agree.
// Measured: before the fix max |Δ text_projection| = 9.8e-4 ≈ 1 × the learning rate (bias
// correction restarted at t = 1 instead of t = 7); with the fix (rebuild_optimizer carries the
// step count over), 0. An ω that shrinks would need a per-parameter step count, as torch keeps.
TEST_CASE("AdamW state and its step count survive an ω change",
          "[custom_policy][finetuner][adamw]") {
  Fixture grown_fixture, constant_fixture;
  Growing grown(grown_fixture.model, FullFineTune{}, GrowingLayerSkip{{3, 4}, {2, 2}});
  FineTuner<Clip<float>, FullFineTune, LayerSkip> constant(constant_fixture.model, FullFineTune{}, LayerSkip{4, 2});
  FitOptions options = quick_options(2);
  options.optimizer = OptimizerKind::adamw;
  options.weight_decay = 0;
  grown.prepare(grown_fixture.data, options);
  constant.prepare(constant_fixture.data, options);
  grown.begin_epoch(0);
  constant.begin_epoch(0);
  const std::vector<std::vector<std::size_t>> batches = {{0, 7, 14, 21}, {1, 8, 15, 22}, {2, 9, 16, 23},
                                                         {3, 10, 17, 4}, {5, 12, 19, 6}, {11, 18, 13, 20}};
  for (const auto& b : batches) {
    grown.train_step(b, 0.0, 0.0);
    constant.train_step(b, 0.0, 0.0);
  }
  grown.begin_epoch(1);
  constant.begin_epoch(1);
  REQUIRE(grown.vision_parts().first_trained_block == 4);
  const double lr = 1e-3;
  grown.train_step(batches[0], lr, lr);
  constant.train_step(batches[0], lr, lr);
  const double difference = max_abs_diff(grown_fixture.model.text.head().text_projection,
                                         constant_fixture.model.text.head().text_projection);
  INFO("max |Δ text_projection| after one AdamW step = " << difference << " (step size " << lr << ")");
  CHECK(difference <= 1e-3 * lr);
}

// Regression: a second prepare() (a second fit() on the same tuner, a sweep reusing it) with an
// unchanged ω used to leave LayerSkip's text cache empty and keep the previous fit's optimizer;
// prepare() now starts from scratch.
TEST_CASE("a second prepare() with the same ω rebuilds the text cache",
          "[custom_policy][finetuner][prepare]") {
  Fixture f;
  FineTuner<Clip<float>, FullFineTune, LayerSkip> tuner(f.model, FullFineTune{}, LayerSkip{2, 2});
  tuner.prepare(f.data, quick_options(1));
  REQUIRE(tuner.text_cache().numel() > 0);
  tuner.prepare(f.data, quick_options(1));
  tuner.begin_epoch(0);
  CHECK(tuner.text_cache().numel() > 0);
  CHECK(std::isfinite(tuner.train_step({0, 7, 14, 21}, 1e-3, 1e-3).loss));
}
