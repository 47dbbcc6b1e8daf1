// skiptune/train/observers.hpp — observers for `FineTuner::fit(dataset, options, observers...)`:
// the hook vocabulary, the notify_* helpers the trainer calls, and the standard observers
// (ProgressBar, CsvLog, JsonLog, EarlyStop).
//
// Hooks. An observer is any class with some of these public members (all optional):
//     void on_fit_begin(const FitBegin&);
//     void on_step_end(const StepEnd&);          // or bool: false asks the trainer to stop
//     void on_epoch_end(const EpochEnd&);        // or bool: false asks the trainer to stop
//     void on_fit_end(const FitEnd&);
// plus, optionally, `stop_reason() const` (anything convertible to std::string_view), which
// stop_reasons() collects for FitEnd::stop_reason. Parameters may also be taken by value or as
// templates; whatever `observer.on_step_end(const StepEnd&)` accepts is a match.
//
// Strictness, as for policies: a member that has a hook's *name* but cannot be called with the
// hook's event (wrong event type, `StepEnd&` instead of `const StepEnd&`, private, a non-const
// member function on an observer passed as const, a data member of another type) or that returns
// something other than what the hook allows, is a compile error with a sentence saying so — never
// silently skipped. The name is detected separately from the call: see observer_detail::declares_*.
// A *misspelled* name (on_step_ended) cannot be detected — C++ has no way to list a class's
// members — so it is ignored like any other unrelated member. The one exception: an observer
// with none of the four hook names is an error, because fit() would never call it (which is what
// an observer whose every hook is misspelled looks like). Also undetectable: a hook that is
// private *and* an overload set or template in a `final` class (it is then treated as absent).
//
// Every observer sees every event: when one asks to stop, the others are still told about the
// same step/epoch (so logs record it); the stop takes effect after the whole pack was notified.
// Observers are taken by reference and never copied, so their state (EarlyStop's best epoch,
// a log's path) is readable after fit() returns.
//
// POSIX only (isatty, open/fsync/rename), like io/safetensors.hpp.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "skiptune/core/atomic_file.hpp"
#include "skiptune/core/errors.hpp"
#include "skiptune/core/memory.hpp"
#include "skiptune/train/events.hpp"

