// PromptTuning (CoOp) through FineTuner<Clip>: the gradient w.r.t. the context (central
// differences in double), step 0 = the zero-shot model, a frozen CLIP after fit (bit-identical,
// no gradient/optimizer buffers but the context's), the checkpoint, evaluation of new class
// prompts with the learned context, composition (FullFineTune, ClassSkip) and bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "skiptune/io/safetensors.hpp"
#include "skiptune/policy/prompt_tuning.hpp"
#include "skiptune/skiptune.hpp"
#include "skiptune/testing/gradient_check.hpp"
#include "skiptune/testing/synthetic_batch.hpp"
#include "skiptune/testing/synthetic_clip_task.hpp"
#include "skiptune/train/evaluation.hpp"
#include "skiptune/train/fine_tuner.hpp"

using namespace skiptune;

namespace {

constexpr std::size_t kContext = 3;                       // M
constexpr std::int32_t kPrefix[kContext] = {11, 12, 13};  // "an emoji of", as token ids

/// Give every prompt the same ids at positions 1..M (the synthetic prompts end at ≥ 4 > M).
void share_prefix(Tensor<std::int32_t>& prompts) {
  const Index C = prompts.dim(0), L = prompts.dim(1);
  for (Index c = 0; c < C; ++c)
    for (Index t = 1; t <= Index(kContext); ++t) prompts[c * L + t] = kPrefix[t - 1];
}

/// The tiny synthetic CLIP task (6 classes × 4 images, prompts of 5..10 tokens), prefix shared.
struct Fixture : testing::SyntheticClipTask {
  Fixture() { share_prefix(prompts); }
};

/// The same task in double, for the gradient check.
struct DoubleFixture {
  MemoryMeter meter;
  ClipConfig config = ClipConfig::tiny();
  Clip<double> model{config, meter};
  Tensor<double> images;
  Tensor<std::int32_t> prompts;
  ClipDataset<double> data;
  DoubleFixture(Index classes = 4, Index shots = 2) {
    Rng rng(21);
    model.initialize(rng);
    auto batch = testing::make_synthetic_batch<double>(config, classes * shots, classes, meter, rng, 10);
    images = std::move(batch.images);
    prompts = std::move(batch.token_ids);
    share_prefix(prompts);
    data.images = &images;
    data.class_token_ids = &prompts;
    for (Index i = 0; i < classes * shots; ++i) data.labels.push_back(static_cast<std::int32_t>(i % classes));
  }
};

FitOptions quick_options(std::size_t epochs) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = 4;
  o.text_learning_rate = 2e-3;  // CoOp's
  o.vision_learning_rate = 5e-3;  // no vision parameter trains: unused
  o.warmup_epochs = 0;
  o.seed = 5;
  return o;
}

std::map<std::string, std::vector<float>> snapshot(Clip<float>& model) {
  std::map<std::string, std::vector<float>> out;
  model.for_each_parameter([&](const std::string& n, Tensor<float>& t) { out[n].assign(t.data(), t.data() + t.numel()); });
  return out;
}

template <class T>
double max_abs_diff(const Tensor<T>& a, const Tensor<T>& b) {
  REQUIRE(a.numel() == b.numel());
  double d = 0;
  for (Index i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}

/// Rows b of `images` as one batch tensor [n, 3, R, R].
Tensor<float> images_of(const Tensor<float>& images, const std::vector<std::size_t>& rows, MemoryMeter& meter) {
  const Index per_image = images.numel() / images.dim(0), n = static_cast<Index>(rows.size());
  Tensor<float> out({n, 3, images.dim(2), images.dim(3)}, meter, MemoryCategory::inputs);
  for (Index b = 0; b < n; ++b)
    std::copy_n(images.data() + static_cast<Index>(rows[b]) * per_image, per_image, out.data() + b * per_image);
  return out;
}

using Coop = FineTuner<Clip<float>, PromptTuning>;

}  // namespace

