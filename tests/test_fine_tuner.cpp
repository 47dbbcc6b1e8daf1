// FineTuner<Clip, Policies...>: the equivalences Skip Tuning rests on, LayerSkip's boundaries,
// ClassSkip inside a step, determinism, and the errors a user can cause before training starts.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "skiptune/skiptune.hpp"
#include "skiptune/testing/synthetic_batch.hpp"
#include "skiptune/testing/synthetic_clip_task.hpp"
#include "skiptune/train/fine_tuner.hpp"

using namespace skiptune;

namespace {

/// A tiny CLIP with `shots` synthetic images per class and one prompt per class.
using Fixture = testing::SyntheticClipTask;

FitOptions quick_options(std::size_t epochs = 2) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = 4;
  o.text_learning_rate = 1e-2;
  o.vision_learning_rate = 5e-3;
  o.warmup_epochs = 0;
  o.seed = 5;
  return o;
}

std::map<std::string, std::vector<float>> snapshot(Clip<float>& model) {
  std::map<std::string, std::vector<float>> out;
  model.for_each_parameter([&](const std::string& n, Tensor<float>& t) { out[n].assign(t.data(), t.data() + t.numel()); });
  return out;
}

double max_abs_diff(const Tensor<float>& a, const Tensor<float>& b) {
  REQUIRE(a.numel() == b.numel());
  double d = 0;
  for (Index i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}

}  // namespace

TEST_CASE("LayerSkip at step 0 gives full fine-tuning's logits", "[finetuner][equivalence]") {
  for (std::size_t omega : {1, 2, 4}) {
    Fixture ft_fixture, ls_fixture;
    FineTuner<Clip<float>, FullFineTune> ft(ft_fixture.model);
    FineTuner<Clip<float>, FullFineTune, LayerSkip> ls(ls_fixture.model, FullFineTune{}, LayerSkip{omega});
    const auto options = quick_options();
    ft.prepare(ft_fixture.data, options);
    ls.prepare(ls_fixture.data, options);
    ft.begin_epoch(0);
    ls.begin_epoch(0);
    CHECK(ls.image_cache().numel() > 0);
    CHECK(ls.text_cache().numel() > 0);
    const std::vector<std::size_t> batch = {0, 6, 12, 18};
    Tensor<float> ft_logits, ls_logits;
    const auto a = ft.train_step(batch, 0.0, 0.0, &ft_logits);
    const auto b = ls.train_step(batch, 0.0, 0.0, &ls_logits);
    // Cached states come from the same inference code in chunks of other sizes, so GEMM blocking
    // may differ in the last bit: measured max |Δ| = 0 .. 2e-6 on logits of magnitude ~14.
    INFO("omega " << omega << ": max |Δ logits| = " << max_abs_diff(ft_logits, ls_logits));
    CHECK(max_abs_diff(ft_logits, ls_logits) <= 1e-4);
    CHECK(std::abs(a.loss - b.loss) <= 1e-5);
  }
}

TEST_CASE("ClassSkip keeping every class gives full fine-tuning's loss and gradients", "[finetuner][equivalence]") {
  Fixture ft_fixture, cs_fixture;
  FineTuner<Clip<float>, FullFineTune> ft(ft_fixture.model);
  FineTuner<Clip<float>, FullFineTune, ClassSkip> cs(cs_fixture.model, FullFineTune{}, ClassSkip{1.0, 50, 0.3});
  ft.prepare(ft_fixture.data, quick_options());
  cs.prepare(cs_fixture.data, quick_options());
  ft.begin_epoch(0);
  cs.begin_epoch(0);
  const std::vector<std::size_t> batch = {1, 2, 7, 13};  // several labels in one batch
  const auto a = ft.train_step(batch, 0.0, 0.0);
  const auto b = cs.train_step(batch, 0.0, 0.0);
  CHECK(b.kept_classes == 6);
  CHECK(a.loss == b.loss);
  std::vector<std::vector<float>> grads_a, grads_b;
  ft.for_each_trained([&](const std::string&, Tensor<float>&, Tensor<float>& g, bool) { grads_a.emplace_back(g.data(), g.data() + g.numel()); });
  cs.for_each_trained([&](const std::string&, Tensor<float>&, Tensor<float>& g, bool) { grads_b.emplace_back(g.data(), g.data() + g.numel()); });
  REQUIRE(grads_a.size() == grads_b.size());
  CHECK(grads_a == grads_b);  // bit for bit: the same prompts in the same order
}

TEST_CASE("ClassSkip sends m < C prompts and keeps every ground-truth class", "[finetuner][classskip]") {
  Fixture f(12, 4);
  FineTuner<Clip<float>, FullFineTune, ClassSkip> cs(f.model, FullFineTune{}, ClassSkip{0.25, 50, 0.3});
  cs.prepare(f.data, quick_options());
  cs.begin_epoch(0);
  const std::size_t m = cs.policy<ClassSkip>().kept_by_mask();
  CHECK(cs.policy<ClassSkip>().top_count() == 3);
  CHECK(m >= 3);
  CHECK(m < 12);
  for (std::size_t step = 0; step < 5; ++step) {
    const std::vector<std::size_t> batch = {step, step + 12, step + 24, step + 36};  // one class per batch
    const auto r = cs.train_step(batch, 1e-3, 1e-3);
    CHECK(r.kept_classes == m);  // the mask over rank positions is drawn once, as the reference
    CHECK(std::isfinite(r.loss));
  }
}

