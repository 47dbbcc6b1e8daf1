// skiptune_bench — one training step (forward + backward + SGD update) per iteration, for the
// paper's four methods, on the tiny preset and on the ViT-B/16 shape.
//
//   TrainStep/<config>/<mode>         config ∈ {tiny, b16}, mode ∈ {FT, LSkip, CSkip, SkipT}
//   TrainStep/b16/<mode>_ctx77        the same with every prompt run through all 77 positions,
//                                     as PyTorch's reference does (our default stops each batch
//                                     of prompts at its longest end-of-text token: exact)
// b16: batch 4 (one class, as the reference's same-class batches), C = 100 prompts of ≤ 16 tokens,
// LayerSkip ω = 6 for both towers, ClassSkip ρ = 0.5, max_top 50, λ = 0.3. tiny: batch 4, C = 32.
// Caches (LayerSkip's block-ω outputs, ClassSkip's prototypes) are built before timing; the paper's
// times include the per-epoch image re-caching, which costs one frozen forward per training image
// per epoch (reported separately as CacheBuild/b16).
//
// Counters: gflops (analytic FLOPs / step time), peak_bytes (MemoryMeter: exact bytes live at the
// step's peak: weights, caches, gradients, optimizer state, activations, workspace, inputs),
// step_bytes (the part a step adds to the model: activations + workspace + gradients + optimizer
// state at the peak — what PyTorch's "step memory" counts), rss_peak_bytes (process peak RSS).
// After the run, a table prints each mode's time and memory as a ratio to FT of the same config.
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "skiptune/model/flop_count.hpp"
#include "skiptune/skiptune.hpp"
#include "skiptune/testing/synthetic_batch.hpp"
#include "skiptune/train/fine_tuner.hpp"