namespace skiptune {

// =============================================================================================
// Hook vocabulary
// =============================================================================================

namespace observer_detail {

// "Does O have a member named on_step_end?" — asked separately from "can it be called with a
// const StepEnd&?", so that a hook with the right name and the wrong signature is an error
// instead of being silently ignored (ensmallen's exact-signature detection has that flaw).
// The probe inherits O and a decoy whose data member has the hook's name: naming
// `&probe::on_step_end` is ambiguous exactly when O has *any* member of that name (function,
// overload set, template, data member, inherited, private or not), and ambiguity is a
// substitution failure. A final class cannot be inherited, so there we fall back to `&O::name`,
// which finds single public non-template members only.
#define SKIPTUNE_DETAIL_HOOK_NAME_PROBE(hook)                                  \
  struct hook##_name_decoy {                                                   \
    int hook;                                                                  \
  };                                                                           \
  template <class O>                                                           \
  struct hook##_name_probe : O, hook##_name_decoy {};                          \
  template <class O>                                                           \
  concept declares_##hook =                                                    \
      std::is_class_v<O> && ((std::is_final_v<O> && requires { &O::hook; }) || \
                             (!std::is_final_v<O> && !requires { &hook##_name_probe<O>::hook; }));

SKIPTUNE_DETAIL_HOOK_NAME_PROBE(on_fit_begin)
SKIPTUNE_DETAIL_HOOK_NAME_PROBE(on_step_end)
SKIPTUNE_DETAIL_HOOK_NAME_PROBE(on_epoch_end)
SKIPTUNE_DETAIL_HOOK_NAME_PROBE(on_fit_end)
#undef SKIPTUNE_DETAIL_HOOK_NAME_PROBE

// "Can it be called?" — O may be const-qualified (an observer passed as const), in which case
// only const member functions match.
template <class O>
concept can_call_on_fit_begin = requires(O& observer, const FitBegin& event) {
  observer.on_fit_begin(event);
};
template <class O>
concept can_call_on_step_end = requires(O& observer, const StepEnd& event) {
  observer.on_step_end(event);
};
template <class O>
concept can_call_on_epoch_end = requires(O& observer, const EpochEnd& event) {
  observer.on_epoch_end(event);
};
template <class O>
concept can_call_on_fit_end = requires(O& observer, const FitEnd& event) {
  observer.on_fit_end(event);
};

/// Hooks that may ask to stop return void (never stops) or bool (false = stop); anything else
/// (an int, a std::optional<bool>) would make the meaning of the value a guess.
template <class R>
concept void_or_bool = std::same_as<R, void> || std::same_as<R, bool>;

}  // namespace observer_detail

/// O handles on_fit_begin(const FitBegin&) and returns void.
template <class O>
concept ObservesFitBegin = observer_detail::can_call_on_fit_begin<O> &&
    requires(O& observer, const FitBegin& event) {
  { observer.on_fit_begin(event) } -> std::same_as<void>;
};
/// O handles on_step_end(const StepEnd&) and returns void or bool (false = request a stop).
template <class O>
concept ObservesStepEnd = observer_detail::can_call_on_step_end<O> &&
    observer_detail::void_or_bool<decltype(std::declval<O&>().on_step_end(std::declval<const StepEnd&>()))>;
/// O handles on_epoch_end(const EpochEnd&) and returns void or bool (false = request a stop).
template <class O>
concept ObservesEpochEnd = observer_detail::can_call_on_epoch_end<O> &&
    observer_detail::void_or_bool<decltype(std::declval<O&>().on_epoch_end(std::declval<const EpochEnd&>()))>;
/// O handles on_fit_end(const FitEnd&) and returns void.
template <class O>
concept ObservesFitEnd = observer_detail::can_call_on_fit_end<O> &&
    requires(O& observer, const FitEnd& event) {
  { observer.on_fit_end(event) } -> std::same_as<void>;
};
/// O can say why it asked to stop.
template <class O>
concept ExplainsStop = requires(const O& observer) {
  { observer.stop_reason() } -> std::convertible_to<std::string_view>;
};

/// Call in a library template (the notify_* helpers do) to turn a hook that is declared but does
/// not match into one readable sentence. `O` is the observer type as the trainer holds it
/// (const-qualified if the observer was passed as const).
template <class O>
consteval bool check_observer() {
  using Held = std::remove_reference_t<O>;
  using Plain = std::remove_cv_t<Held>;
  static_assert(std::is_class_v<Plain>,
                "skiptune: an observer must be a class type (a struct with on_*_end hooks)");
  if constexpr (std::is_class_v<Plain>) {
    constexpr bool any_hook =
        observer_detail::declares_on_fit_begin<Plain> || observer_detail::declares_on_step_end<Plain> ||
        observer_detail::declares_on_epoch_end<Plain> || observer_detail::declares_on_fit_end<Plain> ||
        observer_detail::can_call_on_fit_begin<Held> || observer_detail::can_call_on_step_end<Held> ||
        observer_detail::can_call_on_epoch_end<Held> || observer_detail::can_call_on_fit_end<Held>;
    static_assert(any_hook,
                  "skiptune: this observer has none of the hooks on_fit_begin, on_step_end, on_epoch_end, "
                  "on_fit_end, so fit() would never call it (is a hook name misspelled?)");

    if constexpr (observer_detail::declares_on_fit_begin<Plain>) {
      static_assert(
          observer_detail::can_call_on_fit_begin<Held>,
          "skiptune: observer hook on_fit_begin is declared but cannot be called as "
          "on_fit_begin(const skiptune::FitBegin&): check the parameter type (const FitBegin&, not "
          "FitBegin& or another event), that it is public, and that it is a const member function if "
          "the observer is passed as const");
      if constexpr (observer_detail::can_call_on_fit_begin<Held>)
        static_assert(ObservesFitBegin<Held>, "skiptune: observer hook on_fit_begin must return void");
    }
    if constexpr (observer_detail::declares_on_step_end<Plain>) {
      static_assert(
          observer_detail::can_call_on_step_end<Held>,
          "skiptune: observer hook on_step_end is declared but cannot be called as "
          "on_step_end(const skiptune::StepEnd&): check the parameter type (const StepEnd&, not "
          "StepEnd& or another event), that it is public, and that it is a const member function if "
          "the observer is passed as const");
      if constexpr (observer_detail::can_call_on_step_end<Held>)
        static_assert(
            ObservesStepEnd<Held>,
            "skiptune: observer hook on_step_end must return void or bool (false = request a stop)");
    }
    if constexpr (observer_detail::declares_on_epoch_end<Plain>) {
      static_assert(
          observer_detail::can_call_on_epoch_end<Held>,
          "skiptune: observer hook on_epoch_end is declared but cannot be called as "
          "on_epoch_end(const skiptune::EpochEnd&): check the parameter type (const EpochEnd&, not "
          "EpochEnd& or another event), that it is public, and that it is a const member function if "
          "the observer is passed as const");
      if constexpr (observer_detail::can_call_on_epoch_end<Held>)
        static_assert(
            ObservesEpochEnd<Held>,
            "skiptune: observer hook on_epoch_end must return void or bool (false = request a stop)");
    }
    if constexpr (observer_detail::declares_on_fit_end<Plain>) {
      static_assert(observer_detail::can_call_on_fit_end<Held>,
                    "skiptune: observer hook on_fit_end is declared but cannot be called as "
                    "on_fit_end(const skiptune::FitEnd&): check the parameter type (const FitEnd&, not "
                    "FitEnd& or another event), that it is public, and that it is a const member function if "
                    "the observer is passed as const");
      if constexpr (observer_detail::can_call_on_fit_end<Held>)
        static_assert(ObservesFitEnd<Held>, "skiptune: observer hook on_fit_end must return void");
    }
  }
  return true;
}

namespace observer_detail {

/// Calls a void-or-bool hook and says whether the observer wants to go on.
template <class Call>
inline bool keep_going_after(Call&& call) {
  if constexpr (std::is_void_v<decltype(call())>) {
    call();
    return true;
  } else {
    return call();
  }
}

}  // namespace observer_detail

/// Tells every observer that provides on_fit_begin, in order.
template <class... Observers>
inline void notify_fit_begin(const FitBegin& event, Observers&... observers) {
  static_assert((check_observer<Observers>() && ...));
  [[maybe_unused]] auto deliver = [&event](auto& observer) {
    if constexpr (ObservesFitBegin<std::remove_reference_t<decltype(observer)>>) observer.on_fit_begin(event);
  };
  (deliver(observers), ...);
}

/// Tells every observer that provides on_step_end, in order; false if any of them asked to stop
/// (all are told regardless).
template <class... Observers>
[[nodiscard]] inline bool notify_step_end(const StepEnd& event, Observers&... observers) {
  static_assert((check_observer<Observers>() && ...));
  [[maybe_unused]] auto deliver = [&event](auto& observer) -> bool {
    if constexpr (ObservesStepEnd<std::remove_reference_t<decltype(observer)>>)
      return observer_detail::keep_going_after([&] { return observer.on_step_end(event); });
    else
      return true;
  };
  bool keep_going = true;
  ((keep_going = deliver(observers) && keep_going), ...);  // deliver first: no short circuit
  return keep_going;
}

/// Tells every observer that provides on_epoch_end, in order; false if any of them asked to stop
/// (all are told regardless).
template <class... Observers>
[[nodiscard]] inline bool notify_epoch_end(const EpochEnd& event, Observers&... observers) {
  static_assert((check_observer<Observers>() && ...));
  [[maybe_unused]] auto deliver = [&event](auto& observer) -> bool {
    if constexpr (ObservesEpochEnd<std::remove_reference_t<decltype(observer)>>)
      return observer_detail::keep_going_after([&] { return observer.on_epoch_end(event); });
    else
      return true;
  };
  bool keep_going = true;
  ((keep_going = deliver(observers) && keep_going), ...);
  return keep_going;
}

/// Tells every observer that provides on_fit_end, in order.
template <class... Observers>
inline void notify_fit_end(const FitEnd& event, Observers&... observers) {
  static_assert((check_observer<Observers>() && ...));
  [[maybe_unused]] auto deliver = [&event](auto& observer) {
    if constexpr (ObservesFitEnd<std::remove_reference_t<decltype(observer)>>) observer.on_fit_end(event);
  };
  (deliver(observers), ...);
}

/// The non-empty stop_reason() of every observer that has one, joined with "; " — what the
/// trainer puts in FitEnd::stop_reason after a hook asked to stop.
template <class... Observers>
inline std::string stop_reasons(const Observers&... observers) {
  std::string joined;
  [[maybe_unused]] auto collect = [&joined](const auto& observer) {
    if constexpr (ExplainsStop<std::remove_cvref_t<decltype(observer)>>) {
      // Bound to a reference first: stop_reason() may return a std::string by value, which a
      // string_view alone would leave dangling.
      const auto& returned = observer.stop_reason();
      const std::string_view reason(returned);
      if (reason.empty()) return;
      if (!joined.empty()) joined += "; ";
      joined += reason;
    }
  };
  (collect(observers), ...);
  return joined;
}

// =============================================================================================
// Formatting and atomic files shared by the standard observers
// =============================================================================================

namespace observer_detail {

/// Shortest text that reads back as the same double (std::to_chars), so logs lose nothing and
/// stay short ("0.1", not "0.10000000000000001"). Only for finite values: callers decide how
/// their format spells NaN and infinity.
inline void append_round_trip(std::string& out, double value) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, value);
  out.append(text, result.ptr);
}

inline void append_unsigned(std::string& out, std::size_t value) {
  char text[24];
  const auto result = std::to_chars(text, text + sizeof text, value);
  out.append(text, result.ptr);
}

/// printf into a std::string (for the human-readable lines of ProgressBar and stop reasons).
template <class... Args>
inline std::string printf_string(const char* format, Args... args) {
  char text[128];
  const int length = std::snprintf(text, sizeof text, format, args...);
  if (length < 0) return {};
  if (static_cast<std::size_t>(length) < sizeof text)
    return std::string(text, static_cast<std::size_t>(length));
  std::string big(static_cast<std::size_t>(length) + 1, '\0');
  std::snprintf(big.data(), big.size(), format, args...);
  big.resize(static_cast<std::size_t>(length));
  return big;
}

/// Length of the well-formed UTF-8 sequence starting at text[at], or 0 if it is not one
/// (overlong forms, surrogates, code points above U+10FFFF and truncated sequences are not).
inline std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  std::size_t length = 0;
  unsigned char second_low = 0x80, second_high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_low = 0xA0;   // below: overlong
    if (lead == 0xED) second_high = 0x9F;  // above: UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_low = 0x90;   // below: overlong
    if (lead == 0xF4) second_high = 0x8F;  // above: beyond U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - at < length) return 0;
  if (byte(at + 1) < second_low || byte(at + 1) > second_high) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  return length;
}

/// Appends `text` as a JSON string literal. Quotes, backslashes and control characters are
/// escaped; valid UTF-8 is copied as is; each byte that is not part of valid UTF-8 becomes
/// U+FFFD, because a log must never fail (or become unparsable JSON) over a class name.
inline void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t at = 0; at < text.size();) {
    const auto c = static_cast<unsigned char>(text[at]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) {
            out += printf_string("\\u%04x", static_cast<unsigned>(c));
          } else {
            out += static_cast<char>(c);
          }
      }
      ++at;
    } else if (const std::size_t length = utf8_sequence_length(text, at); length > 0) {
      out.append(text.substr(at, length));
      at += length;
    } else {
      out += "\\ufffd";
      ++at;
    }
  }
  out += '"';
}

