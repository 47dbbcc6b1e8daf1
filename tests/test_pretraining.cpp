// Contrastive pretraining: the symmetric InfoNCE loss (value and gradients), the whole-model
// gradient of the pretraining loss, and ClipPretrainer (learning on synthetic pairs, AdamW's
// weight-decay groups, the logit_scale clamp). Each gradient check's tolerance sits next to it
// with the error measured when it was written (h = 1e-6, double).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "skiptune/model/clip.hpp"
#include "skiptune/testing/gradient_check.hpp"
#include "skiptune/testing/synthetic_batch.hpp"
#include "skiptune/train/clip_pretrainer.hpp"
#include "skiptune/train/symmetric_contrastive_loss.hpp"

using namespace skiptune;
using skiptune::testing::check_gradient;
using skiptune::testing::GradientCheck;
using skiptune::testing::GradientCheckOptions;
using D = double;

namespace {

Tensor<D> random_tensor(Shape shape, MemoryMeter& meter, Rng& rng, double scale = 1.0) {
  Tensor<D> t(shape, meter, MemoryCategory::workspace);
  for (Index i = 0; i < t.numel(); ++i) t[i] = rng.normal(0.0, scale);
  return t;
}

Tensor<D> matrix(Index rows, Index cols, std::initializer_list<D> values, MemoryMeter& meter) {
  Tensor<D> t({rows, cols}, meter, MemoryCategory::workspace);
  Index i = 0;
  for (D v : values) t[i++] = v;
  return t;
}

void expect_close(const GradientCheck& c, double tolerance) {
  skiptune::testing::print(c);
  INFO(c.name << ": max|d|/max|ref| = " << c.relative_error << " over " << c.entries_checked << " entries");
  CHECK(c.entries_checked > 0);
  CHECK(c.max_reference > 0);  // an all-zero gradient would make the check vacuous
  CHECK(c.relative_error <= tolerance);
}

/// The symmetric loss alone, gradients thrown away: what central differences evaluate.
D symmetric_loss_value(const Tensor<D>& image_features, const Tensor<D>& text_features, D logit_scale,
                       MemoryMeter& meter) {
  Tensor<D> d_image(image_features.shape(), meter, MemoryCategory::workspace);
  Tensor<D> d_text(text_features.shape(), meter, MemoryCategory::workspace);
  return symmetric_contrastive_loss_and_gradients(cpu{}, image_features, text_features, logit_scale, (D*)nullptr,
                                                  d_image, d_text, meter);
}

/// A CLIP small enough for whole-model central differences (as test_gradients.cpp's).
ClipConfig very_small_config() {
  ClipConfig config = ClipConfig::tiny();
  config.name = "very small";
  config.vision = VisionConfig{16, 8, 16, 2, 2, 32, nn::Activation::quick_gelu};
  config.text = TextConfig{8, 30, 16, 2, 2, 32, nn::Activation::quick_gelu};
  config.embed_dim = 12;
  return config;
}

}  // namespace

TEST_CASE("symmetric contrastive loss: gradients w.r.t. both features and logit_scale", "[pretraining][gradcheck]") {
  MemoryMeter meter;
  Rng rng(21);
  const Index B = 4, E = 5;
  auto image = random_tensor({B, E}, meter, rng), text = random_tensor({B, E}, meter, rng);
  auto scale = Tensor<D>::zeros(Shape{}, meter, MemoryCategory::weights);
  scale[0] = 1.7;  // exp(s) ≈ 5.5: softmaxes far from both uniform and one-hot
  auto loss = [&] { return symmetric_loss_value(image, text, scale[0], meter); };

  auto d_image = Tensor<D>::zeros({B, E}, meter, MemoryCategory::workspace);
  auto d_text = Tensor<D>::zeros({B, E}, meter, MemoryCategory::workspace);
  auto d_scale = Tensor<D>::zeros(Shape{}, meter, MemoryCategory::gradients);
  const D value =
      symmetric_contrastive_loss_and_gradients(cpu{}, image, text, scale[0], d_scale.data(), d_image, d_text, meter);
  CHECK(value == loss());  // deterministic: the same call twice is bit-identical

  // Measured 3.9e-10 (image), 3.5e-10 (text), 7.2e-11 (logit_scale).
  constexpr double tolerance = 2e-8;
  expect_close(check_gradient("symmetric loss: image features", image, d_image, loss), tolerance);
  expect_close(check_gradient("symmetric loss: text features", text, d_text, loss), tolerance);
  expect_close(check_gradient("symmetric loss: logit_scale", scale, d_scale, loss), tolerance);

  // Swapping the towers gives the same loss: the loss is symmetric.
  CHECK(symmetric_loss_value(text, image, scale[0], meter) == Approx(value).epsilon(1e-14));
  // d_logit_scale accumulates (the parameter-gradient rule); feature gradients are assigned.
  const D once = d_scale[0];
  symmetric_contrastive_loss_and_gradients(cpu{}, image, text, scale[0], d_scale.data(), d_image, d_text, meter);
  CHECK(d_scale[0] == Approx(2 * once).epsilon(1e-14));
}

