// emojibench_pretrain — the recipe that made the embedded default model (models/emojibench-tiny):
// contrastive pretraining of a small CLIP on the EmojiBench pack, from scratch, on the CPU.
//
//   emojibench_pretrain [--pack PATH] [--out DIR] [--state FILE] [--steps N] [--batch B]
//                       [--lr X] [--seed S] [--eval-every N] [--save-every N] [--export-state]
//                       [--stop-after N]
//
// 1. Vocabulary: the project's BPE trainer learns merges from the class names, keywords and
//    prompt words (data/emoji_captions.hpp) and writes DIR/vocab.txt in CLIP's merges format.
// 2. Model: ViT 32 px / patch 8 / width 192 / 6 blocks; text width 128 / 4 blocks / context 16;
//    embedding 128 (≈ 3.9 M parameters), OpenAI's initialisation.
// 3. Training: batches of B distinct classes (class-balanced, data/emoji_sampler.hpp), each image
//    augmented without flips or hue shifts (data/emoji_views.hpp), a random caption template;
//    symmetric InfoNCE with a learnable logit scale, AdamW (β 0.9/0.98, ε 1e-6, wd 0.1 on
//    matrices), linear warm-up then cosine to 0 (train/clip_pretrainer.hpp).
// 4. Every --eval-every steps: zero-shot top-1 on every DOWN family's drawing of each task's base
//    and new classes — artwork never seen in pretraining for those classes — into DIR/curve.csv.
// 5. Every --save-every steps the whole training state (weights, AdamW moments, step, curve) is
//    written atomically to --state; starting again with the same settings resumes from it and
//    gives the same result as an uninterrupted run (batches and views are seeded by step).
//    --stop-after N saves the state and stops after N steps of this process (a planned pause).
// 6. At the end: DIR/model.safetensors (OpenAI names, F32), DIR/curve.csv and DIR/curve.png.
//    --export-state writes them from the last saved state without training (e.g. to try an
//    unfinished run).
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "skiptune/core/atomic_file.hpp"
#include "skiptune/data/emoji_captions.hpp"
#include "skiptune/data/emoji_pack.hpp"
#include "skiptune/data/emoji_sampler.hpp"
#include "skiptune/data/emoji_tensors.hpp"
#include "skiptune/data/emoji_views.hpp"
#include "skiptune/emojibench/report.hpp"
#include "skiptune/io/bpe_trainer.hpp"
#include "skiptune/io/checkpoint.hpp"
#include "skiptune/io/safetensors.hpp"
#include "skiptune/io/tokenizer.hpp"
#include "skiptune/skiptune.hpp"
#include "skiptune/train/clip_pretrainer.hpp"

namespace {

using namespace skiptune;
namespace fs = std::filesystem;

struct Recipe {
  fs::path pack = data::default_emojibench_pack();
  fs::path out = "models/emojibench-tiny";
  fs::path state = data::emojibench_cache_dir() / "pretrain-state.safetensors";
  std::size_t steps = 4000;
  std::size_t batch = 256;
  std::size_t warmup = 200;
  std::size_t merges = 4000;
  double learning_rate = 1e-3;
  double weight_decay = 0.1;
  std::uint64_t seed = 20251129;
  std::size_t eval_every = 250;
  std::size_t save_every = 50;
  bool export_state = false;
  std::size_t stop_after = 0;  ///< stop (state saved) after this many steps in this process; 0 = never

