// "Any transformer type": the example SequenceClassifier (examples/sequence_classifier.hpp, a
// BERT-like text classifier written against the Encoder concept only) — its own stem and head
// against central differences, and LayerSkip through FineTuner<EncoderClassifier<...>> behaving on
// it exactly as on CLIP: the same first step as full fine-tuning, frozen parts bit-identical and
// without gradient buffers, the ω = N and ω > N boundaries, and a loss that goes down.
// Each tolerance sits next to its check with the figure measured when it was written.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "../examples/sequence_classifier.hpp"
#include "../examples/sequence_classifier_data.hpp"
#include "skiptune/nn/contrastive_logits.hpp"
#include "skiptune/policy/full_fine_tune.hpp"
#include "skiptune/policy/layer_skip.hpp"
#include "skiptune/testing/gradient_check.hpp"
#include "skiptune/train/encoder_fine_tuner.hpp"

using namespace skiptune;
using example::SequenceClassifier;
using example::SequenceClassifierConfig;
using skiptune::testing::check_gradient;
using skiptune::testing::GradientCheck;
using skiptune::testing::GradientCheckOptions;

namespace {

/// Small enough for central differences over every entry of the stem and head.
SequenceClassifierConfig gradient_config() {
  SequenceClassifierConfig c;
  c.vocab_size = 12;
  c.context_length = 6;
  c.width = 8;
  c.layers = 2;
  c.heads = 2;
  c.mlp_width = 16;
  c.classes = 3;
  return c;
}

/// Ids [3, 6] with padding at the end, in the middle and at the start, and a repeated id (4), so
/// the mask, the per-sequence lengths and the scatter-add of the token embedding all matter.
Tensor<std::int32_t> gradient_ids(MemoryMeter& meter) {
  Tensor<std::int32_t> ids({3, 6}, meter, MemoryCategory::inputs);
  const std::int32_t values[] = {3, 4, 7, 4, 0, 0,   //
                                 5, 0, 11, 2, 0, 9,  //
                                 0, 0, 1, 6, 4, 8};
  std::copy(std::begin(values), std::end(values), ids.data());
  return ids;
}

Tensor<double> random_like(Shape shape, MemoryMeter& meter, Rng& rng) {
  Tensor<double> t(shape, meter, MemoryCategory::workspace);
  for (Index i = 0; i < t.numel(); ++i) t[i] = rng.normal();
  return t;
}

/// Σ weights ∘ out: a scalar loss whose gradient with respect to `out` is `weights`.
double project(const Tensor<double>& out, const Tensor<double>& weights) {
  double sum = 0;
  for (Index i = 0; i < out.numel(); ++i) sum += out[i] * weights[i];
  return sum;
}

void expect_close(const GradientCheck& c, double tolerance) {
  INFO(c.name << ": max|Δ|/max|ref| = " << c.relative_error << " over " << c.entries_checked << " entries");
  CHECK(c.entries_checked > 0);
  CHECK(c.relative_error <= tolerance);
}

/// A float classifier for the LayerSkip checks: 4 blocks so that ω = 2 splits it in half.
SequenceClassifierConfig layer_skip_config() {
  SequenceClassifierConfig c;
  c.vocab_size = 40;
  c.context_length = 10;
  c.width = 32;
  c.layers = 4;
  c.heads = 4;
  c.mlp_width = 64;
  c.classes = 4;
  return c;
}

/// A model, seeded weights and a keyword task (64 examples) over it.
struct Fixture {
  using Model = SequenceClassifier<float>;
  MemoryMeter meter;
  SequenceClassifierConfig config = layer_skip_config();
  Model model{config, meter};
  example::KeywordTask task;
  EncoderDataset<Model> data;

  explicit Fixture(Index examples = 64) {
    Rng rng(17);
    model.initialize(rng);
    example::KeywordTaskOptions o;
    o.examples = examples;
    o.tokens = config.context_length;
    o.min_length = 4;
    o.vocab_size = config.vocab_size;
    o.classes = config.classes;
    Rng data_rng = rng.fork(1);
    task = example::make_keyword_task(o, meter, data_rng);
    data = EncoderDataset<Model>{&task.ids, task.labels, static_cast<std::size_t>(config.classes)};
  }
};

FitOptions quick_options(std::size_t epochs) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = 8;
  o.vision_learning_rate = 0.05;
  o.warmup_epochs = 0;
  o.seed = 3;
  return o;
}

using Snapshot = std::map<std::string, std::vector<float>>;
Snapshot snapshot(Fixture::Model& model) {
  Snapshot out;
  for_each_parameter(model, [&](const std::string& name, Tensor<float>& t, ParameterLocation) {
    out[name].assign(t.data(), t.data() + t.numel());
  });
  return out;
}

