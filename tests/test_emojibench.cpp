// EmojiBench harness on the tiny synthetic pack (tests/emojibench/fixtures): the class-balanced
// pretraining sampler, the views, the captions, and a smoke run of every protocol and method
// with a tiny CLIP — the results are sane, reproducible, written atomically, and the cost
// ordering the harness measures (LayerSkip below FT, CoOp below FT) holds.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "skiptune/data/emoji_captions.hpp"
#include "skiptune/data/emoji_sampler.hpp"
#include "skiptune/data/emoji_tensors.hpp"
#include "skiptune/data/emoji_views.hpp"
#include "skiptune/emojibench/methods.hpp"
#include "skiptune/emojibench/protocols.hpp"
#include "skiptune/emojibench/report.hpp"
#include "skiptune/io/bpe_trainer.hpp"
#include "skiptune/io/checkpoint.hpp"
#include "skiptune/io/image_decode.hpp"
#include "skiptune/train/clip_pretrainer.hpp"

using namespace skiptune;
using namespace skiptune::data;
using namespace skiptune::emojibench;

namespace {

std::filesystem::path fixture_pack_path() {
  return std::filesystem::path(SKIPTUNE_SOURCE_DIR) / "tests" / "emojibench" / "fixtures" / "emojibench-fixture.pack";
}

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("skiptune_test_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

ClipConfig fixture_clip_config(Index vocab_size) {
  ClipConfig c;
  c.name = "fixture";
  c.embed_dim = 16;
  c.vision = VisionConfig{8, 4, 32, 2, 2, 64, nn::Activation::quick_gelu};
  c.text = TextConfig{10, vocab_size, 32, 2, 2, 64, nn::Activation::quick_gelu};
  return c;
}

/// A tiny CLIP pretrained for a few steps on the fixture (through the sampler, views and
/// captions), saved with its vocabulary in `dir` as the harness expects.
void make_fixture_model(const EmojiPack& pack, const std::filesystem::path& dir) {
  const auto merges = io::train_clip_bpe(emoji_bpe_corpus(pack), 300);
  io::write_merges_file(dir / "vocab.txt", merges);
  const io::ClipTokenizer tokenizer(dir / "vocab.txt", {.max_merges = 0});
  MemoryMeter meter;
  Clip<float> model(fixture_clip_config(static_cast<Index>(512 + merges.size() + 2)), meter);
  Rng rng(7);
  model.initialize(rng);
  ClipPretrainer<float> trainer(model, AdamWOptions{3e-3, 0.9, 0.98, 1e-6, 0.1});
  const EmojiPretrainingSampler sampler(pack);
  const Index side = pack.image_side(), per = 3 * side * side, B = 6;
  for (std::uint64_t step = 0; step < 20; ++step) {
    const auto picks = sampler.batch(11, step, static_cast<std::size_t>(B));
    Rng view_rng(11, step);
    Tensor<float> images({B, 3, side, side}, meter, MemoryCategory::inputs);
    std::vector<std::string> captions;
    for (Index b = 0; b < B; ++b) {
      write_view(pack.pixels(picks[static_cast<std::size_t>(b)].image_index), pack.image_side(),
                 sample_emoji_view(view_rng), images.data() + b * per);
      captions.push_back(random_emoji_caption(pack.emoji_class(picks[static_cast<std::size_t>(b)].class_id), view_rng));
    }
    const auto ids = token_tensor(tokenizer, captions, model.config().text.context_length, meter);
    REQUIRE(std::isfinite(trainer.step(images, ids)));
  }
  io::save_clip(model, dir / "model.safetensors", io::CheckpointNaming::openai);
}

MethodOptions smoke_options() {
  MethodOptions o;
  o.fit.epochs = 2;
  o.fit.batch_size = 8;
  o.vision_omega = 1;
  o.text_omega = 1;
  o.class_skip.top_ratio = 0.5;
  o.class_skip.max_top = 2;
  o.probe.iterations = 20;
  o.coop_context = 2;
  return o;
}

}  // namespace

TEST_CASE("The pretraining sampler draws distinct classes, only from allowed families, by (seed, step)", "[emojibench]") {
  const EmojiPack pack = EmojiPack::load(fixture_pack_path());
  const EmojiPretrainingSampler sampler(pack);
  CHECK(sampler.classes().size() == pack.classes().size());
  // Task classes are pretrained only through PRETRAIN families.
  for (int c : sampler.classes())
    for (int f : sampler.families_of(c))
      if (!pack.emoji_class(c).task.empty()) CHECK(pack.family(f).role == FamilyRole::pretrain);
  std::set<int> families_seen;
  for (std::uint64_t step = 0; step < 200; ++step) {
    const auto batch = sampler.batch(3, step, 5);
    std::set<int> classes;
    for (const auto& p : batch) {
      classes.insert(p.class_id);
      CHECK(pack.record(p.image_index).class_id == p.class_id);
      CHECK(pack.usable_for_pretraining(p.image_index));
      families_seen.insert(pack.record(p.image_index).family_id);
    }
    CHECK(classes.size() == batch.size());  // no class is its own negative
  }
  CHECK(families_seen.size() > 1);
  // Resumable: batch s depends on (seed, s) only.
  const auto a = sampler.batch(3, 17, 5), b = sampler.batch(3, 17, 5), c = sampler.batch(4, 17, 5);
  bool same = true, differs = false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    same = same && a[k].image_index == b[k].image_index;
    differs = differs || a[k].image_index != c[k].image_index;
  }
  CHECK(same);
  CHECK(differs);
  CHECK_THROWS_AS(sampler.batch(3, 0, pack.classes().size() + 1), ConfigError);
}

