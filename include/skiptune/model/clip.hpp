// skiptune/model/clip.hpp — the CLIP model: an image tower, a text tower and logit_scale, with
// OpenAI's checkpoint names and OpenAI's initialisation.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/config.hpp"
#include "skiptune/model/encoder.hpp"
#include "skiptune/model/text_tower.hpp"
#include "skiptune/model/vision_tower.hpp"
#include "skiptune/nn/contrastive_logits.hpp"

namespace skiptune {

template <class T, class Backend = cpu>
class Clip {
 public:
  using scalar_type = T;
  using Vision = VisionTower<T, Backend>;
  using Text = TextTower<T, Backend>;
  static_assert(check_encoder<Vision>() && check_encoder<Text>());

  Clip(const ClipConfig& config, MemoryMeter& meter)
      : config_((config.validate(), config)),
        meter_(&meter),
        visual(config.vision, config.embed_dim, meter),
        text(config.text, config.embed_dim, meter),
        logit_scale(Tensor<T>::zeros(Shape{}, meter, MemoryCategory::weights)) {
    logit_scale[0] = static_cast<T>(std::log(1.0 / 0.07));
  }

  [[nodiscard]] const ClipConfig& config() const noexcept { return config_; }
  [[nodiscard]] MemoryMeter& meter() const noexcept { return *meter_; }

  /// Every parameter with its OpenAI/open_clip checkpoint name: f(name, Tensor<T>&).
  template <class F>
  void for_each_parameter(F&& f) {
    f(std::string("logit_scale"), logit_scale);
    skiptune::for_each_parameter(visual, [&](const std::string& name, Tensor<T>& t, ParameterLocation) { f(name, t); });
    skiptune::for_each_parameter(text, [&](const std::string& name, Tensor<T>& t, ParameterLocation) { f(name, t); });
  }

  /// The parameter with this checkpoint name; ConfigError if there is none.
  Tensor<T>& parameter(std::string_view name) {
    Tensor<T>* found = nullptr;
    for_each_parameter([&](const std::string& n, Tensor<T>& t) {
      if (n == name) found = &t;
    });
    require<ConfigError>(found != nullptr, "CLIP ", config_.name, " has no parameter named '", name, "'");
    return *found;
  }

  [[nodiscard]] std::size_t parameter_count() {
    std::size_t count = 0;
    for_each_parameter([&](const std::string&, Tensor<T>& t) { count += static_cast<std::size_t>(t.numel()); });
    return count;
  }