TEST_CASE("PromptTuning: ∂L/∂context matches central differences (double)", "[prompt_tuning][gradients]") {
  DoubleFixture f;
  FineTuner<Clip<double>, PromptTuning> tuner(f.model, PromptTuning{.context_tokens = kContext});
  FitOptions options = quick_options(1);
  options.weight_decay = 0;  // the step must leave the context and its gradient as they are
  tuner.prepare(f.data, options);
  tuner.begin_epoch(0);
  // Move away from the initial point (the token embeddings) so the check is generic.
  Rng rng(77);
  for (Index i = 0; i < tuner.prompt_context().numel(); ++i) tuner.prompt_context()[i] += 0.02 * rng.normal();

  const std::vector<std::size_t> batch = {0, 1, 2, 7};  // several labels
  auto loss = [&] { return tuner.train_step(batch, 0.0, 0.0).loss; };  // lr 0: nothing moves
  loss();
  const Tensor<double> analytic = tuner.prompt_context_gradient().clone(MemoryCategory::workspace);
  double largest = 0;
  for (Index i = 0; i < analytic.numel(); ++i) largest = std::max(largest, std::abs(analytic[i]));
  REQUIRE(largest > 1e-4);  // the loss does depend on the context

  const auto check = testing::check_gradient("prompt_context", tuner.prompt_context(), analytic, loss,
                                             testing::GradientCheckOptions{1e-6});
  testing::print(check);
  INFO("max |analytic - numeric| / max |numeric| = " << check.relative_error << " over " << check.entries_checked
                                                     << " entries");
  CHECK(check.entries_checked == Index(kContext) * 64);
  // Measured 9.4e-10 (h = 1e-6, all 192 entries).
  CHECK(check.relative_error <= 1e-7);
}

TEST_CASE("PromptTuning at step 0 gives the zero-shot model's text features and logits", "[prompt_tuning][equivalence]") {
  Fixture f;
  Coop tuner(f.model, PromptTuning{.context_tokens = kContext});
  tuner.prepare(f.data, quick_options(1));
  tuner.begin_epoch(0);
  // The context starts as the prompts' own token embeddings at 1..M: the same stem output.
  const Tensor<float> plain = encode(f.model.text, f.prompts);
  const Tensor<float> with_context = tuner.prompt_features(f.prompts);
  INFO("max |Δ text features| = " << max_abs_diff(plain, with_context));
  CHECK(max_abs_diff(plain, with_context) == 0);  // measured: bit-identical

  const std::vector<std::size_t> batch = {0, 7, 14, 21};
  Tensor<float> logits;
  const auto step = tuner.train_step(batch, 0.0, 0.0, &logits);
  const Tensor<float> images = images_of(f.images, batch, f.meter);
  const Tensor<float> reference = f.model.logits(images, f.prompts);
  // The training step reads image features from the last-block cache (built in chunks) and runs
  // the text blocks in training mode: measured max |Δ| = 0 on logits of magnitude ~14.
  INFO("max |Δ logits| = " << max_abs_diff(logits, reference));
  CHECK(max_abs_diff(logits, reference) <= 1e-6);
  CHECK(step.kept_classes == 6);
}

TEST_CASE("PromptTuning: after fit every CLIP parameter is bit-identical and the loss went down",
          "[prompt_tuning][frozen]") {
  Fixture f;
  const auto before = snapshot(f.model);
  Coop tuner(f.model, PromptTuning{.context_tokens = kContext});
  auto options = quick_options(8);
  options.checkpoint_path = std::filesystem::temp_directory_path() / "skiptune_test_prompt_tuning.safetensors";
  const auto result = tuner.fit(f.data, options);

  const auto after = snapshot(f.model);
  REQUIRE(before.size() == after.size());
  for (const auto& [name, values] : before) {
    INFO(name);
    CHECK(std::memcmp(values.data(), after.at(name).data(), values.size() * sizeof(float)) == 0);
  }
  // The images are noise, so the best a shared context can do is approach ln 6 = 1.79 from the
  // zero-shot loss: measured 2.171 (epoch 0) → 1.815 (epoch 7) at CoOp's learning rate 2e-3.
  INFO("epoch mean losses: first " << result.epoch_mean_loss.front() << ", last " << result.epoch_mean_loss.back());
  CHECK(result.epoch_mean_loss.back() < result.epoch_mean_loss.front());

  // The context moved away from the prefix's token embeddings.
  const Tensor<float> initial = prompt_tuning::initial_context(f.model.text, f.prompts, kContext);
  INFO("max |Δ context| = " << max_abs_diff(initial, tuner.prompt_context()));
  CHECK(max_abs_diff(initial, tuner.prompt_context()) > 1e-3);

  // The checkpoint holds the context and its momentum, nothing of the frozen CLIP.
  const auto file = io::SafetensorsFile::open(options.checkpoint_path);
  CHECK(file.names() == std::vector<std::string>{"prompt_context", "optimizer.prompt_context.momentum_buffer"});
  std::vector<float> saved(kContext * 64);
  file.read_as_float("prompt_context", saved.data(), saved.size());
  CHECK(std::memcmp(saved.data(), tuner.prompt_context().data(), saved.size() * sizeof(float)) == 0);
  std::filesystem::remove(options.checkpoint_path);
}