TEST_CASE("Views: view 0 is the clean image, test views are fixed, augmentation stays in range", "[emojibench]") {
  const EmojiPack pack = EmojiPack::load(fixture_pack_path());
  const int side = pack.image_side();
  const std::size_t plane = static_cast<std::size_t>(side * side);
  std::vector<float> clean(3 * plane), again(3 * plane), other(3 * plane);
  const auto rgb = pack.pixels(3);
  write_view(rgb, side, test_view(3, 0), clean.data());
  for (std::size_t i = 0; i < plane; ++i)  // CLIP normalisation of the raw bytes
    for (std::size_t ch = 0; ch < 3; ++ch)
      CHECK(clean[ch * plane + i] ==
            Approx((rgb[3 * i + ch] / 255.f - io::clip_normalization.mean[ch]) / io::clip_normalization.std[ch]).margin(1e-5));
  write_view(rgb, side, test_view(3, 2), again.data());
  write_view(rgb, side, test_view(3, 2), other.data());
  CHECK(again == other);
  CHECK(again != clean);
  Rng rng(5);
  for (int k = 0; k < 200; ++k) {
    const EmojiView v = sample_emoji_view(rng);
    CHECK(v.scale >= 0.8);
    CHECK(v.scale <= 1.05);
    CHECK(std::abs(v.rotation) <= 0.25);
    CHECK(std::abs(v.shift_x) <= 0.12);
    CHECK(std::abs(v.brightness - 1) <= 0.2);
  }
  // Outside the drawing is white: a large shift leaves white in the vacated corner.
  EmojiView shifted;
  shifted.shift_x = 0.5;
  write_view(rgb, side, shifted, other.data());
  for (std::size_t ch = 0; ch < 3; ++ch)
    CHECK(other[ch * plane] == Approx((1.f - io::clip_normalization.mean[ch]) / io::clip_normalization.std[ch]));
  CHECK_THROWS_AS(write_view(rgb.subspan(1), side, {}, other.data()), ShapeError);
}

TEST_CASE("Captions keep the class name; the prompt is 'an emoji of {name}'", "[emojibench]") {
  const EmojiPack pack = EmojiPack::load(fixture_pack_path());
  Rng rng(1);
  for (const EmojiClass& c : pack.classes()) {
    CHECK(emoji_prompt(c) == "an emoji of " + c.name);
    for (int t = 0; t < emoji_caption_templates; ++t) CHECK(emoji_caption(c, t, rng).find(c.name) != std::string::npos);
  }
}

