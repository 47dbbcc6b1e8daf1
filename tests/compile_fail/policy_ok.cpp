// tests/compile_fail/policy_ok.cpp — MUST compile: the policy of the three policy_*.cpp
// compile-fail files, written correctly (hook declared, member spelled right, documented
// signature), used the same way — FineTuner<Clip<float>, Policy> plus an explicit check_policy —
// and composed with the library's own policies. If this file stops compiling, the compile-fail
// tests next to it prove nothing: their expected failure could come from the harness.
#include <cstddef>

#include "skiptune/train/fine_tuner.hpp"

struct FreezeTwoBlocks {
  using hooks = skiptune::hooks<skiptune::hook::first_trained_block>;
  std::size_t first_trained_block(skiptune::Tower, std::size_t) const { return 2; }
};

static_assert(skiptune::check_policy<FreezeTwoBlocks, float>());

void fine_tune(skiptune::Clip<float>& model) {
  skiptune::FineTuner<skiptune::Clip<float>, FreezeTwoBlocks> alone(model, FreezeTwoBlocks{});
  skiptune::FineTuner<skiptune::Clip<float>, skiptune::FullFineTune, FreezeTwoBlocks, skiptune::ClassSkip> composed(
      model, skiptune::FullFineTune{}, FreezeTwoBlocks{}, skiptune::ClassSkip{});
  (void)alone;
  (void)composed;
}
