// skiptune/emojibench/methods.hpp — every method of the EmojiBench harness run on one
// ProtocolRun from the same pretrained CLIP, each reporting its accuracies, training wall time
// and measured training memory:
//
//   zero-shot      no training: prompts "an emoji of {name}".
//   ft             full fine-tuning (FineTuner<Clip<float>>: every block and head).
//   lskip          LayerSkip: blocks below ω frozen and cached (policy/layer_skip.hpp).
//   cskip          ClassSkip: a subset of class prompts per batch (policy/class_skip.hpp).
//   skip-tuning    LayerSkip + ClassSkip, the paper's method.
//   linear-probe   logistic regression on frozen image features, zero-shot initialised
//                  (train/linear_probe.hpp); classes it was not trained on use the zero-shot head.
//   coop           CoOp prompt tuning: frozen CLIP, learned context vectors (policy/prompt_tuning.hpp).
//
// Memory = the MemoryMeter's peak during training (every tensor the library allocates:
// parameters, gradients, optimizer state, caches, activations, workspace; exact bytes), the
// largest over the training steps (each step's peak includes everything alive at that step).
// Time = wall time of training (fit(): caches, prototypes and steps), evaluation excluded.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/data/emoji_tensors.hpp"
#include "skiptune/emojibench/protocols.hpp"
#include "skiptune/io/checkpoint.hpp"
#include "skiptune/io/tokenizer.hpp"
#include "skiptune/policy/class_skip.hpp"
#include "skiptune/policy/layer_skip.hpp"
#include "skiptune/policy/prompt_tuning.hpp"
#include "skiptune/train/evaluation.hpp"
#include "skiptune/train/fine_tuner.hpp"
#include "skiptune/train/linear_probe.hpp"
#include "skiptune/train/observers.hpp"

namespace skiptune::emojibench {

enum class Method { zero_shot, full_fine_tune, layer_skip, class_skip, skip_tuning, linear_probe, coop };

inline constexpr Method all_methods[] = {Method::zero_shot,   Method::full_fine_tune, Method::layer_skip,
                                         Method::class_skip,  Method::skip_tuning,    Method::linear_probe,
                                         Method::coop};

inline std::string_view method_name(Method m) noexcept {
  switch (m) {
    case Method::zero_shot: return "zero-shot";
    case Method::full_fine_tune: return "ft";
    case Method::layer_skip: return "lskip";
    case Method::class_skip: return "cskip";
    case Method::skip_tuning: return "skip-tuning";
    case Method::linear_probe: return "linear-probe";
    case Method::coop: return "coop";
  }
  return "?";
}

inline Method parse_method(std::string_view text) {
  for (Method m : all_methods)
    if (method_name(m) == text) return m;
  throw ConfigError("unknown method '" + std::string(text) +
                    "' (expected zero-shot, ft, lskip, cskip, skip-tuning, linear-probe or coop)");
}

/// Hyperparameters of every method (one struct so sweeps and CLIs can set any of them).
struct MethodOptions {
  FitOptions fit = default_fit();
  std::size_t vision_omega = 3;  ///< LayerSkip's ω for the image tower (of 6 blocks)
  std::size_t text_omega = 2;    ///< and for the text tower (of 4 blocks)
  policy::ClassSkipOptions class_skip = default_class_skip();
  bool augment = true;           ///< fresh random views of the shots every epoch
  LinearProbeOptions probe{};
  std::size_t coop_context = 3;  ///< learned context tokens: "an emoji of" → 3 vectors
  double coop_learning_rate = 2e-3;

