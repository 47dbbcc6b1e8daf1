// skiptune/policy/hooks.hpp — the vocabulary of gradient-flow policies.
//
// A policy is a small value type whose runtime members are its hyperparameters (ω, ρ, λ, ...)
// and which provides some of the hooks below. It DECLARES the hooks it provides:
//     struct MyPolicy {
//       using hooks = skiptune::hooks<skiptune::hook::first_trained_block>;
//       std::size_t first_trained_block(skiptune::Tower tower, std::size_t num_blocks) const;
//     };
// and the FineTuner checks at compile time, in both directions, that
//   * every declared hook is matched by a member with exactly the documented signature
//     (a misspelled, mis-typed or const-incorrect hook is an error, not a silent no-op), and
//   * every member that carries a hook's name is declared (no half-declared policies).
//
// Hooks (T = the model's scalar type):
//   first_trained_block   std::size_t first_trained_block(Tower, std::size_t num_blocks) const
//                         Blocks below the answer are frozen and never run in a training step
//                         (their output is cached); composition: the largest answer wins.
//   trains_stem           bool trains_stem(Tower) const            composition: all must agree (AND)
//   trains_head           bool trains_head(Tower) const            composition: all must agree (AND);
//                         nobody provides it: the heads train. false freezes the head (ln + projection).
//   refreshes_image_cache bool refreshes_image_cache(std::size_t epoch) const
//                         Rebuild the block-ω image cache at the start of this epoch (under a fresh
//                         augmentation); composition: OR. The first epoch always builds it.
//   select_classes        void select_classes(const ClassSelectionInput<T>&, ClassSelection&, Rng&)
//                         Which class prompts this batch sends through the text tower, and the
//                         labels remapped to positions in that list. At most one policy may provide it.
//   drop_tokens           void drop_tokens(const TokenDropInput&, std::vector<Index>& kept_tokens, Rng&)
//                         Which image tokens (positions) go through the trained blocks; the class
//                         token 0 must be kept. At most one policy may provide it.
//   prompt_context_tokens std::size_t prompt_context_tokens() const
//                         M ≥ 1 learned context vectors [M, text width] replace the token embeddings
//                         at positions 1..M of every class prompt (CoOp); the tuner owns, trains and
//                         checkpoints them, and backpropagates into them through the text tower
//                         (frozen or not). At most one policy may provide it.
//   on_fit_begin          void on_fit_begin(const PolicyFitContext&, Rng&)   e.g. draw a mask once
//   on_epoch_begin        void on_epoch_begin(std::size_t epoch, std::size_t epochs)
//                         e.g. a LayerSkip whose ω grows during training
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/policy/class_selection.hpp"

