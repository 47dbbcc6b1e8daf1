// skiptune/model/memory_plan.hpp — predicts, before anything runs, the exact bytes a CLIP
// training step will hold at its peak, by category. It is a pure function of (config, batch,
// classes, prompt length, trained parts, optimizer): it replays the step's allocation schedule
// (what ClipTrainer::compute_gradients allocates and frees, in order) on counters instead of
// memory. A test holds it to the MemoryMeter's measured peak, byte for byte.
#pragma once

#include <cstddef>
#include <string>

#include "skiptune/core/memory.hpp"
#include "skiptune/model/config.hpp"
#include "skiptune/nn/embedding.hpp"
#include "skiptune/nn/residual_block.hpp"
#include "skiptune/train/clip_trainer.hpp"

namespace skiptune {

/// The data side of a step.
struct StepShape {
  Index batch = 4;           // images per step
  Index classes = 100;       // prompts through the text tower
  Index token_context = 77;  // row length of the token id tensor
  Index text_tokens = 77;    // positions the text tower runs (≤ token_context; the longest EOT + 1 when truncating)
};

/// The prediction: bytes held before the step (weights, gradients, optimizer state, inputs) and
/// live bytes by category at the step's peak, with the phase where it happens.
struct MemoryPlan {
  MemoryBreakdown before_step{};
  MemoryBreakdown at_peak{};
  std::size_t peak_total = 0;
  std::string peak_phase;
};

namespace detail {

/// Counters that replay allocations and frees.
class AllocationReplay {
 public:
  explicit AllocationReplay(MemoryBreakdown start) : current_(start), at_peak_(start), peak_(start.total()) {}
  void allocate(MemoryCategory c, std::size_t bytes, const std::string& phase) {
    current_[c] += bytes;
    if (current_.total() > peak_) {
      peak_ = current_.total();
      at_peak_ = current_;
      phase_ = phase;
    }
  }
  void release(MemoryCategory c, std::size_t bytes) { current_[c] -= bytes; }
  [[nodiscard]] MemoryPlan result(MemoryBreakdown before) const { return {before, at_peak_, peak_, phase_}; }

 private:
  MemoryBreakdown current_, at_peak_;
  std::size_t peak_;
  std::string phase_ = "before the step";
};

/// One tower's schedule (shared by both towers; the differences are parameters).
struct TowerSchedule {
  std::string name;
  std::size_t scalar;   // bytes per scalar
  Index sequences, tokens, width, embed;
  nn::BlockShape block;
  std::size_t num_blocks;
  TrainableParts parts;
  // stem (vision only): patches [S·P, 3p²] and pre-norm copy; text stems allocate only the states
  bool has_patch_stem;
  Index patch_scalars;  // S·P·3p²
  /// Where the tower's input comes from in the step.
  enum class Source {
    caller_input,    // ClipTrainer: the caller owns pixels / token ids (counted before the step)
    gathered_input,  // FineTuner without a cache: the step gathers the batch's inputs itself
    cache,           // FineTuner with LayerSkip: the step gathers block-ω states from the cache
  } source = Source::caller_input;
  std::size_t gathered_input_bytes = 0;  // with gathered_input: pixels or token ids of the batch
  bool input_lives_through_backward = false;  // token ids: the text stem's backward reads them

  [[nodiscard]] std::size_t states_bytes() const { return scalar * std::size_t(sequences * tokens * width); }

