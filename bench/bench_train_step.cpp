// skiptune_bench — one CLIP training step (forward + backward + SGD update) per iteration.
//   TrainStep/tiny/FT      the tiny preset, batch 8, 32 prompts
//   TrainStep/b16/FT       ViT-B/16, batch 4, 100 prompts of ≤ 16 tokens (run up to their
//                          longest end-of-text token: exact, see text_tower.hpp)
//   TrainStep/b16/FT_ctx77 the same through all 77 positions — the work PyTorch's reference does
// Counters: gflops (analytic FLOPs / step time), peak_bytes (MemoryMeter: exact bytes of weights,
// gradients, momentum, activations, workspace and inputs at the step's peak), planned_bytes
// (the planner's prediction), rss_peak_bytes (the process's peak resident set, a cross-check).
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <memory>
#include <string>

#include "skiptune/model/flop_count.hpp"
#include "skiptune/model/memory_plan.hpp"
#include "skiptune/skiptune.hpp"
#include "skiptune/testing/synthetic_batch.hpp"

namespace {

using namespace skiptune;

double process_peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

struct StepSetup {
  ClipConfig config;
  Index batch, classes, prompt_tokens;
  bool truncate_after_eot;
  ClipTrainableParts parts;
};

void run_train_step(benchmark::State& state, const StepSetup& setup) {
  MemoryMeter meter;
  Clip<float> model(setup.config, meter);
  Rng rng(2025);
  model.initialize(rng);
  model.text.truncate_after_eot = setup.truncate_after_eot;
  ClipTrainer<float> trainer(model, setup.parts, SgdOptions{1e-5, 0.9, 5e-4});
  auto data = testing::make_synthetic_batch<float>(setup.config, setup.batch, setup.classes, meter, rng,
                                                   setup.prompt_tokens);
  const StepShape shape{setup.batch, setup.classes, setup.config.text.context_length,
                        setup.truncate_after_eot ? data.longest_prompt : setup.config.text.context_length};
  const MemoryPlan plan = plan_clip_step<float>(setup.config, shape, setup.parts);
  const double flops = clip_step_flops(setup.config, shape, setup.parts);

  trainer.step(data.images, data.token_ids, data.labels);  // warm-up: first touch of every buffer
  meter.reset_peak();
  for (auto _ : state) {
    const float loss = trainer.step(data.images, data.token_ids, data.labels);
    benchmark::DoNotOptimize(loss);
  }
  state.counters["gflops"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_bytes"] = static_cast<double>(meter.peak_total());
  state.counters["planned_bytes"] = static_cast<double>(plan.peak_total);
  state.counters["activation_bytes"] = static_cast<double>(meter.at_peak()[MemoryCategory::activations]);
  state.counters["gradient_bytes"] = static_cast<double>(meter.at_peak()[MemoryCategory::gradients]);
  state.counters["optimizer_bytes"] = static_cast<double>(meter.at_peak()[MemoryCategory::optimizer_state]);
  state.counters["weight_bytes"] = static_cast<double>(meter.at_peak()[MemoryCategory::weights]);
  state.counters["rss_peak_bytes"] = process_peak_rss_bytes();
  state.counters["text_tokens"] = static_cast<double>(shape.text_tokens);
}

void register_benchmarks() {
  const auto tiny = ClipConfig::tiny();
  const auto b16 = ClipConfig::vit_b16();
  const auto ft = ClipTrainableParts::full_fine_tune();
  struct Entry {
    std::string name;
    StepSetup setup;
    int iterations;
  };
  const Entry entries[] = {
      {"TrainStep/tiny/FT", {tiny, 8, 32, 12, true, ft}, 0},
      {"TrainStep/b16/FT", {b16, 4, 100, 16, true, ft}, 2},
      {"TrainStep/b16/FT_ctx77", {b16, 4, 100, 16, false, ft}, 1},
  };
  for (const auto& e : entries) {
    auto* b = benchmark::RegisterBenchmark(e.name.c_str(), [setup = e.setup](benchmark::State& s) { run_train_step(s, setup); });
    b->Unit(benchmark::kMillisecond)->UseRealTime();
    if (e.iterations > 0) b->Iterations(e.iterations);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
