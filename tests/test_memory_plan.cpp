// The memory planner predicts a step's peak before it runs; the MemoryMeter measures it. They
// must agree to the byte, in total and by category, for full fine-tuning, for steps that start
// at block ω, and for training every parameter.
#include <catch2/catch.hpp>

#include <cstdio>

#include "skiptune/model/memory_plan.hpp"
#include "skiptune/skiptune.hpp"
#include "skiptune/testing/synthetic_batch.hpp"

using namespace skiptune;

namespace {

struct Case {
  const char* name;
  ClipTrainableParts parts;
  SgdOptions sgd{};
  bool truncate = true;
};

void check_plan(const ClipConfig& config, Index batch, Index classes, Index prompt_tokens, const Case& c) {
  MemoryMeter meter;
  Clip<float> model(config, meter);
  Rng rng(7);
  model.initialize(rng);
  model.text.truncate_after_eot = c.truncate;
  ClipTrainer<float> trainer(model, c.parts, c.sgd);
  auto batch_data = testing::make_synthetic_batch<float>(config, batch, classes, meter, rng, prompt_tokens);

  const StepShape shape{batch, classes, config.text.context_length,
                        c.truncate ? batch_data.longest_prompt : config.text.context_length};
  const MemoryPlan plan = plan_clip_step<float>(config, shape, c.parts, c.sgd);

  INFO(config.name << " " << c.name << ": B=" << batch << " C=" << classes << " text tokens=" << shape.text_tokens);
  CHECK(meter.current() == plan.before_step);  // weights, gradients, optimizer state, inputs
  meter.reset_peak();
  trainer.step(batch_data.images, batch_data.token_ids, batch_data.labels);
  CHECK(meter.peak_total() == plan.peak_total);
  CHECK(meter.at_peak() == plan.at_peak);
  CHECK(meter.current() == plan.before_step);  // everything the step allocated was returned
  std::printf("%-10s %-26s predicted peak %12zu B, measured %12zu B (at %s)\n", config.name.c_str(), c.name,
              plan.peak_total, meter.peak_total(), plan.peak_phase.c_str());
}

}  // namespace

TEST_CASE("planner equals the measured peak, byte for byte", "[memory]") {
  const ClipConfig tiny = ClipConfig::tiny();
  const Case cases[] = {
      {"full fine-tuning", ClipTrainableParts::full_fine_tune()},
      {"from block 2 (both towers)", ClipTrainableParts::from_block(2, 2)},
      {"from block 1 / 3", ClipTrainableParts::from_block(1, 3)},
      {"heads only (omega = N)", ClipTrainableParts::from_block(4, 4)},
      {"every parameter", ClipTrainableParts::all_parameters()},
      {"FT, no momentum", ClipTrainableParts::full_fine_tune(), SgdOptions{1e-3, 0.0, 0.0}},
      {"FT, all 16 positions", ClipTrainableParts::full_fine_tune(), SgdOptions{}, false},
  };
  for (const auto& c : cases) {
    check_plan(tiny, 4, 10, 9, c);
    check_plan(tiny, 1, 1, 2, c);
  }
}

TEST_CASE("planner figures for ViT-B/16 (batch 4, 100 prompts of <= 16 tokens)", "[memory]") {
  // Prediction only (no run): a sanity check on magnitudes that the docs quote.
  const auto b16 = ClipConfig::vit_b16();
  const StepShape shape{4, 100, 77, 16};
  const auto ft = plan_clip_step<float>(b16, shape, ClipTrainableParts::full_fine_tune());
  const auto skip = plan_clip_step<float>(b16, shape, ClipTrainableParts::from_block(6, 6));
  CHECK(ft.before_step[MemoryCategory::weights] == 149'620'737u * 4u);
  CHECK(skip.peak_total < ft.peak_total);
  CHECK(skip.at_peak[MemoryCategory::gradients] < ft.at_peak[MemoryCategory::gradients]);
}

TEST_CASE("planner rejects impossible shapes and parts", "[memory]") {
  const auto tiny = ClipConfig::tiny();
  CHECK_THROWS_AS(plan_clip_step<float>(tiny, StepShape{0, 4, 16, 16}, {}), ConfigError);
  CHECK_THROWS_AS(plan_clip_step<float>(tiny, StepShape{4, 4, 16, 17}, {}), ConfigError);
  CHECK_THROWS_AS(plan_clip_step<float>(tiny, StepShape{4, 4, 16, 16}, ClipTrainableParts::from_block(5, 0)), ConfigError);
}

