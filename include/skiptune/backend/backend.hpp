// skiptune/backend/backend.hpp — what a backend tag must be. Model code is templated on a
// Backend and calls the op set for it; a tag satisfies the concept by naming itself.
#pragma once

#include <concepts>

#include "skiptune/backend/cpu.hpp"

namespace skiptune {

template <class B>
concept Backend = requires {
  { B::name } -> std::convertible_to<const char*>;
};

static_assert(Backend<cpu>);

}  // namespace skiptune