TEST_CASE("symmetric contrastive loss equals a hand-computed 2x2 example", "[pretraining]") {
  MemoryMeter meter;
  // img rows normalise to e1, e2; txt rows to e1, (1,1)/√2. exp(ln 2) = 2, so
  // logits_per_image = [[2, √2], [0, √2]] and logits_per_text = its transpose.
  auto image = matrix(2, 2, {2, 0, 0, 3}, meter);
  auto text = matrix(2, 2, {1, 0, 1, 1}, meter);
  const D r2 = std::sqrt(2.0);
  const D image_row0 = std::log(std::exp(2.0) + std::exp(r2)) - 2, image_row1 = std::log(1 + std::exp(r2)) - r2;
  const D text_row0 = std::log(std::exp(2.0) + 1) - 2, text_row1 = std::log(2 * std::exp(r2)) - r2;  // = ln 2
  const D expected = ((image_row0 + image_row1) / 2 + (text_row0 + text_row1) / 2) / 2;
  CHECK(expected == Approx(0.3700611229307955).epsilon(1e-15));  // the same formula in Python
  CHECK(symmetric_loss_value(image, text, std::log(2.0), meter) == Approx(expected).epsilon(1e-14));
}

TEST_CASE("symmetric contrastive loss rejects NaN and mismatched shapes", "[pretraining]") {
  MemoryMeter meter;
  Rng rng(22);
  auto image = random_tensor({3, 4}, meter, rng), text = random_tensor({3, 4}, meter, rng);
  image[5] = std::numeric_limits<D>::quiet_NaN();
  CHECK_THROWS_AS(symmetric_loss_value(image, text, 1.0, meter), NumericError);
  image[5] = 0.5;
  CHECK_THROWS_AS(symmetric_loss_value(image, text, 1000.0, meter), NumericError);  // exp(1000) = inf
  auto fewer_captions = random_tensor({2, 4}, meter, rng);
  CHECK_THROWS_AS(symmetric_loss_value(image, fewer_captions, 1.0, meter), ShapeError);
  auto wider = random_tensor({3, 5}, meter, rng);
  CHECK_THROWS_AS(symmetric_loss_value(image, wider, 1.0, meter), ShapeError);
}