  /// What a resumed run must agree on (everything that changes the result).
  [[nodiscard]] std::string fingerprint() const {
    std::ostringstream s;
    s << "steps=" << steps << ";batch=" << batch << ";warmup=" << warmup << ";merges=" << merges
      << ";lr=" << learning_rate << ";wd=" << weight_decay << ";seed=" << seed;
    return s.str();
  }
};

ClipConfig emoji_clip_config(Index vocab_size) {
  ClipConfig c;
  c.name = "emojibench-tiny";
  c.embed_dim = 128;
  c.vision = VisionConfig{32, 8, 192, 6, 3, 768, nn::Activation::quick_gelu};
  c.text = TextConfig{16, vocab_size, 128, 4, 2, 512, nn::Activation::quick_gelu};
  return c;
}

/// A double written so that std::stod reads back the same value.
std::string exact(double value) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

double learning_rate_at(const Recipe& r, std::size_t step) {  // step counts from 0
  if (step < r.warmup) return r.learning_rate * static_cast<double>(step + 1) / static_cast<double>(r.warmup);
  const double progress = static_cast<double>(step - r.warmup) / static_cast<double>(r.steps - r.warmup);
  return 0.5 * r.learning_rate * (1 + std::cos(std::numbers::pi * progress));
}

Recipe parse(int argc, char** argv) {
  Recipe r;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw ConfigError(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--pack") r.pack = value();
    else if (flag == "--out") r.out = value();
    else if (flag == "--state") r.state = value();
    else if (flag == "--steps") r.steps = std::stoul(value());
    else if (flag == "--batch") r.batch = std::stoul(value());
    else if (flag == "--warmup") r.warmup = std::stoul(value());
    else if (flag == "--merges") r.merges = std::stoul(value());
    else if (flag == "--lr") r.learning_rate = std::stod(value());
    else if (flag == "--seed") r.seed = std::stoull(value());
    else if (flag == "--eval-every") r.eval_every = std::stoul(value());
    else if (flag == "--save-every") r.save_every = std::stoul(value());
    else if (flag == "--export-state") r.export_state = true;
    else if (flag == "--stop-after") r.stop_after = std::stoul(value());
    else throw ConfigError("unknown option " + flag + " (see the comment at the top of emojibench_pretrain.cpp)");
  }
  require<ConfigError>(r.steps > r.warmup && r.batch > 1 && r.learning_rate > 0 && r.eval_every > 0 && r.save_every > 0,
                       "emojibench_pretrain: need steps > warmup, batch > 1, lr > 0, eval/save intervals > 0");
  return r;
}

/// Zero-shot evaluation sets: per task, base and new classes over every DOWN family (clean).
struct ZeroShotSet {
  std::string task;
  std::vector<int> base, novel;
  std::vector<data::PlannedImage> base_plan, new_plan;
};

std::vector<ZeroShotSet> zero_shot_sets(const data::EmojiPack& pack) {
  data::EmojiFold all_down;
  all_down.test_families = pack.families_with_role(data::FamilyRole::down);
  std::vector<ZeroShotSet> sets;
  for (const auto& task : pack.tasks())
    sets.push_back({task.name, task.base_classes, task.new_classes, pack.test_plan(task.base_classes, all_down, 1),
                    pack.test_plan(task.new_classes, all_down, 1)});
  return sets;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Recipe recipe = parse(argc, argv);
    const auto start_time = std::chrono::steady_clock::now();
    std::printf("EmojiBench pretraining: %s\n", recipe.fingerprint().c_str());
    const data::EmojiPack pack = data::EmojiPack::load(recipe.pack);
    std::printf("pack %s: %zu classes, %zu images, sha256 %.16s…\n", recipe.pack.string().c_str(),
                pack.classes().size(), pack.image_count(), pack.checksum_hex().c_str());

    // 1. Vocabulary (deterministic: the same pack gives the same merges).
    fs::create_directories(recipe.out);
    const auto merges = io::train_clip_bpe(data::emoji_bpe_corpus(pack), recipe.merges);
    io::write_merges_file(recipe.out / "vocab.txt", merges);
    const io::ClipTokenizer tokenizer(recipe.out / "vocab.txt", {.max_merges = 0});
    const Index vocab_size = static_cast<Index>(512 + merges.size() + 2);
    std::printf("vocabulary: %zu merges, %lld token ids -> %s\n", merges.size(), static_cast<long long>(vocab_size),
                (recipe.out / "vocab.txt").string().c_str());

    // 2. Model and trainer.
    const ClipConfig config = emoji_clip_config(vocab_size);
    MemoryMeter meter;
    Clip<float> model(config, meter);
    Rng init_rng(recipe.seed);
    model.initialize(init_rng);
    ClipPretrainer<float> trainer(model, AdamWOptions{recipe.learning_rate, 0.9, 0.98, 1e-6, recipe.weight_decay});
    std::printf("model: %zu parameters (vision 32 px / patch 8 / 192 x 6, text 128 x 4, context 16)\n",
                model.parameter_count());

    // 5. Resume.
    std::size_t first_step = 0;
    double seconds_before = 0;
    std::string curve = "step,samples,train_seconds,loss,logit_scale";
    const auto sets = zero_shot_sets(pack);
    for (const auto& s : sets) curve += "," + s.task + "_base," + s.task + "_new";
    curve += ",mean_base,mean_new\n";
    double loss_sum = 0;  // training loss since the last evaluation (kept in the state)
    std::size_t loss_count = 0;
    if (fs::exists(recipe.state)) {
      const auto file = io::SafetensorsFile::open(recipe.state);
      const auto& meta = file.metadata();
      require<InputError>(meta.count("recipe") && meta.at("recipe") == recipe.fingerprint(), "state file ",
                          recipe.state.string(), " was written by another recipe (",
                          meta.count("recipe") ? meta.at("recipe") : std::string("?"),
                          "); delete it or pass --state to start afresh");
      trainer.for_each_trained([&](const std::string& name, Tensor<float>& p, Tensor<float>&) {
        file.read_as_float(name, p.data(), static_cast<std::size_t>(p.numel()));
      });
      trainer.optimizer().for_each_state_tensor([&](const std::string& name, Tensor<float>& s) {
        file.read_as_float("optimizer." + name, s.data(), static_cast<std::size_t>(s.numel()));
      });
      first_step = std::stoul(meta.at("step"));
      trainer.optimizer().set_step_count(first_step);
      seconds_before = std::stod(meta.at("train_seconds"));
      curve = meta.at("curve_csv");
      if (meta.count("loss_sum")) {  // (states written before this key existed lack it)
        loss_sum = std::stod(meta.at("loss_sum"));
        loss_count = std::stoul(meta.at("loss_count"));
      }
      std::printf("resumed from %s at step %zu (%.0f s of training before)\n", recipe.state.string().c_str(),
                  first_step, seconds_before);
    }

    auto save_state = [&](std::size_t step, double seconds) {
      std::vector<std::vector<float>> storage;
      std::vector<io::FloatTensorView> views;
      auto add = [&](const std::string& name, const Tensor<float>& t) {
        std::vector<std::int64_t> shape;
        for (int a = 0; a < t.rank(); ++a) shape.push_back(t.dim(a));
        storage.emplace_back(t.data(), t.data() + t.numel());
        views.push_back({name, shape, nullptr});
      };
      trainer.for_each_trained([&](const std::string& name, Tensor<float>& p, Tensor<float>&) { add(name, p); });
      trainer.optimizer().for_each_state_tensor(
          [&](const std::string& name, Tensor<float>& s) { add("optimizer." + name, s); });
      for (std::size_t i = 0; i < views.size(); ++i) views[i].data = storage[i].data();
      io::write_safetensors(recipe.state, views,
                            {{"recipe", recipe.fingerprint()},
                             {"step", std::to_string(step)},
                             {"train_seconds", exact(seconds)},
                             {"curve_csv", curve},
                             {"loss_sum", exact(loss_sum)},
                             {"loss_count", std::to_string(loss_count)}});
    };

    auto evaluate = [&](std::size_t step, double seconds, double loss) {
      double mean_base = 0, mean_new = 0;
      std::ostringstream row;
      row << step << ',' << step * recipe.batch << ',' << seconds << ',' << loss << ','
          << std::exp(model.logit_scale[0]);
      std::printf("  zero-shot at step %zu:", step);
      for (const auto& s : sets) {
        const double b = data::zero_shot_accuracy(model, pack, s.base, s.base_plan, tokenizer);
        const double n = data::zero_shot_accuracy(model, pack, s.novel, s.new_plan, tokenizer);
        mean_base += b / static_cast<double>(sets.size());
        mean_new += n / static_cast<double>(sets.size());
        row << ',' << b << ',' << n;
        std::printf(" %s %.1f/%.1f", s.task.c_str(), 100 * b, 100 * n);
      }
      row << ',' << mean_base << ',' << mean_new << '\n';
      curve += row.str();
      std::printf("  | mean base %.1f%% new %.1f%%\n", 100 * mean_base, 100 * mean_new);
      std::fflush(stdout);
    };

    // 3. Train.
    const data::EmojiPretrainingSampler sampler(pack);
    const Index side = pack.image_side(), per_image = 3 * side * side, B = static_cast<Index>(recipe.batch);
    const Index context = config.text.context_length;
    if (first_step == 0) evaluate(0, 0, std::log(static_cast<double>(recipe.batch)));
    auto run_start = std::chrono::steady_clock::now();
    require<InputError>(!recipe.export_state || first_step > 0, "--export-state: no saved state at ",
                        recipe.state.string());
    std::size_t reached = first_step;  // the step the model is at
    for (std::size_t step = first_step; step < recipe.steps && !recipe.export_state; ++step) {
      const auto picks = sampler.batch(recipe.seed, step, recipe.batch);
      Rng rng(recipe.seed, 0xA0C0'0000ull + step);
      Tensor<float> images({B, 3, side, side}, meter, MemoryCategory::inputs);
      std::vector<std::string> captions;
      for (std::size_t b = 0; b < picks.size(); ++b) {
        data::write_view(pack.pixels(picks[b].image_index), pack.image_side(), data::sample_emoji_view(rng),
                         images.data() + static_cast<Index>(b) * per_image);
        captions.push_back(data::random_emoji_caption(pack.emoji_class(picks[b].class_id), rng));
      }
      const Tensor<std::int32_t> ids = data::token_tensor(tokenizer, captions, context, meter);
      const float loss = trainer.step(images, ids, learning_rate_at(recipe, step));
      require<NumericError>(std::isfinite(loss), "pretraining loss is ", loss, " at step ", step,
                            "; the last saved state is ", recipe.state.string());
      loss_sum += loss;
      ++loss_count;
      const double seconds =
          seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
      const std::size_t done = step + 1;
      reached = done;
      if (done % 25 == 0 || done == recipe.steps) {
        const double rate = static_cast<double>((done - first_step) * recipe.batch) /
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
        std::printf("step %5zu/%zu  loss %.3f  scale %.1f  lr %.2e  %.0f img/s  %.1f min  ETA %.1f min\n", done,
                    recipe.steps, loss_sum / static_cast<double>(loss_count), std::exp(model.logit_scale[0]),
                    learning_rate_at(recipe, step), rate, seconds / 60,
                    static_cast<double>((recipe.steps - done) * recipe.batch) / rate / 60);
        std::fflush(stdout);
      }
      if (done % recipe.eval_every == 0 || done == recipe.steps) {
        evaluate(done, seconds, loss_sum / static_cast<double>(loss_count));
        loss_sum = 0;
        loss_count = 0;
      }
      const bool pause = recipe.stop_after > 0 && done - first_step == recipe.stop_after && done < recipe.steps;
      if (done % recipe.save_every == 0 || done == recipe.steps || pause) save_state(done, seconds);
      if (pause) {
        std::printf("stopped after %zu steps as asked; run the same command again to continue\n", recipe.stop_after);
        return 0;
      }
    }

    // 6. The model and its curve.
    io::save_clip(model, recipe.out / "model.safetensors", io::CheckpointNaming::openai, io::Dtype::F32,
              {{"skiptune.recipe", recipe.fingerprint()},
               {"skiptune.step", std::to_string(reached)},
               {"skiptune.pack_sha256", pack.checksum_hex()}});
    write_file_atomically(recipe.out / "curve.csv", curve, "learning curve");
    emojibench::write_learning_curve_png(curve, recipe.out / "curve.png");
    std::printf("wrote %s, curve.csv and curve.png (%.1f min in this process)\n", (recipe.out / "model.safetensors").string().c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count() / 60);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emojibench_pretrain: error: %s\n", e.what());
    return 1;
  }
}