  void forward(AllocationReplay& r) const {
    using C = MemoryCategory;
    const std::size_t n = std::size_t(sequences * tokens);
    const std::string stem_phase = name + " stem forward";
    if (source == Source::gathered_input) r.allocate(C::inputs, gathered_input_bytes, name + " input gather");
    if (source == Source::cache) {
      r.allocate(C::activations, states_bytes(), name + " cache gather");
    } else if (has_patch_stem) {
      const C kept = parts.stem ? C::activations : C::workspace;
      r.allocate(kept, scalar * std::size_t(patch_scalars), stem_phase);
      r.allocate(kept, states_bytes(), stem_phase);
      r.allocate(C::activations, states_bytes(), stem_phase);
      if (parts.stem) {
        r.allocate(C::activations, 2 * scalar * n, stem_phase);
      } else {
        r.release(C::workspace, scalar * std::size_t(patch_scalars));
        r.release(C::workspace, states_bytes());
      }
    } else {
      r.allocate(C::activations, states_bytes(), stem_phase);
    }
    for (std::size_t i = source == Source::cache ? num_blocks : 0; i < parts.first_trained_block; ++i) {
      const std::size_t ws = scalar * std::size_t(block.inference_workspace_scalars());
      r.allocate(C::workspace, ws, name + " block " + std::to_string(i) + " inference");
      r.release(C::workspace, ws);
    }
    for (std::size_t i = parts.first_trained_block; i < num_blocks; ++i) {
      const std::string phase = name + " block " + std::to_string(i) + " forward";
      const std::size_t ws = scalar * std::size_t(block.train_workspace_scalars());
      r.allocate(C::activations, scalar * std::size_t(block.saved_scalars()), phase);
      r.allocate(C::workspace, ws, phase);
      r.allocate(C::activations, states_bytes(), phase);
      r.release(C::workspace, ws);
    }
    const std::string head_phase = name + " head forward";
    r.allocate(C::activations, scalar * std::size_t(sequences * width), head_phase);  // pooled
    r.allocate(C::activations, scalar * std::size_t(sequences * embed), head_phase);  // features
    r.allocate(C::workspace, scalar * std::size_t(sequences * width), head_phase);    // normalised
    r.allocate(C::activations, 2 * scalar * std::size_t(sequences), head_phase);      // mean, rstd
    r.release(C::workspace, scalar * std::size_t(sequences * width));
    r.release(C::activations, states_bytes());  // the last block's output, once the head has its rows
    if (source == Source::gathered_input && !input_lives_through_backward) r.release(C::inputs, gathered_input_bytes);
  }