/// JSON has no NaN or infinity: they are written as null.
inline void append_json_number(std::string& out, double value) {
  if (std::isfinite(value)) {
    append_round_trip(out, value);
  } else {
    out += "null";
  }
}

/// CSV readers (pandas, R, spreadsheets) accept nan/inf/-inf; an empty cell means "not applicable".
inline void append_csv_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "nan";
  } else if (std::isinf(value)) {
    out += value > 0 ? "inf" : "-inf";
  } else {
    append_round_trip(out, value);
  }
}

/// "153ms", "12.3s", "4m05s", "2h03m" — short enough for one progress line.
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds == 0) return "0s";
  if (seconds < 1) return printf_string("%.3gms", seconds * 1000);
  if (seconds < 60) return printf_string("%.1fs", seconds);
  const auto whole = static_cast<unsigned long long>(seconds + 0.5);
  if (whole < 3600) return printf_string("%llum%02llus", whole / 60, whole % 60);
  return printf_string("%lluh%02llum", whole / 3600, whole / 60 % 60);
}

/// Whether `out` is std::cout / std::cerr / std::clog writing to a terminal. Any other stream
/// (a file, a std::ostringstream) is not; neither is a standard stream whose buffer was swapped.
inline bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return ::isatty(::fileno(stdout)) == 1;
  if (&out == &std::cerr || &out == &std::clog) return ::isatty(::fileno(stderr)) == 1;
  return false;
}

}  // namespace observer_detail