TEST_CASE("pretraining loss: whole-model gradient for every parameter tensor", "[pretraining][gradcheck][clip]") {
  MemoryMeter m;
  Clip<D> model(very_small_config(), m);
  Rng rng(23);
  model.initialize(rng);
  // Non-trivial LayerNorm parameters and biases so no gradient path hides behind a zero.
  model.for_each_parameter([&](const std::string& name, Tensor<D>& t) {
    if (name.find("ln_") != std::string::npos || name.find("bias") != std::string::npos)
      for (Index i = 0; i < t.numel(); ++i) t[i] += rng.normal(0.0, 0.1);
  });
  model.logit_scale[0] = 1.2;  // smaller than CLIP's 2.66 so the 3×3 softmaxes are not saturated
  Tensor<D> images({3, 3, 16, 16}, m, MemoryCategory::inputs);
  for (Index i = 0; i < images.numel(); ++i) images[i] = rng.normal();
  Tensor<std::int32_t> captions({3, 8}, m, MemoryCategory::inputs);  // caption i describes image i
  const std::int32_t rows[3][8] = {{28, 5, 6, 7, 29, 0, 0, 0}, {28, 1, 2, 3, 4, 5, 6, 29}, {28, 9, 29, 0, 0, 0, 0, 0}};
  std::memcpy(captions.data(), rows, sizeof rows);

  ClipPretrainer<D> pretrainer(model);
  pretrainer.compute_gradients(images, captions);
  auto loss = [&] {
    Tensor<D> image_features = encode(model.visual, images);
    Tensor<D> text_features = encode(model.text, captions);
    return symmetric_loss_value(image_features, text_features, model.logit_scale[0], m);
  };
  int tensors = 0;
  double worst = 0;
  pretrainer.for_each_trained([&](const std::string& name, Tensor<D>& p, Tensor<D>& g) {
    // Measured worst 2.6e-8 relative (visual ln_2.bias) over 16 sampled entries per tensor.
    auto c = check_gradient(name, p, g, loss, GradientCheckOptions{1e-6, 16, 77});
    if (name == "token_embedding.weight") {
      CHECK(c.relative_error <= 2e-7);  // most sampled rows are unused ids with zero gradient
    } else {
      expect_close(c, 2e-7);
    }
    worst = std::max(worst, c.relative_error);
    ++tensors;
  });
  std::printf("pretraining loss: %d parameter tensors checked, worst max|d|/max|ref| = %.2e\n", tensors, worst);
  CHECK(tensors == 1 + 5 + 2 * 12 + 3 + 2 + 2 * 12 + 3);
}

TEST_CASE("ClipPretrainer: a tiny float CLIP learns to pair synthetic images with captions", "[pretraining][train]") {
  ClipConfig config = ClipConfig::tiny();
  config.vision = VisionConfig{16, 8, 32, 2, 2, 64, nn::Activation::quick_gelu};
  config.text = TextConfig{8, 50, 32, 2, 2, 64, nn::Activation::quick_gelu};
  config.embed_dim = 16;
  MemoryMeter m;
  Clip<float> model(config, m);
  Rng rng(24);
  model.initialize(rng);
  const Index B = 8;
  auto batch = skiptune::testing::make_synthetic_batch<float>(config, B, B, m, rng);  // captions [B, L]

  AdamWOptions adamw;  // open_clip's recipe, at a larger LR for a 30-step test
  adamw.learning_rate = 2e-3;
  adamw.beta2 = 0.98;
  adamw.epsilon = 1e-6;
  adamw.weight_decay = 0.2;
  ClipPretrainer<float> pretrainer(model, adamw);
  // Every parameter owns a gradient and two AdamW moments, in the right categories.
  const std::size_t weight_bytes = model.parameter_count() * sizeof(float);
  CHECK(m.current()[MemoryCategory::gradients] >= weight_bytes);
  CHECK(m.current()[MemoryCategory::optimizer_state] >= 2 * weight_bytes);

  std::vector<float> losses;
  for (int step = 0; step < 30; ++step) losses.push_back(pretrainer.step(batch.images, batch.token_ids));
  std::printf("pretraining (8 pairs): loss %.4f -> %.4f after 30 steps\n", losses.front(), losses.back());
  // Measured 3.22 -> 0.0021. (At initialisation the loss is above chance, ln 8 ≈ 2.08: exp(s) ≈ 14
  // sharpens random cosine similarities, which are far from 0 in 16 dimensions.)
  CHECK(losses.front() > 1.5f);
  CHECK(losses.back() < 0.1f * losses.front());
  CHECK(model.logit_scale[0] >= 0.0f);
  CHECK(model.logit_scale[0] <= static_cast<float>(clip_max_logit_scale));

  // Retrieval on the training pairs: every image's best caption is its own.
  Tensor<float> logits = model.logits(batch.images, batch.token_ids);  // [B, B]
  int matched = 0;
  for (Index i = 0; i < B; ++i) {
    Index best = 0;
    for (Index j = 1; j < B; ++j)
      if (logits[i * B + j] > logits[i * B + best]) best = j;
    matched += best == i;
  }
  CHECK(matched == B);

  SECTION("images and captions must pair up") {
    Tensor<std::int32_t> fewer({B - 1, config.text.context_length}, m, MemoryCategory::inputs);
    fewer.fill(0);
    CHECK_THROWS_AS(pretrainer.step(batch.images, fewer), ShapeError);
  }
}