  /// AdamW, 5 epochs, batch 32, one warm-up epoch, cosine: the tiny model's recipe.
  static FitOptions default_fit() {
    FitOptions f;
    f.epochs = 5;
    f.batch_size = 32;
    f.batching = Batching::random;
    f.optimizer = OptimizerKind::adamw;
    f.text_learning_rate = 1e-4;
    f.vision_learning_rate = 1e-4;
    f.warmup_epochs = 1;
    f.warmup_learning_rate = 1e-5;
    f.weight_decay = 0.05;
    return f;
  }
  /// The paper's ρ = 0.5, λ = 0.3; max_top scaled to the task size.
  static policy::ClassSkipOptions default_class_skip() {
    policy::ClassSkipOptions o;
    o.top_ratio = 0.5;
    o.max_top = 50;
    o.reserve_scale = 0.3;
    return o;
  }
};

/// One method's outcome on one ProtocolRun.
struct MethodResult {
  Method method = Method::zero_shot;
  std::vector<std::pair<std::string, double>> accuracy;  ///< per Evaluation, in order
  double train_seconds = 0;
  std::size_t train_peak_bytes = 0;
  std::size_t steps = 0;
  double final_loss = std::nan("");

  [[nodiscard]] double accuracy_of(std::string_view name) const {
    for (const auto& [n, a] : accuracy)
      if (n == name) return a;
    throw ConfigError("no evaluation named '" + std::string(name) + "' in this result");
  }
};

/// The embedded default model (or any CLIP + merges file): weights and vocabulary.
struct PretrainedClip {
  std::filesystem::path weights;  ///< model.safetensors
  io::ClipTokenizer tokenizer;

  static PretrainedClip from_directory(const std::filesystem::path& dir) {
    require<IoError>(std::filesystem::exists(dir / "model.safetensors") && std::filesystem::exists(dir / "vocab.txt"),
                     "no model.safetensors + vocab.txt in ", dir.string(),
                     " (the embedded default is models/emojibench-tiny; run from the repository root or pass --model)");
    return {dir / "model.safetensors", io::ClipTokenizer(dir / "vocab.txt", {.max_merges = 0})};
  }
  [[nodiscard]] Clip<float> load(MemoryMeter& meter) const { return io::load_clip<float>(weights, meter); }
};

namespace detail {

/// Largest per-step allocator peak seen during a fit.
struct PeakRecorder {
  std::size_t* peak;
  void on_step_end(const StepEnd& e) { *peak = std::max(*peak, e.peak_bytes); }
};

inline std::vector<std::pair<std::string, double>> evaluate_all(const Clip<float>& model, const data::EmojiPack& pack,
                                                                 const ProtocolRun& run, const io::ClipTokenizer& tok) {
  std::vector<std::pair<std::string, double>> out;
  for (const Evaluation& e : run.evaluations)
    out.emplace_back(e.name, data::zero_shot_accuracy(model, pack, e.classes, e.plan, tok));
  return out;
}

/// Each row of x [N, E] scaled to unit L2 norm.
inline void normalize_rows(Tensor<float>& x) {
  const Index N = x.dim(0), E = x.dim(1);
  for (Index i = 0; i < N; ++i) {
    float* row = x.data() + i * E;
    double s = 0;
    for (Index e = 0; e < E; ++e) s += double(row[e]) * row[e];
    const float inv = static_cast<float>(1 / std::sqrt(std::max(s, 1e-24)));
    for (Index e = 0; e < E; ++e) row[e] *= inv;
  }
}

/// Normalised features [N, E] of `images` (encoded in chunks, no gradients).
inline Tensor<float> normalized_image_features(const Clip<float>& model, const Tensor<float>& images, Index chunk = 64) {
  auto& meter = model.meter();
  const Index N = images.dim(0), E = model.config().embed_dim, per = images.numel() / std::max<Index>(N, 1);
  Tensor<float> out({N, E}, meter, MemoryCategory::activations);
  for (Index start = 0; start < N; start += chunk) {
    const Index n = std::min(chunk, N - start);
    Tensor<float> batch({n, images.dim(1), images.dim(2), images.dim(3)}, meter, MemoryCategory::inputs);
    std::copy_n(images.data() + start * per, n * per, batch.data());
    const Tensor<float> f = encode(model.visual, batch);
    std::copy_n(f.data(), n * E, out.data() + start * E);
  }
  normalize_rows(out);
  return out;
}

inline Tensor<float> normalized_text_features(const Clip<float>& model, const Tensor<std::int32_t>& tokens) {
  Tensor<float> f = encode(model.text, tokens);
  normalize_rows(f);
  return f;
}

inline double top1(const std::vector<std::int32_t>& predicted, const std::vector<std::int32_t>& labels) {
  std::size_t right = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) right += predicted[i] == labels[i];
  return labels.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(labels.size());
}

}  // namespace detail