// =============================================================================================
// ProgressBar
// =============================================================================================

enum class ProgressMode {
  automatic,  // in_place on a terminal, lines otherwise
  in_place,   // one line per epoch, redrawn with '\r'
  lines,      // a new line every `line_every_percent` of an epoch, for log files and CI
};

/// Outside ProgressBar so that `ProgressBar(std::cerr, {})` works (a nested struct with default
/// member initialisers cannot be a default argument of its enclosing class).
struct ProgressBarOptions {
  ProgressMode mode = ProgressMode::automatic;
  double line_every_percent = 10;  // lines mode: one line per this share of an epoch's steps
  double redraw_seconds = 0.1;     // in_place mode: at most one redraw per this much step time
};

/// Shows epoch k/K, step, running mean loss, learning rate, time per step, ETA and peak memory.
/// On a terminal one line per epoch is updated in place; otherwise (a file, a pipe, CI logs) it
/// prints a line every `line_every_percent` of the epoch so logs stay readable. Each epoch ends
/// with a summary line (mean loss, accuracy if evaluated, time, peak). Output errors are
/// ignored: progress is cosmetic and must not stop training.
///
/// ETA = remaining steps × (time so far, evaluations of finished epochs included) / steps so far.
class ProgressBar {
 public:
  explicit ProgressBar(std::ostream& out = std::cerr, ProgressBarOptions options = {})
      : out_(&out), options_(options) {
    require<ConfigError>(options_.line_every_percent > 0 && std::isfinite(options_.line_every_percent),
                         "ProgressBar: line_every_percent must be > 0, got ", options_.line_every_percent);
    require<ConfigError>(options_.redraw_seconds >= 0, "ProgressBar: redraw_seconds must be >= 0, got ",
                         options_.redraw_seconds);
    in_place_ = options_.mode == ProgressMode::in_place ||
                (options_.mode == ProgressMode::automatic && observer_detail::is_terminal(out));
  }

