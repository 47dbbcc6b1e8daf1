// skiptune/nn/pooled_head.hpp — a tower's head: pick one token per sequence (the class token
// for images, the end-of-text token for prompts), LayerNorm it, project it to the joint space.
//   vision: ln_post(x[:, 0, :]) @ proj          text: ln_final(x[s, eot_s]) @ text_projection
#pragma once

#include <utility>
#include <vector>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/nn/layer_norm.hpp"
#include "skiptune/nn/linear.hpp"

namespace skiptune::nn {

/// What head backward needs (category: activations): the picked rows and their LN statistics.
template <class T>
struct PooledHeadRecord {
  Tensor<T> pooled;     // [S, W] the picked token states, before the LayerNorm
  Tensor<T> mean, rstd;  // [S]
  std::vector<Index> rows;  // row of each sequence's picked token in the [S·T, W] states
};

/// features [S, E] from states [S·T, W]; `record` may be null (inference).
/// `ln_weight`, `ln_bias` [W], `projection` [W, E].
template <class T>
inline Tensor<T> pooled_head_forward(cpu backend, const Tensor<T>& states, std::vector<Index> rows,
                                     const Tensor<T>& ln_weight, const Tensor<T>& ln_bias,
                                     const Tensor<T>& projection, PooledHeadRecord<T>* record, MemoryMeter& meter) {
  const Index S = static_cast<Index>(rows.size()), W = states.cols(), E = projection.dim(1);
  Tensor<T> pooled({S, W}, meter, record ? MemoryCategory::activations : MemoryCategory::workspace);
  for (Index s = 0; s < S; ++s) pooled.matrix().row(s) = states.matrix().row(rows[s]);
  Tensor<T> features({S, E}, meter, MemoryCategory::activations);
  {
    Tensor<T> normalised({S, W}, meter, MemoryCategory::workspace);
    if (record != nullptr) {
      record->mean = Tensor<T>({S}, meter, MemoryCategory::activations);
      record->rstd = Tensor<T>({S}, meter, MemoryCategory::activations);
    }
    layer_norm_forward(backend, normalised.data(), record ? record->mean.data() : (T*)nullptr,
                       record ? record->rstd.data() : (T*)nullptr, pooled.data(), ln_weight.data(), ln_bias.data(),
                       S, W);
    projection_forward(backend, features.data(), normalised.data(), projection.data(), S, W, E);
  }
  if (record != nullptr) {
    record->pooled = std::move(pooled);
    record->rows = std::move(rows);
  }
  return features;
}

/// Backward: returns ∂L/∂states [states_rows, W] (zero except the picked rows, category
/// activations: it is the residual-stream gradient the blocks below continue), or an empty
/// tensor when states_rows is 0 (nothing below the head trains). Parameter gradients
/// accumulate; pass nulls for frozen ones.
template <class T>
inline Tensor<T> pooled_head_backward(cpu backend, const Tensor<T>& d_features, PooledHeadRecord<T>&& record,
                                      const Tensor<T>& ln_weight, const Tensor<T>& ln_bias,
                                      const Tensor<T>& projection, T* d_ln_weight, T* d_ln_bias, T* d_projection,
                                      Index states_rows, MemoryMeter& meter) {
  PooledHeadRecord<T> rec = std::move(record);
  const Index S = rec.pooled.rows(), W = rec.pooled.cols(), E = projection.dim(1);
  const bool need_states = states_rows > 0;
  Tensor<T> d_states;
  if (need_states) d_states = Tensor<T>::zeros({states_rows, W}, meter, MemoryCategory::activations);
  Tensor<T> workspace({3 * S * W}, meter, MemoryCategory::workspace);
  T* normalised = workspace.data();  // [S, W]
  T* d_normalised = normalised + S * W;
  T* d_pooled = d_normalised + S * W;
  layer_norm_apply(backend, normalised, rec.pooled.data(), rec.mean.data(), rec.rstd.data(), ln_weight.data(),
                   ln_bias.data(), S, W);
  projection_backward(backend, d_normalised, d_projection, d_features.data(), normalised, projection.data(), S, W, E);
  std::fill_n(d_pooled, S * W, T(0));
  layer_norm_backward(backend, need_states ? d_pooled : (T*)nullptr, d_ln_weight, d_ln_bias, d_normalised, rec.pooled.data(), rec.mean.data(),
                      rec.rstd.data(), ln_weight.data(), S, W);
  if (need_states)
    for (Index s = 0; s < S; ++s) d_states.matrix().row(rec.rows[s]) += ConstMatrixMap<T>(d_pooled, S, W).row(s);
  return d_states;
}

}  // namespace skiptune::nn
