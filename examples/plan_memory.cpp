// plan_memory — the memory planner's prediction for one training step of each method, before
// anything runs (no weights are allocated): weights, gradients, optimizer state, caches, and the
// step's peak by category.
//   usage: plan_memory [b16|b32|tiny] [classes=100] [prompt_tokens=16] [images=1600]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "skiptune/model/memory_plan.hpp"
#include "skiptune/policy/class_selection.hpp"

int main(int argc, char** argv) {
  using namespace skiptune;
  const std::string which = argc > 1 ? argv[1] : "b16";
  const ClipConfig config = which == "tiny" ? ClipConfig::tiny() : which == "b32" ? ClipConfig::vit_b32() : ClipConfig::vit_b16();
  const Index classes = argc > 2 ? std::atoll(argv[2]) : 100;
  const Index prompt_tokens = argc > 3 ? std::atoll(argv[3]) : 16;
  const Index images = argc > 4 ? std::atoll(argv[4]) : 16 * classes;
  try {
    // ClassSkip's m: K = min(ceil(ρC), max_top) plus the tail the reference's once-drawn mask keeps.
    policy::ClassSkipOptions class_skip;  // ρ 0.5, max_top 50, λ 0.3
    Rng rng(1);
    const auto mask = policy::draw_class_skip_rank_mask(static_cast<std::size_t>(classes), class_skip, rng);
    Index m = 0;
    for (auto kept : mask) m += kept;
    const std::size_t omega = static_cast<std::size_t>(config.vision.layers / 2);

    std::printf("%s, batch 4, %lld classes (ClassSkip keeps m = %lld with seed 1), prompts of %lld tokens, "
                "%lld training images, ω = %zu, SGD momentum\n\n",
                config.name.c_str(), static_cast<long long>(classes), static_cast<long long>(m),
                static_cast<long long>(prompt_tokens), static_cast<long long>(images), omega);
    std::printf("%-6s %11s %11s %11s %11s | %11s %11s %11s %11s | %s\n", "method", "weights", "gradients",
                "optimizer", "cache", "peak", "activations", "workspace", "step adds", "peak at");
    struct Row {
      const char* name;
      std::size_t omega;
      bool class_skip;
    };
    for (const Row& row : {Row{"FT", 0, false}, Row{"LSkip", omega, false}, Row{"CSkip", 0, true},
                           Row{"SkipT", omega, true}}) {
      FineTuneShape shape;
      shape.batch = 4;
      shape.classes = classes;
      shape.kept_classes = row.class_skip ? m : classes;
      shape.text_tokens = prompt_tokens;
      shape.text_cache_tokens = prompt_tokens;
      shape.dataset_images = images;
      shape.selects_classes = row.class_skip;
      const auto plan = plan_fine_tune_step<float>(config, shape, ClipTrainableParts::from_block(row.omega, row.omega));
      const auto& b = plan.before_step;
      const auto& p = plan.at_peak;
      const std::size_t step_adds = plan.peak_total - b.total();
      std::printf("%-6s %11s %11s %11s %11s | %11s %11s %11s %11s | %s\n", row.name,
                  format_bytes(b[MemoryCategory::weights]).c_str(), format_bytes(b[MemoryCategory::gradients]).c_str(),
                  format_bytes(b[MemoryCategory::optimizer_state]).c_str(), format_bytes(b[MemoryCategory::cache]).c_str(),
                  format_bytes(plan.peak_total).c_str(), format_bytes(p[MemoryCategory::activations]).c_str(),
                  format_bytes(p[MemoryCategory::workspace]).c_str(), format_bytes(step_adds).c_str(),
                  plan.peak_phase.c_str());
    }
    std::printf("\n(the dataset's pixels and prompt ids are counted as inputs in every row's peak)\n");
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
