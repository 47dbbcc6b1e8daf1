// skiptune/train/fine_tuner.hpp — FineTuner<Clip<T>, Policies...>: fine-tunes CLIP for
// classification under a composition of gradient-flow policies (policy/hooks.hpp).
//
//   FineTuner<Clip<float>>                               full fine-tuning (blocks + heads)
//   FineTuner<Clip<float>, LayerSkip>                    LSkip
//   FineTuner<Clip<float>, ClassSkip>                    CSkip
//   FineTuner<Clip<float>, LayerSkip, ClassSkip>         Skip Tuning
//   tuner.fit(dataset, options, ProgressBar{}, CsvLog{"log.csv"});
//
// What the policies decide, and how the tuner turns it into structure:
//  * first_trained_block(tower) = ω: blocks below ω are frozen; their output for every training
//    image (per epoch, under fresh augmentation) and every class prompt (once) is computed without
//    gradients and cached (category `cache`); a training step starts at block ω from the cache
//    and backward stops there. Frozen parameters own no gradient or optimizer buffers.
//  * select_classes: per batch, which prompts go through the text tower (m ≤ C) and the labels
//    remapped to positions among them. Prototypes for it: normalised zero-shot text features of
//    the pre-trained model, computed once.
//  * drop_tokens: which cached image tokens enter the trained blocks (class token always kept).
//  * trains_head(tower) = false freezes a head (ln + projection); gradients still pass through it.
//  * prompt_context_tokens = M (PromptTuning, CoOp): the tuner owns M learned context vectors
//    [M, W_text] that replace positions 1..M of every prompt, trains them (text learning rate,
//    checkpoint name "prompt_context") by backpropagating through the text tower down to its
//    embedded input, and evaluates prompts with them: prompt_features(ids).
// Text prompts run only up to the longest end-of-text position of the prompts in the step (exact).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/io/safetensors.hpp"
#include "skiptune/model/clip.hpp"
#include "skiptune/model/encoder.hpp"
#include "skiptune/policy/hooks.hpp"
#include "skiptune/policy/prompt_tuning.hpp"
#include "skiptune/policy/skip_tuning.hpp"
#include "skiptune/train/contrastive_loss.hpp"
#include "skiptune/train/dataset.hpp"
#include "skiptune/train/events.hpp"
#include "skiptune/train/evaluation.hpp"
#include "skiptune/train/observers.hpp"
#include "skiptune/train/optimizer.hpp"
#include "skiptune/train/schedule.hpp"

namespace skiptune {

enum class OptimizerKind { sgd, adamw };

/// Runtime settings of a fit. Defaults: the paper's base-to-new recipe (SGD momentum 0.9, wd 5e-4,
/// staged learning rates text 2e-5 / image 5e-6, one constant warm-up epoch at 1e-6, cosine, batch 4).
struct FitOptions {
  std::size_t epochs = 20;
  std::size_t batch_size = 4;
  Batching batching = Batching::reference;
  OptimizerKind optimizer = OptimizerKind::sgd;
  double text_learning_rate = 2e-5;
  double vision_learning_rate = 5e-6;
  std::size_t warmup_epochs = 1;
  double warmup_learning_rate = 1e-6;
  double momentum = 0.9;        // SGD
  double weight_decay = 5e-4;   // SGD (coupled) or AdamW (decoupled)
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;
  std::uint64_t seed = 1;
  /// Trainable state (trained parameters + optimizer state) written atomically at every epoch end.
  std::filesystem::path checkpoint_path;
  /// Images / prompts per chunk when building caches, prototypes and evaluating.
  Index cache_chunk = 32;

  void validate() const {
    require<ConfigError>(epochs > 0, "FitOptions: epochs must be > 0");
    require<ConfigError>(batch_size > 0, "FitOptions: batch size must be > 0, got ", batch_size);
    require<ConfigError>(warmup_epochs <= epochs, "FitOptions: warmup_epochs ", warmup_epochs, " > epochs ", epochs);
    require<ConfigError>(text_learning_rate >= 0 && vision_learning_rate >= 0 && warmup_learning_rate >= 0,
                         "FitOptions: learning rates must be >= 0");
    require<ConfigError>(cache_chunk > 0, "FitOptions: cache_chunk must be > 0");
  }
};

/// What one training step did.
struct StepResult {
  double loss = 0;
  std::size_t kept_classes = 0;
  std::size_t image_tokens = 0;  // tokens per image through the trained blocks
  std::size_t text_tokens = 0;   // positions per prompt through the trained blocks
};

struct FitResult {
  std::vector<double> epoch_mean_loss;
  std::size_t steps = 0;
  double seconds = 0;
  bool stopped_early = false;
  std::string stop_reason;
};

template <class Model, class... Policies>
class FineTuner;

template <class T, class Backend, class... Policies>
class FineTuner<Clip<T, Backend>, Policies...> {
  static_assert((check_policy<Policies, T>() && ...));
  static_assert(count_providers<hook::select_classes, Policies...> <= 1,
                "skiptune FineTuner: at most one policy may select classes (compose selectors in one policy)");
  static_assert(count_providers<hook::drop_tokens, Policies...> <= 1,
                "skiptune FineTuner: at most one policy may drop tokens");
  static_assert(count_providers<hook::prompt_context_tokens, Policies...> <= 1,
                "skiptune FineTuner: at most one policy may learn a prompt context");

