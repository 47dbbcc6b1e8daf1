// skiptune/train/clip_pretrainer.hpp — contrastive pretraining of a whole CLIP: paired images
// [B, 3, R, R] and captions [B, L] (row i of each is a positive pair), the symmetric InfoNCE loss
// (train/symmetric_contrastive_loss.hpp), backward through both towers, AdamW on every
// parameter — stems, blocks, heads and logit_scale — and CLIP's clamp of logit_scale.
//
// As open_clip's training loop (main.py / train.py), which this follows:
// - Two AdamW parameter groups: "decay" (matrices: attention and MLP weights, conv1, proj,
//   text_projection) at the options' weight decay, and "no_decay" at weight decay 0 for what
//   open_clip excludes — anything with fewer than 2 dimensions (biases, LayerNorm weights,
//   class_embedding, logit_scale) and anything whose name says ln / bias / embedding /
//   logit_scale (so positional_embedding and token_embedding.weight too).
// - After each update, logit_scale is clamped to [0, ln 100] (open_clip clamps in place, without
//   gradient, after optimizer.step()): exp(s) never exceeds 100, which keeps the softmax from
//   saturating. The clamp is not part of the loss, so gradients see the unclamped value.
// The learning-rate schedule stays with the caller: step(images, ids, lr) takes the absolute LR
// for this step (e.g. from a warm-up + cosine), applied to both groups.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numbers>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/clip.hpp"
#include "skiptune/model/encoder.hpp"
#include "skiptune/train/clip_trainer.hpp"
#include "skiptune/train/optimizer.hpp"
#include "skiptune/train/symmetric_contrastive_loss.hpp"

namespace skiptune {

/// CLIP's upper bound on logit_scale: ln 100 (so exp(logit_scale) ≤ 100).
inline constexpr double clip_max_logit_scale = 2 * std::numbers::ln10;

/// open_clip's rule for parameters trained without weight decay: rank < 2, or a name containing
/// "bn", "ln", "bias", "embedding" or "logit_scale". `name` is the checkpoint name.
inline bool excluded_from_weight_decay(std::string_view name, std::size_t rank) noexcept {
  constexpr std::string_view markers[] = {"bn", "ln", "bias", "embedding", "logit_scale"};
  if (rank < 2) return true;
  return std::any_of(std::begin(markers), std::end(markers),
                     [&](std::string_view marker) { return name.find(marker) != std::string_view::npos; });
}

template <class T, class Backend = cpu>
class ClipPretrainer {
 public:
  using Model = Clip<T, Backend>;
  static constexpr std::string_view decay_group = "decay";
  static constexpr std::string_view no_decay_group = "no_decay";

  /// Allocates gradients (MemoryCategory::gradients) and AdamW state (optimizer_state) for every
  /// parameter of `model`. `adamw.weight_decay` applies to the "decay" group only.
  explicit ClipPretrainer(Model& model, AdamWOptions adamw = {})
      : model_(&model),
        parts_(ClipTrainableParts::all_parameters()),
        vision_grads_(make_gradients(model.visual, parts_.vision)),
        text_grads_(make_gradients(model.text, parts_.text)),
        logit_scale_grad_(Tensor<T>::zeros(Shape{}, model.meter(), MemoryCategory::gradients)),
        optimizer_(make_groups(), model.meter(), adamw) {}

  // The optimizer holds pointers to this object's gradient tensors: it must stay where it is.
  ClipPretrainer(const ClipPretrainer&) = delete;
  ClipPretrainer& operator=(const ClipPretrainer&) = delete;
  ClipPretrainer(ClipPretrainer&&) = delete;
  ClipPretrainer& operator=(ClipPretrainer&&) = delete;

