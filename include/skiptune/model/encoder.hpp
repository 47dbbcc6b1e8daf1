// skiptune/model/encoder.hpp — the Encoder concept ("any transformer type") and everything the
// library derives from it: run blocks [a, b), the output of block ω, a training pass that
// starts at block ω and a backward that stops there, and the split of parameters into trained
// and frozen — with gradient buffers only for the trained part.
//
// An Encoder is stem → blocks → head. A type models it by providing (T = scalar_type):
//   types   scalar_type, input_type, geometry_type, stem/block/head_parameters (structs with
//           for_each(f(name, Tensor<T>&))), stem/block/head_record
//   size    num_blocks(), meter(), geometry(input) (validates the input)
//   stem    stem_forward(input, geometry, stem_record*) -> Tensor<T>   (null record = inference)
//           stem_backward(d_states, stem_record&&, stem_parameters& grads, geometry)
//   blocks  block_forward(i, states&, geometry)                       (inference, in place)
//           block_forward_train(i, states&&, block_record&, geometry) -> Tensor<T>
//           block_backward(i, d_states&, block_record&&, block_parameters& grads, geometry,
//                          bool need_input_gradient)                 (d_states: out → in)
//   head    head_forward(states, geometry, head_record*) -> features
//           head_backward(d_features, head_record&&, head_parameters& grads, geometry,
//                         bool need_states_gradient) -> d_states
//   access  stem(), block(i), head() -> parameter structs; block_prefix(i), stem_prefix(),
//           head_prefix() -> checkpoint name prefixes; name() -> the tower's name in messages
// Gradient rule: parameter gradients accumulate; an empty gradient tensor means "frozen, skip".
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune {

// ---------------------------------------------------------------------------------------------
// The concept, split into named parts so a failing type gets a sentence, not a template dump.

template <class E>
concept EncoderTypes = requires {
  typename E::scalar_type;
  typename E::input_type;
  typename E::geometry_type;
  typename E::stem_parameters;
  typename E::block_parameters;
  typename E::head_parameters;
  typename E::stem_record;
  typename E::block_record;
  typename E::head_record;
};

template <class P, class T>
concept ParameterStruct = std::default_initializable<P> && requires(P& p) {
  p.for_each([](const char*, Tensor<T>&) {});
};

template <class E>
concept EncoderSize = EncoderTypes<E> && requires(const E& e, const typename E::input_type& input) {
  { e.num_blocks() } -> std::convertible_to<std::size_t>;
  { e.meter() } -> std::same_as<MemoryMeter&>;
  { e.geometry(input) } -> std::same_as<typename E::geometry_type>;
};

template <class E>
concept EncoderStem = EncoderTypes<E> && requires(const E& e, const typename E::input_type& input,
                                                  const typename E::geometry_type& g,
                                                  typename E::stem_record& record,
                                                  typename E::stem_parameters& grads,
                                                  const Tensor<typename E::scalar_type>& d_states) {
  { e.stem_forward(input, g, &record) } -> std::same_as<Tensor<typename E::scalar_type>>;
  e.stem_backward(d_states, std::move(record), grads, g);
};

template <class E>
concept EncoderBlocks = EncoderTypes<E> && requires(const E& e, std::size_t i, Tensor<typename E::scalar_type>& x,
                                                    const typename E::geometry_type& g,
                                                    typename E::block_record& record,
                                                    typename E::block_parameters& grads) {
  e.block_forward(i, x, g);
  { e.block_forward_train(i, std::move(x), record, g) } -> std::same_as<Tensor<typename E::scalar_type>>;
  e.block_backward(i, x, std::move(record), grads, g, true);
};

template <class E>
concept EncoderHead = EncoderTypes<E> && requires(const E& e, const Tensor<typename E::scalar_type>& x,
                                                  const typename E::geometry_type& g,
                                                  typename E::head_record& record,
                                                  typename E::head_parameters& grads) {
  { e.head_forward(x, g, &record) } -> std::same_as<Tensor<typename E::scalar_type>>;
  { e.head_backward(x, std::move(record), grads, g, true) } -> std::same_as<Tensor<typename E::scalar_type>>;
};

template <class E>
concept EncoderParameters = EncoderTypes<E> && requires(E& e, std::size_t i) {
  { e.stem() } -> std::same_as<typename E::stem_parameters&>;
  { e.block(i) } -> std::same_as<typename E::block_parameters&>;
  { e.head() } -> std::same_as<typename E::head_parameters&>;
  { E::block_prefix(i) } -> std::convertible_to<std::string>;
  { E::stem_prefix() } -> std::convertible_to<std::string>;
  { E::head_prefix() } -> std::convertible_to<std::string>;
  { E::name() } -> std::convertible_to<std::string_view>;
} && ParameterStruct<typename E::stem_parameters, typename E::scalar_type> &&
    ParameterStruct<typename E::block_parameters, typename E::scalar_type> &&
    ParameterStruct<typename E::head_parameters, typename E::scalar_type>;

/// stem → blocks → head, as documented at the top of this file.
template <class E>
concept Encoder = EncoderSize<E> && EncoderStem<E> && EncoderBlocks<E> && EncoderHead<E> && EncoderParameters<E>;

/// Call in a library template to turn a failed Encoder check into readable sentences.
template <class E>
consteval bool check_encoder() {
  static_assert(EncoderTypes<E>,
                "skiptune: an Encoder must define the member types scalar_type, input_type, geometry_type, "
                "stem_parameters, block_parameters, head_parameters, stem_record, block_record, head_record");
  static_assert(EncoderSize<E>,
                "skiptune: an Encoder needs `std::size_t num_blocks() const`, `MemoryMeter& meter() const` and "
                "`geometry_type geometry(const input_type&) const`");
  static_assert(EncoderStem<E>,
                "skiptune: an Encoder needs `Tensor<T> stem_forward(const input_type&, const geometry_type&, "
                "stem_record*) const` and `void stem_backward(const Tensor<T>&, stem_record&&, stem_parameters&, "
                "const geometry_type&) const`");
  static_assert(EncoderBlocks<E>,
                "skiptune: an Encoder needs `block_forward(i, Tensor<T>&, geometry)` (inference, in place), "
                "`Tensor<T> block_forward_train(i, Tensor<T>&&, block_record&, geometry)` and "
                "`block_backward(i, Tensor<T>& d_states, block_record&&, block_parameters&, geometry, bool)`");
  static_assert(EncoderHead<E>,
                "skiptune: an Encoder needs `Tensor<T> head_forward(const Tensor<T>&, geometry, head_record*)` "
                "and `Tensor<T> head_backward(const Tensor<T>& d_features, head_record&&, head_parameters&, "
                "geometry, bool need_states_gradient)`");
  static_assert(EncoderParameters<E>,
                "skiptune: an Encoder needs stem(), block(i), head() returning parameter structs with "
                "`for_each(f(name, Tensor<T>&))`, and static stem_prefix(), block_prefix(i), head_prefix(), name()");
  return true;
}

// ---------------------------------------------------------------------------------------------
// Which parts of a tower train.

/// The trained part of one tower: optionally the stem, blocks [first_trained_block, N), and
/// optionally the head. The stem can only train when every block trains (backward must reach it).
struct TrainableParts {
  bool stem = false;
  std::size_t first_trained_block = 0;
  bool head = true;

  void validate(std::size_t num_blocks, const char* tower) const {
    require<ConfigError>(first_trained_block <= num_blocks, tower, ": first trained block ω = ",
                         first_trained_block, " is outside [0, N = ", num_blocks, "]");
    require<ConfigError>(!stem || first_trained_block == 0, tower,
                         ": the stem can train only when every block trains (ω = 0), got ω = ",
                         first_trained_block);
  }
  /// Does anything below the head need a gradient?
  [[nodiscard]] bool backward_enters_blocks(std::size_t num_blocks) const noexcept {
    return first_trained_block < num_blocks || stem;
  }
};

/// Gradient buffers for the trained part only: frozen parts have none (not zeros — nothing).
template <class E>
struct EncoderGradients {
  std::optional<typename E::stem_parameters> stem;
  std::vector<std::optional<typename E::block_parameters>> blocks;
  std::optional<typename E::head_parameters> head;
};

namespace detail {
/// A struct of zero tensors shaped like `like`, in `category`.
template <class P, class T>
P zeros_like(const P& like, MemoryMeter& meter, MemoryCategory category) {
  P out;
  std::vector<Tensor<T>*> targets;
  out.for_each([&](const char*, Tensor<T>& t) { targets.push_back(&t); });
  std::size_t i = 0;
  like.for_each([&](const char*, const Tensor<T>& t) {
    *targets[i++] = Tensor<T>::zeros(t.shape(), meter, category);
  });
  return out;
}
template <class P, class T>
void zero_fill(P& p) {
  p.for_each([](const char*, Tensor<T>& t) { t.fill(T(0)); });
}
}  // namespace detail

/// Allocate gradient buffers (category gradients) for exactly the trained parameters.
template <Encoder E>
EncoderGradients<E> make_gradients(E& encoder, const TrainableParts& parts) {
  using T = typename E::scalar_type;
  parts.validate(encoder.num_blocks(), E::name());
  EncoderGradients<E> grads;
  auto& meter = encoder.meter();
  if (parts.stem) grads.stem = detail::zeros_like<typename E::stem_parameters, T>(encoder.stem(), meter, MemoryCategory::gradients);
  grads.blocks.resize(encoder.num_blocks());
  for (std::size_t i = parts.first_trained_block; i < encoder.num_blocks(); ++i)
    grads.blocks[i] = detail::zeros_like<typename E::block_parameters, T>(encoder.block(i), meter, MemoryCategory::gradients);
  if (parts.head) grads.head = detail::zeros_like<typename E::head_parameters, T>(encoder.head(), meter, MemoryCategory::gradients);
  return grads;
}

/// Set every existing gradient buffer to zero (before a step; gradients accumulate).
template <Encoder E>
void zero_gradients(EncoderGradients<E>& grads) {
  using T = typename E::scalar_type;
  if (grads.stem) detail::zero_fill<typename E::stem_parameters, T>(*grads.stem);
  for (auto& b : grads.blocks)
    if (b) detail::zero_fill<typename E::block_parameters, T>(*b);
  if (grads.head) detail::zero_fill<typename E::head_parameters, T>(*grads.head);
}

/// Where a parameter sits in its tower.
struct ParameterLocation {
  enum class Part { stem, block, head } part = Part::stem;
  std::size_t block = 0;
};

/// Visit every parameter of an encoder: f(full checkpoint name, Tensor&, ParameterLocation).
template <Encoder E, class F>
void for_each_parameter(E& encoder, F&& f) {
  using T = typename E::scalar_type;
  using Part = ParameterLocation::Part;
  encoder.stem().for_each([&](const char* name, Tensor<T>& t) { f(E::stem_prefix() + name, t, ParameterLocation{Part::stem, 0}); });
  for (std::size_t i = 0; i < encoder.num_blocks(); ++i)
    encoder.block(i).for_each([&](const char* name, Tensor<T>& t) { f(E::block_prefix(i) + name, t, ParameterLocation{Part::block, i}); });
  encoder.head().for_each([&](const char* name, Tensor<T>& t) { f(E::head_prefix() + name, t, ParameterLocation{Part::head, 0}); });
}

/// Is the parameter at `where` trained under `parts`?
inline bool is_trained(const ParameterLocation& where, const TrainableParts& parts) noexcept {
  switch (where.part) {
    case ParameterLocation::Part::stem: return parts.stem;
    case ParameterLocation::Part::block: return where.block >= parts.first_trained_block;
    case ParameterLocation::Part::head: return parts.head;
  }
  return false;
}

/// Visit (parameter, its gradient) for every trained parameter: f(name, Tensor& value, Tensor& grad).
template <Encoder E, class F>
void for_each_trained_parameter(E& encoder, EncoderGradients<E>& grads, F&& f) {
  using T = typename E::scalar_type;
  auto pair_up = [&](auto& params, auto& grad_struct, const std::string& prefix) {
    std::vector<Tensor<T>*> grad_tensors;
    grad_struct.for_each([&](const char*, Tensor<T>& g) { grad_tensors.push_back(&g); });
    std::size_t k = 0;
    params.for_each([&](const char* name, Tensor<T>& p) { f(prefix + name, p, *grad_tensors[k++]); });
  };
  if (grads.stem) pair_up(encoder.stem(), *grads.stem, E::stem_prefix());
  for (std::size_t i = 0; i < encoder.num_blocks(); ++i)
    if (grads.blocks[i]) pair_up(encoder.block(i), *grads.blocks[i], E::block_prefix(i));
  if (grads.head) pair_up(encoder.head(), *grads.head, E::head_prefix());
}

// ---------------------------------------------------------------------------------------------
// Derived inference.

/// Run blocks [first, last) in inference mode, in place on `states`.
template <Encoder E>
void run_blocks(const E& encoder, std::size_t first, std::size_t last, Tensor<typename E::scalar_type>& states,
                const typename E::geometry_type& g) {
  require<ConfigError>(first <= last && last <= encoder.num_blocks(), "run_blocks: range [", first, ", ", last,
                       ") is outside [0, ", encoder.num_blocks(), "]");
  for (std::size_t i = first; i < last; ++i) encoder.block_forward(i, states, g);
}

/// The token states after block ω (ω = 0: the stem's output) — what LayerSkip caches.
template <Encoder E>
Tensor<typename E::scalar_type> output_of_block(const E& encoder, std::size_t omega,
                                                const typename E::input_type& input) {
  static_assert(check_encoder<E>());
  const auto g = encoder.geometry(input);
  auto states = encoder.stem_forward(input, g, nullptr);
  run_blocks(encoder, 0, omega, states, g);
  return states;
}

/// Features of the full encoder in inference mode (nothing saved).
template <Encoder E>
Tensor<typename E::scalar_type> encode(const E& encoder, const typename E::input_type& input) {
  static_assert(check_encoder<E>());
  const auto g = encoder.geometry(input);
  auto states = encoder.stem_forward(input, g, nullptr);
  run_blocks(encoder, 0, encoder.num_blocks(), states, g);
  return encoder.head_forward(states, g, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Training pass: forward from block ω with records, backward that stops at ω.

/// What a training pass delivers beyond the trained parameters' gradients.
struct PassOptions {
  /// Also compute ∂L/∂(the states entering block k = input_gradient_at) and return it from
  /// backward — through blocks that may be frozen: blocks [min(ω, k), N) are recorded and
  /// backpropagated, those below ω get no parameter gradients (an empty gradient struct: the ops
  /// skip the work). k = 0 is the gradient w.r.t. the stem's output, e.g. learned prompt tokens
  /// (policy/prompt_tuning.hpp). nullopt (default): backward stops at ω and returns nothing.
  std::optional<std::size_t> input_gradient_at;
};

template <Encoder E>
class EncoderPass {
 public:
  using T = typename E::scalar_type;
  static_assert(check_encoder<E>());

  EncoderPass(const E& encoder, TrainableParts parts, PassOptions options = {})
      : encoder_(&encoder), parts_(parts), options_(options) {
    parts_.validate(encoder.num_blocks(), E::name());
    require<ConfigError>(!options_.input_gradient_at || *options_.input_gradient_at <= encoder.num_blocks(),
                         E::name(), ": input gradient at block ", options_.input_gradient_at.value_or(0),
                         " is outside [0, N = ", encoder.num_blocks(), "]");
  }

  /// Forward from the input: the stem (recorded if it trains), blocks [0, first_recorded_block())
  /// in inference, the rest recorded, the head recorded if backward will need it. Returns features.
  Tensor<T> forward(const typename E::input_type& input) {
    geometry_ = encoder_->geometry(input);
    Tensor<T> states = parts_.stem ? encoder_->stem_forward(input, geometry_, &stem_record_.emplace())
                                   : encoder_->stem_forward(input, geometry_, nullptr);
    run_blocks(*encoder_, 0, first_recorded_block(), states, geometry_);
    return forward_recorded(std::move(states));
  }

  /// Forward from given states entering block first_recorded_block() (ω unless an input gradient
  /// is asked for lower down; e.g. a LayerSkip cache, or embedded prompts) with a known geometry.
  Tensor<T> forward_from(Tensor<T>&& states, typename E::geometry_type geometry) {
    require<ConfigError>(!parts_.stem, E::name(), ": forward_from(states) cannot train the stem");
    geometry_ = std::move(geometry);
    return forward_recorded(std::move(states));
  }

  /// Backward from ∂L/∂features down to first_recorded_block() (and the stem if it trains),
  /// accumulating into `grads`; frozen parameters are never given gradients. Returns ∂L/∂(states
  /// entering block input_gradient_at) [rows, W] when PassOptions asked for it, else an empty
  /// tensor. A pass that trains nothing and was asked for no input gradient has no backward: no-op.
  Tensor<T> backward(const Tensor<T>& d_features, EncoderGradients<E>& grads) {
    if (!needs_backward()) return {};
    const std::size_t n = encoder_->num_blocks(), omega = parts_.first_trained_block, first = first_recorded_block();
    const bool wants_input_gradient = options_.input_gradient_at.has_value();
    require<ConfigError>(!parts_.head || grads.head.has_value(), E::name(),
                         ": the head trains but has no gradient buffers");
    typename E::head_parameters frozen_head{};  // empty tensors: "frozen, skip"
    Tensor<T> d_states = encoder_->head_backward(d_features, std::move(*head_record_),
                                                 parts_.head ? *grads.head : frozen_head, geometry_,
                                                 first < n || parts_.stem || wants_input_gradient);
    head_record_.reset();
    for (std::size_t i = n; i-- > first;) {
      typename E::block_parameters frozen_block{};
      const bool trained = i >= omega;
      require<ConfigError>(!trained || (grads.blocks.size() == n && grads.blocks[i].has_value()), E::name(),
                           ": block ", i, " trains but has no gradient buffers");
      encoder_->block_backward(i, d_states, std::move(block_records_[i - first]),
                               trained ? *grads.blocks[i] : frozen_block, geometry_,
                               i > first || parts_.stem || wants_input_gradient);
    }
    block_records_.clear();
    if (parts_.stem) {
      require<ConfigError>(grads.stem.has_value(), E::name(), ": the stem trains but has no gradient buffers");
      encoder_->stem_backward(d_states, std::move(*stem_record_), *grads.stem, geometry_);
      stem_record_.reset();
    }
    if (!wants_input_gradient) return {};
    return d_states;
  }

  [[nodiscard]] const typename E::geometry_type& geometry() const noexcept { return geometry_; }
  [[nodiscard]] const TrainableParts& parts() const noexcept { return parts_; }
  [[nodiscard]] const PassOptions& options() const noexcept { return options_; }

  /// The lowest block that runs recorded: ω, or the input-gradient block if that is lower.
  [[nodiscard]] std::size_t first_recorded_block() const noexcept {
    return std::min(parts_.first_trained_block, options_.input_gradient_at.value_or(parts_.first_trained_block));
  }
  /// Does backward have anything to do (a trained part, or an input gradient to deliver)?
  [[nodiscard]] bool needs_backward() const noexcept {
    return parts_.head || parts_.backward_enters_blocks(encoder_->num_blocks()) ||
           options_.input_gradient_at.has_value();
  }

 private:
  Tensor<T> forward_recorded(Tensor<T>&& states) {
    const std::size_t n = encoder_->num_blocks(), first = first_recorded_block();
    block_records_.clear();
    block_records_.resize(n - first);
    for (std::size_t i = first; i < n; ++i)
      states = encoder_->block_forward_train(i, std::move(states), block_records_[i - first], geometry_);
    // The last block's output is not needed after the head has picked its rows. A pass without
    // backward (everything frozen: prompt tuning's image side) records nothing at all.
    return encoder_->head_forward(states, geometry_, needs_backward() ? &head_record_.emplace() : nullptr);
  }

  const E* encoder_;
  TrainableParts parts_;
  PassOptions options_;
  typename E::geometry_type geometry_{};
  std::optional<typename E::stem_record> stem_record_;
  std::vector<typename E::block_record> block_records_;
  std::optional<typename E::head_record> head_record_;
};

}  // namespace skiptune