// ---------------------------------------------------------------------------------------------
// FineTuner steps: caches instead of frozen blocks, gathered inputs, class selection.

#include "skiptune/train/fine_tuner.hpp"

namespace {

template <class... Policies>
void check_fine_tune_plan(const char* name, OptimizerKind optimizer_kind, Policies... policies) {
  MemoryMeter meter;
  const ClipConfig config = ClipConfig::tiny();
  Clip<float> model(config, meter);
  Rng rng(9);
  model.initialize(rng);
  const Index classes = 12, shots = 4;
  Tensor<float> images;
  Tensor<std::int32_t> prompts;
  {
    auto data = testing::make_synthetic_batch<float>(config, classes * shots, classes, meter, rng, 11);
    images = std::move(data.images);
    prompts = std::move(data.token_ids);
  }
  ClipDataset<float> dataset;
  dataset.images = &images;
  dataset.class_token_ids = &prompts;
  for (Index i = 0; i < classes * shots; ++i) dataset.labels.push_back(static_cast<std::int32_t>(i % classes));
  FitOptions options;
  options.epochs = 2;
  options.warmup_epochs = 0;
  options.optimizer = optimizer_kind;
  options.cache_chunk = 7;
  FineTuner<Clip<float>, Policies...> tuner(model, policies...);
  tuner.prepare(dataset, options);
  tuner.begin_epoch(0);
  const std::vector<std::size_t> batch = {2, 14, 26, 38};  // class 2, four images

  const MemoryBreakdown before = meter.current();
  meter.reset_peak();
  const StepResult step = tuner.train_step(batch, 1e-3, 1e-3);
  ClipTrainableParts parts;
  parts.vision = tuner.vision_parts();
  parts.text = tuner.text_parts();
  FineTuneShape shape;
  shape.batch = 4;
  shape.classes = classes;
  shape.kept_classes = static_cast<Index>(step.kept_classes);
  shape.token_context = config.text.context_length;
  shape.text_tokens = static_cast<Index>(step.text_tokens);
  shape.text_cache_tokens = tuner.text_cache().empty() ? 0 : tuner.text_cache().rows() / classes;
  shape.image_tokens = static_cast<Index>(step.image_tokens);
  shape.dataset_images = classes * shots;
  shape.selects_classes = FineTuner<Clip<float>, Policies...>::selects_classes;
  const auto plan = plan_fine_tune_step<float>(
      config, shape, parts,
      optimizer_kind == OptimizerKind::adamw ? OptimizerStateKind::adamw : OptimizerStateKind::sgd_momentum);
  INFO(name << ": m = " << step.kept_classes << ", text tokens = " << step.text_tokens << ", image tokens = "
            << step.image_tokens);
  CHECK(before == plan.before_step);
  CHECK(meter.peak_total() == plan.peak_total);
  CHECK(meter.at_peak() == plan.at_peak);
  CHECK(meter.current() == before);
  std::printf("tiny       %-26s predicted peak %12zu B, measured %12zu B (at %s)\n", name, plan.peak_total,
              meter.peak_total(), plan.peak_phase.c_str());
}

}  // namespace

TEST_CASE("FineTuner steps: planner equals the measured peak for every policy mix", "[memory][finetuner]") {
  const ClassSkip class_skip{0.25, 50, 0.3};
  check_fine_tune_plan("FT", OptimizerKind::sgd, FullFineTune{});
  check_fine_tune_plan("LSkip", OptimizerKind::sgd, FullFineTune{}, LayerSkip{2});
  check_fine_tune_plan("LSkip 1/3", OptimizerKind::sgd, FullFineTune{}, LayerSkip{1, 3});
  check_fine_tune_plan("CSkip", OptimizerKind::sgd, FullFineTune{}, class_skip);
  check_fine_tune_plan("SkipT", OptimizerKind::sgd, FullFineTune{}, LayerSkip{2}, class_skip);
  check_fine_tune_plan("SkipT + TokenDrop", OptimizerKind::sgd, FullFineTune{}, LayerSkip{2}, class_skip, TokenDrop{0.5});
  check_fine_tune_plan("SkipT, AdamW", OptimizerKind::adamw, FullFineTune{}, LayerSkip{2}, class_skip);
  check_fine_tune_plan("heads only", OptimizerKind::sgd, FullFineTune{}, LayerSkip{4});
}