  /// OpenAI's initialisation (clip/model.py): text blocks, embeddings and projections as in
  /// CLIP.initialize_parameters; vision blocks keep PyTorch's module defaults (MultiheadAttention:
  /// xavier-uniform in_proj, zero biases; Linear: U(±1/√fan_in) weights and biases); LayerNorm
  /// weight 1, bias 0; vision class/positional embeddings and proj scale·N(0,1), scale = width^-½;
  /// conv1 U(±1/√fan_in); logit_scale = ln(1/0.07).
  void initialize(Rng& rng) {
    auto normal = [&](Tensor<T>& t, double stddev) {
      for (Index i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(rng.normal(0.0, stddev));
    };
    auto uniform = [&](Tensor<T>& t, double bound) {
      for (Index i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(rng.uniform(-bound, bound));
    };
    auto layer_norm = [](Tensor<T>& weight, Tensor<T>& bias) {
      weight.fill(T(1));
      bias.fill(T(0));
    };
    auto default_block = [&](nn::BlockWeights<T>& b, Index W, Index M) {
      uniform(b.attn_in_proj_weight, std::sqrt(6.0 / static_cast<double>(W + 3 * W)));  // xavier, fan (W, 3W)
      b.attn_in_proj_bias.fill(T(0));
      uniform(b.attn_out_proj_weight, 1.0 / std::sqrt(static_cast<double>(W)));
      b.attn_out_proj_bias.fill(T(0));
      uniform(b.mlp_c_fc_weight, 1.0 / std::sqrt(static_cast<double>(W)));
      uniform(b.mlp_c_fc_bias, 1.0 / std::sqrt(static_cast<double>(W)));
      uniform(b.mlp_c_proj_weight, 1.0 / std::sqrt(static_cast<double>(M)));
      uniform(b.mlp_c_proj_bias, 1.0 / std::sqrt(static_cast<double>(M)));
      layer_norm(b.ln_1_weight, b.ln_1_bias);
      layer_norm(b.ln_2_weight, b.ln_2_bias);
    };

    const auto& vc = config_.vision;
    const double vision_scale = 1.0 / std::sqrt(static_cast<double>(vc.width));
    uniform(visual.stem().conv1_weight, 1.0 / std::sqrt(static_cast<double>(3 * vc.patch_size * vc.patch_size)));
    normal(visual.stem().class_embedding, vision_scale);
    normal(visual.stem().positional_embedding, vision_scale);
    layer_norm(visual.stem().ln_pre_weight, visual.stem().ln_pre_bias);
    for (std::size_t i = 0; i < visual.num_blocks(); ++i) default_block(visual.block(i), vc.width, vc.mlp_width);
    layer_norm(visual.head().ln_post_weight, visual.head().ln_post_bias);
    normal(visual.head().proj, vision_scale);

    const auto& tc = config_.text;
    const double W = static_cast<double>(tc.width);
    normal(text.stem().token_embedding, 0.02);
    normal(text.stem().positional_embedding, 0.01);
    const double proj_std = std::pow(W, -0.5) * std::pow(2.0 * static_cast<double>(tc.layers), -0.5);
    const double attn_std = std::pow(W, -0.5);
    const double fc_std = std::pow(2.0 * W, -0.5);
    for (std::size_t i = 0; i < text.num_blocks(); ++i) {
      auto& b = text.block(i);
      default_block(b, tc.width, tc.mlp_width);
      normal(b.attn_in_proj_weight, attn_std);
      normal(b.attn_out_proj_weight, proj_std);
      normal(b.mlp_c_fc_weight, fc_std);
      normal(b.mlp_c_proj_weight, proj_std);
    }
    layer_norm(text.head().ln_final_weight, text.head().ln_final_bias);
    normal(text.head().text_projection, attn_std);
    logit_scale[0] = static_cast<T>(std::log(1.0 / 0.07));
  }

  /// Inference: logits [B, C] of images [B, 3, R, R] against prompts [C, L].
  [[nodiscard]] Tensor<T> logits(const Tensor<T>& images, const Tensor<std::int32_t>& token_ids) const {
    Tensor<T> image_features = encode(visual, images);
    Tensor<T> text_features = encode(text, token_ids);
    return logits_from_features(image_features, text_features);
  }

  /// logits [B, C] = exp(logit_scale) · normalize(image_features) · normalize(text_features)ᵀ.
  [[nodiscard]] Tensor<T> logits_from_features(const Tensor<T>& image_features, const Tensor<T>& text_features) const {
    const Index B = image_features.dim(0), C = text_features.dim(0), E = config_.embed_dim;
    expect_shape(image_features, Shape{B, E}, "image_features");
    expect_shape(text_features, Shape{C, E}, "text_features");
    Tensor<T> image_n({B, E}, *meter_, MemoryCategory::workspace), image_norms({B}, *meter_, MemoryCategory::workspace);
    Tensor<T> text_n({C, E}, *meter_, MemoryCategory::workspace), text_norms({C}, *meter_, MemoryCategory::workspace);
    nn::l2_normalize_forward(Backend{}, image_n.data(), image_norms.data(), image_features.data(), B, E);
    nn::l2_normalize_forward(Backend{}, text_n.data(), text_norms.data(), text_features.data(), C, E);
    Tensor<T> out({B, C}, *meter_, MemoryCategory::activations);
    nn::scaled_logits_forward(Backend{}, out.data(), image_n.data(), text_n.data(), logit_scale[0], B, C, E);
    return out;
  }

 private:
  ClipConfig config_;
  MemoryMeter* meter_;

 public:
  Vision visual;
  Text text;
  Tensor<T> logit_scale;  // 0-dim
};

}  // namespace skiptune