namespace {

using namespace skiptune;

double process_peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

struct Measured {
  double seconds_per_step = 0;
  double peak_bytes = 0;
  double step_bytes = 0;
};
std::map<std::string, Measured>& results() {
  static std::map<std::string, Measured> table;
  return table;
}

struct Setup {
  std::string config_name;
  ClipConfig config;
  Index classes;
  bool truncate_after_eot;
};

/// Time train_step of a FineTuner over `Policies` on one same-class batch of 4 images.
template <class... Policies>
void run_step(benchmark::State& state, const Setup& setup, const std::string& key, Policies... policies) {
  MemoryMeter meter;
  Clip<float> model(setup.config, meter);
  Rng rng(2025);
  model.initialize(rng);
  model.text.truncate_after_eot = setup.truncate_after_eot;
  // One image per class plus three more of class 0: the timed batch is images 0..3, all of class 0
  // (the reference's same-class batches); the other images only make the dataset valid.
  const Index batch = 4;
  auto data = testing::make_synthetic_batch<float>(setup.config, setup.classes + 3, setup.classes, meter, rng, 16);
  ClipDataset<float> dataset;
  dataset.images = &data.images;
  dataset.class_token_ids = &data.token_ids;
  dataset.labels = {0, 0, 0, 0};
  for (Index c = 1; c < setup.classes; ++c) dataset.labels.push_back(static_cast<std::int32_t>(c));
  FitOptions options;
  options.epochs = 1;
  options.warmup_epochs = 0;
  options.cache_chunk = 16;
  FineTuner<Clip<float>, Policies...> tuner(model, policies...);
  tuner.prepare(dataset, options);
  tuner.begin_epoch(0);
  const std::vector<std::size_t> step_batch = {0, 1, 2, 3};

  StepResult last = tuner.train_step(step_batch, 1e-5, 1e-5);  // warm-up: first touch of every buffer
  meter.reset_peak();
  const auto start = std::chrono::steady_clock::now();
  std::size_t steps = 0;
  for (auto _ : state) {
    last = tuner.train_step(step_batch, 1e-5, 1e-5);
    benchmark::DoNotOptimize(last.loss);
    ++steps;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ClipTrainableParts parts;
  parts.vision = tuner.vision_parts();
  parts.text = tuner.text_parts();
  const StepShape shape{batch, static_cast<Index>(last.kept_classes), setup.config.text.context_length,
                        static_cast<Index>(last.text_tokens)};
  const double flops = clip_step_flops(setup.config, shape, parts);
  const auto& at_peak = meter.at_peak();
  const double step_bytes = double(at_peak[MemoryCategory::activations] + at_peak[MemoryCategory::workspace] +
                                   at_peak[MemoryCategory::gradients] + at_peak[MemoryCategory::optimizer_state]);
  state.counters["gflops"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_bytes"] = double(meter.peak_total());
  state.counters["step_bytes"] = step_bytes;
  state.counters["activation_bytes"] = double(at_peak[MemoryCategory::activations]);
  state.counters["gradient_bytes"] = double(at_peak[MemoryCategory::gradients]);
  state.counters["optimizer_bytes"] = double(at_peak[MemoryCategory::optimizer_state]);
  state.counters["cache_bytes"] = double(at_peak[MemoryCategory::cache]);
  state.counters["workspace_bytes"] = double(at_peak[MemoryCategory::workspace]);
  state.counters["weight_bytes"] = double(at_peak[MemoryCategory::weights]);
  state.counters["input_bytes"] = double(at_peak[MemoryCategory::inputs]);
  state.counters["kept_classes"] = double(last.kept_classes);
  state.counters["text_tokens"] = double(last.text_tokens);
  state.counters["rss_peak_bytes"] = process_peak_rss_bytes();
  results()[key] = Measured{seconds / double(std::max<std::size_t>(steps, 1)), double(meter.peak_total()), step_bytes};
}

/// One frozen forward of the image tower's first ω blocks for a batch of images: the per-epoch
/// cost LayerSkip pays per training image (reported so epoch-level totals can be composed).
void run_cache_build(benchmark::State& state, const ClipConfig& config, std::size_t omega) {
  MemoryMeter meter;
  Clip<float> model(config, meter);
  Rng rng(7);
  model.initialize(rng);
  auto data = testing::make_synthetic_batch<float>(config, 16, 2, meter, rng, 8);
  for (auto _ : state) {
    auto states = output_of_block(model.visual, omega, data.images);
    benchmark::DoNotOptimize(states.data());
  }
  state.counters["images_per_second"] =
      benchmark::Counter(16.0, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  // Static: the registered lambdas keep pointers to these.
  static const Setup tiny{"tiny", ClipConfig::tiny(), 32, true};
  static const Setup b16{"b16", ClipConfig::vit_b16(), 100, true};
  static const Setup b16_ctx77{"b16", ClipConfig::vit_b16(), 100, false};
  const ClassSkip class_skip{0.5, 50, 0.3};

  auto add = [](const std::string& name, int iterations, auto fn) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), fn);
    b->Unit(benchmark::kMillisecond)->UseRealTime();
    if (iterations > 0) b->Iterations(iterations);
  };
  for (const auto* s : {&tiny, &b16, &b16_ctx77}) {
    const std::string suffix = s->truncate_after_eot ? "" : "_ctx77";
    const std::string prefix = "TrainStep/" + s->config_name + "/";
    const int iterations = s->config_name == "tiny" ? 0 : 2;
    const std::size_t omega = s->config_name == "tiny" ? 2 : 6;
    add(prefix + "FT" + suffix, iterations, [s, key = prefix + "FT" + suffix](benchmark::State& st) {
      run_step(st, *s, key, FullFineTune{});
    });
    add(prefix + "LSkip" + suffix, iterations, [s, omega, key = prefix + "LSkip" + suffix](benchmark::State& st) {
      run_step(st, *s, key, FullFineTune{}, LayerSkip{omega});
    });
    add(prefix + "CSkip" + suffix, iterations,
        [s, class_skip, key = prefix + "CSkip" + suffix](benchmark::State& st) {
          run_step(st, *s, key, FullFineTune{}, class_skip);
        });
    add(prefix + "SkipT" + suffix, iterations,
        [s, omega, class_skip, key = prefix + "SkipT" + suffix](benchmark::State& st) {
          run_step(st, *s, key, FullFineTune{}, LayerSkip{omega}, class_skip);
        });
  }
  add("CacheBuild/b16/omega6", 2, [](benchmark::State& st) { run_cache_build(st, ClipConfig::vit_b16(), 6); });
}

void print_ratios() {
  const auto& table = results();
  if (table.empty()) return;
  std::printf("\nRatios to FT of the same config (measured in this run):\n");
  std::printf("%-28s %12s %10s %14s %10s %14s %10s\n", "benchmark", "s/step", "time", "peak_bytes", "peak",
              "step_bytes", "step mem");
  for (const auto& [name, m] : table) {
    const auto slash = name.rfind('/');
    const std::string config = name.substr(0, slash);
    const std::string mode = name.substr(slash + 1);
    const std::string suffix = mode.size() > 6 && mode.substr(mode.size() - 6) == "_ctx77" ? "_ctx77" : "";
    const auto ft = table.find(config + "/FT" + suffix);
    if (ft == table.end()) continue;
    std::printf("%-28s %12.4f %10.3f %14.0f %10.3f %14.0f %10.3f\n", name.c_str(), m.seconds_per_step,
                m.seconds_per_step / ft->second.seconds_per_step, m.peak_bytes, m.peak_bytes / ft->second.peak_bytes,
                m.step_bytes, m.step_bytes / ft->second.step_bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_ratios();
  return 0;
}
