// tests/compile_fail/observer_bad_signature.cpp — must NOT compile. An observer whose member is
// named like a hook but cannot be called as one (here `on_step_end(int)` instead of
// `on_step_end(const skiptune::StepEnd&)`) is a compile error with a readable static_assert in
// skiptune/train/observers.hpp, never a hook that is silently skipped.
//
// CTest compiles this file twice (see tests/CMakeLists.txt):
//   * as is: passes only if the compiler prints the static_assert's sentence;
//   * with -DSKIPTUNE_COMPILE_FAIL_CONTROL (the hook spelled correctly): must compile cleanly,
//     which proves the first failure comes from the signature and not from a broken include
//     path, a typo in this file, or a header that no longer compiles.
#include "skiptune/train/observers.hpp"

struct MisTypedObserver {
#ifdef SKIPTUNE_COMPILE_FAIL_CONTROL
  void on_step_end(const skiptune::StepEnd&) {}
#else
  void on_step_end(int) {}
#endif
};

int main() {
  MisTypedObserver observer;
  return skiptune::notify_step_end(skiptune::StepEnd{}, observer) ? 0 : 1;
}