TEST_CASE("PromptTuning: new class prompts are evaluated with the learned context", "[prompt_tuning][evaluation]") {
  Fixture f;
  Coop tuner(f.model, PromptTuning{.context_tokens = kContext});
  tuner.fit(f.data, quick_options(3));

  // "New classes": fresh prompts (other names, other lengths), tokenised with the template.
  Rng rng(99);
  auto fresh = testing::make_synthetic_batch<float>(f.config, 1, 5, f.meter, rng, 12);
  Tensor<std::int32_t>& new_prompts = fresh.token_ids;
  share_prefix(new_prompts);
  const Tensor<float> features = tuner.prompt_features(new_prompts);
  CHECK(features.dim(0) == 5);
  CHECK(max_abs_diff(features, encode(f.model.text, new_prompts)) > 1e-4);  // the context is used

  // The ids at positions 1..M are replaced, whatever they are.
  Tensor<std::int32_t> other_prefix = new_prompts.clone(MemoryCategory::inputs);
  for (Index c = 0; c < 5; ++c) other_prefix[c * other_prefix.dim(1) + 2] = 500;
  CHECK(max_abs_diff(features, tuner.prompt_features(other_prefix)) == 0);
  // Same as the free function on the context (e.g. one loaded from a checkpoint).
  CHECK(max_abs_diff(features, encode_with_context(f.model.text, new_prompts, tuner.prompt_context())) == 0);

  // Accuracy with a context: the initial context reproduces evaluate_accuracy exactly.
  const Tensor<float> initial = prompt_tuning::initial_context(f.model.text, f.prompts, kContext);
  CHECK(evaluate_accuracy_with_context(f.model, initial, f.images, f.data.labels, f.prompts) ==
        evaluate_accuracy(f.model, f.images, f.data.labels, f.prompts));
  const double learned = evaluate_accuracy_with_context(f.model, tuner.prompt_context(), f.images, f.data.labels, f.prompts);
  CHECK(learned >= 0.0);
  CHECK(learned <= 1.0);

  // A new prompt that ends inside the context is refused.
  Tensor<std::int32_t> too_short = new_prompts.clone(MemoryCategory::inputs);
  too_short[0 * too_short.dim(1) + 2] = static_cast<std::int32_t>(f.config.text.vocab_size - 1);  // EOT at 2
  CHECK_THROWS_AS(tuner.prompt_features(too_short), ConfigError);
}

TEST_CASE("PromptTuning owns no gradient or optimizer bytes but the context's", "[prompt_tuning][memory]") {
  Fixture f;
  Coop tuner(f.model, PromptTuning{.context_tokens = kContext});
  const auto options = quick_options(1);
  tuner.prepare(f.data, options);
  tuner.begin_epoch(0);
  const std::size_t context_bytes = kContext * 64 * sizeof(float);
  const auto& live = f.meter.current();
  CHECK(live[MemoryCategory::gradients] == context_bytes);
  CHECK(live[MemoryCategory::optimizer_state] == context_bytes);  // SGD momentum
  CHECK_FALSE(tuner.vision_gradients().stem.has_value());
  CHECK_FALSE(tuner.vision_gradients().head.has_value());
  CHECK_FALSE(tuner.text_gradients().stem.has_value());
  CHECK_FALSE(tuner.text_gradients().head.has_value());
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK_FALSE(tuner.vision_gradients().blocks[i].has_value());
    CHECK_FALSE(tuner.text_gradients().blocks[i].has_value());
  }
  std::vector<std::string> trained;
  tuner.for_each_trained([&](const std::string& name, Tensor<float>&, Tensor<float>&, bool text) {
    trained.push_back(name);
    CHECK(text);  // the text parameter group: the text learning rate
  });
  CHECK(trained == std::vector<std::string>{"prompt_context"});
  // Image side: the last-block cache (vision ω = N); no text cache (the prompts change).
  CHECK(tuner.vision_parts().first_trained_block == 4);
  CHECK(tuner.image_cache().numel() == static_cast<Index>(f.data.size()) * 17 * 64);
  CHECK(tuner.text_cache().empty());

  // During a step, too: the breakdown at the step's peak.
  f.meter.reset_peak();
  tuner.train_step({0, 7, 14, 21}, 1e-2, 0.0);
  CHECK(f.meter.at_peak()[MemoryCategory::gradients] == context_bytes);
  CHECK(f.meter.at_peak()[MemoryCategory::optimizer_state] == context_bytes);
  CHECK(f.meter.category_peaks()[MemoryCategory::gradients] == context_bytes);
}

