// skiptune/model/text_tower.hpp — OpenAI CLIP's text encoder as an Encoder: stem = token +
// positional embedding; blocks = causal residual attention blocks; head = ln_final at the
// end-of-text position, then text_projection.
//
// Exact shortcut: the blocks are causal, so nothing after a prompt's end-of-text token can
// change its feature. With `truncate_after_eot` (default) a batch of prompts runs only up to its
// longest end-of-text position + 1 instead of all `context_length` positions — the same
// features, a fraction of the work (a typical prompt is ~10 of 77 tokens).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/config.hpp"
#include "skiptune/nn/embedding.hpp"
#include "skiptune/nn/pooled_head.hpp"
#include "skiptune/nn/residual_block.hpp"

namespace skiptune {

/// A batch of prompts as the text tower sees it.
struct TextGeometry {
  Index sequences = 0;              // prompts
  Index tokens = 0;                 // positions run (≤ context length)
  Index context = 0;                // row length of the token id tensor
  std::vector<Index> eot_positions;  // per prompt: argmax of its ids (EOT is the largest id)
};

template <class T, class Backend = cpu>
class TextTower {
 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = Tensor<std::int32_t>;  // token ids [C, context]
  using geometry_type = TextGeometry;

  /// Names are top-level in OpenAI checkpoints.
  struct StemParameters {
    Tensor<T> token_embedding;       // [V, W]
    Tensor<T> positional_embedding;  // [context, W]
    template <class Self, class F>
    static void for_each_impl(Self& s, F&& f) {
      f("token_embedding.weight", s.token_embedding);
      f("positional_embedding", s.positional_embedding);
    }
    template <class F> void for_each(F&& f) { for_each_impl(*this, f); }
    template <class F> void for_each(F&& f) const { for_each_impl(*this, f); }
  };
  using BlockParameters = nn::BlockWeights<T>;
  struct HeadParameters {
    Tensor<T> ln_final_weight, ln_final_bias;  // [W]
    Tensor<T> text_projection;                 // [W, E]
    template <class Self, class F>
    static void for_each_impl(Self& s, F&& f) {
      f("ln_final.weight", s.ln_final_weight);
      f("ln_final.bias", s.ln_final_bias);
      f("text_projection", s.text_projection);
    }
    template <class F> void for_each(F&& f) { for_each_impl(*this, f); }
    template <class F> void for_each(F&& f) const { for_each_impl(*this, f); }
  };
  using stem_parameters = StemParameters;
  using block_parameters = BlockParameters;
  using head_parameters = HeadParameters;

  /// The stem keeps nothing of its own: its backward needs only the token ids (the input).
  struct StemRecord {
    const std::int32_t* ids = nullptr;
  };
  using stem_record = StemRecord;
  using block_record = nn::BlockRecord<T>;
  using head_record = nn::PooledHeadRecord<T>;

  TextTower(const TextConfig& config, Index embed_dim, MemoryMeter& meter)
      : config_(config), embed_dim_(embed_dim), meter_(&meter) {
    const Index W = config.width;
    auto make = [&](Shape s) { return Tensor<T>::zeros(s, meter, MemoryCategory::weights); };
    stem_.token_embedding = make({config.vocab_size, W});
    stem_.positional_embedding = make({config.context_length, W});
    for (Index i = 0; i < config.layers; ++i)
      blocks_.emplace_back(W, config.mlp_width, meter, MemoryCategory::weights);
    head_.ln_final_weight = make({W});
    head_.ln_final_bias = make({W});
    head_.text_projection = make({W, embed_dim});
  }

  [[nodiscard]] static constexpr const char* name() noexcept { return "text"; }
  [[nodiscard]] static std::string block_prefix(std::size_t i) {
    return "transformer.resblocks." + std::to_string(i) + ".";
  }
  [[nodiscard]] static std::string stem_prefix() { return ""; }
  [[nodiscard]] static std::string head_prefix() { return ""; }

  [[nodiscard]] std::size_t num_blocks() const noexcept { return blocks_.size(); }
  [[nodiscard]] const TextConfig& config() const noexcept { return config_; }
  [[nodiscard]] Index embed_dim() const noexcept { return embed_dim_; }
  [[nodiscard]] MemoryMeter& meter() const noexcept { return *meter_; }

  /// Run only up to the longest end-of-text position (exact; see the file comment).
  bool truncate_after_eot = true;

  StemParameters& stem() noexcept { return stem_; }
  const StemParameters& stem() const noexcept { return stem_; }
  BlockParameters& block(std::size_t i) noexcept { return blocks_[i]; }
  const BlockParameters& block(std::size_t i) const noexcept { return blocks_[i]; }
  HeadParameters& head() noexcept { return head_; }
  const HeadParameters& head() const noexcept { return head_; }