TEST_CASE("frozen parameters are bit-identical after training; FullFineTune + LayerSkip{0} == FullFineTune",
          "[finetuner][equivalence]") {
  SECTION("LayerSkip freezes stems and blocks below omega") {
    Fixture f;
    const auto before = snapshot(f.model);
    SkipTuning<Clip<float>> tuner(f.model, FullFineTune{}, LayerSkip{2, 3}, ClassSkip{0.5, 50, 0.3});
    tuner.fit(f.data, quick_options(3));
    const auto after = snapshot(f.model);
    int frozen = 0, changed = 0;
    for (const auto& [name, values] : before) {
      const bool below = name.rfind("visual.transformer.resblocks.0.", 0) == 0 ||
                         name.rfind("visual.transformer.resblocks.1.", 0) == 0 ||
                         name.rfind("transformer.resblocks.0.", 0) == 0 || name.rfind("transformer.resblocks.1.", 0) == 0 ||
                         name.rfind("transformer.resblocks.2.", 0) == 0;
      const bool stem = name.find("resblocks") == std::string::npos && name.find("ln_post") == std::string::npos &&
                        name != "visual.proj" && name.find("ln_final") == std::string::npos && name != "text_projection";
      if (below || stem) {
        CHECK(std::memcmp(values.data(), after.at(name).data(), values.size() * sizeof(float)) == 0);
        ++frozen;
      } else if (values != after.at(name)) {
        ++changed;
      }
    }
    CHECK(frozen == 8 + 12 * 5);
    CHECK(changed > 0);
    CHECK_FALSE(tuner.vision_gradients().blocks[1].has_value());
    CHECK(tuner.vision_gradients().blocks[2].has_value());
    CHECK_FALSE(tuner.text_gradients().blocks[2].has_value());
  }
  SECTION("LayerSkip{0} changes nothing") {
    Fixture a, b;
    FineTuner<Clip<float>, FullFineTune> ft(a.model);
    FineTuner<Clip<float>, FullFineTune, LayerSkip> ls0(b.model, FullFineTune{}, LayerSkip{0});
    const auto ra = ft.fit(a.data, quick_options(2));
    const auto rb = ls0.fit(b.data, quick_options(2));
    CHECK(ra.epoch_mean_loss == rb.epoch_mean_loss);
    CHECK(snapshot(a.model) == snapshot(b.model));
    CHECK(ls0.image_cache().empty());
  }
}

TEST_CASE("the same seed gives identical runs", "[finetuner][determinism]") {
  auto run = [] {
    Fixture f;
    SkipTuning<Clip<float>> tuner(f.model, FullFineTune{}, LayerSkip{1}, ClassSkip{0.5, 50, 0.3});
    auto result = tuner.fit(f.data, quick_options(2));
    return std::make_pair(result.epoch_mean_loss, snapshot(f.model));
  };
  const auto x = run(), y = run();
  CHECK(x.first == y.first);
  CHECK(x.second == y.second);
}

TEST_CASE("LayerSkip boundaries: omega = 0, 1, N-1, N work; omega > N is an error", "[finetuner][layerskip]") {
  for (std::size_t omega : {0, 1, 3, 4}) {
    Fixture f;
    FineTuner<Clip<float>, FullFineTune, LayerSkip> tuner(f.model, FullFineTune{}, LayerSkip{omega});
    const auto r = tuner.fit(f.data, quick_options(1));
    INFO("omega " << omega);
    CHECK(std::isfinite(r.epoch_mean_loss.back()));
    CHECK(tuner.vision_parts().first_trained_block == omega);
  }
  Fixture f;
  FineTuner<Clip<float>, FullFineTune, LayerSkip> tuner(f.model, FullFineTune{}, LayerSkip{5});
  CHECK_THROWS_WITH(tuner.fit(f.data, quick_options(1)),
                    Catch::Contains("LayerSkip: ω = 5 for the vision tower is outside [0, N = 4]"));
}