std::vector<float> flatten(Fixture::Model::head_parameters& p) {
  std::vector<float> out;
  p.for_each([&](const char*, Tensor<float>& t) { out.insert(out.end(), t.data(), t.data() + t.numel()); });
  return out;
}
std::vector<float> flatten(nn::BlockWeights<float>& p) {
  std::vector<float> out;
  p.for_each([&](const char*, Tensor<float>& t) { out.insert(out.end(), t.data(), t.data() + t.numel()); });
  return out;
}
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}
double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, std::abs(double(v)));
  return m;
}

}  // namespace

TEST_CASE("SequenceClassifier stem and head match central differences", "[any_encoder][gradients]") {
  MemoryMeter meter;
  SequenceClassifier<double> model(gradient_config(), meter);
  Rng rng(5);
  model.initialize(rng, 0.5);  // large weights: every path carries a visible signal
  const auto ids = gradient_ids(meter);
  const auto g = model.geometry(ids);
  REQUIRE(g.lengths == std::vector<Index>{4, 4, 4});
  const Index n = g.sequences * g.tokens, W = model.config().width;
  // Measured: every relative error of the stem and head checks ≤ 9.2e-10 (h = 1e-6, double).
  constexpr double tolerance = 1e-7;

  SECTION("stem: token + positional embedding, embedding LayerNorm") {
    const auto R = random_like({n, W}, meter, rng);
    decltype(model)::stem_record record;
    const auto states = model.stem_forward(ids, g, &record);
    auto grads = detail::zeros_like<decltype(model)::stem_parameters, double>(model.stem(), meter,
                                                                              MemoryCategory::gradients);
    model.stem_backward(R, std::move(record), grads, g);
    auto loss = [&] { return project(model.stem_forward(ids, g, nullptr), R); };
    expect_close(check_gradient("token embedding (id 4 repeated, id 0 = padding)", model.stem().token_embedding,
                                grads.token_embedding, loss),
                 tolerance);
    expect_close(check_gradient("positional embedding", model.stem().positional_embedding,
                                grads.positional_embedding, loss),
                 tolerance);
    expect_close(check_gradient("embedding LayerNorm weight", model.stem().norm_weight, grads.norm_weight, loss),
                 tolerance);
    expect_close(check_gradient("embedding LayerNorm bias", model.stem().norm_bias, grads.norm_bias, loss),
                 tolerance);
  }

  SECTION("head: masked mean, LayerNorm, linear") {
    auto states = random_like({n, W}, meter, rng);
    const auto R = random_like({g.sequences, model.config().classes}, meter, rng);
    decltype(model)::head_record record;
    const auto logits = model.head_forward(states, g, &record);
    auto grads = detail::zeros_like<decltype(model)::head_parameters, double>(model.head(), meter,
                                                                              MemoryCategory::gradients);
    const auto d_states = model.head_backward(R, std::move(record), grads, g, true);
    auto loss = [&] { return project(model.head_forward(states, g, nullptr), R); };
    expect_close(check_gradient("head d_states (padding rows: zero)", states, d_states, loss), tolerance);
    expect_close(check_gradient("head LayerNorm weight", model.head().norm_weight, grads.norm_weight, loss), tolerance);
    expect_close(check_gradient("head LayerNorm bias", model.head().norm_bias, grads.norm_bias, loss), tolerance);
    expect_close(check_gradient("head dense weight", model.head().weight, grads.weight, loss), tolerance);
    expect_close(check_gradient("head dense bias", model.head().bias, grads.bias, loss), tolerance);
    for (Index r = 0; r < n; ++r)
      if (!g.is_token[static_cast<std::size_t>(r)])
        for (Index c = 0; c < W; ++c) CHECK(d_states[r * W + c] == 0.0);
    // Without a states gradient the head returns nothing, and its parameter gradients are the same.
    decltype(model)::head_record again;
    (void)model.head_forward(states, g, &again);
    auto grads_only = detail::zeros_like<decltype(model)::head_parameters, double>(model.head(), meter,
                                                                                   MemoryCategory::gradients);
    CHECK(model.head_backward(R, std::move(again), grads_only, g, false).empty());
    CHECK(std::memcmp(grads_only.weight.data(), grads.weight.data(), grads.weight.bytes()) == 0);
  }

  SECTION("whole model: cross-entropy of the logits, every parameter tensor") {
    const std::vector<std::int32_t> labels = {2, 0, 1};
    auto cross_entropy = [&](const Tensor<double>& logits) {
      std::vector<double> probs(static_cast<std::size_t>(logits.numel()));
      return nn::cross_entropy_forward(cpu{}, probs.data(), logits.data(), labels.data(), logits.dim(0),
                                       logits.dim(1));
    };
    const TrainableParts everything{true, 0, true};
    auto grads = make_gradients(model, everything);
    EncoderPass<decltype(model)> pass(model, everything);
    const auto logits = pass.forward(ids);
    Tensor<double> probs(logits.shape(), meter, MemoryCategory::workspace);
    Tensor<double> d_logits(logits.shape(), meter, MemoryCategory::workspace);
    nn::cross_entropy_forward(cpu{}, probs.data(), logits.data(), labels.data(), logits.dim(0), logits.dim(1));
    nn::cross_entropy_backward(cpu{}, d_logits.data(), probs.data(), labels.data(), logits.dim(0), logits.dim(1));
    pass.backward(d_logits, grads);
    // The numeric side runs the inference path (encode), so this also holds training = inference.
    auto loss = [&] { return cross_entropy(encode(model, ids)); };
    GradientCheckOptions sample;
    sample.max_entries = 24;
    int tensors = 0;
    for_each_trained_parameter(model, grads, [&](const std::string& name, Tensor<double>& p, Tensor<double>& d) {
      // Measured: ≤ 3.1e-9 over all 32 tensors (the weakest: block 1's attention in_proj).
      expect_close(check_gradient(name, p, d, loss, sample), 1e-6);
      ++tensors;
    });
    CHECK(tensors == 4 + 2 * 12 + 4);
  }
}

