// skiptune/policy/prompt_tuning.hpp — CoOp prompt tuning (Zhou et al. 2022, "Learning to Prompt
// for Vision-Language Models") as a policy, plus the math it needs and the functions that use a
// learned context at evaluation time.
//
//   FineTuner<Clip<float>, PromptTuning> tuner(model, PromptTuning{.context_tokens = 3});
//   tuner.fit(data, options);                       // data's prompts: "an emoji of {name}", M = 3
//   Tensor<float> features = tuner.prompt_features(new_ids);   // [C', E], learned context
//   double acc = evaluate_accuracy_with_context(model, tuner.prompt_context(), images, labels, new_ids);
//
// What it does. The whole CLIP is frozen (no stem, block, head or logit_scale trains; none owns
// gradient or optimizer buffers). M learned context vectors [M, W_text] replace the token
// embeddings at positions 1..M (right after <|startoftext|>) of every class prompt; they start
// as the token embeddings the class prompts have there ("init from a phrase"), so step 0 gives
// the zero-shot model's logits. The loss backpropagates through every (frozen) text block to the
// embedded prompt tokens (EncoderPass with PassOptions::input_gradient_at = 0) and from rows
// 1..M of every prompt into the context. The image side gets no gradient: vision ω = N, so the
// tuner caches every training image's last-block output (LayerSkip's cache) and a step runs only
// the vision head plus the text tower.
//
// The policy only answers hooks (policy/hooks.hpp): ω = N and frozen stems and heads in both
// towers, and M. The tuner owns the context tensor, trains it in the text parameter group and
// saves it in checkpoints as "prompt_context".
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/clip.hpp"
#include "skiptune/model/encoder.hpp"
#include "skiptune/model/text_tower.hpp"
#include "skiptune/policy/hooks.hpp"

namespace skiptune {

struct PromptTuning {
  using hooks = skiptune::hooks<hook::first_trained_block, hook::trains_stem, hook::trains_head,
                                hook::refreshes_image_cache, hook::prompt_context_tokens>;

  /// M: learned context vectors, at prompt positions 1..M.
  std::size_t context_tokens = 4;
  /// Rebuild the (last-block) image cache every epoch under fresh augmentation, as LayerSkip.
  bool refresh_image_cache_every_epoch = true;

