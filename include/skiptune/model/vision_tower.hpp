// skiptune/model/vision_tower.hpp — OpenAI CLIP's image encoder (VisionTransformer) as an
// Encoder: stem = conv1 patch embedding + class token + positional embedding + ln_pre;
// blocks = residual attention blocks (no mask); head = ln_post on the class token, then proj.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/config.hpp"
#include "skiptune/nn/embedding.hpp"
#include "skiptune/nn/layer_norm.hpp"
#include "skiptune/nn/pooled_head.hpp"
#include "skiptune/nn/residual_block.hpp"

namespace skiptune {

/// A batch of images as the vision tower sees it.
struct VisionGeometry {
  Index sequences = 0;  // B images
  Index tokens = 0;     // P + 1
};

template <class T, class Backend = cpu>
class VisionTower {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = Tensor<T>;  // images [B, 3, R, R], normalised
  using geometry_type = VisionGeometry;

  /// conv1 + class token + positional embedding + ln_pre. Names relative to "visual.".
  struct StemParameters {
    Tensor<T> class_embedding;       // [W]
    Tensor<T> positional_embedding;  // [P+1, W]
    Tensor<T> conv1_weight;          // [W, 3, p, p]
    Tensor<T> ln_pre_weight, ln_pre_bias;  // [W]
    template <class Self, class F>
    static void for_each_impl(Self& s, F&& f) {
      f("class_embedding", s.class_embedding);
      f("positional_embedding", s.positional_embedding);
      f("conv1.weight", s.conv1_weight);
      f("ln_pre.weight", s.ln_pre_weight);
      f("ln_pre.bias", s.ln_pre_bias);
    }
    template <class F> void for_each(F&& f) { for_each_impl(*this, f); }
    template <class F> void for_each(F&& f) const { for_each_impl(*this, f); }
  };
  using BlockParameters = nn::BlockWeights<T>;
  /// ln_post + proj [W, E] (used as x·proj). Names relative to "visual.".
  struct HeadParameters {
    Tensor<T> ln_post_weight, ln_post_bias;  // [W]
    Tensor<T> proj;                          // [W, E]
    template <class Self, class F>
    static void for_each_impl(Self& s, F&& f) {
      f("ln_post.weight", s.ln_post_weight);
      f("ln_post.bias", s.ln_post_bias);
      f("proj", s.proj);
    }
    template <class F> void for_each(F&& f) { for_each_impl(*this, f); }
    template <class F> void for_each(F&& f) const { for_each_impl(*this, f); }
  };
  using stem_parameters = StemParameters;
  using block_parameters = BlockParameters;
  using head_parameters = HeadParameters;

  struct StemRecord {
    Tensor<T> patches;       // [B·P, 3·p·p] (conv1's input)
    Tensor<T> pre_norm;      // [B·(P+1), W] ln_pre's input
    Tensor<T> mean, rstd;    // [B·(P+1)]
  };
  using stem_record = StemRecord;
  using block_record = nn::BlockRecord<T>;
  using head_record = nn::PooledHeadRecord<T>;

  VisionTower(const VisionConfig& config, Index embed_dim, MemoryMeter& meter)
      : config_(config), embed_dim_(embed_dim), meter_(&meter) {
    const Index W = config.width, p = config.patch_size;
    auto make = [&](Shape s) { return Tensor<T>::zeros(s, meter, MemoryCategory::weights); };
    stem_.class_embedding = make({W});
    stem_.positional_embedding = make({config.tokens(), W});
    stem_.conv1_weight = make({W, 3, p, p});
    stem_.ln_pre_weight = make({W});
    stem_.ln_pre_bias = make({W});
    for (Index i = 0; i < config.layers; ++i)
      blocks_.emplace_back(W, config.mlp_width, meter, MemoryCategory::weights);
    head_.ln_post_weight = make({W});
    head_.ln_post_bias = make({W});
    head_.proj = make({W, embed_dim});
  }

  [[nodiscard]] static constexpr const char* name() noexcept { return "visual"; }
  [[nodiscard]] static std::string block_prefix(std::size_t i) {
    return "visual.transformer.resblocks." + std::to_string(i) + ".";
  }
  [[nodiscard]] static std::string stem_prefix() { return "visual."; }
  [[nodiscard]] static std::string head_prefix() { return "visual."; }

  [[nodiscard]] std::size_t num_blocks() const noexcept { return blocks_.size(); }
  [[nodiscard]] const VisionConfig& config() const noexcept { return config_; }
  [[nodiscard]] Index embed_dim() const noexcept { return embed_dim_; }
  [[nodiscard]] MemoryMeter& meter() const noexcept { return *meter_; }

  StemParameters& stem() noexcept { return stem_; }
  const StemParameters& stem() const noexcept { return stem_; }
  BlockParameters& block(std::size_t i) noexcept { return blocks_[i]; }
  const BlockParameters& block(std::size_t i) const noexcept { return blocks_[i]; }
  HeadParameters& head() noexcept { return head_; }
  const HeadParameters& head() const noexcept { return head_; }

  /// Validates the image batch and returns its geometry.
  [[nodiscard]] VisionGeometry geometry(const Tensor<T>& images) const {
    const Index R = config_.image_size;
    require<ShapeError>(images.rank() == 4 && images.dim(1) == 3 && images.dim(2) == R && images.dim(3) == R,
                        "tensor images has shape ", images.shape(), ", expected [B,3,", R, ",", R, "]");
    require<ShapeError>(images.dim(0) > 0, "tensor images is an empty batch");
    return {images.dim(0), config_.tokens()};
  }