TEST_CASE("TokenDrop keeps the class token and needs LayerSkip", "[finetuner][tokendrop]") {
  Rng rng(3);
  std::vector<Index> kept;
  TokenDrop drop(0.5);
  for (int i = 0; i < 20; ++i) {
    drop.drop_tokens(TokenDropInput{4, 17}, kept, rng);
    CHECK(kept.front() == 0);
    CHECK(kept.size() == 9);  // class token + 8 of 16
    CHECK(std::is_sorted(kept.begin(), kept.end()));
  }
  CHECK_THROWS_AS(TokenDrop(1.0), ConfigError);
  Fixture f;
  FineTuner<Clip<float>, FullFineTune, LayerSkip, TokenDrop> with_cache(f.model, FullFineTune{}, LayerSkip{2}, TokenDrop{0.25});
  with_cache.prepare(f.data, quick_options());
  with_cache.begin_epoch(0);
  const auto r = with_cache.train_step({0, 1, 2, 3}, 1e-3, 1e-3);
  CHECK(r.image_tokens == 13);
  Fixture g;
  FineTuner<Clip<float>, FullFineTune, TokenDrop> without_cache(g.model, FullFineTune{}, TokenDrop{0.25});
  CHECK_THROWS_WITH(without_cache.fit(g.data, quick_options()), Catch::Contains("TokenDrop needs LayerSkip"));
}

TEST_CASE("bad hyperparameters and data fail before any training", "[finetuner][errors]") {
  Fixture f;
  const auto before = snapshot(f.model);
  auto expect_error = [&](auto&& tuner, const FitOptions& options, const char* phrase) {
    CHECK_THROWS_WITH(tuner.fit(f.data, options), Catch::Contains(phrase));
    CHECK(snapshot(f.model) == before);  // nothing trained
  };
  expect_error(FineTuner<Clip<float>, ClassSkip>(f.model, ClassSkip{0.0, 50, 0.3}), quick_options(), "top_ratio (rho)");
  expect_error(FineTuner<Clip<float>, ClassSkip>(f.model, ClassSkip{0.5, 0, 0.3}), quick_options(), "max_top");
  expect_error(FineTuner<Clip<float>, ClassSkip>(f.model, ClassSkip{0.5, 50, -1.0}), quick_options(), "reserve_scale (lambda)");
  auto zero_batch = quick_options();
  zero_batch.batch_size = 0;
  expect_error(FineTuner<Clip<float>>(f.model), zero_batch, "batch size must be > 0");

  auto bad_label = f.data;
  bad_label.labels[3] = 6;
  CHECK_THROWS_WITH(FineTuner<Clip<float>>(f.model).fit(bad_label, quick_options()),
                    Catch::Contains("label 6 of image 3 is outside the class list [0, 6)"));
  auto empty_class = f.data;
  for (auto& l : empty_class.labels)
    if (l == 5) l = 4;
  CHECK_THROWS_WITH(FineTuner<Clip<float>>(f.model).fit(empty_class, quick_options()),
                    Catch::Contains("class 5 has no training images"));
  CHECK(snapshot(f.model) == before);
}

TEST_CASE("a NaN loss stops training with the step number and keeps the last checkpoint", "[finetuner][errors]") {
  Fixture f;
  const auto checkpoint = std::filesystem::temp_directory_path() / "skiptune_test_nan_checkpoint.safetensors";
  std::filesystem::remove(checkpoint);
  auto options = quick_options(3);
  options.checkpoint_path = checkpoint;
  // An augmentation that poisons image 0 from the second epoch on.
  int calls_epoch = 0;
  f.data.augment = [&](std::size_t index, Rng&, float* out) {
    const Index per_image = f.images.numel() / f.images.dim(0);
    std::copy_n(f.images.data() + static_cast<Index>(index) * per_image, per_image, out);
    if (calls_epoch >= 1 && index == 0) out[0] = std::numeric_limits<float>::quiet_NaN();
  };
  FineTuner<Clip<float>, FullFineTune> tuner(f.model);
  struct EpochCounter {
    int* epoch;
    void on_epoch_end(const EpochEnd&) { ++*epoch; }
  } counter{&calls_epoch};
  CHECK_THROWS_WITH(tuner.fit(f.data, options, counter),
                    Catch::Contains("training stopped at step") && Catch::Contains("last finite loss") &&
                        Catch::Contains("is intact"));
  REQUIRE(std::filesystem::exists(checkpoint));
  const auto file = io::SafetensorsFile::open(checkpoint);
  CHECK(file.metadata().at("epoch") == "0");  // written atomically at the end of epoch 0
  std::filesystem::remove(checkpoint);
}

TEST_CASE("observers: EarlyStop ends fit early and its reason reaches FitResult", "[finetuner][observers]") {
  Fixture f;
  FineTuner<Clip<float>, FullFineTune> tuner(f.model);
  auto options = quick_options(6);
  options.text_learning_rate = options.vision_learning_rate = 0.0;  // the loss cannot improve
  options.warmup_learning_rate = 0.0;
  EarlyStop early{.patience = 2, .min_delta = 1e-6, .monitor = EarlyStop::Monitor::mean_loss};
  std::ostringstream progress_text;
  ProgressBar progress(progress_text);
  const auto result = tuner.fit(f.data, options, early, progress);
  CHECK(result.stopped_early);
  CHECK(result.epoch_mean_loss.size() == 3);  // epoch 0 sets the best; 1 and 2 do not improve
  CHECK_FALSE(result.stop_reason.empty());
  CHECK_FALSE(progress_text.str().empty());
}
