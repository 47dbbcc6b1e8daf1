// examples/sequence_classifier.hpp — a transformer that is not CLIP, written the way a user of
// skiptune would write one: a small BERT-like text classifier that models skiptune::Encoder, so
// that FineTuner<EncoderClassifier<SequenceClassifier<T>>, LayerSkip> can fine-tune it.
//
//   stem   token embedding + learned positional embedding → embedding LayerNorm (no class token)
//   blocks bidirectional pre-LN residual blocks (skiptune::nn::BlockWeights, causal = false, GELU)
//   head   mean over the non-padding tokens of each sequence → LayerNorm → linear [W → C] + bias
//          → logits [B, C]
//
// Inputs are token ids [B, T] (T ≤ context_length), id 0 = padding, anywhere in the row. The
// pooled mean needs per-sequence facts the head's states [B·T, W] do not carry, so the geometry
// does: which positions are real tokens and how many there are per sequence. FineTuner recomputes
// the geometry from the ids of every batch (also when the states come from LayerSkip's cache).
//
// Modelling note: the library's attention has no key-padding mask, so padding positions are
// attended to like any token (they carry the embedding of id 0 plus their position, and training
// learns to ignore them); only the pooled mean excludes them. Every sequence runs all T positions,
// so each example owns the same number of rows in a LayerSkip cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/errors.hpp"
#include "skiptune/core/memory.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/encoder.hpp"
#include "skiptune/nn/activation.hpp"
#include "skiptune/nn/embedding.hpp"
#include "skiptune/nn/layer_norm.hpp"
#include "skiptune/nn/linear.hpp"
#include "skiptune/nn/residual_block.hpp"

namespace example {

using skiptune::Index;
using skiptune::MemoryCategory;
using skiptune::MemoryMeter;
using skiptune::Tensor;

/// Token id reserved for padding: excluded from the pooled mean.
inline constexpr std::int32_t padding_id = 0;

struct SequenceClassifierConfig {
  Index vocab_size = 200;
  Index context_length = 16;  // longest input; the positional table has this many rows
  Index width = 64;           // W
  Index layers = 4;           // N blocks
  Index heads = 4;            // H, W % H == 0
  Index mlp_width = 256;      // M
  Index classes = 6;          // C

  void validate() const {
    using skiptune::ConfigError;
    using skiptune::require;
    require<ConfigError>(vocab_size > 1, "SequenceClassifierConfig: vocab_size must be > 1 (id 0 is padding)");
    require<ConfigError>(context_length > 0 && width > 0 && layers > 0 && heads > 0 && mlp_width > 0 && classes > 1,
                         "SequenceClassifierConfig: every size must be > 0 and classes > 1");
    require<ConfigError>(width % heads == 0, "SequenceClassifierConfig: width ", width, " is not a multiple of heads ",
                         heads);
  }
};

/// What the classifier knows about one batch of ids beyond the states themselves.
struct SequenceGeometry {
  Index sequences = 0;                // B
  Index tokens = 0;                   // T: positions per sequence (the ids' row length)
  std::vector<Index> lengths;         // [B] real (non-padding) tokens per sequence, ≥ 1: the mean's divisor
  std::vector<std::uint8_t> is_token;  // [B·T] 1 = real token, 0 = padding: the rows the mean pools
};

template <class T, class Backend = skiptune::cpu>
class SequenceClassifier {
 public:
  using scalar_type = T;
  using input_type = Tensor<std::int32_t>;  // token ids [B, T]
  using geometry_type = SequenceGeometry;

