// skiptune/nn/linear.hpp — y = x·Wᵀ + b with W stored [out, in] (PyTorch/OpenAI layout).
//
// Conventions shared by every op in nn/: buffers are row-major; parameter gradients
// ACCUMULATE (+=) so a parameter used twice sums its contributions; activation gradients are
// ASSIGNED unless the name says `accumulate`; a null gradient pointer means "not wanted" (a
// frozen parameter owns no gradient buffer, so backward skips that work entirely).
#pragma once

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune::nn {

/// out [rows, out_features] = in [rows, in_features] · weight[out_features, in_features]ᵀ + bias.
/// `bias` may be null.
template <class T>
inline void linear_forward(cpu, T* out, const T* in, const T* weight, const T* bias, Index rows,
                           Index in_features, Index out_features) {
  MatrixMap<T> y(out, rows, out_features);
  ConstMatrixMap<T> x(in, rows, in_features);
  ConstMatrixMap<T> w(weight, out_features, in_features);
  y.noalias() = x * w.transpose();
  if (bias != nullptr) y.rowwise() += ConstVectorMap<T>(bias, out_features);
}

/// Gradients of linear_forward. d_in [rows, in] is assigned (or += when `accumulate_d_in`);
/// d_weight [out, in] and d_bias [out] accumulate. Any of the three may be null.
template <class T>
inline void linear_backward(cpu, T* d_in, T* d_weight, T* d_bias, const T* d_out, const T* in,
                            const T* weight, Index rows, Index in_features, Index out_features,
                            bool accumulate_d_in = false) {
  ConstMatrixMap<T> dy(d_out, rows, out_features);
  if (d_in != nullptr) {
    MatrixMap<T> dx(d_in, rows, in_features);
    ConstMatrixMap<T> w(weight, out_features, in_features);
    if (accumulate_d_in)
      dx.noalias() += dy * w;
    else
      dx.noalias() = dy * w;
  }
  if (d_weight != nullptr) {
    MatrixMap<T> dw(d_weight, out_features, in_features);
    ConstMatrixMap<T> x(in, rows, in_features);
    dw.noalias() += dy.transpose() * x;
  }
  if (d_bias != nullptr) VectorMap<T>(d_bias, out_features) += dy.colwise().sum();
}

/// y = x·W with W stored [in, out] (CLIP's `visual.proj` and `text_projection`).
template <class T>
inline void projection_forward(cpu, T* out, const T* in, const T* weight, Index rows, Index in_features,
                               Index out_features) {
  MatrixMap<T>(out, rows, out_features).noalias() =
      ConstMatrixMap<T>(in, rows, in_features) * ConstMatrixMap<T>(weight, in_features, out_features);
}

/// Gradients of projection_forward: d_in assigned, d_weight accumulates; either may be null.
template <class T>
inline void projection_backward(cpu, T* d_in, T* d_weight, const T* d_out, const T* in, const T* weight,
                                Index rows, Index in_features, Index out_features) {
  ConstMatrixMap<T> dy(d_out, rows, out_features);
  if (d_in != nullptr)
    MatrixMap<T>(d_in, rows, in_features).noalias() =
        dy * ConstMatrixMap<T>(weight, in_features, out_features).transpose();
  if (d_weight != nullptr)
    MatrixMap<T>(d_weight, in_features, out_features).noalias() +=
        ConstMatrixMap<T>(in, rows, in_features).transpose() * dy;
}

}  // namespace skiptune::nn