TEST_CASE("LayerSkip on the SequenceClassifier: the first step is full fine-tuning's", "[any_encoder][layerskip]") {
  Fixture ft_fixture, ls_fixture;
  using Model = Fixture::Model;
  FineTuner<EncoderClassifier<Model>, FullFineTune> ft(EncoderClassifier<Model>{&ft_fixture.model}, FullFineTune{});
  FineTuner<EncoderClassifier<Model>, LayerSkip> ls(EncoderClassifier<Model>{&ls_fixture.model}, LayerSkip{2});
  const auto options = quick_options(2);
  ft.prepare(ft_fixture.data, options);
  ls.prepare(ls_fixture.data, options);
  ft.begin_epoch(0);
  ls.begin_epoch(0);
  CHECK(ls.parts().first_trained_block == 2);
  const std::vector<std::size_t> batch = {0, 5, 10, 15, 20, 33, 47, 62};
  const double ft_loss = ft.train_step(batch, 0.0);
  const double ls_loss = ls.train_step(batch, 0.0);
  // The tuner reports the loss, not the logits; the head's gradients are (softmax − onehot)
  // products of the logits, so equal head gradients mean equal logits. Cached block-2 inputs come
  // from the same inference code run over chunks of another size, so GEMM blocking can differ in
  // the last bits. Measured (one and two threads): |Δ loss| = 0 and max |Δ grad| = 0 — bit-identical
  // here; the tolerances leave room for another GEMM kernel.
  INFO("loss FT " << ft_loss << ", LayerSkip " << ls_loss);
  CHECK(std::abs(ft_loss - ls_loss) <= 1e-5);
  const auto ft_head = flatten(*ft.gradients().head), ls_head = flatten(*ls.gradients().head);
  INFO("head gradient max|Δ| = " << max_abs_diff(ft_head, ls_head) << " of max " << max_abs(ft_head));
  CHECK(max_abs_diff(ft_head, ls_head) <= 1e-4 * max_abs(ft_head));
  for (std::size_t i = 2; i < 4; ++i) {
    const auto a = flatten(*ft.gradients().blocks[i]), b = flatten(*ls.gradients().blocks[i]);
    INFO("block " << i << " gradient max|Δ| = " << max_abs_diff(a, b) << " of max " << max_abs(a));
    CHECK(max_abs_diff(a, b) <= 1e-4 * max_abs(a));
  }
}