  void backward(AllocationReplay& r) const {
    using C = MemoryCategory;
    const std::size_t n = std::size_t(sequences * tokens);
    const bool enters_blocks = parts.backward_enters_blocks(num_blocks);
    const std::string head_phase = name + " head backward";
    if (enters_blocks) r.allocate(C::activations, states_bytes(), head_phase);
    r.allocate(C::workspace, 3 * scalar * std::size_t(sequences * width), head_phase);
    r.release(C::workspace, 3 * scalar * std::size_t(sequences * width));
    r.release(C::activations, scalar * std::size_t(sequences * width) + 2 * scalar * std::size_t(sequences));
    for (std::size_t i = num_blocks; i-- > parts.first_trained_block;) {
      const std::size_t ws = scalar * std::size_t(block.backward_workspace_scalars());
      r.allocate(C::workspace, ws, name + " block " + std::to_string(i) + " backward");
      r.release(C::workspace, ws);
      r.release(C::activations, states_bytes() + scalar * std::size_t(block.saved_scalars()));
    }
    if (parts.stem && has_patch_stem) {
      r.allocate(C::workspace, states_bytes(), name + " stem backward");
      r.release(C::workspace, states_bytes());
      r.release(C::activations, scalar * std::size_t(patch_scalars) + states_bytes() + 2 * scalar * n);
    }
    if (enters_blocks) r.release(C::activations, states_bytes());
  }
};

}  // namespace detail

/// Predict the memory of one ClipTrainer step for `Scalar` (float or double).
template <class Scalar = float>
MemoryPlan plan_clip_step(const ClipConfig& config, const StepShape& step, const ClipTrainableParts& parts,
                          const SgdOptions& sgd = {}) {
  using C = MemoryCategory;
  config.validate();
  const std::size_t s = sizeof(Scalar);
  const auto& vc = config.vision;
  const auto& tc = config.text;
  require<ConfigError>(step.batch > 0 && step.classes > 0, "plan_clip_step: batch and classes must be > 0");
  require<ConfigError>(step.text_tokens > 0 && step.text_tokens <= step.token_context &&
                           step.token_context <= tc.context_length,
                       "plan_clip_step: need 0 < text_tokens <= token_context <= context_length (",
                       tc.context_length, ")");
  parts.vision.validate(std::size_t(vc.layers), "vision tower");
  parts.text.validate(std::size_t(tc.layers), "text tower");

  // Parameter counts per part.
  const auto block_params = [](Index W, Index M) { return 4 * W + 3 * W * W + 3 * W + W * W + W + M * W + M + W * M + W; };
  const Index vision_stem = vc.width + vc.tokens() * vc.width + vc.width * 3 * vc.patch_size * vc.patch_size + 2 * vc.width;
  const Index vision_block = block_params(vc.width, vc.mlp_width);
  const Index vision_head = 2 * vc.width + vc.width * config.embed_dim;
  const Index text_stem = tc.vocab_size * tc.width + tc.context_length * tc.width;
  const Index text_block = block_params(tc.width, tc.mlp_width);
  const Index text_head = 2 * tc.width + tc.width * config.embed_dim;
  const Index all = 1 + vision_stem + vc.layers * vision_block + vision_head + text_stem + tc.layers * text_block + text_head;
  auto trained = [](const TrainableParts& p, Index stem, Index block, Index layers, Index head) {
    return (p.stem ? stem : 0) + (layers - Index(p.first_trained_block)) * block + (p.head ? head : 0);
  };
  const Index trained_count = (parts.logit_scale ? 1 : 0) +
                              trained(parts.vision, vision_stem, vision_block, vc.layers, vision_head) +
                              trained(parts.text, text_stem, text_block, tc.layers, text_head);

  MemoryBreakdown before;
  before[C::weights] = s * std::size_t(all);
  before[C::gradients] = s * std::size_t(trained_count);
  before[C::optimizer_state] = sgd.momentum > 0 ? s * std::size_t(trained_count) : 0;
  before[C::inputs] = s * std::size_t(step.batch * 3 * vc.image_size * vc.image_size) +
                      sizeof(std::int32_t) * std::size_t(step.classes * step.token_context + step.batch);

  const nn::PatchShape patches{step.batch, vc.image_size, vc.patch_size};
  const detail::TowerSchedule vision{"vision", s, step.batch, vc.tokens(), vc.width, config.embed_dim,
                                     nn::BlockShape{step.batch, vc.tokens(), vc.width, vc.heads, vc.mlp_width, false, vc.activation},
                                     std::size_t(vc.layers), parts.vision, true,
                                     step.batch * patches.patches() * patches.patch_scalars()};
  const detail::TowerSchedule text{"text", s, step.classes, step.text_tokens, tc.width, config.embed_dim,
                                   nn::BlockShape{step.classes, step.text_tokens, tc.width, tc.heads, tc.mlp_width, true, tc.activation},
                                   std::size_t(tc.layers), parts.text, false, 0};

  detail::AllocationReplay r(before);
  vision.forward(r);
  text.forward(r);
  const std::size_t B = std::size_t(step.batch), Cn = std::size_t(step.classes), E = std::size_t(config.embed_dim);
  r.allocate(C::workspace, s * (B * E + Cn * E), "loss");                               // d features
  r.allocate(C::activations, s * (B * E + B + Cn * E + Cn + 2 * B * Cn), "loss");        // normalised, norms, logits, probs
  r.allocate(C::workspace, s * (B * Cn + B * E + Cn * E), "loss backward");             // d logits, d normalised
  r.release(C::workspace, s * (B * Cn + B * E + Cn * E));
  r.release(C::activations, s * (B * E + B + Cn * E + Cn + 2 * B * Cn));
  r.release(C::activations, s * (B * E + Cn * E));  // features
  text.backward(r);
  r.release(C::workspace, s * Cn * E);
  vision.backward(r);
  r.release(C::workspace, s * B * E);
  return r.result(before);
}

/// The data side of a FineTuner step, and what the run holds besides the model.
struct FineTuneShape {
  Index batch = 4;             // images per step
  Index classes = 100;         // C: all class prompts (prototypes, text cache)
  Index kept_classes = 100;    // m: prompts through the text tower this step (ClassSkip: m ≤ C)
  Index token_context = 77;    // row length of the prompt id tensor
  Index text_tokens = 77;      // positions the step runs (the kept prompts' longest EOT + 1)
  Index text_cache_tokens = 77;  // positions stored per prompt in LayerSkip's text cache
  Index image_tokens = 0;      // tokens per image through the trained blocks (0: all; TokenDrop: fewer)
  Index dataset_images = 4;    // N: training images (LayerSkip's image cache holds all of them)
  bool selects_classes = false;  // a ClassSkip-like policy: prototypes + similarity per step
};

enum class OptimizerStateKind { none, sgd_momentum, adamw };

/// Predict the memory of one FineTuner<Clip<Scalar>, ...>::train_step. Blocks below ω come from
/// caches (no stem, no frozen blocks run); `parts` is what the policies resolved to.
template <class Scalar = float>
MemoryPlan plan_fine_tune_step(const ClipConfig& config, const FineTuneShape& step, const ClipTrainableParts& parts,
                               OptimizerStateKind optimizer = OptimizerStateKind::sgd_momentum) {
  using C = MemoryCategory;
  const std::size_t s = sizeof(Scalar);
  const auto& vc = config.vision;
  const auto& tc = config.text;
  require<ConfigError>(step.batch > 0 && step.kept_classes > 0 && step.kept_classes <= step.classes,
                       "plan_fine_tune_step: need batch > 0 and 0 < kept_classes <= classes");
  // The trained-parameter count and the weights come from the ClipTrainer plan (same model).
  const MemoryPlan base = plan_clip_step<Scalar>(config, StepShape{1, 1, step.token_context, 1}, parts,
                                                 SgdOptions{0.0, 0.0, 0.0});
  MemoryBreakdown before;
  before[C::weights] = base.before_step[C::weights];
  before[C::gradients] = base.before_step[C::gradients];
  before[C::optimizer_state] = optimizer == OptimizerStateKind::none ? 0
                               : optimizer == OptimizerStateKind::sgd_momentum ? before[C::gradients]
                                                                             : 2 * before[C::gradients];
  const bool vision_cached = parts.vision.first_trained_block > 0, text_cached = parts.text.first_trained_block > 0;
  before[C::cache] = (vision_cached ? s * std::size_t(step.dataset_images * vc.tokens() * vc.width) : 0) +
                     (text_cached ? s * std::size_t(step.classes * step.text_cache_tokens * tc.width) : 0) +
                     (step.selects_classes ? s * std::size_t(step.classes * config.embed_dim) : 0);
  before[C::inputs] = s * std::size_t(step.dataset_images * 3 * vc.image_size * vc.image_size) +
                      sizeof(std::int32_t) * std::size_t(step.classes * step.token_context);

  const Index image_tokens = step.image_tokens > 0 ? step.image_tokens : vc.tokens();
  const nn::PatchShape patches{step.batch, vc.image_size, vc.patch_size};
  detail::TowerSchedule vision{"vision", s, step.batch, image_tokens, vc.width, config.embed_dim,
                               nn::BlockShape{step.batch, image_tokens, vc.width, vc.heads, vc.mlp_width, false, vc.activation},
                               std::size_t(vc.layers), parts.vision, true,
                               step.batch * patches.patches() * patches.patch_scalars()};
  vision.source = vision_cached ? detail::TowerSchedule::Source::cache : detail::TowerSchedule::Source::gathered_input;
  vision.gathered_input_bytes = s * std::size_t(step.batch * 3 * vc.image_size * vc.image_size);
  const Index m = step.kept_classes;
  detail::TowerSchedule text{"text", s, m, step.text_tokens, tc.width, config.embed_dim,
                             nn::BlockShape{m, step.text_tokens, tc.width, tc.heads, tc.mlp_width, true, tc.activation},
                             std::size_t(tc.layers), parts.text, false, 0};
  text.source = text_cached ? detail::TowerSchedule::Source::cache : detail::TowerSchedule::Source::gathered_input;
  text.gathered_input_bytes = sizeof(std::int32_t) * std::size_t(m * step.token_context);
  text.input_lives_through_backward = true;

  detail::AllocationReplay r(before);
  const std::size_t B = std::size_t(step.batch), Cn = std::size_t(step.classes), M = std::size_t(m),
                    E = std::size_t(config.embed_dim);
  r.allocate(C::inputs, sizeof(std::int32_t) * B, "labels");
  vision.forward(r);
  if (step.selects_classes) {
    r.allocate(C::workspace, s * (B * E + B + B * Cn), "class selection");  // normalised, norms, similarity
    r.release(C::workspace, s * (B * E + B + B * Cn));
  }
  text.forward(r);
  r.allocate(C::workspace, s * (B * E + M * E), "loss");
  r.allocate(C::activations, s * (B * E + B + M * E + M + 2 * B * M), "loss");
  r.allocate(C::workspace, s * (B * M + B * E + M * E), "loss backward");
  r.release(C::workspace, s * (B * M + B * E + M * E));
  r.release(C::activations, s * (B * E + B + M * E + M + 2 * B * M));
  r.release(C::activations, s * (B * E + M * E));
  text.backward(r);
  r.release(C::workspace, s * M * E);
  if (!text_cached) r.release(C::inputs, text.gathered_input_bytes);
  vision.backward(r);
  r.release(C::workspace, s * B * E);
  r.release(C::inputs, sizeof(std::int32_t) * B);
  return r.result(before);
}

}  // namespace skiptune
