// skiptune/nn/activation.hpp — the MLP nonlinearity: OpenAI's QuickGELU x·σ(1.702x), or the
// exact (erf) GELU of torch.nn.GELU() for models trained with it.
#pragma once

#include <cmath>
#include <numbers>
#include <string_view>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune::nn {

enum class Activation { quick_gelu, gelu };

inline constexpr std::string_view to_string(Activation a) noexcept {
  return a == Activation::quick_gelu ? "quick_gelu" : "gelu";
}

namespace detail {
template <class T>
inline T activation_value(Activation kind, T x) noexcept {
  if (kind == Activation::quick_gelu) return x / (T(1) + std::exp(T(-1.702) * x));
  return T(0.5) * x * (T(1) + std::erf(x * static_cast<T>(std::numbers::sqrt2 / 2)));
}
template <class T>
inline T activation_derivative(Activation kind, T x) noexcept {
  if (kind == Activation::quick_gelu) {
    const T s = T(1) / (T(1) + std::exp(T(-1.702) * x));
    return s + T(1.702) * x * s * (T(1) - s);
  }
  const T cdf = T(0.5) * (T(1) + std::erf(x * static_cast<T>(std::numbers::sqrt2 / 2)));
  const T pdf = std::exp(T(-0.5) * x * x) * static_cast<T>(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
  return cdf + x * pdf;
}
}  // namespace detail

/// out[i] = act(in[i]); `out` may alias `in`.
template <class T>
inline void activation_forward(cpu, Activation kind, T* out, const T* in, Index n) {
#pragma omp parallel for schedule(static) if (n > skiptune::detail::parallel_grain)
  for (Index i = 0; i < n; ++i) out[i] = detail::activation_value(kind, in[i]);
}

/// d_in[i] = d_out[i] · act'(in[i]); `d_in` may alias `d_out`.
template <class T>
inline void activation_backward(cpu, Activation kind, T* d_in, const T* d_out, const T* in, Index n) {
#pragma omp parallel for schedule(static) if (n > skiptune::detail::parallel_grain)
  for (Index i = 0; i < n; ++i) d_in[i] = d_out[i] * detail::activation_derivative(kind, in[i]);
}

}  // namespace skiptune::nn