  /// Zero the gradients, run both towers forward and backward, return the symmetric loss.
  /// images [B, 3, R, R], token_ids [B, L]: caption i describes image i. Nothing is updated.
  T compute_gradients(const Tensor<T>& images, const Tensor<std::int32_t>& token_ids) {
    Model& m = *model_;
    auto& meter = m.meter();
    require<ShapeError>(images.rank() == 4 && token_ids.rank() == 2, "ClipPretrainer: images has shape ",
                        images.shape(), " and token_ids ", token_ids.shape(), ", expected [B, 3, R, R] and [B, L]");
    require<ShapeError>(images.dim(0) == token_ids.dim(0), "ClipPretrainer: ", images.dim(0), " images but ",
                        token_ids.dim(0), " captions (pretraining pairs image i with caption i)");
    const Index B = images.dim(0), E = m.config().embed_dim;
    zero_gradients(vision_grads_);
    zero_gradients(text_grads_);
    logit_scale_grad_.fill(T(0));

    EncoderPass<typename Model::Vision> vision_pass(m.visual, parts_.vision);
    EncoderPass<typename Model::Text> text_pass(m.text, parts_.text);
    Tensor<T> image_features = vision_pass.forward(images);  // [B, E]
    Tensor<T> text_features = text_pass.forward(token_ids);  // [B, E]

    Tensor<T> d_image_features({B, E}, meter, MemoryCategory::workspace);
    Tensor<T> d_text_features({B, E}, meter, MemoryCategory::workspace);
    const T loss = symmetric_contrastive_loss_and_gradients(Backend{}, image_features, text_features,
                                                            m.logit_scale[0], logit_scale_grad_.data(),
                                                            d_image_features, d_text_features, meter);
    image_features.release();
    text_features.release();
    // Text first, as ClipTrainer: its records are freed before the vision backward runs.
    text_pass.backward(d_text_features, text_grads_);
    d_text_features.release();
    vision_pass.backward(d_image_features, vision_grads_);
    return loss;
  }

  /// compute_gradients, one AdamW update of every parameter at `learning_rate` (both groups; a
  /// negative value means the options' learning rate), then the logit_scale clamp. A NaN/Inf
  /// loss throws NumericError before anything is updated.
  T step(const Tensor<T>& images, const Tensor<std::int32_t>& token_ids, double learning_rate = -1) {
    const T loss = compute_gradients(images, token_ids);
    apply_update(learning_rate);
    return loss;
  }

  /// AdamW from the current gradients, then clamp logit_scale to [0, ln 100].
  void apply_update(double learning_rate = -1) {
    if (learning_rate < 0)
      optimizer_.step();
    else
      optimizer_.step(std::vector<double>(optimizer_.groups().size(), learning_rate));
    clamp_logit_scale();
  }

  /// CLIP's clamp, done after every update (also callable alone, e.g. after loading weights).
  void clamp_logit_scale() noexcept {
    T& s = model_->logit_scale[0];
    s = std::clamp(s, T(0), static_cast<T>(clip_max_logit_scale));
  }

  /// f(checkpoint name, parameter, gradient) for every parameter, logit_scale first.
  template <class F>
  void for_each_trained(F&& f) {
    f(std::string("logit_scale"), model_->logit_scale, logit_scale_grad_);
    for_each_trained_parameter(model_->visual, vision_grads_, f);
    for_each_trained_parameter(model_->text, text_grads_, f);
  }

  [[nodiscard]] Model& model() noexcept { return *model_; }
  [[nodiscard]] AdamW<T, Backend>& optimizer() noexcept { return optimizer_; }
  [[nodiscard]] const Tensor<T>& logit_scale_gradient() const noexcept { return logit_scale_grad_; }
  EncoderGradients<typename Model::Vision>& vision_gradients() noexcept { return vision_grads_; }
  EncoderGradients<typename Model::Text>& text_gradients() noexcept { return text_grads_; }

 private:
  /// The two groups (see the file comment). weight_decay unset on "decay" → the options' value.
  std::vector<ParameterGroup<T>> make_groups() {
    ParameterGroup<T> decay{std::string(decay_group), {}, {}, {}};
    ParameterGroup<T> no_decay{std::string(no_decay_group), {}, 0.0, {}};
    for_each_trained([&](const std::string& name, Tensor<T>& value, Tensor<T>& gradient) {
      auto& group = excluded_from_weight_decay(name, value.rank()) ? no_decay : decay;
      group.parameters.push_back(ParameterRef<T>{name, &value, &gradient});
    });
    return {std::move(decay), std::move(no_decay)};
  }

  Model* model_;
  ClipTrainableParts parts_;
  // Declaration order matters: the optimizer is built from pointers to these gradients.
  EncoderGradients<typename Model::Vision> vision_grads_;
  EncoderGradients<typename Model::Text> text_grads_;
  Tensor<T> logit_scale_grad_;  // 0-dim
  AdamW<T, Backend> optimizer_;
};

}  // namespace skiptune