  /// Token + positional embeddings and the embedding LayerNorm. Names relative to "embeddings.".
  struct StemParameters {
    Tensor<T> token_embedding;         // [V, W]
    Tensor<T> positional_embedding;    // [L, W]
    Tensor<T> norm_weight, norm_bias;  // [W]
    template <class Self, class F>
    static void for_each_impl(Self& s, F&& f) {
      f("word_embeddings.weight", s.token_embedding);
      f("position_embeddings.weight", s.positional_embedding);
      f("LayerNorm.weight", s.norm_weight);
      f("LayerNorm.bias", s.norm_bias);
    }
    template <class F> void for_each(F&& f) { for_each_impl(*this, f); }
    template <class F> void for_each(F&& f) const { for_each_impl(*this, f); }
  };
  using BlockParameters = skiptune::nn::BlockWeights<T>;
  /// LayerNorm of the pooled mean and the output layer. Names relative to "classifier.".
  struct HeadParameters {
    Tensor<T> norm_weight, norm_bias;  // [W]
    Tensor<T> weight;                  // [C, W] (PyTorch Linear layout: logits = x·weightᵀ + bias)
    Tensor<T> bias;                    // [C]
    template <class Self, class F>
    static void for_each_impl(Self& s, F&& f) {
      f("LayerNorm.weight", s.norm_weight);
      f("LayerNorm.bias", s.norm_bias);
      f("dense.weight", s.weight);
      f("dense.bias", s.bias);
    }
    template <class F> void for_each(F&& f) { for_each_impl(*this, f); }
    template <class F> void for_each(F&& f) const { for_each_impl(*this, f); }
  };
  using stem_parameters = StemParameters;
  using block_parameters = BlockParameters;
  using head_parameters = HeadParameters;

  /// What stem_backward needs (category activations).
  struct StemRecord {
    Tensor<std::int32_t> ids;  // [B, T] a copy: backward scatters into these token-embedding rows
    Tensor<T> pre_norm;        // [B·T, W] token + positional embedding (the LayerNorm's input)
    Tensor<T> mean, rstd;      // [B·T]
  };
  /// What head_backward needs (category activations). The states themselves are not kept: the
  /// mean is linear, so its backward only needs the geometry.
  struct HeadRecord {
    Tensor<T> pooled;      // [B, W] masked mean (the LayerNorm's input)
    Tensor<T> mean, rstd;  // [B]
  };
  using stem_record = StemRecord;
  using block_record = skiptune::nn::BlockRecord<T>;
  using head_record = HeadRecord;

  SequenceClassifier(const SequenceClassifierConfig& config, MemoryMeter& meter) : config_(config), meter_(&meter) {
    config.validate();
    const Index V = config.vocab_size, L = config.context_length, W = config.width, C = config.classes;
    auto make = [&](skiptune::Shape s) { return Tensor<T>::zeros(s, meter, MemoryCategory::weights); };
    stem_.token_embedding = make({V, W});
    stem_.positional_embedding = make({L, W});
    stem_.norm_weight = make({W});
    stem_.norm_bias = make({W});
    for (Index i = 0; i < config.layers; ++i) blocks_.emplace_back(W, config.mlp_width, meter, MemoryCategory::weights);
    head_.norm_weight = make({W});
    head_.norm_bias = make({W});
    head_.weight = make({C, W});
    head_.bias = make({C});
  }