  /// True when lines are redrawn with '\r' (decided at construction).
  [[nodiscard]] bool in_place() const noexcept { return in_place_; }

  void on_fit_begin(const FitBegin& event) {
    *this = ProgressBar(*out_, options_);  // a bar may be reused for several fits
    std::string line = "skiptune:";
    if (!event.description.empty()) line += " " + event.description + " |";
    line += observer_detail::printf_string(" %zu epochs x %zu steps | %zu trained parameters", event.epochs,
                                           event.steps_per_epoch, event.trained_parameters);
    if (event.planned_peak_bytes > 0) line += " | planned peak " + format_bytes(event.planned_peak_bytes);
    print_line(line);
  }

  void on_step_end(const StepEnd& event) {
    if (event.epoch != epoch_ || steps_in_epoch_ == 0) start_epoch(event.epoch);
    ++steps_in_epoch_;
    loss_sum_ += event.loss;
    step_seconds_in_epoch_ += event.seconds;
    epoch_peak_ = std::max(epoch_peak_, event.peak_bytes);
    seconds_since_draw_ += event.seconds;

    const std::size_t done_in_epoch = event.step_in_epoch + 1;
    if (in_place_) {
      // Throttled by step time, not the wall clock, so the output depends only on the events.
      if (steps_in_epoch_ == 1 || seconds_since_draw_ >= options_.redraw_seconds ||
          done_in_epoch == event.steps_per_epoch) {
        draw_in_place(step_line(event));
        seconds_since_draw_ = 0;
      }
    } else {
      const auto interval = static_cast<std::size_t>(std::max(
          1.0, std::round(static_cast<double>(event.steps_per_epoch) * options_.line_every_percent / 100)));
      // The last step is left to the epoch summary that follows it.
      if (done_in_epoch % interval == 0 && done_in_epoch < event.steps_per_epoch)
        print_line(step_line(event));
    }
  }

  void on_epoch_end(const EpochEnd& event) {
    completed_seconds_ += event.seconds;
    completed_steps_ += steps_in_epoch_;
    epoch_peak_ = std::max(epoch_peak_, event.peak_bytes);
    std::string line = observer_detail::printf_string("epoch %zu/%zu done | mean loss %.4g", event.epoch + 1,
                                                      event.epochs, event.mean_loss);
    if (event.accuracy) line += observer_detail::printf_string(" accuracy %.2f%%", *event.accuracy * 100);
    line += " | " + observer_detail::format_duration(event.seconds) + " | peak " + format_bytes(epoch_peak_);
    print_line(line);
    steps_in_epoch_ = 0;  // the next step starts a new epoch line
  }

  void on_fit_end(const FitEnd& event) {
    std::string line = observer_detail::printf_string("done: %zu epoch%s in ", event.epochs_run,
                                                      event.epochs_run == 1 ? "" : "s") +
                       observer_detail::format_duration(event.seconds);
    if (event.stopped_early)
      line += event.stop_reason.empty() ? ", stopped early" : ", stopped early: " + event.stop_reason;
    print_line(line);
  }

 private:
  void start_epoch(std::size_t epoch) {
    // A step of a new epoch without an on_epoch_end for the previous one (a trainer that does
    // not send it): count the unfinished epoch's steps anyway so the ETA stays right.
    completed_seconds_ += step_seconds_in_epoch_ * (steps_in_epoch_ > 0 ? 1 : 0);
    completed_steps_ += steps_in_epoch_;
    epoch_ = epoch;
    steps_in_epoch_ = 0;
    loss_sum_ = 0;
    step_seconds_in_epoch_ = 0;
    epoch_peak_ = 0;
    seconds_since_draw_ = 0;
  }

  [[nodiscard]] std::string step_line(const StepEnd& event) const {
    const double mean_loss = loss_sum_ / static_cast<double>(steps_in_epoch_);
    const double step_seconds = step_seconds_in_epoch_ / static_cast<double>(steps_in_epoch_);
    const std::size_t steps_done = completed_steps_ + steps_in_epoch_;
    const double seconds_per_step =
        (completed_seconds_ + step_seconds_in_epoch_) / static_cast<double>(steps_done);
    const std::size_t planned = event.epochs * event.steps_per_epoch;
    const std::size_t done_in_fit = event.epoch * event.steps_per_epoch + event.step_in_epoch + 1;
    const std::size_t remaining = planned > done_in_fit ? planned - done_in_fit : 0;
    return observer_detail::printf_string("epoch %zu/%zu step %zu/%zu | loss %.4g lr %.3g | ",
                                          event.epoch + 1, event.epochs, event.step_in_epoch + 1,
                                          event.steps_per_epoch, mean_loss, event.learning_rate) +
           observer_detail::format_duration(step_seconds) + "/step ETA " +
           observer_detail::format_duration(seconds_per_step * static_cast<double>(remaining)) + " | peak " +
           format_bytes(epoch_peak_);
  }