namespace skiptune {

enum class Tower { vision, text };
inline constexpr std::string_view to_string(Tower t) noexcept { return t == Tower::vision ? "vision" : "text"; }

/// What a class selector sees for one batch (no gradients flow through any of it).
template <class T>
struct ClassSelectionInput {
  const T* similarity = nullptr;     // [batch, classes] normalize(image features) · prototypesᵀ
  const std::int32_t* labels = nullptr;  // [batch] in [0, classes)
  std::size_t batch = 0;
  std::size_t classes = 0;
};

/// What a token dropper sees: one batch of cached image token states.
struct TokenDropInput {
  std::size_t batch = 0;
  std::size_t tokens = 0;  // per image, class token at position 0
};

/// Facts a policy may need once, before training.
struct PolicyFitContext {
  std::size_t classes = 0;
  std::size_t images = 0;
  std::size_t epochs = 0;
  std::size_t vision_blocks = 0;
  std::size_t text_blocks = 0;
};

/// A policy's list of the hooks it provides.
template <class... Hooks>
struct hooks {};

namespace hook {

// Each hook: its name, whether a policy type has a member of that name at all, and whether that
// member matches the signature exactly.
struct first_trained_block {
  static constexpr std::string_view name = "std::size_t first_trained_block(Tower, std::size_t) const";
  template <class P> static constexpr bool named = requires { &P::first_trained_block; };
  template <class P, class T> static constexpr bool matches =
      std::is_same_v<decltype(&P::first_trained_block), std::size_t (P::*)(Tower, std::size_t) const>;
};
struct trains_stem {
  static constexpr std::string_view name = "bool trains_stem(Tower) const";
  template <class P> static constexpr bool named = requires { &P::trains_stem; };
  template <class P, class T> static constexpr bool matches =
      std::is_same_v<decltype(&P::trains_stem), bool (P::*)(Tower) const>;
};
struct trains_head {
  static constexpr std::string_view name = "bool trains_head(Tower) const";
  template <class P> static constexpr bool named = requires { &P::trains_head; };
  template <class P, class T> static constexpr bool matches =
      std::is_same_v<decltype(&P::trains_head), bool (P::*)(Tower) const>;
};
struct refreshes_image_cache {
  static constexpr std::string_view name = "bool refreshes_image_cache(std::size_t epoch) const";
  template <class P> static constexpr bool named = requires { &P::refreshes_image_cache; };
  template <class P, class T> static constexpr bool matches =
      std::is_same_v<decltype(&P::refreshes_image_cache), bool (P::*)(std::size_t) const>;
};
struct select_classes {
  static constexpr std::string_view name =
      "void select_classes(const ClassSelectionInput<T>&, ClassSelection&, Rng&)";
  template <class P> static constexpr bool named = requires { &P::template select_classes<float>; } ||
                                                   requires { &P::select_classes; };
  template <class P, class T> static constexpr bool matches =
      requires(P& p, const ClassSelectionInput<T>& in, policy::ClassSelection& out, Rng& rng) {
        { p.select_classes(in, out, rng) } -> std::same_as<void>;
      };
};
struct drop_tokens {
  static constexpr std::string_view name = "void drop_tokens(const TokenDropInput&, std::vector<Index>&, Rng&)";
  template <class P> static constexpr bool named = requires { &P::drop_tokens; };
  template <class P, class T> static constexpr bool matches =
      std::is_same_v<decltype(&P::drop_tokens), void (P::*)(const TokenDropInput&, std::vector<Index>&, Rng&)> ||
      std::is_same_v<decltype(&P::drop_tokens),
                     void (P::*)(const TokenDropInput&, std::vector<Index>&, Rng&) const>;
};
struct prompt_context_tokens {
  static constexpr std::string_view name = "std::size_t prompt_context_tokens() const";
  template <class P> static constexpr bool named = requires { &P::prompt_context_tokens; };
  template <class P, class T> static constexpr bool matches =
      std::is_same_v<decltype(&P::prompt_context_tokens), std::size_t (P::*)() const>;
};
struct on_fit_begin {
  static constexpr std::string_view name = "void on_fit_begin(const PolicyFitContext&, Rng&)";
  template <class P> static constexpr bool named = requires { &P::on_fit_begin; };
  template <class P, class T> static constexpr bool matches =
      std::is_same_v<decltype(&P::on_fit_begin), void (P::*)(const PolicyFitContext&, Rng&)>;
};
struct on_epoch_begin {
  static constexpr std::string_view name = "void on_epoch_begin(std::size_t epoch, std::size_t epochs)";
  template <class P> static constexpr bool named = requires { &P::on_epoch_begin; };
  template <class P, class T> static constexpr bool matches =
      std::is_same_v<decltype(&P::on_epoch_begin), void (P::*)(std::size_t, std::size_t)>;
};

}  // namespace hook

namespace detail {
template <class List, class Hook>
struct list_contains;
template <class... Hs, class Hook>
struct list_contains<hooks<Hs...>, Hook> : std::bool_constant<(std::is_same_v<Hs, Hook> || ...)> {};

template <class P>
concept declares_hooks = requires { typename P::hooks; };
}  // namespace detail

/// Does policy P declare hook H (in its `hooks` list)?
template <class P, class H>
inline constexpr bool declares_hook = [] {
  if constexpr (detail::declares_hooks<P>)
    return detail::list_contains<typename P::hooks, H>::value;
  else
    return false;
}();

/// Is hook H active for policy P? (declared; checked to match by check_policy)
template <class P, class H>
inline constexpr bool provides_hook = declares_hook<P, H>;

namespace detail {
template <class P, class T, class H>
consteval bool check_one_hook() {
  if constexpr (declares_hook<P, H>) {
    static_assert(H::template named<P>,
                  "skiptune policy: the policy declares a hook in `using hooks = ...` but has no member of that "
                  "name (misspelled?). See policy/hooks.hpp for the hook signatures.");
    if constexpr (H::template named<P>)
      static_assert(H::template matches<P, T>,
                    "skiptune policy: a declared hook's member does not have the documented signature "
                    "(wrong parameter types, return type or const-ness). See policy/hooks.hpp.");
  } else {
    static_assert(!H::template named<P>,
                  "skiptune policy: the policy has a member named like a hook but does not list it in "
                  "`using hooks = skiptune::hooks<...>` — declare it (or rename the member).");
  }
  return true;
}
}  // namespace detail

/// Compile-time validation of one policy for scalar type T; use in static_assert.
template <class P, class T>
consteval bool check_policy() {
  static_assert(detail::declares_hooks<P>,
                "skiptune policy: a policy must declare the hooks it provides: `using hooks = "
                "skiptune::hooks<...>;` (an empty list is fine).");
  detail::check_one_hook<P, T, hook::first_trained_block>();
  detail::check_one_hook<P, T, hook::trains_stem>();
  detail::check_one_hook<P, T, hook::trains_head>();
  detail::check_one_hook<P, T, hook::refreshes_image_cache>();
  detail::check_one_hook<P, T, hook::select_classes>();
  detail::check_one_hook<P, T, hook::drop_tokens>();
  detail::check_one_hook<P, T, hook::prompt_context_tokens>();
  detail::check_one_hook<P, T, hook::on_fit_begin>();
  detail::check_one_hook<P, T, hook::on_epoch_begin>();
  return true;
}

/// How many of the policies provide hook H.
template <class H, class... Policies>
inline constexpr std::size_t count_providers = (std::size_t{0} + ... + (provides_hook<Policies, H> ? 1 : 0));

}  // namespace skiptune