  /// Every block of both towers is frozen (ω = N; the largest answer wins, so this freezes them
  /// whatever else is composed).
  std::size_t first_trained_block(Tower, std::size_t num_blocks) const { return num_blocks; }
  bool trains_stem(Tower) const { return false; }
  bool trains_head(Tower) const { return false; }
  bool refreshes_image_cache(std::size_t) const { return refresh_image_cache_every_epoch; }
  std::size_t prompt_context_tokens() const {
    require<ConfigError>(context_tokens >= 1, "PromptTuning: context_tokens must be >= 1 (M learned vectors "
                                              "replace prompt positions 1..M), got ", context_tokens);
    return context_tokens;
  }
};

namespace prompt_tuning {

/// Every prompt must end (end-of-text) after position M; the context replaces positions 1..M.
/// `g` is the geometry of `ids` (text.geometry(ids) has validated the ids themselves).
inline void require_context_fits(const TextGeometry& g, std::size_t context_tokens, const char* who) {
  require<ConfigError>(context_tokens >= 1, who, ": context_tokens must be >= 1, got ", context_tokens);
  const Index M = static_cast<Index>(context_tokens);
  for (Index c = 0; c < g.sequences; ++c)
    require<ConfigError>(M < g.eot_positions[static_cast<std::size_t>(c)], who, ": context_tokens M = ", M,
                         " must be smaller than every prompt's end-of-text position, but class ", c,
                         "'s prompt ends at position ", g.eot_positions[static_cast<std::size_t>(c)],
                         " (the context replaces positions 1..M, right after <|startoftext|>)");
}

/// The training prompts must share their tokens at positions 1..M: the context is initialised
/// from them and then stands for them in every prompt. Names the first class that differs.
inline void require_shared_prefix(const Tensor<std::int32_t>& ids, std::size_t context_tokens) {
  const Index C = ids.dim(0), L = ids.dim(1), M = static_cast<Index>(context_tokens);
  for (Index c = 1; c < C; ++c)
    for (Index t = 1; t <= M; ++t)
      require<ConfigError>(ids[c * L + t] == ids[t], "PromptTuning: the context is initialised from the tokens at "
                           "positions 1..", M, ", which every class prompt must share (e.g. \"an emoji of {name}\" "
                           "with M = 3); class ", c, "'s prompt has token id ", ids[c * L + t], " at position ", t,
                           " where class 0's has ", ids[t]);
}

/// The initial context [M, W] (category weights): the token embeddings of ids[0, 1..M].
template <class T, class Backend>
Tensor<T> initial_context(const TextTower<T, Backend>& text, const Tensor<std::int32_t>& ids,
                          std::size_t context_tokens) {
  const Index M = static_cast<Index>(context_tokens), W = text.config().width;
  Tensor<T> context({M, W}, text.meter(), MemoryCategory::weights);
  for (Index j = 0; j < M; ++j)
    std::copy_n(text.stem().token_embedding.data() + static_cast<Index>(ids[1 + j]) * W, W, context.data() + j * W);
  return context;
}

/// The text stem with a context: states [S·T, W] = token + positional embedding, except rows
/// t = 1..M of each prompt, which are context[t−1] + positional_embedding[t]. The same sum in the
/// same order as the stem, so a context equal to the token embeddings gives its output bit for bit.
template <class T, class Backend>
Tensor<T> embed_with_context(const TextTower<T, Backend>& text, const Tensor<std::int32_t>& ids,
                             const TextGeometry& g, const Tensor<T>& context) {
  const Index M = context.dim(0), W = text.config().width;
  expect_shape(context, Shape{M, W}, "prompt context");
  Tensor<T> states = text.stem_forward(ids, g, nullptr);
  const T* pos = text.stem().positional_embedding.data();
  for (Index s = 0; s < g.sequences; ++s)
    for (Index t = 1; t <= M; ++t) {
      const T* ctx = context.data() + (t - 1) * W;
      T* out = states.data() + (s * g.tokens + t) * W;
      for (Index c = 0; c < W; ++c) out[c] = ctx[c] + pos[t * W + c];
    }
  return states;
}

/// ∂L/∂context [M, W] += Σ over prompts of ∂L/∂states at rows 1..M (d_states [S·T, W], the
/// gradient w.r.t. the stem's output; the positional embedding is frozen). Prompt order, so the
/// sum does not depend on the thread count.
template <class T>
void accumulate_context_gradient(Tensor<T>& d_context, const Tensor<T>& d_states, const TextGeometry& g) {
  const Index M = d_context.dim(0), W = d_context.dim(1);
  expect_shape(d_states, Shape{g.sequences * g.tokens, W}, "gradient of the embedded prompts");
  for (Index s = 0; s < g.sequences; ++s)
    for (Index t = 1; t <= M; ++t) {
      const T* d = d_states.data() + (s * g.tokens + t) * W;
      T* out = d_context.data() + (t - 1) * W;
      for (Index c = 0; c < W; ++c) out[c] += d[c];
    }
}

}  // namespace prompt_tuning

/// Text features [C, E] of arbitrary prompts with a learned context [M, W] (inference, nothing
/// saved): the ids at positions 1..M are replaced by the context, the rest (class name, ".",
/// end-of-text) is read from the ids. Every prompt must end after position M. With new class
/// names, tokenise them with the same template as training ("an emoji of {name}"); any ids at
/// 1..M work, they are not read.
template <class T, class Backend>
Tensor<T> encode_with_context(const TextTower<T, Backend>& text, const Tensor<std::int32_t>& ids,
                              const Tensor<T>& context) {
  const TextGeometry g = text.geometry(ids);
  prompt_tuning::require_context_fits(g, static_cast<std::size_t>(context.dim(0)), "encode_with_context");
  Tensor<T> states = prompt_tuning::embed_with_context(text, ids, g, context);
  run_blocks(text, 0, text.num_blocks(), states, g);
  return text.head_forward(states, g, nullptr);
}

/// predict_classes (train/evaluation.hpp) with a learned context: argmax over the prompts' logits
/// of each image [N], images from pixels in chunks.
template <class T, class Backend>
std::vector<std::int32_t> predict_classes_with_context(const Clip<T, Backend>& model, const Tensor<T>& context,
                                                       const Tensor<T>& images,
                                                       const Tensor<std::int32_t>& class_token_ids, Index chunk = 64) {
  const Tensor<T> text_features = encode_with_context(model.text, class_token_ids, context);
  const Index N = images.dim(0), per_image = images.numel() / std::max<Index>(N, 1);
  std::vector<std::int32_t> predictions(static_cast<std::size_t>(N));
  for (Index start = 0; start < N; start += chunk) {
    const Index count = std::min(chunk, N - start);
    Tensor<T> batch({count, images.dim(1), images.dim(2), images.dim(3)}, model.meter(), MemoryCategory::inputs);
    std::copy_n(images.data() + start * per_image, count * per_image, batch.data());
    const Tensor<T> logits = model.logits_from_features(encode(model.visual, batch), text_features);
    for (Index b = 0; b < count; ++b) {
      const T* row = logits.data() + b * logits.dim(1);
      predictions[static_cast<std::size_t>(start + b)] =
          static_cast<std::int32_t>(std::max_element(row, row + logits.dim(1)) - row);
    }
  }
  return predictions;
}

/// evaluate_accuracy (train/evaluation.hpp) with a learned context: top-1 accuracy in [0, 1].
template <class T, class Backend>
double evaluate_accuracy_with_context(const Clip<T, Backend>& model, const Tensor<T>& context,
                                      const Tensor<T>& images, const std::vector<std::int32_t>& labels,
                                      const Tensor<std::int32_t>& class_token_ids, Index chunk = 64) {
  require<ShapeError>(static_cast<std::size_t>(images.dim(0)) == labels.size(), "evaluate_accuracy_with_context: ",
                      images.dim(0), " images but ", labels.size(), " labels");
  require<ConfigError>(!labels.empty(), "evaluate_accuracy_with_context: no images");
  const auto predicted = predict_classes_with_context(model, context, images, class_token_ids, chunk);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i] ? 1 : 0;
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

}  // namespace skiptune
