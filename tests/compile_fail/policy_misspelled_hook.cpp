// tests/compile_fail/policy_misspelled_hook.cpp — must NOT compile. A policy that declares
// `hook::first_trained_block` but spells its member `first_trained_blok` would, without the check,
// be a LayerSkip that silently freezes nothing. skiptune::check_policy (policy/hooks.hpp), run by
// FineTuner, stops the build with the sentence
//   "skiptune policy: the policy declares a hook in `using hooks = ...` but has no member of that
//    name (misspelled?)"
// CTest compiles this file twice: as is (passes only if that sentence is printed) and with
// -DSKIPTUNE_COMPILE_FAIL_CONTROL (the member spelled right: must compile), which proves the
// failure comes from the misspelling, not from an include path or a broken header.
#include <cstddef>

#include "skiptune/train/fine_tuner.hpp"

struct FreezeTwoBlocks {
  using hooks = skiptune::hooks<skiptune::hook::first_trained_block>;
#ifdef SKIPTUNE_COMPILE_FAIL_CONTROL
  std::size_t first_trained_block(skiptune::Tower, std::size_t) const { return 2; }
#else
  std::size_t first_trained_blok(skiptune::Tower, std::size_t) const { return 2; }
#endif
};

void fine_tune(skiptune::Clip<float>& model) {
  skiptune::FineTuner<skiptune::Clip<float>, FreezeTwoBlocks> tuner(model, FreezeTwoBlocks{});
  (void)tuner;
}