 public:
  using Model = Clip<T, Backend>;
  using Vision = typename Model::Vision;
  using Text = typename Model::Text;
  static constexpr bool selects_classes = count_providers<hook::select_classes, Policies...> == 1;
  static constexpr bool drops_tokens = count_providers<hook::drop_tokens, Policies...> == 1;
  static constexpr bool tunes_prompt = count_providers<hook::prompt_context_tokens, Policies...> == 1;

  explicit FineTuner(Model& model, Policies... policies) : model_(&model), policies_(std::move(policies)...) {}
  /// Policies with their default hyperparameters.
  explicit FineTuner(Model& model)
    requires(sizeof...(Policies) > 0 && (std::default_initializable<Policies> && ...))
      : model_(&model) {}

  /// The policies, for runtime hyperparameters (sweeps need no recompilation).
  template <class P>
  P& policy() {
    return std::get<P>(policies_);
  }
  [[nodiscard]] Model& model() noexcept { return *model_; }

  // ---------------------------------------------------------------------------------------------
  // Setting up (fit() calls these; benchmarks and tests may call them directly).

  /// Validate everything, resolve the trained parts, allocate gradients and optimizer state,
  /// compute prototypes and the text cache. Clear errors before any training starts.
  void prepare(const ClipDataset<T>& data, const FitOptions& options) {
    options.validate();
    data.validate(model_->config());
    data_ = &data;
    options_ = options;
    root_rng_ = Rng(options.seed);
    PolicyFitContext context{data.classes(), data.size(), options.epochs, model_->visual.num_blocks(),
                             model_->text.num_blocks()};
    Rng policy_rng = root_rng_.fork(1);
    for_each_policy([&](auto& p) {
      using P = std::decay_t<decltype(p)>;
      if constexpr (provides_hook<P, hook::on_fit_begin>) p.on_fit_begin(context, policy_rng);
    });
    // A fresh run: forget the previous run's parts, optimizer (its kind may differ) and caches.
    image_cache_.release();
    text_cache_.release();
    prototypes_.release();
    optimizer_sgd_.reset();
    optimizer_adamw_.reset();
    parts_resolved_ = false;
    global_step_ = 0;
    if constexpr (tunes_prompt) prepare_prompt_context();  // before the optimizer takes it in
    resolve_parts();
    if constexpr (selects_classes) compute_prototypes();
    prepared_ = true;
  }

  /// Epoch start: policies' on_epoch_begin, re-resolve ω (a policy may change it), refresh caches.
  void begin_epoch(std::size_t epoch) {
    require<ConfigError>(prepared_, "FineTuner: call prepare() (or fit()) first");
    for_each_policy([&](auto& p) {
      using P = std::decay_t<decltype(p)>;
      if constexpr (provides_hook<P, hook::on_epoch_begin>) p.on_epoch_begin(epoch, options_.epochs);
    });
    resolve_parts();
    bool refresh = image_cache_.empty();  // first epoch, or ω changed
    if (!refresh && data_->augment) {
      for_each_policy([&](auto& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (provides_hook<P, hook::refreshes_image_cache>) refresh = refresh || p.refreshes_image_cache(epoch);
      });
    }
    if (vision_cached() && refresh) build_image_cache(epoch);
  }

  /// Learning rates (text, vision) of an epoch: cosine with constant warm-up, per group.
  [[nodiscard]] std::pair<double, double> learning_rates(std::size_t epoch) const {
    const CosineWithConstantWarmup text{options_.text_learning_rate, options_.epochs, options_.warmup_epochs,
                                        options_.warmup_learning_rate};
    const CosineWithConstantWarmup vision{options_.vision_learning_rate, options_.epochs, options_.warmup_epochs,
                                          options_.warmup_learning_rate};
    return {text.lr_at_epoch(epoch), vision.lr_at_epoch(epoch)};
  }

  // ---------------------------------------------------------------------------------------------
  // One training step on the images `batch` (indices into the dataset).

