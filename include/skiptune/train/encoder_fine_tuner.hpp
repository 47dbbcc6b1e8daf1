// skiptune/train/encoder_fine_tuner.hpp — FineTuner over ANY transformer: an Encoder (the
// concept in model/encoder.hpp) whose head outputs class logits, trained with cross-entropy
// under the same tower-level policies as CLIP (LayerSkip, FullFineTune, custom ω policies).
//
//   EncoderClassifier<MyEncoder> model{encoder};
//   FineTuner<EncoderClassifier<MyEncoder>, LayerSkip> tuner(model, LayerSkip{2});
//   tuner.fit(EncoderDataset<MyEncoder>{&inputs, labels}, options);
//
// LayerSkip works unchanged: blocks below ω are run once per epoch without gradients, their
// outputs cached, and training starts at block ω from the cache; backward stops there. Policies
// that need CLIP's text side (class selection) or image tokens (token drop) are rejected at
// compile time.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/encoder.hpp"
#include "skiptune/nn/contrastive_logits.hpp"
#include "skiptune/policy/hooks.hpp"
#include "skiptune/train/dataset.hpp"
#include "skiptune/train/fine_tuner.hpp"
#include "skiptune/train/optimizer.hpp"

namespace skiptune {

/// A classifier made of one Encoder whose features are the class logits [B, classes].
template <Encoder E>
struct EncoderClassifier {
  E* encoder;
};

/// Training data for an EncoderClassifier: inputs whose first axis indexes examples, and labels.
template <Encoder E>
struct EncoderDataset {
  const typename E::input_type* inputs = nullptr;  // [N, ...]
  std::vector<std::int32_t> labels;                // [N]
  std::size_t classes = 0;
};

template <class E, class... Policies>
class FineTuner<EncoderClassifier<E>, Policies...> {
  using T = typename E::scalar_type;
  using Input = typename E::input_type;
  static_assert(check_encoder<E>());
  static_assert((check_policy<Policies, T>() && ...));
  static_assert(count_providers<hook::select_classes, Policies...> == 0,
                "skiptune FineTuner<EncoderClassifier>: class selection needs CLIP's class prompts");
  static_assert(count_providers<hook::drop_tokens, Policies...> == 0,
                "skiptune FineTuner<EncoderClassifier>: token dropping is defined for CLIP's image tokens only");
  static_assert(count_providers<hook::prompt_context_tokens, Policies...> == 0,
                "skiptune FineTuner<EncoderClassifier>: a learned prompt context needs CLIP's class prompts");
  static_assert(count_providers<hook::trains_head, Policies...> == 0,
                "skiptune FineTuner<EncoderClassifier>: trains_head is not supported here (the classifier head "
                "always trains)");

 public:
  FineTuner(EncoderClassifier<E> model, Policies... policies) : encoder_(model.encoder), policies_(std::move(policies)...) {}

  template <class P>
  P& policy() {
    return std::get<P>(policies_);
  }

  void prepare(const EncoderDataset<E>& data, const FitOptions& options) {
    options.validate();
    require<ConfigError>(data.inputs != nullptr && !data.labels.empty(), "EncoderDataset: no inputs or labels");
    require<ShapeError>(data.inputs->rank() >= 1 && static_cast<std::size_t>(data.inputs->dim(0)) == data.labels.size(),
                        "EncoderDataset: ", data.inputs->dim(0), " inputs but ", data.labels.size(), " labels");
    for (std::size_t i = 0; i < data.labels.size(); ++i)
      require<InputError>(data.labels[i] >= 0 && static_cast<std::size_t>(data.labels[i]) < data.classes,
                          "EncoderDataset: label ", data.labels[i], " of example ", i, " is outside [0, ",
                          data.classes, ")");
    data_ = &data;
    options_ = options;
    root_rng_ = Rng(options.seed);
    Rng policy_rng = root_rng_.fork(1);
    const PolicyFitContext context{data.classes, data.labels.size(), options.epochs, encoder_->num_blocks(), 0};
    for_each_policy([&](auto& p) {
      using P = std::decay_t<decltype(p)>;
      if constexpr (provides_hook<P, hook::on_fit_begin>) p.on_fit_begin(context, policy_rng);
    });
    parts_resolved_ = false;
    cache_.release();
    resolve_parts();
  }