  /// Validates ids (shape, range) and finds each prompt's end-of-text position.
  [[nodiscard]] TextGeometry geometry(const Tensor<std::int32_t>& ids) const {
    require<ShapeError>(ids.rank() == 2 && ids.dim(1) > 0 && ids.dim(1) <= config_.context_length,
                        "tensor token_ids has shape ", ids.shape(), ", expected [C, L] with 0 < L <= ",
                        config_.context_length);
    require<ShapeError>(ids.dim(0) > 0, "tensor token_ids is an empty batch of prompts");
    TextGeometry g;
    g.sequences = ids.dim(0);
    g.context = ids.dim(1);
    g.eot_positions.resize(static_cast<std::size_t>(g.sequences));
    Index longest = 0;
    for (Index s = 0; s < g.sequences; ++s) {
      const std::int32_t* row = ids.data() + s * g.context;
      Index eot = 0;
      for (Index t = 0; t < g.context; ++t) {
        require<InputError>(row[t] >= 0 && row[t] < config_.vocab_size, "token id ", row[t], " at prompt ", s,
                            ", position ", t, " is outside the vocabulary [0, ", config_.vocab_size, ")");
        if (row[t] > row[eot]) eot = t;  // first occurrence of the maximum, as torch.argmax
      }
      g.eot_positions[s] = eot;
      longest = std::max(longest, eot + 1);
    }
    g.tokens = truncate_after_eot ? longest : g.context;
    return g;
  }

  [[nodiscard]] nn::BlockShape block_shape(const TextGeometry& g) const noexcept {
    return {g.sequences, g.tokens, config_.width, config_.heads, config_.mlp_width, true, config_.activation};
  }

  [[nodiscard]] Tensor<T> stem_forward(const Tensor<std::int32_t>& ids, const TextGeometry& g,
                                       StemRecord* record) const {
    Tensor<T> states({g.sequences * g.tokens, config_.width}, *meter_, MemoryCategory::activations);
    nn::token_embedding_forward(Backend{}, states.data(), ids.data(), stem_.token_embedding.data(),
                                stem_.positional_embedding.data(), g.sequences, g.context, g.tokens, config_.width);
    if (record != nullptr) record->ids = ids.data();
    return states;
  }
  void stem_backward(const Tensor<T>& d_states, StemRecord&& record, StemParameters& grads,
                     const TextGeometry& g) const {
    nn::token_embedding_backward(Backend{}, grads.token_embedding.data(), grads.positional_embedding.data(),
                                 d_states.data(), record.ids, g.sequences, g.context, g.tokens, config_.width);
  }

  void block_forward(std::size_t i, Tensor<T>& states, const TextGeometry& g) const {
    nn::block_forward_inference(Backend{}, blocks_[i], states, block_shape(g), *meter_);
  }
  [[nodiscard]] Tensor<T> block_forward_train(std::size_t i, Tensor<T>&& states, block_record& record,
                                              const TextGeometry& g) const {
    return nn::block_forward_train(Backend{}, blocks_[i], std::move(states), record, block_shape(g), *meter_);
  }
  void block_backward(std::size_t i, Tensor<T>& d_states, block_record&& record, BlockParameters& grads,
                      const TextGeometry& g, bool need_input_gradient) const {
    nn::block_backward(Backend{}, blocks_[i], grads, d_states, std::move(record), block_shape(g), *meter_,
                       need_input_gradient);
  }

  /// Text features [C, E] from each prompt's end-of-text token.
  [[nodiscard]] Tensor<T> head_forward(const Tensor<T>& states, const TextGeometry& g, head_record* record) const {
    std::vector<Index> rows(static_cast<std::size_t>(g.sequences));
    for (Index s = 0; s < g.sequences; ++s) rows[s] = s * g.tokens + g.eot_positions[s];
    return nn::pooled_head_forward(Backend{}, states, std::move(rows), head_.ln_final_weight, head_.ln_final_bias,
                                   head_.text_projection, record, *meter_);
  }
  [[nodiscard]] Tensor<T> head_backward(const Tensor<T>& d_features, head_record&& record, HeadParameters& grads,
                                        const TextGeometry& g, bool need_states_gradient) const {
    return nn::pooled_head_backward(Backend{}, d_features, std::move(record), head_.ln_final_weight,
                                    head_.ln_final_bias, head_.text_projection, grads.ln_final_weight.data(),
                                    grads.ln_final_bias.data(), grads.text_projection.data(),
                                    need_states_gradient ? g.sequences * g.tokens : 0, *meter_);
  }

 private:
  TextConfig config_;
  Index embed_dim_;
  MemoryMeter* meter_;
  StemParameters stem_;
  std::vector<BlockParameters> blocks_;
  HeadParameters head_;
};

}  // namespace skiptune