TEST_CASE("Every protocol and method runs on the fixture, reproducibly, with the expected cost ordering",
          "[emojibench]") {
  const EmojiPack pack = EmojiPack::load(fixture_pack_path());
  TempDir dir("emojibench_smoke");
  make_fixture_model(pack, dir.path);
  const PretrainedClip pretrained = PretrainedClip::from_directory(dir.path);
  const Harness harness{&pack, &pretrained, nullptr};
  const MethodOptions options = smoke_options();

  const ProtocolRun b2n = base_to_new_run(pack, "animals", 0, 4);
  REQUIRE(b2n.evaluations.size() == 2);
  std::vector<ResultRow> rows;
  for (Method m : all_methods) {
    const MethodResult r = harness.run(m, b2n, options);
    REQUIRE(r.accuracy.size() == 2);
    for (const auto& [name, a] : r.accuracy) {
      CHECK(a >= 0.0);
      CHECK(a <= 1.0);
    }
    if (m != Method::zero_shot) {
      CHECK(r.train_seconds > 0);
      CHECK(r.train_peak_bytes > 0);
      CHECK(std::isfinite(r.final_loss));
    }
    rows.push_back(ResultRow{b2n.protocol, b2n.task, b2n.fold, b2n.shots, "", r});
  }
  auto peak = [&](Method m) { return rows[static_cast<std::size_t>(m)].result.train_peak_bytes; };
  CHECK(peak(Method::layer_skip) < peak(Method::full_fine_tune));
  CHECK(peak(Method::skip_tuning) < peak(Method::full_fine_tune));
  CHECK(peak(Method::coop) < peak(Method::full_fine_tune));
  // Zero-shot with the learned-nothing model: the linear probe's new-class score is zero-shot's.
  CHECK(rows[static_cast<std::size_t>(Method::linear_probe)].result.accuracy_of("new") ==
        rows[static_cast<std::size_t>(Method::zero_shot)].result.accuracy_of("new"));

  SECTION("same inputs, same results") {
    const MethodResult again = harness.run(Method::skip_tuning, b2n, options);
    CHECK(again.accuracy == rows[static_cast<std::size_t>(Method::skip_tuning)].result.accuracy);
    CHECK(again.final_loss == rows[static_cast<std::size_t>(Method::skip_tuning)].result.final_loss);
  }
  SECTION("results, summary and plot are written") {
    write_results_csv(dir.path / "out" / "results.csv", rows);
    std::ifstream in(dir.path / "out" / "results.csv");
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) ++lines;
    CHECK(lines == 1 + static_cast<int>(rows.size()));
    const std::string summary = summary_markdown(rows);
    CHECK(summary.find("| skip-tuning |") != std::string::npos);
    CHECK(summary.find("HM") != std::string::npos);
    std::vector<ResultRow> two_tasks = rows;  // the same runs filed under a second task name
    for (const ResultRow& r : rows) {
      two_tasks.push_back(r);
      two_tasks.back().task = "copy";
    }
    const std::string both = summary_markdown(two_tasks);
    CHECK(both.find("mean over 2 tasks") != std::string::npos);
    CHECK(both.find("| ft | ") != std::string::npos);
    CHECK(summary.find("mean over") == std::string::npos);
    write_cost_plot(dir.path / "out" / "plot.png", rows);
    const io::Image8 png = io::load_image(dir.path / "out" / "plot.png");
    CHECK(png.width > 100);
  }
  SECTION("the other protocols") {
    for (const std::string protocol : {"few-shot", "cross-task", "domain-shift"}) {
      const ProtocolRun run = make_protocol_run(pack, protocol, "animals", 1, 2);
      CHECK(run.train_classes == pack.task("animals").all_classes());
      const MethodResult r = harness.run(Method::skip_tuning, run, options);
      CHECK(r.accuracy.size() == run.evaluations.size());
    }
    const ProtocolRun shift = domain_shift_run(pack, "animals", 0, 2);
    REQUIRE(shift.evaluations.size() >= 2);
    for (std::size_t e = 1; e < shift.evaluations.size(); ++e)
      for (const auto& p : shift.evaluations[e].plan) CHECK(pack.family(p.family_id).role == FamilyRole::shift);
    CHECK_THROWS_AS(make_protocol_run(pack, "zero-to-hero", "animals", 0, 2), ConfigError);
  }
  SECTION("bad input") {
    CHECK_THROWS_AS(parse_method("lora"), ConfigError);
    CHECK_THROWS_AS(PretrainedClip::from_directory(dir.path / "missing"), IoError);
    MethodOptions bad = options;
    bad.vision_omega = 3;  // the fixture's vision tower has 2 blocks
    CHECK_THROWS_AS(harness.run(Method::layer_skip, b2n, bad), ConfigError);
    CHECK_THROWS_AS(base_to_new_run(pack, "animals", 7, 4), InputError);
  }
}