  void begin_epoch(std::size_t epoch) {
    for_each_policy([&](auto& p) {
      using P = std::decay_t<decltype(p)>;
      if constexpr (provides_hook<P, hook::on_epoch_begin>) p.on_epoch_begin(epoch, options_.epochs);
    });
    resolve_parts();
    if (parts_.first_trained_block > 0 && cache_.empty()) build_cache();
  }

  /// One step on examples `batch`; returns the loss.
  double train_step(const std::vector<std::size_t>& batch, double learning_rate) {
    auto& meter = encoder_->meter();
    const Index B = static_cast<Index>(batch.size());
    require<ConfigError>(data_ != nullptr, "FineTuner: call prepare() (or fit()) first");
    require<ConfigError>(B > 0, "FineTuner: batch size must be > 0");
    Tensor<std::int32_t> labels({B}, meter, MemoryCategory::inputs);
    for (Index b = 0; b < B; ++b) {
      require<InputError>(batch[b] < data_->labels.size(), "FineTuner: example index ", batch[b],
                          " is outside the dataset");
      labels[b] = data_->labels[batch[b]];
    }
    zero_gradients(grads_);
    EncoderPass<E> pass(*encoder_, parts_);
    Input inputs = gather_inputs(batch);
    Tensor<T> logits;
    if (parts_.first_trained_block == 0) {
      logits = pass.forward(inputs);
    } else {
      const auto geometry = encoder_->geometry(inputs);
      const Index rows_per_example = cache_rows_per_example_, W = cache_.cols();
      Tensor<T> states({B * rows_per_example, W}, meter, MemoryCategory::activations);
      for (Index b = 0; b < B; ++b)
        std::copy_n(cache_.data() + static_cast<Index>(batch[b]) * rows_per_example * W, rows_per_example * W,
                    states.data() + b * rows_per_example * W);
      logits = pass.forward_from(std::move(states), geometry);
    }
    const Index C = logits.dim(1);
    require<ShapeError>(logits.rank() == 2 && logits.dim(0) == B && static_cast<std::size_t>(C) == data_->classes,
                        "EncoderClassifier: the head must output logits [B, classes] = [", B, ",", data_->classes,
                        "], got ", logits.shape());
    Tensor<T> probs({B, C}, meter, MemoryCategory::activations), d_logits({B, C}, meter, MemoryCategory::workspace);
    const T loss = nn::cross_entropy_forward(cpu{}, probs.data(), logits.data(), labels.data(), B, C);
    nn::cross_entropy_backward(cpu{}, d_logits.data(), probs.data(), labels.data(), B, C);
    logits.release();
    probs.release();
    pass.backward(d_logits, grads_);
    optimizer_->step(std::vector<double>{learning_rate});
    return static_cast<double>(loss);
  }

  /// Epochs of random batches (the encoder has no per-class prompts); returns per-epoch mean loss.
  std::vector<double> fit(const EncoderDataset<E>& data, const FitOptions& options) {
    prepare(data, options);
    std::vector<double> means;
    Rng batch_rng = root_rng_.fork(2);
    for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
      begin_epoch(epoch);
      const auto batches = make_epoch_batches(data.labels, data.classes, options.batch_size, Batching::random, batch_rng);
      const CosineWithConstantWarmup schedule{options.vision_learning_rate, options.epochs, options.warmup_epochs,
                                              options.warmup_learning_rate};
      const double lr = schedule.lr_at_epoch(epoch);
      double sum = 0;
      for (const auto& b : batches) sum += train_step(b, lr);
      means.push_back(sum / static_cast<double>(batches.size()));
    }
    return means;
  }

  [[nodiscard]] const TrainableParts& parts() const noexcept { return parts_; }
  [[nodiscard]] EncoderGradients<E>& gradients() noexcept { return grads_; }

 private:
  template <class F>
  void for_each_policy(F&& f) {
    std::apply([&](auto&... p) { (f(p), ...); }, policies_);
  }

