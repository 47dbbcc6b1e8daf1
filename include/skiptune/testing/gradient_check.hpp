// skiptune/testing/gradient_check.hpp — a public gradient checker: central differences in
// double precision against an analytic gradient. The library's own tests run it on every op,
// every block and the whole CLIP loss; researchers can run it on their own blocks and encoders.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune::testing {

struct GradientCheckOptions {
  double step = 1e-6;             // central-difference step h
  Index max_entries = 0;          // 0 = every entry; otherwise a seeded random sample of entries
  std::uint64_t seed = 1234;      // for the sample
};

/// Outcome for one tensor. relative_error = max|analytic − numeric| / max|numeric| over the
/// checked entries (a norm-wise measure: robust where single entries are near zero).
struct GradientCheck {
  std::string name;
  double max_abs_error = 0;
  double max_reference = 0;
  double relative_error = 0;
  Index entries_checked = 0;
};

/// Perturb each checked entry of `values` [n] by ±h, call `loss()` (which must read `values`),
/// and compare (L(x+h) − L(x−h)) / 2h with `analytic` [n]. `values` is restored exactly.
template <class LossFn>
GradientCheck check_gradient(std::string name, double* values, const double* analytic, Index n, LossFn&& loss,
                             const GradientCheckOptions& options = {}) {
  std::vector<Index> entries(static_cast<std::size_t>(n));
  std::iota(entries.begin(), entries.end(), Index{0});
  if (options.max_entries > 0 && options.max_entries < n) {
    Rng rng(options.seed);
    rng.shuffle(entries);
    entries.resize(static_cast<std::size_t>(options.max_entries));
  }
  GradientCheck result{std::move(name)};
  for (Index i : entries) {
    const double original = values[i];
    values[i] = original + options.step;
    const double plus = static_cast<double>(loss());
    values[i] = original - options.step;
    const double minus = static_cast<double>(loss());
    values[i] = original;
    const double numeric = (plus - minus) / (2 * options.step);
    result.max_abs_error = std::max(result.max_abs_error, std::abs(analytic[i] - numeric));
    result.max_reference = std::max(result.max_reference, std::abs(numeric));
    ++result.entries_checked;
  }
  result.relative_error =
      result.max_reference > 0 ? result.max_abs_error / result.max_reference : result.max_abs_error;
  return result;
}

/// Convenience overload for tensors.
template <class LossFn>
GradientCheck check_gradient(std::string name, Tensor<double>& values, const Tensor<double>& analytic, LossFn&& loss,
                             const GradientCheckOptions& options = {}) {
  require<ShapeError>(values.shape() == analytic.shape(), "check_gradient(", name, "): values ", values.shape(),
                      " and gradient ", analytic.shape(), " differ in shape");
  return check_gradient(std::move(name), values.data(), analytic.data(), values.numel(), loss, options);
}

inline void print(const GradientCheck& c) {
  std::printf("  %-48s max|Δ|/max|ref| = %.2e  (%lld entries)\n", c.name.c_str(), c.relative_error,
              static_cast<long long>(c.entries_checked));
}

}  // namespace skiptune::testing
