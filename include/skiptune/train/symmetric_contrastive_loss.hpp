// skiptune/train/symmetric_contrastive_loss.hpp — CLIP's pretraining loss (symmetric InfoNCE,
// as open_clip's ClipLoss) and its gradients in one call.
//
// A batch holds B paired examples: row i of image_features [B, E] and row i of text_features
// [B, E] describe the same thing. With L2-normalised features and s = logit_scale,
//   logits_per_image = exp(s) · img_n · txt_nᵀ   [B, B]   (row i: image i against every caption)
//   logits_per_text  = exp(s) · txt_n · img_nᵀ   [B, B]   (= logits_per_imageᵀ)
//   loss = (CE(logits_per_image, arange(B)) + CE(logits_per_text, arange(B))) / 2
// where CE is the mean cross-entropy over rows. Both directions are computed with the same
// scaled_logits op (two small [B, B] products instead of a transpose), so the function uses only
// the backend's ops from nn/contrastive_logits.hpp plus two elementwise helpers below.
//
// The logit scale is a log: exp(s) multiplies the cosine similarities. CLIP (and open_clip)
// clamp s to [0, ln 100] *after each optimizer update*, outside the loss and outside autograd;
// this function never clamps — ClipPretrainer (train/clip_pretrainer.hpp) does, after its step.
#pragma once

#include <cmath>
#include <cstdint>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/errors.hpp"
#include "skiptune/core/memory.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/nn/contrastive_logits.hpp"

namespace skiptune {

namespace detail {

/// values [n] *= factor (host memory; a device backend overloads this for its own tag).
template <class T>
inline void scale_in_place(cpu, T* values, T factor, Index n) {
  VectorMap<T>(values, n) *= factor;
}

/// sum [n] += addend [n].
template <class T>
inline void add_in_place(cpu, T* sum, const T* addend, Index n) {
  VectorMap<T>(sum, n) += ConstVectorMap<T>(addend, n);
}

}  // namespace detail

/// Symmetric InfoNCE over B paired rows (see the file comment). Returns the loss; writes
/// (assigns) d_image_features [B, E] and d_text_features [B, E], which the caller allocates;
/// accumulates ∂L/∂logit_scale into *d_logit_scale when it is non-null (parameter gradients
/// accumulate, as everywhere in skiptune). Throws ShapeError on mismatched shapes and
/// NumericError on a NaN/Inf loss. Its own buffers live only inside the call.
template <class T, class Backend>
T symmetric_contrastive_loss_and_gradients(Backend backend, const Tensor<T>& image_features,
                                           const Tensor<T>& text_features, T logit_scale, T* d_logit_scale,
                                           Tensor<T>& d_image_features, Tensor<T>& d_text_features,
                                           MemoryMeter& meter) {
  require<ShapeError>(image_features.rank() == 2 && image_features.dim(0) > 0,
                      "symmetric contrastive loss: image_features has shape ", image_features.shape(),
                      ", expected [B, E] with B >= 1");
  const Index B = image_features.dim(0), E = image_features.dim(1);
  // Pairing is by row, so both towers must have produced exactly B rows of the same width.
  expect_shape(text_features, Shape{B, E}, "text_features (paired with image_features row by row)");
  expect_shape(d_image_features, Shape{B, E}, "d_image_features");
  expect_shape(d_text_features, Shape{B, E}, "d_text_features");

  // Forward. Saved for backward (activations): normalised rows and norms, both logit matrices
  // (scaled_logits_backward reads them for ∂L/∂s) and both softmaxes.
  constexpr auto saved = MemoryCategory::activations;
  Tensor<T> image_n({B, E}, meter, saved), image_norms({B}, meter, saved);
  Tensor<T> text_n({B, E}, meter, saved), text_norms({B}, meter, saved);
  Tensor<T> logits_per_image({B, B}, meter, saved), probs_per_image({B, B}, meter, saved);
  Tensor<T> logits_per_text({B, B}, meter, saved), probs_per_text({B, B}, meter, saved);
  Tensor<std::int32_t> targets({B}, meter, MemoryCategory::workspace);  // arange(B): row i pairs with column i
  for (Index i = 0; i < B; ++i) targets[i] = static_cast<std::int32_t>(i);

  nn::l2_normalize_forward(backend, image_n.data(), image_norms.data(), image_features.data(), B, E);
  nn::l2_normalize_forward(backend, text_n.data(), text_norms.data(), text_features.data(), B, E);
  nn::scaled_logits_forward(backend, logits_per_image.data(), image_n.data(), text_n.data(), logit_scale, B, B, E);
  nn::scaled_logits_forward(backend, logits_per_text.data(), text_n.data(), image_n.data(), logit_scale, B, B, E);
  // cross_entropy_forward throws NumericError itself when either direction is not finite.
  const T image_to_text = nn::cross_entropy_forward(backend, probs_per_image.data(), logits_per_image.data(),
                                                     targets.data(), B, B);
  const T text_to_image = nn::cross_entropy_forward(backend, probs_per_text.data(), logits_per_text.data(),
                                                    targets.data(), B, B);
  const T loss = (image_to_text + text_to_image) / T(2);
  require<NumericError>(std::isfinite(loss), "symmetric contrastive loss is ", loss, " (not finite)");

  // Backward: each direction carries weight ½. d_logits [B, B] is reused for both directions;
  // the text→image direction yields its feature gradients in swapped roles, into scratch
  // buffers that are then added to the image→text ones.
  constexpr auto scratch = MemoryCategory::workspace;
  Tensor<T> d_logits({B, B}, meter, scratch);
  Tensor<T> d_image_n({B, E}, meter, scratch), d_text_n({B, E}, meter, scratch);
  Tensor<T> d_image_n_from_text({B, E}, meter, scratch), d_text_n_from_text({B, E}, meter, scratch);

  nn::cross_entropy_backward(backend, d_logits.data(), probs_per_image.data(), targets.data(), B, B);
  detail::scale_in_place(backend, d_logits.data(), T(0.5), B * B);
  nn::scaled_logits_backward(backend, d_image_n.data(), d_text_n.data(), d_logit_scale, d_logits.data(),
                             logits_per_image.data(), image_n.data(), text_n.data(), logit_scale, B, B, E);

  nn::cross_entropy_backward(backend, d_logits.data(), probs_per_text.data(), targets.data(), B, B);
  detail::scale_in_place(backend, d_logits.data(), T(0.5), B * B);
  nn::scaled_logits_backward(backend, d_text_n_from_text.data(), d_image_n_from_text.data(), d_logit_scale,
                             d_logits.data(), logits_per_text.data(), text_n.data(), image_n.data(), logit_scale, B,
                             B, E);
  detail::add_in_place(backend, d_image_n.data(), d_image_n_from_text.data(), B * E);
  detail::add_in_place(backend, d_text_n.data(), d_text_n_from_text.data(), B * E);

  nn::l2_normalize_backward(backend, d_image_features.data(), d_image_n.data(), image_n.data(), image_norms.data(),
                            B, E);
  nn::l2_normalize_backward(backend, d_text_features.data(), d_text_n.data(), text_n.data(), text_norms.data(), B, E);
  return loss;
}

}  // namespace skiptune
