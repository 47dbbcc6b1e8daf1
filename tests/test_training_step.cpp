// Training from block ω: same logits as the full model at step 0, parameters below ω
// bit-identical after training, no gradient or optimizer buffers for them; determinism; and
// the errors a user can cause.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "skiptune/skiptune.hpp"
#include "skiptune/testing/synthetic_batch.hpp"

using namespace skiptune;

namespace {

std::map<std::string, std::vector<float>> snapshot(Clip<float>& model) {
  std::map<std::string, std::vector<float>> out;
  model.for_each_parameter([&](const std::string& name, Tensor<float>& t) {
    out[name].assign(t.data(), t.data() + t.numel());
  });
  return out;
}

bool is_below(const std::string& name, std::size_t omega_vision, std::size_t omega_text) {
  for (std::size_t i = 0; i < omega_vision; ++i)
    if (name.rfind(VisionTower<float>::block_prefix(i), 0) == 0) return true;
  for (std::size_t i = 0; i < omega_text; ++i)
    if (name.rfind(TextTower<float>::block_prefix(i), 0) == 0) return true;
  return false;
}

bool is_stem(const std::string& name) {
  for (const char* s : {"visual.class_embedding", "visual.positional_embedding", "visual.conv1.weight",
                        "visual.ln_pre.weight", "visual.ln_pre.bias", "token_embedding.weight", "positional_embedding",
                        "logit_scale"})
    if (name == s) return true;
  return false;
}

}  // namespace

TEST_CASE("a step from block omega: logits, frozen parameters, no gradient buffers", "[omega]") {
  const auto config = ClipConfig::tiny();
  for (auto [omega_vision, omega_text] : {std::pair<std::size_t, std::size_t>{2, 2}, {1, 3}, {0, 4}, {4, 0}}) {
    MemoryMeter meter;
    Clip<float> model(config, meter);
    Rng rng(3);
    model.initialize(rng);
    auto data = testing::make_synthetic_batch<float>(config, 4, 6, meter, rng, 10);
    const auto before = snapshot(model);

    const std::size_t weights_bytes = meter.current()[MemoryCategory::weights];
    ClipTrainer<float> trainer(model, ClipTrainableParts::from_block(omega_vision, omega_text),
                               SgdOptions{0.05, 0.9, 5e-4});
    // Gradient and momentum buffers exist for exactly the trained blocks and the heads.
    std::size_t trained_bytes = 0;
    trainer.for_each_trained([&](const std::string& name, Tensor<float>& p, Tensor<float>&) {
      CHECK_FALSE(is_below(name, omega_vision, omega_text));
      CHECK_FALSE(is_stem(name));
      trained_bytes += p.bytes();
    });
    CHECK(meter.current()[MemoryCategory::gradients] == trained_bytes);
    CHECK(meter.current()[MemoryCategory::optimizer_state] == trained_bytes);
    CHECK(meter.current()[MemoryCategory::weights] == weights_bytes);
    for (std::size_t i = 0; i < omega_vision; ++i) CHECK_FALSE(trainer.vision_gradients().blocks[i].has_value());
    for (std::size_t i = 0; i < omega_text; ++i) CHECK_FALSE(trainer.text_gradients().blocks[i].has_value());
    CHECK_FALSE(trainer.vision_gradients().stem.has_value());
    CHECK_FALSE(trainer.text_gradients().stem.has_value());

    // Step 0: the training forward gives the full model's logits, bit for bit.
    Tensor<float> train_logits;
    trainer.compute_gradients(data.images, data.token_ids, data.labels, &train_logits);
    const Tensor<float> full_logits = model.logits(data.images, data.token_ids);
    REQUIRE(train_logits.numel() == full_logits.numel());
    CHECK(std::memcmp(train_logits.data(), full_logits.data(), full_logits.bytes()) == 0);

    float first_loss = 0, last_loss = 0;
    for (int step = 0; step < 5; ++step) {
      const float loss = trainer.step(data.images, data.token_ids, data.labels);
      if (step == 0) first_loss = loss;
      last_loss = loss;
    }
    CHECK(last_loss < first_loss);  // it learns

    const auto after = snapshot(model);
    int frozen_checked = 0, trained_changed = 0;
    for (const auto& [name, values] : before) {
      if (is_below(name, omega_vision, omega_text) || is_stem(name)) {
        CHECK(std::memcmp(values.data(), after.at(name).data(), values.size() * sizeof(float)) == 0);
        ++frozen_checked;
      } else if (values != after.at(name)) {
        ++trained_changed;
      }
    }
    CHECK(frozen_checked == int(8 + 12 * (omega_vision + omega_text)));
    CHECK(trained_changed > 0);
  }
}