  void draw_in_place(const std::string& line) {
    // Pad with spaces over the previous, possibly longer, text ('\r' only moves the cursor).
    *out_ << '\r' << line;
    if (line.size() < drawn_width_) *out_ << std::string(drawn_width_ - line.size(), ' ');
    *out_ << std::flush;
    drawn_width_ = std::max(drawn_width_, line.size());  // the padding is on screen too
  }

  /// A finished line: in place mode turns the current in-place line into it.
  void print_line(const std::string& line) {
    if (in_place_ && drawn_width_ > 0) {
      draw_in_place(line);
      *out_ << '\n' << std::flush;
    } else {
      *out_ << line << '\n' << std::flush;
    }
    drawn_width_ = 0;
  }

  std::ostream* out_;
  ProgressBarOptions options_;
  bool in_place_ = false;
  std::size_t epoch_ = 0;
  std::size_t steps_in_epoch_ = 0;
  double loss_sum_ = 0;
  double step_seconds_in_epoch_ = 0;
  std::size_t epoch_peak_ = 0;
  double seconds_since_draw_ = 0;
  double completed_seconds_ = 0;
  std::size_t completed_steps_ = 0;
  std::size_t drawn_width_ = 0;  // widest text on the open in-place line (0: none open)
};

// =============================================================================================
// CsvLog and JsonLog
// =============================================================================================

/// One CSV file, one row per step and one per epoch, told apart by the `kind` column:
///     kind,epoch,step_in_epoch,global_step,loss,learning_rate,seconds,peak_bytes,kept_classes,accuracy
///     step,0,0,0,2.30,0.001,0.15,1048576,83,
///     epoch,0,,119,2.01,,18.2,1048576,,0.71
/// Counters are 0-based (as in the events). Epoch rows: `loss` is the epoch's mean loss,
/// `global_step` that of the epoch's last step, `seconds` the epoch's time (evaluation
/// included), `accuracy` a fraction or empty when not evaluated; columns that do not apply to a
/// kind are empty. Numbers are written in shortest round-trip form; NaN/Inf as nan/inf/-inf.
///
/// Atomic: rows are kept in memory and the whole file is rewritten (temporary file, fsync,
/// rename) at fit begin (header only — an unwritable path fails before any training), at each
/// epoch end and at fit end. An interrupted run therefore leaves the file as of the last
/// complete epoch, never half a row. Call write() to save the current rows at another time
/// (e.g. from a catch block). Each rewrite costs O(rows); 10^5 steps are a few MB.
class CsvLog {
 public:
  static constexpr std::string_view header =
      "kind,epoch,step_in_epoch,global_step,loss,learning_rate,seconds,peak_bytes,kept_classes,accuracy\n";

  explicit CsvLog(std::filesystem::path path) : path_(std::move(path)) {}

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  void on_fit_begin(const FitBegin&) {
    rows_.clear();
    last_global_step_.reset();
    write();
  }

  void on_step_end(const StepEnd& event) {
    rows_ += "step,";
    observer_detail::append_unsigned(rows_, event.epoch);
    rows_ += ',';
    observer_detail::append_unsigned(rows_, event.step_in_epoch);
    rows_ += ',';
    observer_detail::append_unsigned(rows_, event.global_step);
    rows_ += ',';
    observer_detail::append_csv_number(rows_, event.loss);
    rows_ += ',';
    observer_detail::append_csv_number(rows_, event.learning_rate);
    rows_ += ',';
    observer_detail::append_csv_number(rows_, event.seconds);
    rows_ += ',';
    observer_detail::append_unsigned(rows_, event.peak_bytes);
    rows_ += ',';
    observer_detail::append_unsigned(rows_, event.kept_classes);
    rows_ += ",\n";  // no accuracy on step rows
    last_global_step_ = event.global_step;
  }

  void on_epoch_end(const EpochEnd& event) {
    rows_ += "epoch,";
    observer_detail::append_unsigned(rows_, event.epoch);
    rows_ += ",,";  // no step_in_epoch
    if (last_global_step_) observer_detail::append_unsigned(rows_, *last_global_step_);
    rows_ += ',';
    observer_detail::append_csv_number(rows_, event.mean_loss);
    rows_ += ",,";  // no learning rate
    observer_detail::append_csv_number(rows_, event.seconds);
    rows_ += ',';
    observer_detail::append_unsigned(rows_, event.peak_bytes);
    rows_ += ",,";  // no kept_classes
    if (event.accuracy) observer_detail::append_csv_number(rows_, *event.accuracy);
    rows_ += '\n';
    write();
  }