  [[nodiscard]] nn::BlockShape block_shape(const VisionGeometry& g) const noexcept {
    return {g.sequences, g.tokens, config_.width, config_.heads, config_.mlp_width, false, config_.activation};
  }
  [[nodiscard]] nn::PatchShape patch_shape(const VisionGeometry& g) const noexcept {
    return {g.sequences, config_.image_size, config_.patch_size};
  }

  /// Token states [B·(P+1), W] after ln_pre; `record` null = inference (nothing saved).
  [[nodiscard]] Tensor<T> stem_forward(const Tensor<T>& images, const VisionGeometry& g, StemRecord* record) const {
    const auto ps = patch_shape(g);
    const Index W = config_.width, n = g.sequences * g.tokens;
    const auto saved = record ? MemoryCategory::activations : MemoryCategory::workspace;
    Tensor<T> patches({g.sequences * ps.patches(), ps.patch_scalars()}, *meter_, saved);
    nn::extract_patches(Backend{}, patches.data(), images.data(), ps);
    Tensor<T> pre_norm({n, W}, *meter_, saved);
    nn::patch_embedding_forward(Backend{}, pre_norm.data(), patches.data(), stem_.conv1_weight.data(),
                                stem_.class_embedding.data(), stem_.positional_embedding.data(), ps, W);
    Tensor<T> states({n, W}, *meter_, MemoryCategory::activations);
    if (record != nullptr) {
      record->mean = Tensor<T>({n}, *meter_, MemoryCategory::activations);
      record->rstd = Tensor<T>({n}, *meter_, MemoryCategory::activations);
    }
    nn::layer_norm_forward(Backend{}, states.data(), record ? record->mean.data() : (T*)nullptr,
                           record ? record->rstd.data() : (T*)nullptr, pre_norm.data(), stem_.ln_pre_weight.data(),
                           stem_.ln_pre_bias.data(), n, W);
    if (record != nullptr) {
      record->patches = std::move(patches);
      record->pre_norm = std::move(pre_norm);
    }
    return states;
  }

  /// Stem gradients from ∂L/∂states; consumes the record.
  void stem_backward(const Tensor<T>& d_states, StemRecord&& record, StemParameters& grads,
                     const VisionGeometry& g) const {
    StemRecord rec = std::move(record);
    const Index W = config_.width, n = g.sequences * g.tokens;
    Tensor<T> d_pre_norm = Tensor<T>::zeros({n, W}, *meter_, MemoryCategory::workspace);
    nn::layer_norm_backward(Backend{}, d_pre_norm.data(), grads.ln_pre_weight.data(), grads.ln_pre_bias.data(),
                            d_states.data(), rec.pre_norm.data(), rec.mean.data(), rec.rstd.data(),
                            stem_.ln_pre_weight.data(), n, W);
    nn::patch_embedding_backward(Backend{}, grads.conv1_weight.data(), grads.class_embedding.data(),
                                 grads.positional_embedding.data(), d_pre_norm.data(), rec.patches.data(),
                                 patch_shape(g), W);
  }

  void block_forward(std::size_t i, Tensor<T>& states, const VisionGeometry& g) const {
    nn::block_forward_inference(Backend{}, blocks_[i], states, block_shape(g), *meter_);
  }
  [[nodiscard]] Tensor<T> block_forward_train(std::size_t i, Tensor<T>&& states, block_record& record,
                                              const VisionGeometry& g) const {
    return nn::block_forward_train(Backend{}, blocks_[i], std::move(states), record, block_shape(g), *meter_);
  }
  void block_backward(std::size_t i, Tensor<T>& d_states, block_record&& record, BlockParameters& grads,
                      const VisionGeometry& g, bool need_input_gradient) const {
    nn::block_backward(Backend{}, blocks_[i], grads, d_states, std::move(record), block_shape(g), *meter_,
                       need_input_gradient);
  }

  /// Image features [B, E] from the class token of each image.
  [[nodiscard]] Tensor<T> head_forward(const Tensor<T>& states, const VisionGeometry& g, head_record* record) const {
    std::vector<Index> rows(static_cast<std::size_t>(g.sequences));
    for (Index b = 0; b < g.sequences; ++b) rows[b] = b * g.tokens;
    return nn::pooled_head_forward(Backend{}, states, std::move(rows), head_.ln_post_weight, head_.ln_post_bias,
                                   head_.proj, record, *meter_);
  }
  /// ∂L/∂states [B·(P+1), W], or an empty tensor when `need_states_gradient` is false.
  [[nodiscard]] Tensor<T> head_backward(const Tensor<T>& d_features, head_record&& record, HeadParameters& grads,
                                        const VisionGeometry& g, bool need_states_gradient) const {
    return nn::pooled_head_backward(Backend{}, d_features, std::move(record), head_.ln_post_weight,
                                    head_.ln_post_bias, head_.proj, grads.ln_post_weight.data(),
                                    grads.ln_post_bias.data(), grads.proj.data(),
                                    need_states_gradient ? g.sequences * g.tokens : 0, *meter_);
  }

 private:
  VisionConfig config_;
  Index embed_dim_;
  MemoryMeter* meter_;
  StemParameters stem_;
  std::vector<BlockParameters> blocks_;
  HeadParameters head_;
};

}  // namespace skiptune