TEST_CASE("PromptTuning composes: + FullFineTune changes nothing, + ClassSkip sends m < C prompts",
          "[prompt_tuning][composition]") {
  SECTION("FullFineTune + PromptTuning == PromptTuning (ω = N and frozen heads win)") {
    Fixture a, b;
    Coop coop(a.model, PromptTuning{.context_tokens = kContext});
    FineTuner<Clip<float>, FullFineTune, PromptTuning> both(b.model, FullFineTune{},
                                                            PromptTuning{.context_tokens = kContext});
    const auto ra = coop.fit(a.data, quick_options(2));
    const auto rb = both.fit(b.data, quick_options(2));
    CHECK(ra.epoch_mean_loss == rb.epoch_mean_loss);
    CHECK(max_abs_diff(coop.prompt_context(), both.prompt_context()) == 0);
  }
  SECTION("ClassSkip") {
    testing::SyntheticClipTask f(12, 4);
    share_prefix(f.prompts);
    const auto before = snapshot(f.model);
    FineTuner<Clip<float>, PromptTuning, ClassSkip> tuner(f.model, PromptTuning{.context_tokens = kContext},
                                                          ClassSkip{0.25, 50, 0.3});
    tuner.prepare(f.data, quick_options(1));
    tuner.begin_epoch(0);
    const std::size_t m = tuner.policy<ClassSkip>().kept_by_mask();
    CHECK(m < 12);
    const Tensor<float> initial = tuner.prompt_context().clone(MemoryCategory::workspace);
    for (std::size_t step = 0; step < 3; ++step) {
      const auto r = tuner.train_step({step, step + 12, step + 24, step + 36}, 1e-2, 0.0);
      CHECK(r.kept_classes == m);
      CHECK(std::isfinite(r.loss));
    }
    CHECK(max_abs_diff(initial, tuner.prompt_context()) > 0);
    CHECK(snapshot(f.model) == before);
  }
}

TEST_CASE("PromptTuning refuses prompts and M that cannot work, naming the class", "[prompt_tuning][errors]") {
  SECTION("prompts that do not share positions 1..M") {
    Fixture f;
    f.prompts[2 * f.prompts.dim(1) + 2] = 400;  // class 2, position 2
    Coop tuner(f.model, PromptTuning{.context_tokens = kContext});
    CHECK_THROWS_WITH(tuner.prepare(f.data, quick_options(1)),
                      Catch::Contains("PromptTuning") && Catch::Contains("class 2's prompt has token id 400 at position 2") &&
                          Catch::Contains("where class 0's has 12"));
  }
  SECTION("M = 0") {
    Fixture f;
    Coop tuner(f.model, PromptTuning{.context_tokens = 0});
    CHECK_THROWS_AS(tuner.prepare(f.data, quick_options(1)), ConfigError);
    CHECK_THROWS_WITH(tuner.prepare(f.data, quick_options(1)), Catch::Contains("context_tokens must be >= 1"));
  }
  SECTION("M not before the shortest prompt's end of text") {
    Fixture f;
    const auto g = f.model.text.geometry(f.prompts);
    Index shortest = g.eot_positions[0], shortest_class = 0;
    for (Index c = 0; c < g.sequences; ++c) {
      if (g.eot_positions[static_cast<std::size_t>(c)] < shortest) {
        shortest = g.eot_positions[static_cast<std::size_t>(c)];
        shortest_class = c;
      }
    }
    Coop tuner(f.model, PromptTuning{.context_tokens = static_cast<std::size_t>(shortest)});
    CHECK_THROWS_AS(tuner.prepare(f.data, quick_options(1)), ConfigError);
    const std::string expected = "class " + std::to_string(shortest_class) + "'s prompt ends at position " +
                                 std::to_string(shortest);
    CHECK_THROWS_WITH(tuner.prepare(f.data, quick_options(1)),
                      Catch::Contains("must be smaller than every prompt's end-of-text position") &&
                          Catch::Contains(expected));
    // One less fits (M < every end-of-text position).
    tuner.policy<PromptTuning>().context_tokens = static_cast<std::size_t>(shortest) - 1;
    share_prefix(f.prompts);
    const Index L = f.prompts.dim(1);
    for (Index c = 0; c < g.sequences; ++c)
      for (Index t = 1; t < shortest; ++t) f.prompts[c * L + t] = f.prompts[t];
    CHECK_NOTHROW(tuner.prepare(f.data, quick_options(1)));
  }
}
