// Agreement with PyTorch: the tiny OpenAI-architecture CLIP written by
// scripts/make_clip_fixture.py (reference computed in float64 by torch 1.13), loaded here and
// run through skiptune in float32 and float64: logits, loss and every parameter gradient.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "fixture_util.hpp"

using namespace skiptune;
using namespace skiptune::testing;

namespace {

template <class T>
struct FixtureRun {
  MemoryMeter meter;
  Clip<T> model{clip_tiny_fixture_config(), meter};
  Tensor<T> images, logits;
  Tensor<std::int32_t> tokens, labels;
  T loss{};

  explicit FixtureRun(bool truncate_after_eot = true) {
    load_fixture_parameters(model);
    model.text.truncate_after_eot = truncate_after_eot;
    images = io::load_npy_as<T, float>(clip_tiny_fixture_dir() / "input.images.npy", meter);
    tokens = io::load_npy<std::int32_t>(clip_tiny_fixture_dir() / "input.tokens.npy", meter);
    labels = io::load_npy<std::int32_t>(clip_tiny_fixture_dir() / "input.labels.npy", meter);
  }
};

template <class T>
void check_against_pytorch(double logits_tolerance, double gradient_tolerance) {
  FixtureRun<T> run;
  ClipTrainer<T> trainer(run.model, ClipTrainableParts::all_parameters(), SgdOptions{});
  run.loss = trainer.compute_gradients(run.images, run.tokens, run.labels, &run.logits);

  MemoryMeter scratch;
  const auto ref_logits = io::load_npy<double>(clip_tiny_fixture_dir() / "output.logits.npy", scratch);
  const auto ref_loss = io::load_npy<double>(clip_tiny_fixture_dir() / "output.loss.npy", scratch);
  const double logits_error = relative_max_error(run.logits.data(), ref_logits.data(), ref_logits.numel());
  const double loss_error = std::abs(static_cast<double>(run.loss) - ref_loss[0]) / std::abs(ref_loss[0]);
  std::printf("[%s] logits max|d|/max|ref| = %.3g, loss rel. error = %.3g\n", sizeof(T) == 4 ? "float32" : "float64",
              logits_error, loss_error);
  CHECK(logits_error <= logits_tolerance);
  CHECK(loss_error <= logits_tolerance);

  int checked = 0;
  double worst = 0;
  std::string worst_name;
  trainer.for_each_trained([&](const std::string& name, Tensor<T>&, Tensor<T>& grad) {
    const auto ref = io::load_npy<double>(clip_tiny_fixture_dir() / ("grad." + name + ".npy"), scratch);
    REQUIRE(ref.numel() == grad.numel());
    const double error = relative_max_error(grad.data(), ref.data(), ref.numel());
    INFO("gradient of " << name << ": max|d|/max|ref| = " << error);
    CHECK(error <= gradient_tolerance);
    if (error > worst) worst = error, worst_name = name;
    ++checked;
  });
  std::printf("[%s] %d parameter gradients, worst max|d|/max|ref| = %.3g (%s)\n",
              sizeof(T) == 4 ? "float32" : "float64", checked, worst, worst_name.c_str());
  CHECK(checked == 62);  // every parameter tensor of the fixture
}

}  // namespace

// Measured: float32 logits 3e-7, loss 1e-7, worst gradient ~2e-6; float64 ~1e-15 / ~1e-13.
TEST_CASE("float32 CLIP matches the PyTorch float64 reference", "[pytorch]") {
  check_against_pytorch<float>(1e-5, 1e-4);
}

TEST_CASE("float64 CLIP matches the PyTorch float64 reference to rounding", "[pytorch]") {
  check_against_pytorch<double>(1e-12, 1e-10);
}

TEST_CASE("unnormalised features match PyTorch's encode_image / encode_text", "[pytorch]") {
  FixtureRun<double> run;
  MemoryMeter scratch;
  const auto image_features = encode(run.model.visual, run.images);
  const auto text_features = encode(run.model.text, run.tokens);
  const auto ref_image = io::load_npy<double>(clip_tiny_fixture_dir() / "output.image_features.npy", scratch);
  const auto ref_text = io::load_npy<double>(clip_tiny_fixture_dir() / "output.text_features.npy", scratch);
  CHECK(relative_max_error(image_features.data(), ref_image.data(), ref_image.numel()) < 1e-12);
  CHECK(relative_max_error(text_features.data(), ref_text.data(), ref_text.numel()) < 1e-12);
}

TEST_CASE("running prompts only up to their longest end-of-text token is exact", "[pytorch]") {
  // Drop the prompt that fills the whole context so truncation actually shortens the batch.
  FixtureRun<double> full(false), truncated(true);
  auto first_four = [](const Tensor<std::int32_t>& ids, MemoryMeter& meter) {
    Tensor<std::int32_t> out({4, ids.dim(1)}, meter, MemoryCategory::inputs);
    std::copy(ids.data(), ids.data() + 4 * ids.dim(1), out.data());
    return out;
  };
  const auto ids_full = first_four(full.tokens, full.meter);
  const auto ids_truncated = first_four(truncated.tokens, truncated.meter);
  CHECK(truncated.model.text.geometry(ids_truncated).tokens == 10);  // longest EOT at position 9
  CHECK(full.model.text.geometry(ids_full).tokens == 12);
  const auto a = encode(full.model.text, ids_full);
  const auto b = encode(truncated.model.text, ids_truncated);
  CHECK(relative_max_error(b.data(), a.data(), a.numel()) < 1e-14);
}
