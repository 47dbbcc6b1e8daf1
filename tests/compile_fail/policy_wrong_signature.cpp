// tests/compile_fail/policy_wrong_signature.cpp — must NOT compile. A policy declares
// `hook::first_trained_block` and has a member of that name, but not with the documented
// signature `std::size_t first_trained_block(Tower, std::size_t) const`: here it is non-const and
// returns int. skiptune::check_policy (policy/hooks.hpp), run by FineTuner, stops the build with
//   "skiptune policy: a declared hook's member does not have the documented signature (wrong
//    parameter types, return type or const-ness)"
// CTest compiles this file twice: as is (passes only if that sentence is printed) and with
// -DSKIPTUNE_COMPILE_FAIL_CONTROL (the documented signature: must compile).
#include <cstddef>

#include "skiptune/train/fine_tuner.hpp"

struct FreezeTwoBlocks {
  using hooks = skiptune::hooks<skiptune::hook::first_trained_block>;
#ifdef SKIPTUNE_COMPILE_FAIL_CONTROL
  std::size_t first_trained_block(skiptune::Tower, std::size_t) const { return 2; }
#else
  int first_trained_block(skiptune::Tower, std::size_t) { return 2; }  // returns int, not const
#endif
};

void fine_tune(skiptune::Clip<float>& model) {
  skiptune::FineTuner<skiptune::Clip<float>, FreezeTwoBlocks> tuner(model, FreezeTwoBlocks{});
  (void)tuner;
}