  StepResult train_step(const std::vector<std::size_t>& batch, double text_learning_rate,
                        double vision_learning_rate, Tensor<T>* logits_out = nullptr) {
    require<ConfigError>(prepared_, "FineTuner: call prepare() (or fit()) first");
    require<ConfigError>(!batch.empty(), "FineTuner: batch size must be > 0");
    Model& m = *model_;
    auto& meter = m.meter();
    const Index B = static_cast<Index>(batch.size()), E = m.config().embed_dim;
    StepResult result;
    Rng step_rng = root_rng_.fork(1000 + global_step_);

    Tensor<std::int32_t> labels({B}, meter, MemoryCategory::inputs);
    for (Index b = 0; b < B; ++b) {
      require<InputError>(batch[b] < data_->size(), "FineTuner: image index ", batch[b], " is outside the dataset");
      labels[b] = data_->labels[batch[b]];
    }
    zero_gradients(vision_grads_);
    zero_gradients(text_grads_);
    if constexpr (tunes_prompt) prompt_context_grad_.fill(T(0));

    EncoderPass<Vision> vision_pass(m.visual, vision_parts_);
    EncoderPass<Text> text_pass(m.text, text_parts_, text_pass_options());
    Tensor<T> image_features = vision_forward(vision_pass, batch, step_rng, result);

    // Which classes go through the text tower, and the labels among them.
    policy::ClassSelection selection;
    if constexpr (selects_classes) {
      Tensor<T> similarity = class_similarity(image_features);
      const ClassSelectionInput<T> input{similarity.data(), labels.data(), batch.size(), data_->classes()};
      Rng selection_rng = step_rng.fork(2);
      for_each_policy([&](auto& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (provides_hook<P, hook::select_classes>) p.select_classes(input, selection, selection_rng);
      });
      check_selection(selection, labels);
    } else {
      selection.kept_classes.resize(data_->classes());
      std::iota(selection.kept_classes.begin(), selection.kept_classes.end(), 0);
      selection.remapped_labels.assign(labels.data(), labels.data() + B);
    }
    result.kept_classes = selection.kept_classes.size();
    Tensor<std::int32_t> text_ids;  // the kept prompts' ids when there is no text cache; the text
                                    // stem's backward reads them, so they live until backward ends
    Tensor<T> text_features = text_forward(text_pass, selection.kept_classes, text_ids, result);

    Tensor<T> d_image_features({B, E}, meter, MemoryCategory::workspace);
    Tensor<T> d_text_features({text_features.dim(0), E}, meter, MemoryCategory::workspace);
    result.loss = static_cast<double>(contrastive_loss_and_gradients(
        Backend{}, image_features, text_features, selection.remapped_labels.data(), m.logit_scale[0], (T*)nullptr,
        d_image_features, d_text_features, meter, logits_out));
    image_features.release();
    text_features.release();
    // Prompt tuning: ∂L/∂(embedded prompts) [m·T, W] from the text pass, summed into the context.
    Tensor<T> d_embedded_prompts = text_pass.backward(d_text_features, text_grads_);
    if constexpr (tunes_prompt)
      prompt_tuning::accumulate_context_gradient(prompt_context_grad_, d_embedded_prompts, text_pass.geometry());
    d_embedded_prompts.release();
    d_text_features.release();
    text_ids.release();
    vision_pass.backward(d_image_features, vision_grads_);  // a no-op when the vision tower is frozen
    d_image_features.release();

    optimizer_step(text_learning_rate, vision_learning_rate);
    ++global_step_;
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // The whole run.

  template <class... Observers>
  FitResult fit(const ClipDataset<T>& data, const FitOptions& options, Observers&&... observers) {
    const auto fit_start = std::chrono::steady_clock::now();
    prepare(data, options);
    FitResult result;
    Rng batch_rng = root_rng_.fork(2);
    std::size_t trained = 0;
    for_each_trained([&](const std::string&, Tensor<T>& p, Tensor<T>&, bool) { trained += std::size_t(p.numel()); });
    const std::size_t steps_per_epoch = std::max<std::size_t>(1, make_epoch_batches(data.labels, data.classes(),
                                                                                     options.batch_size,
                                                                                     options.batching, batch_rng)
                                                                     .size());
    batch_rng = root_rng_.fork(2);
    notify_fit_begin(FitBegin{options.epochs, steps_per_epoch, trained, 0, description()}, observers...);

    double last_finite_loss = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t epoch = 0; epoch < options.epochs && !result.stopped_early; ++epoch) {
      const auto epoch_start = std::chrono::steady_clock::now();
      begin_epoch(epoch);
      auto batches = make_epoch_batches(data.labels, data.classes(), options.batch_size, options.batching, batch_rng);
      const auto [text_lr, vision_lr] = learning_rates(epoch);
      double loss_sum = 0;
      std::size_t epoch_peak = 0, steps_run = 0;
      auto& meter = model_->meter();
      for (std::size_t s = 0; s < batches.size(); ++s) {
        const auto step_start = std::chrono::steady_clock::now();
        meter.reset_peak();
        StepResult step;
        try {
          step = train_step(batches[s], text_lr, vision_lr);
        } catch (const NumericError& e) {
          throw NumericError(detail::message("training stopped at step ", global_step_, " (epoch ", epoch, ", batch ",
                                             s, "): ", e.what(), "; last finite loss ", last_finite_loss,
                                             options.checkpoint_path.empty()
                                                 ? std::string()
                                                 : "; the last checkpoint " + options.checkpoint_path.string() +
                                                       " is intact"));
        }
        last_finite_loss = step.loss;
        loss_sum += step.loss;
        ++steps_run;
        epoch_peak = std::max(epoch_peak, meter.peak_total());
        ++result.steps;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
        const StepEnd event{epoch, options.epochs, s, batches.size(), global_step_ - 1, step.loss, text_lr, seconds,
                            meter.peak_total(), step.kept_classes};
        if (!notify_step_end(event, observers...)) {
          result.stopped_early = true;
          result.stop_reason = stop_reasons(observers...);
          if (result.stop_reason.empty())
            result.stop_reason = "an observer asked to stop after step " + std::to_string(global_step_ - 1);
          break;
        }
      }
      const double mean = loss_sum / static_cast<double>(std::max<std::size_t>(1, steps_run));
      result.epoch_mean_loss.push_back(mean);
      if (!options.checkpoint_path.empty()) save_checkpoint(options.checkpoint_path, epoch);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      if (!notify_epoch_end(EpochEnd{epoch, options.epochs, mean, seconds, std::nullopt, epoch_peak},
                            observers...) &&
          !result.stopped_early) {
        result.stopped_early = true;
        result.stop_reason = stop_reasons(observers...);
        if (result.stop_reason.empty()) result.stop_reason = "an observer asked to stop after epoch " + std::to_string(epoch);
      }
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - fit_start).count();
    notify_fit_end(FitEnd{result.epoch_mean_loss.size(), result.seconds, result.stopped_early, result.stop_reason},
                   observers...);
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection.

  [[nodiscard]] const TrainableParts& vision_parts() const noexcept { return vision_parts_; }
  [[nodiscard]] const TrainableParts& text_parts() const noexcept { return text_parts_; }
  [[nodiscard]] EncoderGradients<Vision>& vision_gradients() noexcept { return vision_grads_; }
  [[nodiscard]] EncoderGradients<Text>& text_gradients() noexcept { return text_grads_; }
  [[nodiscard]] const Tensor<T>& image_cache() const noexcept { return image_cache_; }
  [[nodiscard]] const Tensor<T>& text_cache() const noexcept { return text_cache_; }
  [[nodiscard]] std::size_t global_step() const noexcept { return global_step_; }

  /// Prompt tuning: the learned context [M, W_text] (after prepare()) and its gradient.
  [[nodiscard]] Tensor<T>& prompt_context() noexcept
    requires tunes_prompt
  {
    return prompt_context_;
  }
  [[nodiscard]] const Tensor<T>& prompt_context_gradient() const noexcept
    requires tunes_prompt
  {
    return prompt_context_grad_;
  }
  /// Prompt tuning: text features [C', E] of any prompts [C', L] with the learned context at
  /// positions 1..M (new classes: tokenise "an emoji of {name}" as in training). Inference only.
  [[nodiscard]] Tensor<T> prompt_features(const Tensor<std::int32_t>& ids) const
    requires tunes_prompt
  {
    require<ConfigError>(!prompt_context_.empty(), "FineTuner: prompt_features needs a context: call prepare() "
                                                   "(or fit()) first");
    return encode_with_context(model_->text, ids, prompt_context_);
  }

  /// f(name, parameter, gradient, is_text_tower) for every trained parameter.
  template <class F>
  void for_each_trained(F&& f) {
    for_each_trained_parameter(model_->visual, vision_grads_,
                               [&](const std::string& n, Tensor<T>& p, Tensor<T>& g) { f(n, p, g, false); });
    for_each_trained_parameter(model_->text, text_grads_,
                               [&](const std::string& n, Tensor<T>& p, Tensor<T>& g) { f(n, p, g, true); });
    if constexpr (tunes_prompt) f(std::string("prompt_context"), prompt_context_, prompt_context_grad_, true);
  }

  /// A one-line description of the policies and their hyperparameters.
  [[nodiscard]] std::string description() const {
    std::string text = "FineTuner(vision ω=" + std::to_string(vision_parts_.first_trained_block) +
                       ", text ω=" + std::to_string(text_parts_.first_trained_block);
    if constexpr (selects_classes) text += ", class selection";
    if constexpr (drops_tokens) text += ", token drop";
    if constexpr (tunes_prompt)
      text += ", prompt context M=" + std::to_string(prompt_context_.empty() ? Index{0} : prompt_context_.dim(0));
    return text + ")";
  }

  /// Trained parameters and optimizer state as a float32 safetensors file (atomic write).
  void save_checkpoint(const std::filesystem::path& path, std::size_t epoch) {
    std::vector<std::vector<float>> storage;
    std::vector<io::FloatTensorView> views;
    auto add = [&](const std::string& name, const Tensor<T>& t) {
      std::vector<std::int64_t> shape;
      for (int a = 0; a < t.rank(); ++a) shape.push_back(t.dim(a));
      storage.emplace_back(t.data(), t.data() + t.numel());
      views.push_back({name, shape, nullptr});
    };
    for_each_trained([&](const std::string& name, Tensor<T>& p, Tensor<T>&, bool) { add(name, p); });
    for_each_optimizer_state([&](const std::string& name, Tensor<T>& s) { add("optimizer." + name, s); });
    for (std::size_t i = 0; i < views.size(); ++i) views[i].data = storage[i].data();
    io::write_safetensors(path, views,
                          {{"format", "skiptune-trainable-state"},
                           {"epoch", std::to_string(epoch)},
                           {"global_step", std::to_string(global_step_)},
                           {"description", description()}});
  }

 private:
  template <class F>
  void for_each_policy(F&& f) {
    std::apply([&](auto&... p) { (f(p), ...); }, policies_);
  }

  [[nodiscard]] bool vision_cached() const noexcept { return vision_parts_.first_trained_block > 0; }
  /// Prompt tuning runs every prompt from its (context-substituted) embedding: no text cache.
  [[nodiscard]] bool text_cached() const noexcept { return !tunes_prompt && text_parts_.first_trained_block > 0; }

  /// Prompt tuning asks the text pass for ∂L/∂(embedded prompts) through the frozen blocks.
  [[nodiscard]] PassOptions text_pass_options() const {
    PassOptions options;
    if constexpr (tunes_prompt) options.input_gradient_at = 0;
    return options;
  }

  /// Prompt tuning, in prepare(): M from the policy, the class prompts checked (shared ids at
  /// 1..M, every end-of-text after M), the context [M, W] from their token embeddings, a zero
  /// gradient buffer for it.
  void prepare_prompt_context() {
    std::size_t context_tokens = 0;
    for_each_policy([&](auto& p) {
      using P = std::decay_t<decltype(p)>;
      if constexpr (provides_hook<P, hook::prompt_context_tokens>) context_tokens = p.prompt_context_tokens();
    });
    const auto& ids = *data_->class_token_ids;
    prompt_tuning::require_context_fits(model_->text.geometry(ids), context_tokens, "PromptTuning");
    prompt_tuning::require_shared_prefix(ids, context_tokens);
    prompt_context_grad_.release();  // a second prepare() starts from the prompts again
    prompt_context_.release();
    prompt_context_ = prompt_tuning::initial_context(model_->text, ids, context_tokens);
    prompt_context_grad_ = Tensor<T>::zeros(prompt_context_.shape(), model_->meter(), MemoryCategory::gradients);
  }

  /// ω and stems from the policies; reallocates gradients, optimizer state and caches when they change.
  void resolve_parts() {
    TrainableParts vision{}, text{};
    bool stems_train = false;
    bool stem_voted = false;
    for_each_policy([&](auto& p) {
      using P = std::decay_t<decltype(p)>;
      if constexpr (provides_hook<P, hook::first_trained_block>) {
        vision.first_trained_block = std::max(vision.first_trained_block,
                                              p.first_trained_block(Tower::vision, model_->visual.num_blocks()));
        text.first_trained_block =
            std::max(text.first_trained_block, p.first_trained_block(Tower::text, model_->text.num_blocks()));
      }
      if constexpr (provides_hook<P, hook::trains_stem>) {
        stems_train = (stem_voted ? stems_train : true) && p.trains_stem(Tower::vision) && p.trains_stem(Tower::text);
        stem_voted = true;
      }
      if constexpr (provides_hook<P, hook::trains_head>) {  // AND; nobody asks: the heads train
        vision.head = vision.head && p.trains_head(Tower::vision);
        text.head = text.head && p.trains_head(Tower::text);
      }
    });
    vision.stem = text.stem = stem_voted && stems_train;
    vision.validate(model_->visual.num_blocks(), "vision tower");
    text.validate(model_->text.num_blocks(), "text tower");
    require<ConfigError>(!(drops_tokens && vision.first_trained_block == 0),
                         "TokenDrop needs LayerSkip's image cache (vision ω > 0)");
    require<ConfigError>(!((vision.stem || text.stem) && (vision.first_trained_block > 0 || text.first_trained_block > 0)),
                         "a trained stem cannot be combined with LayerSkip");
    const bool changed = !parts_resolved_ || vision.first_trained_block != vision_parts_.first_trained_block ||
                         text.first_trained_block != text_parts_.first_trained_block ||
                         vision.stem != vision_parts_.stem || text.stem != text_parts_.stem ||
                         vision.head != vision_parts_.head || text.head != text_parts_.head;
    if (!changed) return;
    const bool vision_omega_changed = !parts_resolved_ || vision.first_trained_block != vision_parts_.first_trained_block;
    const bool text_omega_changed = !parts_resolved_ || text.first_trained_block != text_parts_.first_trained_block;
    vision_parts_ = vision;
    text_parts_ = text;
    parts_resolved_ = true;
    // Gradients and optimizer state exist for exactly the trained parameters. Optimizer state of
    // parameters that stay trained is kept (keyed by parameter).
    // Free the old buffers before allocating the new ones, so a change of ω never holds both.
    vision_grads_ = {};
    text_grads_ = {};
    vision_grads_ = make_gradients(model_->visual, vision_parts_);
    text_grads_ = make_gradients(model_->text, text_parts_);
    rebuild_optimizer();
    if (vision_omega_changed) {
      image_cache_.release();
      }
    if (text_omega_changed) {
      text_cache_.release();
      if (text_cached() && data_ != nullptr) build_text_cache();
    }
  }

  void rebuild_optimizer() {
    std::vector<ParameterGroup<T>> groups(2);
    groups[0].name = "vision";
    groups[1].name = "text";
    for_each_trained([&](const std::string& name, Tensor<T>& p, Tensor<T>& g, bool text) {
      groups[text ? 1 : 0].parameters.push_back({name, &p, &g});
    });
    // Keep the state of parameters that were already trained (ω changes mid-run).
    std::map<std::string, std::vector<T>> previous;
    const std::size_t previous_steps = optimizer_sgd_     ? optimizer_sgd_->step_count()
                                       : optimizer_adamw_ ? optimizer_adamw_->step_count()
                                                          : 0;
    if (optimizer_sgd_ || optimizer_adamw_)
      for_each_optimizer_state([&](const std::string& name, Tensor<T>& s) {
        previous[name].assign(s.data(), s.data() + s.numel());
      });
    optimizer_sgd_.reset();
    optimizer_adamw_.reset();
    auto& meter = model_->meter();
    if (options_.optimizer == OptimizerKind::sgd)
      optimizer_sgd_.emplace(std::move(groups), meter, SgdOptions{0.0, options_.momentum, options_.weight_decay});
    else
      optimizer_adamw_.emplace(std::move(groups), meter,
                               AdamWOptions{0.0, options_.adam_beta1, options_.adam_beta2, options_.adam_eps,
                                            options_.weight_decay});
    for_each_optimizer_state([&](const std::string& name, Tensor<T>& s) {
      auto it = previous.find(name);
      if (it != previous.end() && it->second.size() == std::size_t(s.numel())) std::copy(it->second.begin(), it->second.end(), s.data());
    });
    // AdamW's bias correction depends on the step count: it continues. (Newly trained parameters
    // start from zero moments under the same count — a known approximation when ω shrinks.)
    if (optimizer_sgd_) optimizer_sgd_->set_step_count(previous_steps);
    if (optimizer_adamw_) optimizer_adamw_->set_step_count(previous_steps);
  }

  template <class F>
  void for_each_optimizer_state(F&& f) {
    if (optimizer_sgd_) optimizer_sgd_->for_each_state_tensor(f);
    if (optimizer_adamw_) optimizer_adamw_->for_each_state_tensor(f);
  }

  void optimizer_step(double text_learning_rate, double vision_learning_rate) {
    const std::vector<double> rates = {vision_learning_rate, text_learning_rate};
    if (optimizer_sgd_) optimizer_sgd_->step(rates);
    if (optimizer_adamw_) optimizer_adamw_->step(rates);
  }

  /// Copy (and augment, with a per-image stream) dataset images into a batch tensor [n, 3, R, R].
  Tensor<T> gather_images(const std::size_t* indices, Index n, Rng& rng, MemoryCategory category) {
    const Tensor<T>& all = *data_->images;
    const Index per_image = all.numel() / all.dim(0);
    Tensor<T> images({n, 3, all.dim(2), all.dim(3)}, model_->meter(), category);
    for (Index b = 0; b < n; ++b) {
      T* dst = images.data() + b * per_image;
      if (data_->augment) {
        Rng image_rng = rng.fork(indices[b]);
        data_->augment(indices[b], image_rng, dst);
      } else {
        std::copy_n(all.data() + static_cast<Index>(indices[b]) * per_image, per_image, dst);
      }
    }
    return images;
  }

  /// Image features [B, E] of the batch: from LayerSkip's cache (block ω outputs) or from pixels.
  Tensor<T> vision_forward(EncoderPass<Vision>& pass, const std::vector<std::size_t>& batch, Rng& step_rng,
                           StepResult& result) {
    const Index B = static_cast<Index>(batch.size());
    if (!vision_cached()) {
      Rng augment_rng = step_rng.fork(1);
      Tensor<T> images = gather_images(batch.data(), B, augment_rng, MemoryCategory::inputs);
      result.image_tokens = static_cast<std::size_t>(model_->config().vision.tokens());
      return pass.forward(images);
    }
    const Index tokens = model_->config().vision.tokens(), W = model_->config().vision.width;
    std::vector<Index> kept(static_cast<std::size_t>(tokens));
    std::iota(kept.begin(), kept.end(), Index{0});
    if constexpr (drops_tokens) {
      Rng drop_rng = step_rng.fork(3);
      for_each_policy([&](auto& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (provides_hook<P, hook::drop_tokens>)
          p.drop_tokens(TokenDropInput{batch.size(), static_cast<std::size_t>(tokens)}, kept, drop_rng);
      });
      require<Error>(!kept.empty() && kept.front() == 0 && std::is_sorted(kept.begin(), kept.end()) &&
                         kept.back() < tokens,
                     "drop_tokens must keep the class token 0 and return sorted positions < ", tokens);
    }
    const Index K = static_cast<Index>(kept.size());
    Tensor<T> states({B * K, W}, model_->meter(), MemoryCategory::activations);
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < K; ++k)
        std::copy_n(image_cache_.data() + (static_cast<Index>(batch[b]) * tokens + kept[k]) * W, W,
                    states.data() + (b * K + k) * W);
    result.image_tokens = static_cast<std::size_t>(K);
    return pass.forward_from(std::move(states), VisionGeometry{B, K});
  }

