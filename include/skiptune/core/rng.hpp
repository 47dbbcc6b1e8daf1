// skiptune/core/rng.hpp — the library's random numbers. Every random choice (initialisation,
// augmentation, sampling, ClassSkip masks) goes through Rng with an explicit seed, so the same
// seed gives the same results on every run and every machine.
//
// Counter-based: value i of stream (seed, stream_id) is a pure function of (seed, stream_id, i)
// (SplitMix64 finaliser over a Weyl sequence), so a backend can generate the same numbers in
// parallel, and independent streams never share state.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "skiptune/core/errors.hpp"

namespace skiptune {

class Rng {
 public:
  explicit Rng(std::uint64_t seed, std::uint64_t stream_id = 0) noexcept
      : key_(mix(seed ^ mix(stream_id + 0x6a09e667f3bcc909ULL))) {}

  /// A new independent generator derived from this one's key and `stream_id`.
  [[nodiscard]] Rng fork(std::uint64_t stream_id) const noexcept { return Rng(key_, stream_id + 1); }

  /// Next 64 random bits.
  std::uint64_t next_u64() noexcept { return mix(key_ + 0x9e3779b97f4a7c15ULL * ++counter_); }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  /// Uniform in [low, high).
  double uniform(double low, double high) noexcept { return low + (high - low) * uniform(); }

  /// Uniform integer in [0, n), unbiased (rejection). n must be > 0.
  std::uint64_t below(std::uint64_t n) {
    require<ConfigError>(n > 0, "Rng::below(n) needs n > 0");
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
    std::uint64_t value = next_u64();
    while (value >= limit) value = next_u64();
    return value % n;
  }

  /// Standard normal (Box–Muller; the spare value is kept so two draws cost one pair).
  double normal() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  double normal(double mean, double stddev) noexcept { return mean + stddev * normal(); }

  /// True with probability p.
  bool bernoulli(double p) noexcept { return uniform() < p; }

  /// Fisher–Yates shuffle of a random-access range.
  template <class Range>
  void shuffle(Range& range) {
    const auto n = static_cast<std::uint64_t>(std::size(range));
    for (std::uint64_t i = n; i > 1; --i) {
      const auto j = below(i);
      using std::swap;
      swap(range[i - 1], range[j]);
    }
  }

 private:
  static constexpr std::uint64_t mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t key_;
  std::uint64_t counter_ = 0;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace skiptune