  void on_fit_end(const FitEnd&) { write(); }  // saves the steps of an epoch cut short by a stop

  /// Rewrites the file with every row so far (atomically; IoError naming the path on failure).
  void write() const {
    std::string content;
    content.reserve(header.size() + rows_.size());
    content += header;
    content += rows_;
    write_file_atomically(path_, content, "log file");
  }

 private:
  std::filesystem::path path_;
  std::string rows_;  // formatted once, when the event arrives
  std::optional<std::size_t> last_global_step_;
};

/// One JSON document (RFC 8259; load with json.load / JSON.parse):
///     {
///     "fit": {"description": "...", "epochs": 10, "steps_per_epoch": 120,
///             "trained_parameters": 1234, "planned_peak_bytes": 5678},
///     "steps": [
///       {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "loss": 2.3, "learning_rate": 0.001,
///        "seconds": 0.15, "peak_bytes": 1048576, "kept_classes": 83},
///       ...
///     ],
///     "epochs": [
///       {"epoch": 0, "mean_loss": 2.01, "seconds": 18.2, "accuracy": 0.71, "peak_bytes": 1048576},
///       ...
///     ],
///     "end": {"epochs_run": 10, "seconds": 182.5, "stopped_early": false, "stop_reason": ""}
///     }
/// (each record on one line). "fit" is null if on_fit_begin was not seen; "end" is null until
/// the fit ends, so a file with "end": null is a run in progress or one that was interrupted.
/// Counters are 0-based. Numbers are shortest round-trip; NaN and infinity — which JSON cannot
/// express — are written as null, as is an accuracy that was not evaluated. Strings are escaped;
/// bytes that are not valid UTF-8 become U+FFFD. Written atomically at the same moments as
/// CsvLog (fit begin, each epoch end, fit end, write()).
class JsonLog {
 public:
  explicit JsonLog(std::filesystem::path path) : path_(std::move(path)) {}

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  void on_fit_begin(const FitBegin& event) {
    fit_.clear();
    steps_.clear();
    epochs_.clear();
    end_.clear();
    fit_ += "{\"description\": ";
    observer_detail::append_json_string(fit_, event.description);
    fit_ += ", \"epochs\": ";
    observer_detail::append_unsigned(fit_, event.epochs);
    fit_ += ", \"steps_per_epoch\": ";
    observer_detail::append_unsigned(fit_, event.steps_per_epoch);
    fit_ += ", \"trained_parameters\": ";
    observer_detail::append_unsigned(fit_, event.trained_parameters);
    fit_ += ", \"planned_peak_bytes\": ";
    observer_detail::append_unsigned(fit_, event.planned_peak_bytes);
    fit_ += '}';
    write();
  }

  void on_step_end(const StepEnd& event) {
    steps_ += steps_.empty() ? "\n  " : ",\n  ";
    steps_ += "{\"epoch\": ";
    observer_detail::append_unsigned(steps_, event.epoch);
    steps_ += ", \"step_in_epoch\": ";
    observer_detail::append_unsigned(steps_, event.step_in_epoch);
    steps_ += ", \"global_step\": ";
    observer_detail::append_unsigned(steps_, event.global_step);
    steps_ += ", \"loss\": ";
    observer_detail::append_json_number(steps_, event.loss);
    steps_ += ", \"learning_rate\": ";
    observer_detail::append_json_number(steps_, event.learning_rate);
    steps_ += ", \"seconds\": ";
    observer_detail::append_json_number(steps_, event.seconds);
    steps_ += ", \"peak_bytes\": ";
    observer_detail::append_unsigned(steps_, event.peak_bytes);
    steps_ += ", \"kept_classes\": ";
    observer_detail::append_unsigned(steps_, event.kept_classes);
    steps_ += '}';
  }

  void on_epoch_end(const EpochEnd& event) {
    epochs_ += epochs_.empty() ? "\n  " : ",\n  ";
    epochs_ += "{\"epoch\": ";
    observer_detail::append_unsigned(epochs_, event.epoch);
    epochs_ += ", \"mean_loss\": ";
    observer_detail::append_json_number(epochs_, event.mean_loss);
    epochs_ += ", \"seconds\": ";
    observer_detail::append_json_number(epochs_, event.seconds);
    epochs_ += ", \"accuracy\": ";
    if (event.accuracy) {
      observer_detail::append_json_number(epochs_, *event.accuracy);
    } else {
      epochs_ += "null";
    }
    epochs_ += ", \"peak_bytes\": ";
    observer_detail::append_unsigned(epochs_, event.peak_bytes);
    epochs_ += '}';
    write();
  }