  /// Text features [m, E] of the kept classes: from the text cache or from token ids.
  Tensor<T> text_forward(EncoderPass<Text>& pass, const std::vector<std::int32_t>& kept, Tensor<std::int32_t>& ids,
                         StepResult& result) {
    const Index M = static_cast<Index>(kept.size()), L = data_->class_token_ids->dim(1);
    const auto& all_ids = *data_->class_token_ids;
    if (!text_cached()) {
      ids = Tensor<std::int32_t>({M, L}, model_->meter(), MemoryCategory::inputs);
      for (Index i = 0; i < M; ++i) std::copy_n(all_ids.data() + kept[i] * L, L, ids.data() + i * L);
      Tensor<T> features;
      if constexpr (tunes_prompt) {  // the stem with the context at 1..M, then every block recorded
        TextGeometry g = model_->text.geometry(ids);
        Tensor<T> embedded = prompt_tuning::embed_with_context(model_->text, ids, g, prompt_context_);
        features = pass.forward_from(std::move(embedded), std::move(g));
      } else {
        features = pass.forward(ids);
      }
      result.text_tokens = static_cast<std::size_t>(pass.geometry().tokens);
      return features;
    }
    const Index W = model_->config().text.width;
    TextGeometry g;
    g.sequences = M;
    g.context = L;
    g.eot_positions.resize(kept.size());
    Index longest = 0;
    for (Index i = 0; i < M; ++i) {
      g.eot_positions[i] = text_cache_eot_[kept[i]];
      longest = std::max(longest, g.eot_positions[i] + 1);
    }
    g.tokens = model_->text.truncate_after_eot ? longest : text_cache_tokens_;
    Tensor<T> states({M * g.tokens, W}, model_->meter(), MemoryCategory::activations);
    for (Index i = 0; i < M; ++i)
      std::copy_n(text_cache_.data() + static_cast<Index>(kept[i]) * text_cache_tokens_ * W, g.tokens * W,
                  states.data() + i * g.tokens * W);
    result.text_tokens = static_cast<std::size_t>(g.tokens);
    return pass.forward_from(std::move(states), std::move(g));
  }