  /// BERT's initialisation: weights and embeddings N(0, 0.02), biases 0, LayerNorms (1, 0).
  void initialize(skiptune::Rng& rng, double stddev = 0.02) {
    auto normal = [&](Tensor<T>& t) {
      for (Index i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(rng.normal(0.0, stddev));
    };
    auto layer_norm = [](Tensor<T>& weight, Tensor<T>& bias) {
      weight.fill(T(1));
      bias.fill(T(0));
    };
    normal(stem_.token_embedding);
    normal(stem_.positional_embedding);
    layer_norm(stem_.norm_weight, stem_.norm_bias);
    for (auto& b : blocks_) {
      layer_norm(b.ln_1_weight, b.ln_1_bias);
      layer_norm(b.ln_2_weight, b.ln_2_bias);
      normal(b.attn_in_proj_weight);
      normal(b.attn_out_proj_weight);
      normal(b.mlp_c_fc_weight);
      normal(b.mlp_c_proj_weight);
      b.attn_in_proj_bias.fill(T(0));
      b.attn_out_proj_bias.fill(T(0));
      b.mlp_c_fc_bias.fill(T(0));
      b.mlp_c_proj_bias.fill(T(0));
    }
    layer_norm(head_.norm_weight, head_.norm_bias);
    normal(head_.weight);
    head_.bias.fill(T(0));
  }

  // ---- names, sizes and parameter access (the Encoder concept's "access" part) ----------------

  [[nodiscard]] static constexpr const char* name() noexcept { return "sequence_classifier"; }
  [[nodiscard]] static std::string stem_prefix() { return "embeddings."; }
  [[nodiscard]] static std::string block_prefix(std::size_t i) { return "encoder.layer." + std::to_string(i) + "."; }
  [[nodiscard]] static std::string head_prefix() { return "classifier."; }

  [[nodiscard]] std::size_t num_blocks() const noexcept { return blocks_.size(); }
  [[nodiscard]] MemoryMeter& meter() const noexcept { return *meter_; }
  [[nodiscard]] const SequenceClassifierConfig& config() const noexcept { return config_; }

  StemParameters& stem() noexcept { return stem_; }
  const StemParameters& stem() const noexcept { return stem_; }
  BlockParameters& block(std::size_t i) noexcept { return blocks_[i]; }
  const BlockParameters& block(std::size_t i) const noexcept { return blocks_[i]; }
  HeadParameters& head() noexcept { return head_; }
  const HeadParameters& head() const noexcept { return head_; }

  /// Validates the ids [B, T] and records which positions are real tokens.
  [[nodiscard]] SequenceGeometry geometry(const Tensor<std::int32_t>& ids) const {
    using skiptune::require;
    require<skiptune::ShapeError>(ids.rank() == 2 && ids.dim(0) > 0 && ids.dim(1) > 0 &&
                                      ids.dim(1) <= config_.context_length,
                                  "tensor token ids has shape ", ids.shape(), ", expected [B, T] with B > 0 and 0 < T <= ",
                                  config_.context_length);
    SequenceGeometry g;
    g.sequences = ids.dim(0);
    g.tokens = ids.dim(1);
    g.lengths.assign(static_cast<std::size_t>(g.sequences), 0);
    g.is_token.assign(static_cast<std::size_t>(g.sequences * g.tokens), 0);
    for (Index s = 0; s < g.sequences; ++s) {
      for (Index t = 0; t < g.tokens; ++t) {
        const std::int32_t id = ids[s * g.tokens + t];
        require<skiptune::InputError>(id >= 0 && id < config_.vocab_size, "token id ", id, " at [", s, ",", t,
                                      "] is outside the vocabulary [0, ", config_.vocab_size, ")");
        if (id != padding_id) {
          g.is_token[static_cast<std::size_t>(s * g.tokens + t)] = 1;
          ++g.lengths[static_cast<std::size_t>(s)];
        }
      }
      require<skiptune::InputError>(g.lengths[static_cast<std::size_t>(s)] > 0, "sequence ", s,
                                    " is all padding: its mean over real tokens is undefined");
    }
    return g;
  }

  [[nodiscard]] skiptune::nn::BlockShape block_shape(const SequenceGeometry& g) const noexcept {
    return {g.sequences, g.tokens, config_.width, config_.heads, config_.mlp_width, /*causal=*/false,
            skiptune::nn::Activation::gelu};
  }

  // ---- stem ------------------------------------------------------------------------------------

  /// Token states [B·T, W]; `record` null = inference (nothing saved).
  [[nodiscard]] Tensor<T> stem_forward(const Tensor<std::int32_t>& ids, const SequenceGeometry& g,
                                       StemRecord* record) const {
    const Index W = config_.width, n = g.sequences * g.tokens;
    const auto kept = record ? MemoryCategory::activations : MemoryCategory::workspace;
    Tensor<T> pre_norm({n, W}, *meter_, kept);
    skiptune::nn::token_embedding_forward(Backend{}, pre_norm.data(), ids.data(), stem_.token_embedding.data(),
                                          stem_.positional_embedding.data(), g.sequences, g.tokens, g.tokens, W);
    Tensor<T> states({n, W}, *meter_, MemoryCategory::activations);
    if (record != nullptr) {
      record->mean = Tensor<T>({n}, *meter_, MemoryCategory::activations);
      record->rstd = Tensor<T>({n}, *meter_, MemoryCategory::activations);
    }
    skiptune::nn::layer_norm_forward(Backend{}, states.data(), record ? record->mean.data() : (T*)nullptr,
                                     record ? record->rstd.data() : (T*)nullptr, pre_norm.data(),
                                     stem_.norm_weight.data(), stem_.norm_bias.data(), n, W);
    if (record != nullptr) {
      record->ids = Tensor<std::int32_t>({g.sequences, g.tokens}, *meter_, MemoryCategory::activations);
      std::copy_n(ids.data(), n, record->ids.data());
      record->pre_norm = std::move(pre_norm);
    }
    return states;
  }

  /// Stem gradients (accumulated) from ∂L/∂states [B·T, W]; consumes the record.
  void stem_backward(const Tensor<T>& d_states, StemRecord&& record, StemParameters& grads,
                     const SequenceGeometry& g) const {
    StemRecord rec = std::move(record);  // freed on return
    const Index W = config_.width, n = g.sequences * g.tokens;
    skiptune::expect_shape(d_states, skiptune::Shape{n, W}, "stem output gradient");
    // LayerNorm's input gradient accumulates, so it starts from zero.
    Tensor<T> d_pre_norm = Tensor<T>::zeros({n, W}, *meter_, MemoryCategory::workspace);
    skiptune::nn::layer_norm_backward(Backend{}, d_pre_norm.data(), grad_or_null(grads.norm_weight),
                                      grad_or_null(grads.norm_bias), d_states.data(), rec.pre_norm.data(),
                                      rec.mean.data(), rec.rstd.data(), stem_.norm_weight.data(), n, W);
    skiptune::nn::token_embedding_backward(Backend{}, grad_or_null(grads.token_embedding),
                                           grad_or_null(grads.positional_embedding), d_pre_norm.data(),
                                           rec.ids.data(), g.sequences, g.tokens, g.tokens, W);
  }

  // ---- blocks: the library's residual block, bidirectional, GELU ---------------------------------

  void block_forward(std::size_t i, Tensor<T>& states, const SequenceGeometry& g) const {
    skiptune::nn::block_forward_inference(Backend{}, blocks_[i], states, block_shape(g), *meter_);
  }
  [[nodiscard]] Tensor<T> block_forward_train(std::size_t i, Tensor<T>&& states, block_record& record,
                                              const SequenceGeometry& g) const {
    return skiptune::nn::block_forward_train(Backend{}, blocks_[i], std::move(states), record, block_shape(g),
                                             *meter_);
  }
  void block_backward(std::size_t i, Tensor<T>& d_states, block_record&& record, BlockParameters& grads,
                      const SequenceGeometry& g, bool need_input_gradient) const {
    skiptune::nn::block_backward(Backend{}, blocks_[i], grads, d_states, std::move(record), block_shape(g), *meter_,
                                 need_input_gradient);
  }

  // ---- head: masked mean → LayerNorm → linear ----------------------------------------------------

  /// Logits [B, C] from the states [B·T, W]; `record` null = inference.
  [[nodiscard]] Tensor<T> head_forward(const Tensor<T>& states, const SequenceGeometry& g, HeadRecord* record) const {
    const Index B = g.sequences, Tn = g.tokens, W = config_.width, C = config_.classes;
    skiptune::expect_shape(states, skiptune::Shape{B * Tn, W}, "classifier head input");
    Tensor<T> pooled = Tensor<T>::zeros({B, W}, *meter_,
                                        record ? MemoryCategory::activations : MemoryCategory::workspace);
    skiptune::MatrixMap<T> pooled_rows = pooled.matrix();
    const skiptune::ConstMatrixMap<T> state_rows = states.matrix();
    for (Index b = 0; b < B; ++b) {
      for (Index t = 0; t < Tn; ++t)
        if (g.is_token[static_cast<std::size_t>(b * Tn + t)]) pooled_rows.row(b) += state_rows.row(b * Tn + t);
      pooled_rows.row(b) /= static_cast<T>(g.lengths[static_cast<std::size_t>(b)]);
    }
    Tensor<T> logits({B, C}, *meter_, MemoryCategory::activations);
    {
      Tensor<T> normalised({B, W}, *meter_, MemoryCategory::workspace);
      if (record != nullptr) {
        record->mean = Tensor<T>({B}, *meter_, MemoryCategory::activations);
        record->rstd = Tensor<T>({B}, *meter_, MemoryCategory::activations);
      }
      skiptune::nn::layer_norm_forward(Backend{}, normalised.data(), record ? record->mean.data() : (T*)nullptr,
                                       record ? record->rstd.data() : (T*)nullptr, pooled.data(),
                                       head_.norm_weight.data(), head_.norm_bias.data(), B, W);
      skiptune::nn::linear_forward(Backend{}, logits.data(), normalised.data(), head_.weight.data(), head_.bias.data(),
                                   B, W, C);
    }
    if (record != nullptr) record->pooled = std::move(pooled);
    return logits;
  }

  /// From ∂L/∂logits [B, C]: head gradients (accumulated) and ∂L/∂states [B·T, W] — each real
  /// token of sequence b receives ∂L/∂pooled_b / length_b, padding rows zero — or an empty tensor
  /// when nothing below the head trains.
  [[nodiscard]] Tensor<T> head_backward(const Tensor<T>& d_logits, HeadRecord&& record, HeadParameters& grads,
                                        const SequenceGeometry& g, bool need_states_gradient) const {
    HeadRecord rec = std::move(record);  // freed on return
    const Index B = g.sequences, Tn = g.tokens, W = config_.width, C = config_.classes;
    skiptune::expect_shape(d_logits, skiptune::Shape{B, C}, "classifier logits gradient");
    Tensor<T> workspace({3 * B * W}, *meter_, MemoryCategory::workspace);
    T* normalised = workspace.data();          // [B, W] recomputed, not saved
    T* d_normalised = normalised + B * W;      // [B, W]
    T* d_pooled = d_normalised + B * W;        // [B, W]
    skiptune::nn::layer_norm_apply(Backend{}, normalised, rec.pooled.data(), rec.mean.data(), rec.rstd.data(),
                                   head_.norm_weight.data(), head_.norm_bias.data(), B, W);
    skiptune::nn::linear_backward(Backend{}, d_normalised, grad_or_null(grads.weight), grad_or_null(grads.bias),
                                  d_logits.data(), normalised, head_.weight.data(), B, W, C);
    std::fill_n(d_pooled, B * W, T(0));  // layer_norm_backward accumulates into it
    skiptune::nn::layer_norm_backward(Backend{}, need_states_gradient ? d_pooled : (T*)nullptr,
                                      grad_or_null(grads.norm_weight), grad_or_null(grads.norm_bias), d_normalised,
                                      rec.pooled.data(), rec.mean.data(), rec.rstd.data(), head_.norm_weight.data(), B,
                                      W);
    Tensor<T> d_states;
    if (!need_states_gradient) return d_states;
    d_states = Tensor<T>::zeros({B * Tn, W}, *meter_, MemoryCategory::activations);
    skiptune::MatrixMap<T> d_state_rows = d_states.matrix();
    const skiptune::ConstMatrixMap<T> d_pooled_rows(d_pooled, B, W);
    for (Index b = 0; b < B; ++b) {
      const T inv_length = T(1) / static_cast<T>(g.lengths[static_cast<std::size_t>(b)]);
      for (Index t = 0; t < Tn; ++t)
        if (g.is_token[static_cast<std::size_t>(b * Tn + t)]) d_state_rows.row(b * Tn + t) = d_pooled_rows.row(b) * inv_length;
    }
    return d_states;
  }

 private:
  /// The library's convention: an empty gradient tensor means "frozen: skip that work".
  static T* grad_or_null(Tensor<T>& g) noexcept { return g.empty() ? nullptr : g.data(); }

  SequenceClassifierConfig config_;
  MemoryMeter* meter_;
  StemParameters stem_;
  std::vector<BlockParameters> blocks_;
  HeadParameters head_;
};

static_assert(skiptune::Encoder<SequenceClassifier<float>>);
static_assert(skiptune::Encoder<SequenceClassifier<double>>);

}  // namespace example