/// Everything a run needs besides the method: the pack, the pretrained model, progress output.
struct Harness {
  const data::EmojiPack* pack = nullptr;
  const PretrainedClip* pretrained = nullptr;
  std::ostream* progress = nullptr;  ///< FineTuner progress bar target; null = quiet

  [[nodiscard]] MethodResult run(Method method, const ProtocolRun& run, const MethodOptions& options) const {
    require<ConfigError>(pack && pretrained, "emojibench::Harness: pack and pretrained model must be set");
    MemoryMeter meter;
    Clip<float> model = pretrained->load(meter);
    MethodResult result;
    result.method = method;
    switch (method) {
      case Method::zero_shot: break;
      case Method::full_fine_tune: fine_tune(model, run, options, result); break;
      case Method::layer_skip:
        fine_tune(model, run, options, result, LayerSkip(options.vision_omega, options.text_omega));
        break;
      case Method::class_skip: fine_tune(model, run, options, result, ClassSkip(options.class_skip)); break;
      case Method::skip_tuning:
        fine_tune(model, run, options, result, LayerSkip(options.vision_omega, options.text_omega),
                  ClassSkip(options.class_skip));
        break;
      case Method::linear_probe: return linear_probe(model, run, options, result);
      case Method::coop: return coop(model, run, options, result);
    }
    result.accuracy = detail::evaluate_all(model, *pack, run, pretrained->tokenizer);
    return result;
  }

 private:
  /// The training set of `run`: the planned shots (fixed views) as clean tensors, labels as
  /// positions in run.train_classes, one prompt per class, and a fresh-view augmentation.
  struct TrainingSet {
    Tensor<float> images;
    Tensor<std::int32_t> prompts;
    ClipDataset<float> dataset;
  };

  TrainingSet training_set(const Clip<float>& model, const ProtocolRun& run, const MethodOptions& options) const {
    auto& meter = model.meter();
    TrainingSet set{data::plan_images(*pack, run.train_plan, meter, MemoryCategory::inputs),
                    data::prompt_tokens(*pack, run.train_classes, pretrained->tokenizer,
                                        model.config().text.context_length, meter),
                    {}};
    set.dataset.images = &set.images;
    set.dataset.class_token_ids = &set.prompts;
    set.dataset.labels = data::plan_labels(run.train_plan, run.train_classes);
    if (options.augment) {
      const data::EmojiPack* p = pack;
      const std::vector<data::PlannedImage> plan = run.train_plan;
      set.dataset.augment = [p, plan](std::size_t index, Rng& rng, float* out) {
        data::write_view(p->pixels(plan[index].image_index), p->image_side(), data::sample_emoji_view(rng), out);
      };
    }
    return set;
  }

  /// Run tuner.fit (with a progress bar when asked) and record its time, steps, last epoch's
  /// loss and the largest per-step allocator peak in `result`.
  template <class Tuner>
  void fit_and_record(Tuner& tuner, const ClipDataset<float>& data, const FitOptions& fit, MethodResult& result) const {
    std::size_t peak = 0;
    const FitResult r = progress ? tuner.fit(data, fit, detail::PeakRecorder{&peak}, ProgressBar(*progress))
                                 : tuner.fit(data, fit, detail::PeakRecorder{&peak});
    result.train_seconds = r.seconds;
    result.train_peak_bytes = peak;
    result.steps = r.steps;
    result.final_loss = r.epoch_mean_loss.empty() ? std::nan("") : r.epoch_mean_loss.back();
  }