  /// LayerSkip's image cache: block-ω outputs of every training image [N · tokens, W] (category
  /// cache), under this epoch's augmentation.
  void build_image_cache(std::size_t epoch) {
    const Index N = static_cast<Index>(data_->size()), tokens = model_->config().vision.tokens(),
                W = model_->config().vision.width;
    if (image_cache_.empty()) image_cache_ = Tensor<T>({N * tokens, W}, model_->meter(), MemoryCategory::cache);
    Rng epoch_rng = root_rng_.fork(3).fork(epoch);
    std::vector<std::size_t> indices(static_cast<std::size_t>(N));
    std::iota(indices.begin(), indices.end(), std::size_t{0});
    for (Index start = 0; start < N; start += options_.cache_chunk) {
      const Index n = std::min(options_.cache_chunk, N - start);
      Tensor<T> images = gather_images(indices.data() + start, n, epoch_rng, MemoryCategory::workspace);
      Tensor<T> states = output_of_block(model_->visual, vision_parts_.first_trained_block, images);
      std::copy_n(states.data(), states.numel(), image_cache_.data() + start * tokens * W);
    }
  }

  /// LayerSkip's text cache: block-ω outputs of every class prompt [C · T, W] (category cache),
  /// T = the longest end-of-text position + 1 over all prompts. Built once: it depends only on
  /// frozen layers.
  void build_text_cache() {
    const auto& all_ids = *data_->class_token_ids;
    const Index C = all_ids.dim(0), L = all_ids.dim(1), W = model_->config().text.width;
    const TextGeometry all = model_->text.geometry(all_ids);  // validates every prompt
    text_cache_eot_ = all.eot_positions;
    text_cache_tokens_ = 0;
    for (Index e : all.eot_positions) text_cache_tokens_ = std::max(text_cache_tokens_, e + 1);
    if (!model_->text.truncate_after_eot) text_cache_tokens_ = L;
    const Index T_all = text_cache_tokens_;
    text_cache_ = Tensor<T>::zeros({C * T_all, W}, model_->meter(), MemoryCategory::cache);
    for (Index start = 0; start < C; start += options_.cache_chunk) {
      const Index n = std::min(options_.cache_chunk, C - start);
      Tensor<std::int32_t> ids({n, T_all}, model_->meter(), MemoryCategory::workspace);
      for (Index i = 0; i < n; ++i) std::copy_n(all_ids.data() + (start + i) * L, T_all, ids.data() + i * T_all);
      const TextGeometry g = model_->text.geometry(ids);
      Tensor<T> states = output_of_block(model_->text, text_parts_.first_trained_block, ids);
      // Each prompt's rows up to this chunk's longest EOT; later positions stay zero — they come
      // after that prompt's own end-of-text and, the mask being causal, never influence it.
      for (Index i = 0; i < n; ++i)
        std::copy_n(states.data() + i * g.tokens * W, g.tokens * W, text_cache_.data() + (start + i) * T_all * W);
    }
  }

