// skiptune/nn/attention.hpp — multi-head scaled dot-product attention over packed q|k|v, as
// torch.nn.MultiheadAttention computes it inside OpenAI CLIP (the q/k/v and output projections
// are separate linear ops, see residual_block.hpp).
//
// Shapes: `sequences` S independent sequences of `tokens` T; width W = heads H × head_dim d.
//   qkv   [S·T, 3W]  columns: q (W) | k (W) | v (W); head h uses columns h·d .. h·d+d of each
//   probs [S, H, T, T] softmax(q·kᵀ/√d) (+ causal mask: position i sees j ≤ i)
//   out   [S·T, W]    concatenated heads, before out_proj
#pragma once

#include <cmath>
#include <limits>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune::nn {

struct AttentionShape {
  Index sequences = 0;
  Index tokens = 0;
  Index width = 0;
  Index heads = 0;
  bool causal = false;

  [[nodiscard]] Index head_dim() const noexcept { return width / heads; }
  [[nodiscard]] Index rows() const noexcept { return sequences * tokens; }
  [[nodiscard]] Index probs_size() const noexcept { return sequences * heads * tokens * tokens; }
};

/// Forward. `probs` is written (it is what backward needs); `out` is assigned.
template <class T>
inline void attention_forward(cpu, T* out, T* probs, const T* qkv, const AttentionShape& shape) {
  const Index S = shape.sequences, Tn = shape.tokens, W = shape.width, H = shape.heads, d = shape.head_dim();
  const T scale = T(1) / std::sqrt(static_cast<T>(d));
  // One (sequence, head) pair per task; Eigen's products inside run single-threaded there.
#pragma omp parallel for schedule(dynamic) if (S * H > 1 && S * H * Tn * Tn * d > skiptune::detail::parallel_grain)
  for (Index task = 0; task < S * H; ++task) {
    const Index s = task / H, h = task % H;
    const T* base = qkv + s * Tn * 3 * W + h * d;
    ConstStridedMatrixMap<T> q(base, Tn, d, Eigen::OuterStride<>(3 * W));
    ConstStridedMatrixMap<T> k(base + W, Tn, d, Eigen::OuterStride<>(3 * W));
    ConstStridedMatrixMap<T> v(base + 2 * W, Tn, d, Eigen::OuterStride<>(3 * W));
    MatrixMap<T> p(probs + task * Tn * Tn, Tn, Tn);
    p.noalias() = q * k.transpose();
    for (Index i = 0; i < Tn; ++i) {
      T* row = p.data() + i * Tn;
      const Index visible = shape.causal ? i + 1 : Tn;
      T max_score = -std::numeric_limits<T>::infinity();
      for (Index j = 0; j < visible; ++j) max_score = std::max(max_score, row[j] * scale);
      T sum = 0;
      for (Index j = 0; j < visible; ++j) {
        row[j] = std::exp(row[j] * scale - max_score);
        sum += row[j];
      }
      const T inv_sum = T(1) / sum;
      for (Index j = 0; j < visible; ++j) row[j] *= inv_sum;
      for (Index j = visible; j < Tn; ++j) row[j] = 0;
    }
    StridedMatrixMap<T> o(out + s * Tn * W + h * d, Tn, d, Eigen::OuterStride<>(W));
    o.noalias() = p * v;
  }
}

/// Backward. `d_qkv` [S·T, 3W] is assigned; `d_probs_scratch` [S, H, T, T] is workspace.
template <class T>
inline void attention_backward(cpu, T* d_qkv, T* d_probs_scratch, const T* d_out, const T* probs,
                               const T* qkv, const AttentionShape& shape) {
  const Index S = shape.sequences, Tn = shape.tokens, W = shape.width, H = shape.heads, d = shape.head_dim();
  const T scale = T(1) / std::sqrt(static_cast<T>(d));
#pragma omp parallel for schedule(dynamic) if (S * H > 1 && S * H * Tn * Tn * d > skiptune::detail::parallel_grain)
  for (Index task = 0; task < S * H; ++task) {
    const Index s = task / H, h = task % H;
    const T* base = qkv + s * Tn * 3 * W + h * d;
    T* d_base = d_qkv + s * Tn * 3 * W + h * d;
    ConstStridedMatrixMap<T> q(base, Tn, d, Eigen::OuterStride<>(3 * W));
    ConstStridedMatrixMap<T> k(base + W, Tn, d, Eigen::OuterStride<>(3 * W));
    ConstStridedMatrixMap<T> v(base + 2 * W, Tn, d, Eigen::OuterStride<>(3 * W));
    StridedMatrixMap<T> dq(d_base, Tn, d, Eigen::OuterStride<>(3 * W));
    StridedMatrixMap<T> dk(d_base + W, Tn, d, Eigen::OuterStride<>(3 * W));
    StridedMatrixMap<T> dv(d_base + 2 * W, Tn, d, Eigen::OuterStride<>(3 * W));
    ConstStridedMatrixMap<T> dout(d_out + s * Tn * W + h * d, Tn, d, Eigen::OuterStride<>(W));
    ConstMatrixMap<T> p(probs + task * Tn * Tn, Tn, Tn);
    MatrixMap<T> ds(d_probs_scratch + task * Tn * Tn, Tn, Tn);

    dv.noalias() = p.transpose() * dout;
    ds.noalias() = dout * v.transpose();  // ∂L/∂probs
    // softmax backward: dscore_ij = p_ij (dp_ij − Σ_k p_ik dp_ik); masked entries have p = 0.
    for (Index i = 0; i < Tn; ++i) {
      const T* p_row = p.data() + i * Tn;
      T* row = ds.data() + i * Tn;
      const Index visible = shape.causal ? i + 1 : Tn;
      T dot = 0;
      for (Index j = 0; j < visible; ++j) dot += p_row[j] * row[j];
      for (Index j = 0; j < visible; ++j) row[j] = p_row[j] * (row[j] - dot) * scale;
      for (Index j = visible; j < Tn; ++j) row[j] = 0;
    }
    dq.noalias() = ds * k;
    dk.noalias() = ds.transpose() * q;
  }
}

}  // namespace skiptune::nn
