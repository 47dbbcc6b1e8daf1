// tests/compile_fail/policy_undeclared_hook.cpp — must NOT compile. The policy has a member
// `first_trained_block` with exactly the documented signature but does not list
// `hook::first_trained_block` in `using hooks = ...`; FineTuner would never call it (a half-
// declared policy). skiptune::check_policy (policy/hooks.hpp) stops the build with
//   "skiptune policy: the policy has a member named like a hook but does not list it in
//    `using hooks = skiptune::hooks<...>`"
// CTest compiles this file twice: as is (passes only if that sentence is printed) and with
// -DSKIPTUNE_COMPILE_FAIL_CONTROL (the hook declared: must compile).
#include <cstddef>

#include "skiptune/train/fine_tuner.hpp"

struct FreezeTwoBlocks {
#ifdef SKIPTUNE_COMPILE_FAIL_CONTROL
  using hooks = skiptune::hooks<skiptune::hook::first_trained_block>;
#else
  using hooks = skiptune::hooks<>;  // forgot hook::first_trained_block
#endif
  std::size_t first_trained_block(skiptune::Tower, std::size_t) const { return 2; }
};

void fine_tune(skiptune::Clip<float>& model) {
  skiptune::FineTuner<skiptune::Clip<float>, FreezeTwoBlocks> tuner(model, FreezeTwoBlocks{});
  (void)tuner;
}