  /// Frozen zero-shot prototypes [C, E]: normalised text features of the pre-trained model.
  void compute_prototypes() {
    const auto& all_ids = *data_->class_token_ids;
    const Index C = all_ids.dim(0), L = all_ids.dim(1), E = model_->config().embed_dim;
    prototypes_ = Tensor<T>({C, E}, model_->meter(), MemoryCategory::cache);
    for (Index start = 0; start < C; start += options_.cache_chunk) {
      const Index n = std::min(options_.cache_chunk, C - start);
      Tensor<std::int32_t> ids({n, L}, model_->meter(), MemoryCategory::workspace);
      std::copy_n(all_ids.data() + start * L, n * L, ids.data());
      Tensor<T> features = encode(model_->text, ids);
      Tensor<T> norms({n}, model_->meter(), MemoryCategory::workspace);
      nn::l2_normalize_forward(Backend{}, prototypes_.data() + start * E, norms.data(), features.data(), n, E);
    }
  }

  /// S [B, C] = normalize(image features) · prototypesᵀ (no gradients).
  Tensor<T> class_similarity(const Tensor<T>& image_features) {
    const Index B = image_features.dim(0), E = image_features.dim(1), C = prototypes_.dim(0);
    auto& meter = model_->meter();
    Tensor<T> normalised({B, E}, meter, MemoryCategory::workspace), norms({B}, meter, MemoryCategory::workspace);
    nn::l2_normalize_forward(Backend{}, normalised.data(), norms.data(), image_features.data(), B, E);
    Tensor<T> similarity({B, C}, meter, MemoryCategory::workspace);
    similarity.matrix().noalias() = normalised.matrix() * prototypes_.matrix().transpose();
    return similarity;
  }