  void on_fit_end(const FitEnd& event) {
    end_.clear();
    end_ += "{\"epochs_run\": ";
    observer_detail::append_unsigned(end_, event.epochs_run);
    end_ += ", \"seconds\": ";
    observer_detail::append_json_number(end_, event.seconds);
    end_ += event.stopped_early ? ", \"stopped_early\": true" : ", \"stopped_early\": false";
    end_ += ", \"stop_reason\": ";
    observer_detail::append_json_string(end_, event.stop_reason);
    end_ += '}';
    write();
  }

  /// Rewrites the file with everything so far (atomically; IoError naming the path on failure).
  void write() const {
    std::string content;
    content.reserve(fit_.size() + steps_.size() + epochs_.size() + end_.size() + 64);
    content += "{\n\"fit\": ";
    content += fit_.empty() ? "null" : fit_;
    content += ",\n\"steps\": [";
    content += steps_;
    content += steps_.empty() ? "],\n" : "\n],\n";
    content += "\"epochs\": [";
    content += epochs_;
    content += epochs_.empty() ? "],\n" : "\n],\n";
    content += "\"end\": ";
    content += end_.empty() ? "null" : end_;
    content += "\n}\n";
    write_file_atomically(path_, content, "log file");
  }

 private:
  std::filesystem::path path_;
  // Pre-formatted JSON fragments; empty means "none yet" (fit_/end_ are then written as null).
  std::string fit_, steps_, epochs_, end_;
};

// =============================================================================================
// EarlyStop
// =============================================================================================

/// Asks the trainer to stop (on_epoch_end returns false) when the monitored value has not
/// improved for `patience` epochs. Improvement means a mean loss below best − min_delta, or an
/// accuracy above best + min_delta (strictly: with min_delta = 0, equal is not better).
/// patience = 0 stops at the first epoch that does not improve.
///
/// Epochs without the monitored value (accuracy when the trainer did not evaluate) decide
/// nothing; "for `patience` epochs" counts epochs, not evaluations, so with an evaluation every
/// 2 epochs and patience 4 the run stops at the second evaluation without improvement. If the
/// trainer never evaluates, Monitor::accuracy never stops. A NaN value is never an improvement.
///
///     skiptune::EarlyStop stop{.patience = 3, .min_delta = 1e-3};
///     tuner.fit(data, options, bar, stop);
///     if (!stop.stop_reason().empty()) std::cout << stop.stop_reason() << '\n';
struct EarlyStop {
  enum class Monitor { mean_loss, accuracy };

  std::size_t patience = 0;
  double min_delta = 0;  // >= 0, in the monitored value's units
  Monitor monitor = Monitor::mean_loss;

  /// What the hooks have seen (reset by on_fit_begin, so one EarlyStop can serve several fits).
  /// Read it; the hooks write it.
  struct Progress {
    std::optional<double> best;  // best monitored value so far
    std::size_t best_epoch = 0;  // 0-based epoch of `best`
    std::string stop_reason;     // set when on_epoch_end returned false
  } progress{};

  void validate() const {
    require<ConfigError>(std::isfinite(min_delta) && min_delta >= 0,
                         "EarlyStop: min_delta must be >= 0, got ", min_delta);
  }

  void on_fit_begin(const FitBegin&) {
    validate();
    progress = Progress{};
  }

  /// False (stop) once `patience` epochs passed since the best value without improving on it.
  bool on_epoch_end(const EpochEnd& event) {
    validate();
    const std::optional<double> value =
        monitor == Monitor::mean_loss ? std::optional<double>(event.mean_loss) : event.accuracy;
    if (!value) return true;  // not evaluated this epoch: nothing to decide
    if (improves(*value)) {
      progress.best = *value;
      progress.best_epoch = event.epoch;
      return true;
    }
    // Epochs since the best one; with no best yet (only NaN so far), since the fit began.
    const std::size_t stale =
        progress.best ? event.epoch - std::min(event.epoch, progress.best_epoch) : event.epoch + 1;
    if (stale < patience) return true;
    progress.stop_reason = observer_detail::printf_string(
        "early stop after epoch %zu/%zu: %s did not improve by more than %g for %zu epoch%s", event.epoch + 1,
        event.epochs, monitor_name(), min_delta, stale, stale == 1 ? "" : "s");
    if (progress.best)
      progress.stop_reason += observer_detail::printf_string(" (best %.6g at epoch %zu)", *progress.best,
                                                             progress.best_epoch + 1);
    return false;
  }

  /// Why on_epoch_end asked to stop; empty if it did not.
  [[nodiscard]] const std::string& stop_reason() const noexcept { return progress.stop_reason; }

 private:
  [[nodiscard]] bool improves(double value) const {
    if (std::isnan(value)) return false;
    if (!progress.best) return true;
    return monitor == Monitor::mean_loss ? value < *progress.best - min_delta
                                         : value > *progress.best + min_delta;
  }
  [[nodiscard]] const char* monitor_name() const {
    return monitor == Monitor::mean_loss ? "mean loss" : "accuracy";
  }
};

}  // namespace skiptune
