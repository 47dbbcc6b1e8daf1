// demo_train_tiny — the first thing to run: full fine-tuning of a tiny CLIP for a few steps on
// seeded synthetic data, printing the loss, the step time and the peak memory (the planner's
// prediction next to the allocator's measurement).
//   usage: demo_train_tiny [steps=20] [batch=8] [classes=32]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "skiptune/model/memory_plan.hpp"
#include "skiptune/skiptune.hpp"
#include "skiptune/testing/synthetic_batch.hpp"

int main(int argc, char** argv) {
  using namespace skiptune;
  const int steps = argc > 1 ? std::atoi(argv[1]) : 20;
  const Index batch = argc > 2 ? std::atoll(argv[2]) : 8;
  const Index classes = argc > 3 ? std::atoll(argv[3]) : 32;
  if (steps <= 0 || batch <= 0 || classes <= 0) {
    std::fprintf(stderr, "usage: %s [steps>0] [batch>0] [classes>0]\n", argv[0]);
    return 2;
  }
  try {
    const ClipConfig config = ClipConfig::tiny();
    MemoryMeter meter;
    Clip<float> model(config, meter);
    Rng rng(2025);
    model.initialize(rng);
    const auto parts = ClipTrainableParts::full_fine_tune();
    const SgdOptions sgd{2e-2, 0.9, 5e-4};
    ClipTrainer<float> trainer(model, parts, sgd);
    auto data = testing::make_synthetic_batch<float>(config, batch, classes, meter, rng, 12);
    const auto plan = plan_clip_step<float>(
        config, StepShape{batch, classes, config.text.context_length, data.longest_prompt}, parts, sgd);

    std::printf("skiptune demo: full fine-tuning of the tiny CLIP (%zu parameters), batch %lld, %lld prompts\n",
                model.parameter_count(), static_cast<long long>(batch), static_cast<long long>(classes));
    std::printf("planned peak of a step: %s (at %s)\n", format_bytes(plan.peak_total).c_str(), plan.peak_phase.c_str());
    double total_seconds = 0;
    meter.reset_peak();
    for (int step = 1; step <= steps; ++step) {
      const auto start = std::chrono::steady_clock::now();
      const float loss = trainer.step(data.images, data.token_ids, data.labels);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      total_seconds += seconds;
      std::printf("step %3d/%d  loss %.4f  %7.2f ms  peak %s\n", step, steps, loss, seconds * 1e3,
                  format_bytes(meter.peak_total()).c_str());
    }
    std::printf("mean step %.2f ms; measured peak %s = planned %s: %s\n", total_seconds / steps * 1e3,
                format_bytes(meter.peak_total()).c_str(), format_bytes(plan.peak_total).c_str(),
                meter.peak_total() == plan.peak_total ? "exact" : "MISMATCH");
    const auto& at_peak = meter.at_peak();
    for (std::size_t c = 0; c < memory_category_count; ++c)
      if (at_peak.bytes[c] > 0)
        std::printf("  %-16s %s\n", std::string(to_string(static_cast<MemoryCategory>(c))).c_str(),
                    format_bytes(at_peak.bytes[c]).c_str());
    return meter.peak_total() == plan.peak_total ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
