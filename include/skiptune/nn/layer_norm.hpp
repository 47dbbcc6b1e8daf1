// skiptune/nn/layer_norm.hpp — LayerNorm over the last axis (eps 1e-5, biased variance), as
// torch.nn.LayerNorm. Training saves only the per-row mean and 1/std; the normalised output is
// recomputed in backward when needed (cheaper in memory than keeping it).
#pragma once

#include <cmath>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune::nn {

inline constexpr double layer_norm_eps = 1e-5;

/// out [rows, cols] = (in − mean)/sqrt(var + eps) · gamma + beta. `mean` and `rstd` [rows]
/// receive the statistics when non-null (training), and may be null (inference).
/// `out` may alias `in`.
template <class T>
inline void layer_norm_forward(cpu, T* out, T* mean, T* rstd, const T* in, const T* gamma, const T* beta,
                               Index rows, Index cols) {
#pragma omp parallel for schedule(static) if (rows * cols > skiptune::detail::parallel_grain)
  for (Index r = 0; r < rows; ++r) {
    const T* x = in + r * cols;
    T* y = out + r * cols;
    T sum = 0;
    for (Index c = 0; c < cols; ++c) sum += x[c];
    const T mu = sum / static_cast<T>(cols);
    T sum_sq = 0;
    for (Index c = 0; c < cols; ++c) {
      const T centred = x[c] - mu;
      sum_sq += centred * centred;
    }
    const T inv_std = T(1) / std::sqrt(sum_sq / static_cast<T>(cols) + static_cast<T>(layer_norm_eps));
    for (Index c = 0; c < cols; ++c) y[c] = (x[c] - mu) * inv_std * gamma[c] + beta[c];
    if (mean != nullptr) mean[r] = mu;
    if (rstd != nullptr) rstd[r] = inv_std;
  }
}

/// Recompute the forward output from saved statistics (used by backward passes).
template <class T>
inline void layer_norm_apply(cpu, T* out, const T* in, const T* mean, const T* rstd, const T* gamma,
                             const T* beta, Index rows, Index cols) {
#pragma omp parallel for schedule(static) if (rows * cols > skiptune::detail::parallel_grain)
  for (Index r = 0; r < rows; ++r) {
    const T* x = in + r * cols;
    T* y = out + r * cols;
    const T mu = mean[r], inv_std = rstd[r];
    for (Index c = 0; c < cols; ++c) y[c] = (x[c] - mu) * inv_std * gamma[c] + beta[c];
  }
}

/// d_in [rows, cols] += ∂L/∂in (accumulates: LayerNorm sits on the residual stream);
/// d_gamma, d_beta [cols] accumulate and may be null (frozen).
template <class T>
inline void layer_norm_backward(cpu, T* d_in, T* d_gamma, T* d_beta, const T* d_out, const T* in,
                                const T* mean, const T* rstd, const T* gamma, Index rows, Index cols) {
  // Parameter gradients: each column summed over rows in row order, columns split across
  // threads, so the result does not depend on the thread count.
  if (d_gamma != nullptr || d_beta != nullptr) {
#pragma omp parallel for schedule(static) if (rows * cols > skiptune::detail::parallel_grain)
    for (Index c0 = 0; c0 < cols; c0 += 16) {
      const Index c1 = std::min(cols, c0 + 16);
      T acc_gamma[16] = {}, acc_beta[16] = {};
      for (Index r = 0; r < rows; ++r) {
        const T* x = in + r * cols;
        const T* dy = d_out + r * cols;
        const T mu = mean[r], inv_std = rstd[r];
        for (Index c = c0; c < c1; ++c) {
          acc_gamma[c - c0] += dy[c] * (x[c] - mu) * inv_std;
          acc_beta[c - c0] += dy[c];
        }
      }
      for (Index c = c0; c < c1; ++c) {
        if (d_gamma != nullptr) d_gamma[c] += acc_gamma[c - c0];
        if (d_beta != nullptr) d_beta[c] += acc_beta[c - c0];
      }
    }
  }
  if (d_in == nullptr) return;
#pragma omp parallel for schedule(static) if (rows * cols > skiptune::detail::parallel_grain)
  for (Index r = 0; r < rows; ++r) {
    const T* x = in + r * cols;
    const T* dy = d_out + r * cols;
    T* dx = d_in + r * cols;
    const T mu = mean[r], inv_std = rstd[r];
    // dx = rstd · (dxhat − mean(dxhat) − xhat · mean(dxhat ∘ xhat)), dxhat = dy ∘ gamma
    T mean_dxhat = 0, mean_dxhat_xhat = 0;
    for (Index c = 0; c < cols; ++c) {
      const T dxhat = dy[c] * gamma[c];
      mean_dxhat += dxhat;
      mean_dxhat_xhat += dxhat * (x[c] - mu) * inv_std;
    }
    mean_dxhat /= static_cast<T>(cols);
    mean_dxhat_xhat /= static_cast<T>(cols);
    for (Index c = 0; c < cols; ++c) {
      const T xhat = (x[c] - mu) * inv_std;
      dx[c] += inv_std * (dy[c] * gamma[c] - mean_dxhat - xhat * mean_dxhat_xhat);
    }
  }
}

}  // namespace skiptune::nn
