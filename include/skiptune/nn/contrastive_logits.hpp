// skiptune/nn/contrastive_logits.hpp — CLIP's classifier: L2-normalise image features [B, E]
// and class text features [C, E], logits [B, C] = exp(logit_scale) · img · txtᵀ, then
// cross-entropy against labels (mean over the batch).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune::nn {

/// out [rows, cols] = in / ‖in‖ per row; `norms` [rows] receives ‖in‖.
template <class T>
inline void l2_normalize_forward(cpu, T* out, T* norms, const T* in, Index rows, Index cols) {
  for (Index r = 0; r < rows; ++r) {
    const T norm = ConstVectorMap<T>(in + r * cols, cols).norm();
    norms[r] = norm;
    VectorMap<T>(out + r * cols, cols) = ConstVectorMap<T>(in + r * cols, cols) / norm;
  }
}

/// d_in = (d_out − out·⟨d_out, out⟩) / ‖in‖ (assigned).
template <class T>
inline void l2_normalize_backward(cpu, T* d_in, const T* d_out, const T* out, const T* norms, Index rows, Index cols) {
  for (Index r = 0; r < rows; ++r) {
    ConstVectorMap<T> dy(d_out + r * cols, cols), y(out + r * cols, cols);
    VectorMap<T>(d_in + r * cols, cols) = (dy - y * dy.dot(y)) / norms[r];
  }
}

/// logits [B, C] = exp(logit_scale) · image_normalised [B, E] · text_normalised [C, E]ᵀ.
template <class T>
inline void scaled_logits_forward(cpu, T* logits, const T* image_normalised, const T* text_normalised,
                                  T logit_scale, Index batch, Index classes, Index embed) {
  MatrixMap<T>(logits, batch, classes).noalias() =
      std::exp(logit_scale) * (ConstMatrixMap<T>(image_normalised, batch, embed) *
                               ConstMatrixMap<T>(text_normalised, classes, embed).transpose());
}

/// Gradients of scaled_logits_forward: d_image, d_text assigned (either may be null);
/// d_logit_scale accumulates Σ d_logits ∘ logits (may be null).
template <class T>
inline void scaled_logits_backward(cpu, T* d_image, T* d_text, T* d_logit_scale, const T* d_logits, const T* logits,
                                   const T* image_normalised, const T* text_normalised, T logit_scale, Index batch,
                                   Index classes, Index embed) {
  ConstMatrixMap<T> dl(d_logits, batch, classes);
  const T scale = std::exp(logit_scale);
  if (d_image != nullptr)
    MatrixMap<T>(d_image, batch, embed).noalias() = scale * (dl * ConstMatrixMap<T>(text_normalised, classes, embed));
  if (d_text != nullptr)
    MatrixMap<T>(d_text, classes, embed).noalias() =
        scale * (dl.transpose() * ConstMatrixMap<T>(image_normalised, batch, embed));
  if (d_logit_scale != nullptr) *d_logit_scale += dl.cwiseProduct(ConstMatrixMap<T>(logits, batch, classes)).sum();
}

/// Mean cross-entropy of logits [B, C] against labels [B]; `probs` [B, C] receives the softmax
/// (what backward needs). Throws NumericError on a NaN/Inf loss.
template <class T>
inline T cross_entropy_forward(cpu, T* probs, const T* logits, const std::int32_t* labels, Index batch,
                               Index classes) {
  double loss = 0;
  for (Index b = 0; b < batch; ++b) {
    require<InputError>(labels[b] >= 0 && labels[b] < classes, "label ", labels[b], " of batch item ", b,
                        " is outside [0, ", classes, ")");
    const T* row = logits + b * classes;
    T* p = probs + b * classes;
    T max_logit = -std::numeric_limits<T>::infinity();
    for (Index c = 0; c < classes; ++c) max_logit = std::max(max_logit, row[c]);
    T sum = 0;
    for (Index c = 0; c < classes; ++c) sum += (p[c] = std::exp(row[c] - max_logit));
    for (Index c = 0; c < classes; ++c) p[c] /= sum;
    loss += static_cast<double>(std::log(sum) + max_logit - row[labels[b]]);
  }
  loss /= static_cast<double>(batch);
  require<NumericError>(std::isfinite(loss), "cross-entropy loss is ", loss, " (not finite)");
  return static_cast<T>(loss);
}

/// d_logits [B, C] = (probs − onehot(labels)) / B (assigned).
template <class T>
inline void cross_entropy_backward(cpu, T* d_logits, const T* probs, const std::int32_t* labels, Index batch,
                                   Index classes) {
  const T inv_batch = T(1) / static_cast<T>(batch);
  for (Index b = 0; b < batch; ++b)
    for (Index c = 0; c < classes; ++c)
      d_logits[b * classes + c] = (probs[b * classes + c] - (c == labels[b] ? T(1) : T(0))) * inv_batch;
}

}  // namespace skiptune::nn