  void check_selection(const policy::ClassSelection& selection, const Tensor<std::int32_t>& labels) const {
    const auto& kept = selection.kept_classes;
    require<Error>(!kept.empty() && std::is_sorted(kept.begin(), kept.end()) &&
                       std::adjacent_find(kept.begin(), kept.end()) == kept.end() && kept.front() >= 0 &&
                       static_cast<std::size_t>(kept.back()) < data_->classes(),
                   "select_classes must return distinct, ascending class indices in [0, ", data_->classes(), ")");
    require<Error>(selection.remapped_labels.size() == static_cast<std::size_t>(labels.numel()),
                   "select_classes must remap every label of the batch");
    for (Index b = 0; b < labels.numel(); ++b) {
      const auto r = selection.remapped_labels[static_cast<std::size_t>(b)];
      require<Error>(r >= 0 && static_cast<std::size_t>(r) < kept.size() && kept[static_cast<std::size_t>(r)] == labels[b],
                     "select_classes dropped or mis-mapped the ground-truth class ", labels[b], " of batch item ", b);
    }
  }

  Model* model_;
  std::tuple<Policies...> policies_;
  const ClipDataset<T>* data_ = nullptr;
  FitOptions options_{};
  Rng root_rng_{1};
  bool prepared_ = false;
  bool parts_resolved_ = false;
  TrainableParts vision_parts_{}, text_parts_{};
  EncoderGradients<Vision> vision_grads_;
  EncoderGradients<Text> text_grads_;
  std::optional<Sgd<T>> optimizer_sgd_;
  std::optional<AdamW<T>> optimizer_adamw_;
  Tensor<T> image_cache_, text_cache_, prototypes_;
  Tensor<T> prompt_context_, prompt_context_grad_;  // prompt tuning: [M, W_text] and its gradient
  std::vector<Index> text_cache_eot_;
  Index text_cache_tokens_ = 0;
  std::size_t global_step_ = 0;
};

}  // namespace skiptune
