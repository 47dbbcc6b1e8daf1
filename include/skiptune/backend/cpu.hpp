// skiptune/backend/cpu.hpp — the CPU backend tag. Ops are free functions overloaded on a
// backend tag (`nn::linear_forward(cpu{}, ...)`), so a second backend (thrust/CUDA) adds
// overloads for its own tag and the model code, written against the tag, stays one copy.
#pragma once

#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace skiptune {

/// Eigen on the host, threads through OpenMP.
struct cpu {
  static constexpr const char* name = "cpu";
};

namespace detail {
/// Work below this many scalar operations runs on one thread (thread start-up costs more).
inline constexpr std::int64_t parallel_grain = 1 << 15;

inline int max_threads() noexcept {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
}  // namespace detail

}  // namespace skiptune