TEST_CASE("the same seed gives identical results", "[determinism]") {
  auto run = [] {
    MemoryMeter meter;
    const auto config = ClipConfig::tiny();
    Clip<float> model(config, meter);
    Rng rng(42);
    model.initialize(rng);
    auto data = testing::make_synthetic_batch<float>(config, 4, 8, meter, rng, 12);
    ClipTrainer<float> trainer(model, ClipTrainableParts::full_fine_tune(), SgdOptions{0.01, 0.9, 5e-4});
    std::vector<float> losses;
    for (int i = 0; i < 3; ++i) losses.push_back(trainer.step(data.images, data.token_ids, data.labels));
    auto params = snapshot(model);
    return std::make_pair(losses, params);
  };
  const auto a = run(), b = run();
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
}

TEST_CASE("bad input gives a clear exception naming the problem", "[errors]") {
  MemoryMeter meter;
  const auto config = ClipConfig::tiny();
  Clip<float> model(config, meter);
  Rng rng(1);
  model.initialize(rng);
  auto data = testing::make_synthetic_batch<float>(config, 2, 3, meter, rng);
  ClipTrainer<float> trainer(model, ClipTrainableParts::full_fine_tune());

  SECTION("images of the wrong shape") {
    Tensor<float> wrong({2, 3, 31, 32}, meter, MemoryCategory::inputs);
    CHECK_THROWS_WITH(trainer.step(wrong, data.token_ids, data.labels),
                      Catch::Contains("tensor images has shape [2,3,31,32], expected [B,3,32,32]"));
  }
  SECTION("a config whose width is not divisible by heads") {
    ClipConfig bad = config;
    bad.vision.heads = 3;
    CHECK_THROWS_AS(Clip<float>(bad, meter), ConfigError);
    CHECK_THROWS_WITH(Clip<float>(bad, meter), Catch::Contains("vision.width 64 is not divisible by vision.heads 3"));
  }
  SECTION("token ids out of range") {
    data.token_ids[5] = 1000;
    CHECK_THROWS_AS(trainer.step(data.images, data.token_ids, data.labels), InputError);
    CHECK_THROWS_WITH(trainer.step(data.images, data.token_ids, data.labels),
                      Catch::Contains("token id 1000 at prompt 0, position 5 is outside the vocabulary [0, 1000)"));
  }
  SECTION("a label outside the class list") {
    data.labels[1] = 3;
    CHECK_THROWS_WITH(trainer.step(data.images, data.token_ids, data.labels),
                      Catch::Contains("label 3 of batch item 1 is outside [0, 3)"));
  }
  SECTION("labels of the wrong length") {
    Tensor<std::int32_t> labels({3}, meter, MemoryCategory::inputs);
    CHECK_THROWS_WITH(trainer.step(data.images, data.token_ids, labels), Catch::Contains("expected [2]"));
  }
  SECTION("a NaN loss stops with a NumericError") {
    data.images[0] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(trainer.step(data.images, data.token_ids, data.labels), NumericError);
  }
  SECTION("omega > N and a trained stem above a frozen block are rejected") {
    CHECK_THROWS_WITH(ClipTrainer<float>(model, ClipTrainableParts::from_block(5, 0)),
                      Catch::Contains("first trained block ω = 5 is outside [0, N = 4]"));
    auto parts = ClipTrainableParts::from_block(2, 0);
    parts.vision.stem = true;
    CHECK_THROWS_AS(ClipTrainer<float>(model, parts), ConfigError);
  }
  SECTION("impossible optimizer settings") {
    CHECK_THROWS_AS(ClipTrainer<float>(model, {}, SgdOptions{-1, 0.9, 0}), ConfigError);
    CHECK_THROWS_AS(ClipTrainer<float>(model, {}, SgdOptions{0.1, 1.0, 0}), ConfigError);
  }
}

TEST_CASE("presets have OpenAI's parameter counts", "[config]") {
  MemoryMeter meter;
  CHECK(Clip<float>(ClipConfig::vit_b16(), meter).parameter_count() == 149'620'737u);
  CHECK(Clip<float>(ClipConfig::vit_b32(), meter).parameter_count() == 151'277'313u);
}