TEST_CASE("ClipPretrainer: weight decay only on matrices, as open_clip", "[pretraining][optimizer]") {
  MemoryMeter m;
  Clip<D> model(very_small_config(), m);
  Rng rng(25);
  model.initialize(rng);
  AdamWOptions adamw;
  adamw.weight_decay = 0.2;
  ClipPretrainer<D> pretrainer(model, adamw);

  const auto& groups = pretrainer.optimizer().groups();
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].name == "decay");
  CHECK(groups[1].name == "no_decay");
  REQUIRE(groups[1].weight_decay.has_value());
  CHECK(*groups[1].weight_decay == 0.0);
  std::set<std::string> decayed, not_decayed;
  for (const auto& ref : groups[0].parameters) decayed.insert(ref.name);
  for (const auto& ref : groups[1].parameters) not_decayed.insert(ref.name);
  // Matrices: conv1, proj, text_projection and four per block (2 towers × 2 blocks).
  CHECK(decayed.size() == 3 + 4 * 4);
  for (const char* name : {"visual.conv1.weight", "visual.proj", "text_projection",
                           "visual.transformer.resblocks.0.attn.in_proj_weight",
                           "transformer.resblocks.1.mlp.c_proj.weight"})
    CHECK(decayed.count(name) == 1);
  for (const char* name : {"logit_scale", "visual.class_embedding", "visual.positional_embedding",
                           "positional_embedding", "token_embedding.weight", "visual.ln_pre.weight",
                           "ln_final.bias", "transformer.resblocks.0.ln_1.weight",
                           "visual.transformer.resblocks.1.attn.in_proj_bias"})
    CHECK(not_decayed.count(name) == 1);
  CHECK(decayed.size() + not_decayed.size() == 62);

  // Behaviour: with zero gradients AdamW's moment term is exactly 0, so one step only decays —
  // the "decay" group by (1 − lr·wd), the "no_decay" group not at all (bit-identical).
  std::vector<std::vector<D>> before;
  pretrainer.for_each_trained([&](const std::string&, Tensor<D>& p, Tensor<D>&) {
    before.emplace_back(p.data(), p.data() + p.numel());
  });
  const double lr = 0.1;
  pretrainer.apply_update(lr);
  std::size_t k = 0;
  int decayed_checked = 0, kept_checked = 0;
  pretrainer.for_each_trained([&](const std::string& name, Tensor<D>& p, Tensor<D>&) {
    const bool decays = decayed.count(name) == 1;
    bool all_equal = true;
    for (Index i = 0; i < p.numel(); ++i)
      all_equal &= p[i] == (decays ? before[k][static_cast<std::size_t>(i)] * (1 - lr * 0.2)
                                   : before[k][static_cast<std::size_t>(i)]);
    INFO(name);
    CHECK(all_equal);
    (decays ? decayed_checked : kept_checked) += 1;
    ++k;
  });
  CHECK(decayed_checked == 19);
  CHECK(kept_checked == 43);
}

TEST_CASE("ClipPretrainer: logit_scale is clamped to [0, ln 100] after the update", "[pretraining][optimizer]") {
  MemoryMeter m;
  Clip<D> model(very_small_config(), m);
  Rng rng(26);
  model.initialize(rng);
  auto batch = skiptune::testing::make_synthetic_batch<D>(model.config(), 3, 3, m, rng);
  ClipPretrainer<D> pretrainer(model);
  CHECK(clip_max_logit_scale == Approx(std::log(100.0)).epsilon(1e-15));

  model.logit_scale[0] = 5.0;  // exp(5) ≈ 148 > 100
  const D loss = pretrainer.step(batch.images, batch.token_ids, 0.0);  // lr 0: only the clamp acts
  CHECK(std::isfinite(loss));
  CHECK(pretrainer.logit_scale_gradient()[0] != 0.0);  // the loss saw (and differentiated) the unclamped value
  CHECK(model.logit_scale[0] == static_cast<D>(clip_max_logit_scale));

  model.logit_scale[0] = -0.3;
  pretrainer.apply_update(0.0);
  CHECK(model.logit_scale[0] == 0.0);

  model.logit_scale[0] = 2.5;  // inside the range: untouched
  pretrainer.apply_update(0.0);
  CHECK(model.logit_scale[0] == 2.5);
}
