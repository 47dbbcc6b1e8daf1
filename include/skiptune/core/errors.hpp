// skiptune/core/errors.hpp — the exception hierarchy. Every error a user can cause is one of
// these, with a message that names the tensor / file / parameter and says what was expected.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace skiptune {

/// Base of every exception skiptune throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tensor has the wrong shape or size ("tensor X has shape [a,b], expected [c,d]").
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A configuration or hyperparameter that cannot work (width not divisible by heads, ω > N, ρ ≤ 0, ...).
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// Input data out of range (token id ≥ vocab size, label outside the class list, ...).
class InputError : public Error {
 public:
  using Error::Error;
};

/// A loss or gradient became NaN/Inf.
class NumericError : public Error {
 public:
  using Error::Error;
};

/// A file could not be read, parsed or written (names the file and the byte offset where known).
class IoError : public Error {
 public:
  using Error::Error;
};

namespace detail {
/// Concatenate anything streamable into one message.
template <class... Parts>
std::string message(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

/// Throw `E` with a message built from the streamable parts, if `condition` is false.
template <class E = Error, class... Parts>
inline void require(bool condition, Parts&&... parts) {
  if (!condition) throw E(detail::message(std::forward<Parts>(parts)...));
}

}  // namespace skiptune