TEST_CASE("LayerSkip on the SequenceClassifier: frozen parts are bit-identical and own no gradients",
          "[any_encoder][layerskip]") {
  Fixture f;
  using Model = Fixture::Model;
  const auto before = snapshot(f.model);
  const std::size_t gradients_before = f.meter.current()[MemoryCategory::gradients];
  FineTuner<EncoderClassifier<Model>, LayerSkip> tuner(EncoderClassifier<Model>{&f.model}, LayerSkip{2});
  const auto losses = tuner.fit(f.data, quick_options(4));
  REQUIRE(losses.size() == 4);

  // Structure: no gradient buffers at all for the stem and blocks 0–1 — not zeros, nothing.
  auto& grads = tuner.gradients();
  CHECK_FALSE(grads.stem.has_value());
  REQUIRE(grads.blocks.size() == 4);
  CHECK_FALSE(grads.blocks[0].has_value());
  CHECK_FALSE(grads.blocks[1].has_value());
  CHECK(grads.blocks[2].has_value());
  CHECK(grads.blocks[3].has_value());
  CHECK(grads.head.has_value());
  // ... and the meter agrees: the gradient bytes are exactly those of blocks 2–3 and the head.
  std::size_t trained_bytes = 0;
  for_each_parameter(f.model, [&](const std::string&, Tensor<float>& t, ParameterLocation where) {
    if (is_trained(where, tuner.parts())) trained_bytes += t.bytes();
  });
  CHECK(f.meter.current()[MemoryCategory::gradients] - gradients_before == trained_bytes);

  const auto after = snapshot(f.model);
  int frozen = 0, changed = 0;
  for (const auto& [name, values] : before) {
    const bool is_frozen = name.rfind("embeddings.", 0) == 0 || name.rfind("encoder.layer.0.", 0) == 0 ||
                           name.rfind("encoder.layer.1.", 0) == 0;
    if (is_frozen) {
      INFO(name << " must not change");
      CHECK(std::memcmp(values.data(), after.at(name).data(), values.size() * sizeof(float)) == 0);
      ++frozen;
    } else {
      changed += values != after.at(name);
    }
  }
  CHECK(frozen == 4 + 2 * 12);
  CHECK(changed == 2 * 12 + 4);  // every trained tensor moved (LayerNorm biases included)
}

TEST_CASE("LayerSkip on the SequenceClassifier: ω = N trains the head only, ω > N is a ConfigError",
          "[any_encoder][layerskip][boundaries]") {
  using Model = Fixture::Model;
  SECTION("ω = N") {
    Fixture f;
    const auto before = snapshot(f.model);
    FineTuner<EncoderClassifier<Model>, LayerSkip> tuner(EncoderClassifier<Model>{&f.model}, LayerSkip{4});
    const auto losses = tuner.fit(f.data, quick_options(3));
    CHECK(tuner.parts().first_trained_block == 4);
    for (const auto& b : tuner.gradients().blocks) CHECK_FALSE(b.has_value());
    CHECK(tuner.gradients().head.has_value());
    CHECK(losses.back() < losses.front());
    const auto after = snapshot(f.model);
    for (const auto& [name, values] : before) {
      INFO(name);
      if (name.rfind("classifier.", 0) == 0)
        CHECK(values != after.at(name));
      else
        CHECK(std::memcmp(values.data(), after.at(name).data(), values.size() * sizeof(float)) == 0);
    }
  }
  SECTION("ω > N") {
    Fixture f;
    FineTuner<EncoderClassifier<Model>, LayerSkip> tuner(EncoderClassifier<Model>{&f.model}, LayerSkip{5});
    CHECK_THROWS_AS(tuner.prepare(f.data, quick_options(1)), ConfigError);
    CHECK_THROWS_WITH(tuner.prepare(f.data, quick_options(1)), Catch::Contains("outside [0, N = 4]"));
  }
}

TEST_CASE("the SequenceClassifier learns the keyword task under FT and LayerSkip", "[any_encoder][training]") {
  using Model = Fixture::Model;
  for (std::size_t omega : {0, 2}) {
    Fixture f(96);
    const double accuracy_before = example::accuracy(f.model, f.task.ids, f.task.labels);
    std::vector<double> losses;
    if (omega == 0) {
      FineTuner<EncoderClassifier<Model>, FullFineTune> tuner(EncoderClassifier<Model>{&f.model}, FullFineTune{});
      losses = tuner.fit(f.data, quick_options(8));
    } else {
      FineTuner<EncoderClassifier<Model>, LayerSkip> tuner(EncoderClassifier<Model>{&f.model}, LayerSkip{omega});
      losses = tuner.fit(f.data, quick_options(8));
    }
    const double accuracy_after = example::accuracy(f.model, f.task.ids, f.task.labels);
    // Measured (training set, 96 examples, 4 classes, 8 epochs): FT loss 1.19 → 0.58, accuracy
    // 0.19 → 0.83; LayerSkip ω = 2 loss 1.20 → 0.49, accuracy 0.19 → 0.88.
    INFO("ω = " << omega << ": loss " << losses.front() << " → " << losses.back() << ", accuracy " << accuracy_before
                << " → " << accuracy_after);
    CHECK(losses.back() < 0.7 * losses.front());
    CHECK(accuracy_after > accuracy_before + 0.25);
  }
}