  template <class... Policies>
  void fine_tune(Clip<float>& model, const ProtocolRun& run, const MethodOptions& options, MethodResult& result,
                 Policies... policies) const {
    TrainingSet set = training_set(model, run, options);
    FitOptions fit = options.fit;
    if (fit.batch_size > set.dataset.size()) fit.batch_size = set.dataset.size();
    FineTuner<Clip<float>, Policies...> tuner(model, std::move(policies)...);
    fit_and_record(tuner, set.dataset, fit, result);
  }

  MethodResult& linear_probe(Clip<float>& model, const ProtocolRun& run, const MethodOptions& options,
                             MethodResult& result) const {
    auto& meter = model.meter();
    const auto start = std::chrono::steady_clock::now();
    meter.reset_peak();
    Tensor<float> weights;
    {
      const Tensor<float> images = data::plan_images(*pack, run.train_plan, meter);
      const Tensor<float> features = detail::normalized_image_features(model, images);
      const Tensor<std::int32_t> prompts = data::prompt_tokens(*pack, run.train_classes, pretrained->tokenizer,
                                                               model.config().text.context_length, meter);
      weights = detail::normalized_text_features(model, prompts);
      const float scale = std::exp(model.logit_scale[0]);
      for (Index k = 0; k < weights.numel(); ++k) weights.data()[k] *= scale;
      const auto fitted = fit_linear_probe(features, data::plan_labels(run.train_plan, run.train_classes), weights,
                                           options.probe);
      result.final_loss = fitted.loss.back();
      result.steps = options.probe.iterations;
    }
    result.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.train_peak_bytes = meter.peak_total();
    // Trained classes use the probe; other candidate sets (new classes, other tasks) the
    // zero-shot head: the probe has no weights for classes it never saw.
    for (const Evaluation& e : run.evaluations) {
      if (e.classes != run.train_classes) {
        result.accuracy.emplace_back(e.name, data::zero_shot_accuracy(model, *pack, e.classes, e.plan,
                                                                      pretrained->tokenizer));
        continue;
      }
      const Tensor<float> images = data::plan_images(*pack, e.plan, meter);
      const Tensor<float> features = detail::normalized_image_features(model, images);
      result.accuracy.emplace_back(e.name, detail::top1(linear_probe_predict(features, weights),
                                                        data::plan_labels(e.plan, e.classes)));
    }
    return result;
  }

  /// CoOp: the learned context replaces "an emoji of" in every prompt, trained and new classes alike.
  MethodResult& coop(Clip<float>& model, const ProtocolRun& run, const MethodOptions& options,
                     MethodResult& result) const {
    TrainingSet set = training_set(model, run, options);
    FitOptions fit = options.fit;
    fit.text_learning_rate = fit.vision_learning_rate = options.coop_learning_rate;
    fit.warmup_learning_rate = options.coop_learning_rate / 10;
    fit.weight_decay = 0;
    if (fit.batch_size > set.dataset.size()) fit.batch_size = set.dataset.size();
    FineTuner<Clip<float>, PromptTuning> tuner(model, PromptTuning{.context_tokens = options.coop_context});
    fit_and_record(tuner, set.dataset, fit, result);
    auto& meter = model.meter();
    for (const Evaluation& e : run.evaluations) {
      const Tensor<std::int32_t> ids =
          data::prompt_tokens(*pack, e.classes, pretrained->tokenizer, model.config().text.context_length, meter);
      const Tensor<float> images = data::plan_images(*pack, e.plan, meter);
      result.accuracy.emplace_back(e.name, evaluate_accuracy_with_context(model, tuner.prompt_context(), images,
                                                                          data::plan_labels(e.plan, e.classes), ids));
    }
    return result;
  }
};

}  // namespace skiptune::emojibench
