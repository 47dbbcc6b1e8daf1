// skiptune/train/clip_trainer.hpp — one training step of CLIP for classification: image
// features of a batch against the text features of the class prompts, cross-entropy, backward
// through the trained parts only, SGD update. Frozen parameters own no gradient or optimizer
// buffers and are never visited by backward; blocks below ω run in inference mode (nothing saved).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/clip.hpp"
#include "skiptune/model/encoder.hpp"
#include "skiptune/train/contrastive_loss.hpp"
#include "skiptune/train/sgd.hpp"

namespace skiptune {

/// Which parts of CLIP train.
struct ClipTrainableParts {
  TrainableParts vision{};
  TrainableParts text{};
  bool logit_scale = false;

  /// The Skip Tuning paper's FT baseline: stems and logit_scale frozen, every block and both heads train.
  static ClipTrainableParts full_fine_tune() { return {}; }
  /// Train from block ω of each tower (blocks below ω frozen and run without saving anything).
  static ClipTrainableParts from_block(std::size_t omega_vision, std::size_t omega_text) {
    ClipTrainableParts p;
    p.vision.first_trained_block = omega_vision;
    p.text.first_trained_block = omega_text;
    return p;
  }
  /// Every parameter, stems and logit_scale included (gradient checks, pretraining).
  static ClipTrainableParts all_parameters() {
    ClipTrainableParts p;
    p.vision.stem = p.text.stem = true;
    p.logit_scale = true;
    return p;
  }
};

template <class T, class Backend = cpu>
class ClipTrainer {
 public:
  using Model = Clip<T, Backend>;

  ClipTrainer(Model& model, ClipTrainableParts parts, SgdOptions sgd = {})
      : model_(&model), parts_(parts), sgd_(sgd) {
    sgd_.validate();
    parts_.vision.validate(model.visual.num_blocks(), "vision tower");
    parts_.text.validate(model.text.num_blocks(), "text tower");
    require<ConfigError>(parts_.vision.head && parts_.text.head,
                         "ClipTrainer: both heads must train (the loss reaches the towers through them)");
    vision_grads_ = make_gradients(model.visual, parts_.vision);
    text_grads_ = make_gradients(model.text, parts_.text);
    auto& meter = model.meter();
    if (parts_.logit_scale) logit_scale_grad_ = Tensor<T>::zeros(Shape{}, meter, MemoryCategory::gradients);
    if (sgd_.momentum > 0)
      for_each_trained([&](const std::string&, Tensor<T>& p, Tensor<T>&) {
        velocity_.push_back(Tensor<T>::zeros(p.shape(), meter, MemoryCategory::optimizer_state));
      });
  }

  /// Zero the gradients, run forward and backward, return the loss (nothing is updated).
  /// images [B, 3, R, R], token_ids [C, L], labels [B] in [0, C). If `logits_out` is given it
  /// receives a copy of the logits [B, C].
  T compute_gradients(const Tensor<T>& images, const Tensor<std::int32_t>& token_ids,
                      const Tensor<std::int32_t>& labels, Tensor<T>* logits_out = nullptr) {
    Model& m = *model_;
    auto& meter = m.meter();
    const Index B = images.rank() > 0 ? images.dim(0) : 0, E = m.config().embed_dim;
    require<ShapeError>(labels.rank() == 1 && labels.dim(0) == B, "tensor labels has shape ", labels.shape(),
                        ", expected [", B, "] (one label per image)");
    zero_gradients(vision_grads_);
    zero_gradients(text_grads_);
    if (!logit_scale_grad_.empty()) logit_scale_grad_.fill(T(0));

    EncoderPass<typename Model::Vision> vision_pass(m.visual, parts_.vision);
    EncoderPass<typename Model::Text> text_pass(m.text, parts_.text);
    Tensor<T> image_features = vision_pass.forward(images);
    Tensor<T> text_features = text_pass.forward(token_ids);
    const Index C = text_features.dim(0);

    Tensor<T> d_image_features({B, E}, meter, MemoryCategory::workspace);
    Tensor<T> d_text_features({C, E}, meter, MemoryCategory::workspace);
    const T loss = contrastive_loss_and_gradients(Backend{}, image_features, text_features, labels.data(),
                                                  m.logit_scale[0],
                                                  logit_scale_grad_.empty() ? (T*)nullptr : logit_scale_grad_.data(),
                                                  d_image_features, d_text_features, meter, logits_out);
    image_features.release();
    text_features.release();
    text_pass.backward(d_text_features, text_grads_);
    d_text_features.release();
    vision_pass.backward(d_image_features, vision_grads_);
    return loss;
  }

  /// compute_gradients, then one SGD update at the options' learning rate (or `learning_rate`).
  T step(const Tensor<T>& images, const Tensor<std::int32_t>& token_ids, const Tensor<std::int32_t>& labels,
         double learning_rate = -1) {
    const T loss = compute_gradients(images, token_ids, labels);
    apply_update(learning_rate < 0 ? sgd_.learning_rate : learning_rate);
    return loss;
  }

  /// SGD on every trained parameter from the current gradients.
  void apply_update(double learning_rate) {
    std::size_t k = 0;
    for_each_trained([&](const std::string&, Tensor<T>& p, Tensor<T>& g) {
      static Tensor<T> no_velocity;
      sgd_update(Backend{}, p, g, velocity_.empty() ? no_velocity : velocity_[k++], sgd_, learning_rate);
    });
  }

  /// f(checkpoint name, parameter, gradient) for every trained parameter.
  template <class F>
  void for_each_trained(F&& f) {
    if (!logit_scale_grad_.empty()) f(std::string("logit_scale"), model_->logit_scale, logit_scale_grad_);
    for_each_trained_parameter(model_->visual, vision_grads_, f);
    for_each_trained_parameter(model_->text, text_grads_, f);
  }

  [[nodiscard]] const ClipTrainableParts& parts() const noexcept { return parts_; }
  [[nodiscard]] Model& model() noexcept { return *model_; }
  EncoderGradients<typename Model::Vision>& vision_gradients() noexcept { return vision_grads_; }
  EncoderGradients<typename Model::Text>& text_gradients() noexcept { return text_grads_; }

 private:
  Model* model_;
  ClipTrainableParts parts_;
  SgdOptions sgd_;
  EncoderGradients<typename Model::Vision> vision_grads_;
  EncoderGradients<typename Model::Text> text_grads_;
  Tensor<T> logit_scale_grad_;
  std::vector<Tensor<T>> velocity_;
};

}  // namespace skiptune