  void resolve_parts() {
    TrainableParts parts{};
    bool stem_voted = false, stem_trains = true;
    for_each_policy([&](auto& p) {
      using P = std::decay_t<decltype(p)>;
      if constexpr (provides_hook<P, hook::first_trained_block>)
        parts.first_trained_block =
            std::max(parts.first_trained_block, p.first_trained_block(Tower::vision, encoder_->num_blocks()));
      if constexpr (provides_hook<P, hook::trains_stem>) {
        stem_trains = stem_trains && p.trains_stem(Tower::vision);  // all must agree, as for CLIP
        stem_voted = true;
      }
    });
    parts.stem = stem_voted && stem_trains;
    require<ConfigError>(!(parts.stem && parts.first_trained_block > 0),
                         "a trained stem cannot be combined with LayerSkip (ω = ", parts.first_trained_block, ")");
    parts.validate(encoder_->num_blocks(), "encoder");
    if (parts_resolved_ && parts.first_trained_block == parts_.first_trained_block && parts.stem == parts_.stem) return;
    parts_ = parts;
    parts_resolved_ = true;
    grads_ = {};  // free before allocating: a change of ω never holds both
    grads_ = make_gradients(*encoder_, parts_);
    std::vector<ParameterGroup<T>> groups(1);
    groups[0].name = "encoder";
    for_each_trained_parameter(*encoder_, grads_, [&](const std::string& name, Tensor<T>& p, Tensor<T>& g) {
      groups[0].parameters.push_back({name, &p, &g});
    });
    optimizer_.reset();
    optimizer_.emplace(std::move(groups), encoder_->meter(), SgdOptions{0.0, options_.momentum, options_.weight_decay});
    cache_.release();
  }

  Input gather_inputs(const std::vector<std::size_t>& batch) const {
    const Input& all = *data_->inputs;
    const Index per_example = all.numel() / all.dim(0), B = static_cast<Index>(batch.size());
    Shape shape;
    switch (all.rank()) {
      case 1: shape = Shape{B}; break;
      case 2: shape = Shape{B, all.dim(1)}; break;
      case 3: shape = Shape{B, all.dim(1), all.dim(2)}; break;
      default: shape = Shape{B, all.dim(1), all.dim(2), all.dim(3)};
    }
    Input out(shape, encoder_->meter(), MemoryCategory::inputs);
    for (Index b = 0; b < B; ++b)
      std::copy_n(all.data() + static_cast<Index>(batch[b]) * per_example, per_example, out.data() + b * per_example);
    return out;
  }

  /// Block-ω outputs of every example (category cache), built once: the encoder takes no augmentation.
  /// Every example must give the same number of state rows (an encoder whose geometry depends on
  /// the batch, e.g. one that trims sequences to the batch's longest, is refused with a clear error).
  void build_cache() {
    const std::size_t N = data_->labels.size();
    for (std::size_t start = 0; start < N; start += static_cast<std::size_t>(options_.cache_chunk)) {
      std::vector<std::size_t> chunk;
      for (std::size_t i = start; i < std::min(N, start + static_cast<std::size_t>(options_.cache_chunk)); ++i)
        chunk.push_back(i);
      Input inputs = gather_inputs(chunk);
      Tensor<T> states = output_of_block(*encoder_, parts_.first_trained_block, inputs);
      const Index rows_per_example = states.rows() / static_cast<Index>(chunk.size());
      if (cache_.empty()) {
        cache_rows_per_example_ = rows_per_example;
        cache_ = Tensor<T>({static_cast<Index>(N) * rows_per_example, states.cols()}, encoder_->meter(),
                           MemoryCategory::cache);
      }
      require<ShapeError>(rows_per_example == cache_rows_per_example_ &&
                              states.rows() == rows_per_example * static_cast<Index>(chunk.size()) &&
                              states.cols() == cache_.cols(),
                          "LayerSkip cache: examples ", start, "..", start + chunk.size() - 1, " give ",
                          rows_per_example, " state rows each, the cache holds ", cache_rows_per_example_,
                          ": this encoder's token count depends on the batch, which a per-example cache cannot hold");
      std::copy_n(states.data(), states.numel(), cache_.data() + static_cast<Index>(start) * rows_per_example * states.cols());
    }
  }

  E* encoder_;
  std::tuple<Policies...> policies_;
  const EncoderDataset<E>* data_ = nullptr;
  FitOptions options_{};
  Rng root_rng_{1};
  bool parts_resolved_ = false;
  TrainableParts parts_{};
  EncoderGradients<E> grads_;
  std::optional<Sgd<T>> optimizer_;
  Tensor<T> cache_;
  Index cache_rows_per_example_ = 0;
};

}  // namespace skiptune
