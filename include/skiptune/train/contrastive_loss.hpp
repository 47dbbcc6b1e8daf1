// skiptune/train/contrastive_loss.hpp — CLIP's classification loss and its gradients in one
// call: L2-normalise image features [B, E] and class text features [C, E], logits
// exp(logit_scale)·img·txtᵀ [B, C], mean cross-entropy against labels, and ∂L/∂features for both
// towers (and ∂L/∂logit_scale when wanted). Its buffers live only inside the call.
#pragma once

#include <cstdint>

#include "skiptune/core/tensor.hpp"
#include "skiptune/nn/contrastive_logits.hpp"

namespace skiptune {

/// Returns the loss; writes d_image_features [B, E] and d_text_features [C, E] (pre-allocated
/// by the caller), accumulates into *d_logit_scale when non-null, copies the logits into
/// *logits_out when non-null. Throws NumericError on a non-finite loss.
template <class T, class Backend>
T contrastive_loss_and_gradients(Backend backend, const Tensor<T>& image_features, const Tensor<T>& text_features,
                                 const std::int32_t* labels, T logit_scale, T* d_logit_scale,
                                 Tensor<T>& d_image_features, Tensor<T>& d_text_features, MemoryMeter& meter,
                                 Tensor<T>* logits_out = nullptr) {
  const Index B = image_features.dim(0), C = text_features.dim(0), E = image_features.dim(1);
  constexpr auto saved = MemoryCategory::activations;
  Tensor<T> image_n({B, E}, meter, saved), image_norms({B}, meter, saved);
  Tensor<T> text_n({C, E}, meter, saved), text_norms({C}, meter, saved);
  Tensor<T> logits({B, C}, meter, saved), probs({B, C}, meter, saved);
  nn::l2_normalize_forward(backend, image_n.data(), image_norms.data(), image_features.data(), B, E);
  nn::l2_normalize_forward(backend, text_n.data(), text_norms.data(), text_features.data(), C, E);
  nn::scaled_logits_forward(backend, logits.data(), image_n.data(), text_n.data(), logit_scale, B, C, E);
  const T loss = nn::cross_entropy_forward(backend, probs.data(), logits.data(), labels, B, C);
  if (logits_out != nullptr) *logits_out = logits.clone(MemoryCategory::workspace);

  Tensor<T> d_logits({B, C}, meter, MemoryCategory::workspace);
  Tensor<T> d_image_n({B, E}, meter, MemoryCategory::workspace), d_text_n({C, E}, meter, MemoryCategory::workspace);
  nn::cross_entropy_backward(backend, d_logits.data(), probs.data(), labels, B, C);
  nn::scaled_logits_backward(backend, d_image_n.data(), d_text_n.data(), d_logit_scale, d_logits.data(),
                             logits.data(), image_n.data(), text_n.data(), logit_scale, B, C, E);
  nn::l2_normalize_backward(backend, d_image_features.data(), d_image_n.data(), image_n.data(), image_norms.data(), B, E);
  nn::l2_normalize_backward(backend, d_text_features.data(), d_text_n.data(), text_n.data(), text_norms.data(), C, E);
  return loss;
}

}  // namespace skiptune
