// skiptune/io/json.hpp — a small, strict JSON reader and writer for safetensors headers,
// sharded-checkpoint indexes and small config files.
//
// Strict means RFC 8259 and nothing more: no comments, no trailing commas, no NaN/Infinity, no
// leading '+' or leading zeros, no unescaped control characters, and every string must be valid
// UTF-8 (no overlong forms, no surrogate code points, nothing above U+10FFFF); a "\uXXXX" high
// surrogate must be followed by a low one. It is written for hostile input: nesting is
// depth-limited (recursion stays bounded), integers are kept exact as int64/uint64 and an integer
// literal that fits neither is an error rather than a silently rounded double, and every error is
// a JsonError carrying the byte offset where parsing stopped.
//
// Two ways to read:
//   * JsonReader — a pull parser. The caller walks the document (begin_object / next_member /
//     read_string / ...) and keeps only what it needs, so a 100 MB safetensors header costs
//     memory proportional to the tensors it describes, not to a DOM of every token.
//   * parse_json() — builds a JsonValue tree on top of JsonReader, for small config files.
//     Duplicate object keys are an error there (the reader itself cannot know what the caller
//     keeps, so callers of JsonReader check duplicates themselves).
//
// One way to write: JsonWriter, compact output (no whitespace), commas handled for you, strings
// escaped (and checked to be valid UTF-8), doubles in shortest round-trip form.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "skiptune/core/errors.hpp"

namespace skiptune::io {

/// A JSON syntax (or limit) error. `offset()` is the byte offset in the parsed text where the
/// problem was found; `reason()` is the message without the offset, for callers that rephrase
/// the offset (e.g. relative to a whole file rather than to the JSON text).
class JsonError : public IoError {
 public:
  JsonError(std::size_t offset, std::string reason)
      : IoError(skiptune::detail::message("invalid JSON at byte ", offset, ": ", reason)),
        offset_(offset),
        reason_(std::move(reason)) {}

  std::size_t offset() const noexcept { return offset_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::size_t offset_;
  std::string reason_;
};

/// Limits that keep hostile input from exhausting the stack.
struct JsonLimits {
  /// Maximum number of nested arrays/objects. 128 is far beyond any real config or header.
  std::size_t max_depth = 128;
};

enum class JsonType { null, boolean, number, string, array, object };

inline std::string_view json_type_name(JsonType type) {
  switch (type) {
    case JsonType::null: return "null";
    case JsonType::boolean: return "a boolean";
    case JsonType::number: return "a number";
    case JsonType::string: return "a string";
    case JsonType::array: return "an array";
    case JsonType::object: return "an object";
  }
  return "?";
}

// ------------------------------------------------------------------------------------------
// UTF-8
// ------------------------------------------------------------------------------------------
namespace detail {

/// Length of the well-formed UTF-8 sequence starting at `p` (1..4), or 0 if it is malformed,
/// overlong, encodes a surrogate, exceeds U+10FFFF or is cut off by `end`. The byte ranges are
/// those of the Unicode standard's table of well-formed UTF-8 byte sequences.
inline std::size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) {
  const unsigned char lead = p[0];
  if (lead < 0x80) return 1;
  auto continuation = [&](std::size_t i, unsigned char lo, unsigned char hi) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1, 0x80, 0xBF) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    // E0 excludes overlong forms (second byte >= A0); ED excludes surrogates (second byte <= 9F).
    const unsigned char lo = lead == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = lead == 0xED ? 0x9F : 0xBF;
    return continuation(1, lo, hi) && continuation(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    // F0 excludes overlong forms; F4 excludes code points above U+10FFFF.
    const unsigned char lo = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = lead == 0xF4 ? 0x8F : 0xBF;
    return continuation(1, lo, hi) && continuation(2, 0x80, 0xBF) && continuation(3, 0x80, 0xBF) ? 4
                                                                                               : 0;
  }
  return 0;  // continuation byte as lead, C0/C1 (always overlong) or F5..FF
}

inline void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

}  // namespace detail

/// Byte offset of the first byte that is not part of well-formed UTF-8, or npos if `text` is
/// entirely valid.
inline std::size_t find_invalid_utf8(std::string_view text) {
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  const auto* p = begin;
  while (p < end) {
    const std::size_t length = detail::utf8_sequence_length(p, end);
    if (length == 0) return static_cast<std::size_t>(p - begin);
    p += length;
  }
  return std::string_view::npos;
}

inline bool is_valid_utf8(std::string_view text) {
  return find_invalid_utf8(text) == std::string_view::npos;
}

// ------------------------------------------------------------------------------------------
// Numbers
// ------------------------------------------------------------------------------------------

/// A JSON number as written: an exact 64-bit integer (literal without fraction or exponent,
/// anywhere in [-2^63, 2^64-1]) or a double (anything with '.', 'e' or 'E').
class JsonNumber {
 public:
  JsonNumber() = default;

  static JsonNumber from_uint64(std::uint64_t value) {
    JsonNumber number;
    number.magnitude_ = value;
    return number;
  }
  static JsonNumber from_int64(std::int64_t value) {
    JsonNumber number;
    number.negative_ = value < 0;
    // Unsigned negation is well defined for INT64_MIN, whose magnitude 2^63 has no int64 form.
    number.magnitude_ = number.negative_ ? std::uint64_t{0} - static_cast<std::uint64_t>(value)
                                         : static_cast<std::uint64_t>(value);
    return number;
  }
  static JsonNumber from_double(double value) {
    JsonNumber number;
    number.is_double_ = true;
    number.double_ = value;
    return number;
  }

  bool is_integer() const noexcept { return !is_double_; }
  bool is_double() const noexcept { return is_double_; }
  /// True for integers below zero.
  bool is_negative_integer() const noexcept { return !is_double_ && negative_; }

  /// The exact value if this is an integer that fits int64.
  std::optional<std::int64_t> as_int64() const noexcept {
    if (is_double_) return std::nullopt;
    if (!negative_) {
      if (magnitude_ > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
      }
      return static_cast<std::int64_t>(magnitude_);
    }
    if (magnitude_ > std::uint64_t{1} << 63) return std::nullopt;
    return static_cast<std::int64_t>(std::uint64_t{0} - magnitude_);  // modular, exact in C++20
  }

  /// The exact value if this is a non-negative integer.
  std::optional<std::uint64_t> as_uint64() const noexcept {
    if (is_double_ || (negative_ && magnitude_ != 0)) return std::nullopt;
    return magnitude_;
  }

  /// The value as a double (integers above 2^53 are rounded).
  double as_double() const noexcept {
    if (is_double_) return double_;
    const double magnitude = static_cast<double>(magnitude_);
    return negative_ ? -magnitude : magnitude;
  }

  friend bool operator==(const JsonNumber& a, const JsonNumber& b) noexcept {
    if (a.is_double_ != b.is_double_) return false;
    if (a.is_double_) return a.double_ == b.double_;
    return a.magnitude_ == b.magnitude_ && a.negative_ == b.negative_;
  }

 private:
  bool is_double_ = false;
  bool negative_ = false;
  std::uint64_t magnitude_ = 0;
  double double_ = 0.0;
};

// ------------------------------------------------------------------------------------------
// JsonReader — the pull parser
// ------------------------------------------------------------------------------------------

/// Walks one JSON document. Typical use:
///
///   JsonReader reader(text);
///   reader.begin_object();
///   std::string key;
///   while (reader.next_member(key)) {
///     if (key == "name") name = reader.read_string();
///     else reader.skip_value();
///   }
///   reader.end_document();
///
/// After next_member() returns true or next_element() returns true, exactly one value must be
/// consumed (read_* / begin_* / skip_value) before the next call. Every syntax error throws
/// JsonError with the byte offset.
class JsonReader {
 public:
  /// The reader keeps a view of `text`, which must outlive it.
  explicit JsonReader(std::string_view text, JsonLimits limits = {})
      : text_(text), limits_(limits) {}
  explicit JsonReader(const char* text, JsonLimits limits = {})
      : JsonReader(std::string_view(text), limits) {}
  /// A temporary string would die before the reader is used: refuse it at compile time.
  explicit JsonReader(std::string&& text, JsonLimits limits = {}) = delete;

  /// The type of the next value (skipping whitespace); throws if no value starts there.
  JsonType peek() {
    skip_whitespace();
    if (pos_ >= text_.size()) fail(pos_, "unexpected end of input, expected a value");
    switch (text_[pos_]) {
      case '{': return JsonType::object;
      case '[': return JsonType::array;
      case '"': return JsonType::string;
      case 't':
      case 'f': return JsonType::boolean;
      case 'n': return JsonType::null;
      case '-':
      case '0': case '1': case '2': case '3': case '4':
      case '5': case '6': case '7': case '8': case '9': return JsonType::number;
      default: fail(pos_, describe_unexpected("a value"));
    }
  }

  /// Byte offset of the next token (after whitespace), for callers' own error messages.
  std::size_t value_offset() {
    skip_whitespace();
    return pos_;
  }

  /// Byte offset of the opening quote of the key most recently returned by next_member().
  std::size_t last_key_offset() const noexcept { return last_key_offset_; }

  /// Current depth: number of arrays/objects entered and not yet left.
  std::size_t depth() const noexcept { return containers_.size(); }

  void begin_object() { begin_container('{', Container::object); }

  /// Reads the next key of the current object into `key` and consumes the ':' — or consumes the
  /// closing '}' and returns false.
  bool next_member(std::string& key) {
    if (containers_.empty() || containers_.back().kind != Container::object) {
      throw std::logic_error("JsonReader::next_member called outside an object");
    }
    if (!close_or_comma('}', "'}' or ','")) return false;
    skip_whitespace();
    if (pos_ >= text_.size() || text_[pos_] != '"') fail(pos_, describe_unexpected("a string key"));
    last_key_offset_ = pos_;
    key = parse_string();
    skip_whitespace();
    expect(':', "':' after an object key");
    return true;
  }

  void begin_array() { begin_container('[', Container::array); }

  /// Prepares to read the next element of the current array — or consumes the closing ']' and
  /// returns false.
  bool next_element() {
    if (containers_.empty() || containers_.back().kind != Container::array) {
      throw std::logic_error("JsonReader::next_element called outside an array");
    }
    return close_or_comma(']', "']' or ','");
  }

  std::string read_string() {
    require_type(JsonType::string);
    return parse_string();
  }

  JsonNumber read_number() {
    require_type(JsonType::number);
    return parse_number();
  }

  bool read_bool() {
    require_type(JsonType::boolean);
    if (text_[pos_] == 't') {
      expect_literal("true");
      return true;
    }
    expect_literal("false");
    return false;
  }

  void read_null() {
    require_type(JsonType::null);
    expect_literal("null");
  }

  /// Consumes the next value whatever it is (still fully validated).
  void skip_value() {
    switch (peek()) {
      case JsonType::object: {
        begin_object();
        std::string key;
        while (next_member(key)) skip_value();
        break;
      }
      case JsonType::array:
        begin_array();
        while (next_element()) skip_value();
        break;
      case JsonType::string: parse_string(); break;
      case JsonType::number: parse_number(); break;
      case JsonType::boolean: read_bool(); break;
      case JsonType::null: read_null(); break;
    }
  }

  /// Checks that the document is complete and only whitespace follows it.
  void end_document() {
    if (!containers_.empty()) throw std::logic_error("JsonReader::end_document inside a container");
    skip_whitespace();
    if (pos_ != text_.size()) fail(pos_, describe_unexpected("the end of the input"));
  }

  [[noreturn]] void fail(std::size_t offset, std::string reason) const {
    throw JsonError(offset, std::move(reason));
  }

 private:
  enum class Container : std::uint8_t { object, array };
  struct Open {
    Container kind;
    bool empty_so_far;  // true until the first member/element, so we know whether a ',' is due
  };

  void skip_whitespace() noexcept {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  std::string describe_unexpected(std::string_view expected) const {
    if (pos_ >= text_.size()) {
      return skiptune::detail::message("unexpected end of input, expected ", expected);
    }
    const auto byte = static_cast<unsigned char>(text_[pos_]);
    if (byte >= 0x20 && byte < 0x7F) {
      return skiptune::detail::message("unexpected character '", static_cast<char>(byte),
                                       "', expected ", expected);
    }
    return skiptune::detail::message("unexpected byte 0x", "0123456789abcdef"[byte >> 4],
                                     "0123456789abcdef"[byte & 15], ", expected ", expected);
  }

  void expect(char c, std::string_view what) {
    if (pos_ >= text_.size() || text_[pos_] != c) fail(pos_, describe_unexpected(what));
    ++pos_;
  }

  void expect_literal(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) {
      fail(pos_, skiptune::detail::message("invalid literal, expected '", literal, "'"));
    }
    pos_ += literal.size();
  }

  void require_type(JsonType wanted) {
    const std::size_t at = value_offset();
    const JsonType found = peek();
    if (found != wanted) {
      fail(at, skiptune::detail::message("expected ", json_type_name(wanted), ", found ",
                                         json_type_name(found)));
    }
  }

  void begin_container(char open, Container kind) {
    require_type(kind == Container::object ? JsonType::object : JsonType::array);
    if (containers_.size() >= limits_.max_depth) {
      fail(pos_, skiptune::detail::message("nesting deeper than the limit of ", limits_.max_depth));
    }
    expect(open, open == '{' ? "'{'" : "'['");
    containers_.push_back({kind, true});
  }

  // Shared by next_member/next_element: handle the closing bracket or the separating comma.
  bool close_or_comma(char close, std::string_view expected) {
    skip_whitespace();
    Open& top = containers_.back();
    if (pos_ < text_.size() && text_[pos_] == close) {
      // "[1,]" never reaches here with a close: after a comma we demand a value below.
      ++pos_;
      containers_.pop_back();
      return false;
    }
    if (!top.empty_so_far) {
      expect(',', expected);
      skip_whitespace();
      if (pos_ < text_.size() && text_[pos_] == close) {
        fail(pos_, "trailing comma before the closing bracket");
      }
    }
    top.empty_so_far = false;
    return true;
  }

  std::uint32_t parse_hex4(std::size_t at) {
    if (text_.size() - at < 4) fail(at, "truncated \\u escape, expected 4 hex digits");
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const char c = text_[at + i];
      std::uint32_t digit = 0;
      if (c >= '0' && c <= '9') {
        digit = static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        fail(at + i, "invalid hex digit in \\u escape");
      }
      value = value * 16 + digit;
    }
    return value;
  }

  // pos_ is at the opening quote.
  std::string parse_string() {
    const std::size_t start = pos_;
    ++pos_;
    std::string out;
    const auto* bytes = reinterpret_cast<const unsigned char*>(text_.data());
    const auto* end = bytes + text_.size();
    for (;;) {
      // Copy the longest run of plain characters in one go; most strings have no escapes.
      const std::size_t run_start = pos_;
      while (pos_ < text_.size()) {
        const unsigned char c = bytes[pos_];
        if (c == '"' || c == '\\' || c < 0x20) break;
        if (c < 0x80) {
          ++pos_;
          continue;
        }
        const std::size_t length = detail::utf8_sequence_length(bytes + pos_, end);
        if (length == 0) fail(pos_, "invalid UTF-8 in string");
        pos_ += length;
      }
      out.append(text_.data() + run_start, pos_ - run_start);
      if (pos_ >= text_.size()) fail(start, "unterminated string");
      const unsigned char c = bytes[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail(pos_, "unescaped control character in string (must be written as \\uXXXX)");
      // c == '\\'
      const std::size_t escape_at = pos_;
      if (pos_ + 1 >= text_.size()) fail(escape_at, "unterminated escape sequence");
      const char kind = text_[pos_ + 1];
      pos_ += 2;
      switch (kind) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t code_point = parse_hex4(pos_);
          pos_ += 4;
          if (code_point >= 0xDC00 && code_point <= 0xDFFF) {
            fail(escape_at, "unpaired low surrogate in \\u escape");
          }
          if (code_point >= 0xD800 && code_point <= 0xDBFF) {
            // A high surrogate only means something as the first half of a pair.
            if (text_.substr(pos_, 2) != "\\u") {
              fail(escape_at, "high surrogate in \\u escape not followed by a low surrogate");
            }
            const std::uint32_t low = parse_hex4(pos_ + 2);
            if (low < 0xDC00 || low > 0xDFFF) {
              fail(pos_, "high surrogate in \\u escape not followed by a low surrogate");
            }
            pos_ += 6;
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
          }
          detail::append_utf8(out, code_point);
          break;
        }
        default: fail(escape_at, "invalid escape sequence in string");
      }
    }
  }

  // pos_ is at '-' or a digit. Grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  JsonNumber parse_number() {
    const std::size_t start = pos_;
    auto is_digit = [&](std::size_t i) { return i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; };
    const bool negative = text_[pos_] == '-';
    if (negative) ++pos_;
    if (!is_digit(pos_)) fail(pos_, "expected a digit");
    const std::size_t integer_start = pos_;
    if (text_[pos_] == '0') {
      ++pos_;
      if (is_digit(pos_)) fail(start, "leading zeros are not allowed in numbers");
    } else {
      while (is_digit(pos_)) ++pos_;
    }
    const std::size_t integer_end = pos_;
    bool is_integer = true;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      is_integer = false;
      ++pos_;
      if (!is_digit(pos_)) fail(pos_, "expected a digit after the decimal point");
      while (is_digit(pos_)) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      is_integer = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!is_digit(pos_)) fail(pos_, "expected a digit in the exponent");
      while (is_digit(pos_)) ++pos_;
    }

    if (is_integer) {
      std::uint64_t magnitude = 0;
      constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
      for (std::size_t i = integer_start; i < integer_end; ++i) {
        const auto digit = static_cast<std::uint64_t>(text_[i] - '0');
        if (magnitude > (max - digit) / 10) {
          fail(start, skiptune::detail::message("integer ", text_.substr(start, pos_ - start),
                                                " does not fit in 64 bits"));
        }
        magnitude = magnitude * 10 + digit;
      }
      if (!negative) return JsonNumber::from_uint64(magnitude);
      if (magnitude > std::uint64_t{1} << 63) {
        fail(start, skiptune::detail::message("integer ", text_.substr(start, pos_ - start),
                                              " does not fit in 64 bits"));
      }
      // "-0" becomes the integer 0: JSON gives it no separate meaning for integers.
      return JsonNumber::from_int64(static_cast<std::int64_t>(std::uint64_t{0} - magnitude));
    }

    // The grammar was checked above, so from_chars (locale-independent, correctly rounded)
    // sees only text it accepts in full.
    double value = 0.0;
    const auto [end, error] = std::from_chars(text_.data() + start, text_.data() + pos_, value);
    if (error != std::errc{} || end != text_.data() + pos_ || !std::isfinite(value)) {
      fail(start, skiptune::detail::message("number ", text_.substr(start, pos_ - start),
                                            " is outside the range of a double"));
    }
    return JsonNumber::from_double(value);
  }

  std::string_view text_;
  JsonLimits limits_;
  std::size_t pos_ = 0;
  std::size_t last_key_offset_ = 0;
  std::vector<Open> containers_;
};

// ------------------------------------------------------------------------------------------
// JsonValue — a DOM for small documents
// ------------------------------------------------------------------------------------------

class JsonValue {
 public:
  using Array = std::vector<JsonValue>;
  /// Members in document order (keys are unique: parse_json rejects duplicates).
  using Object = std::vector<std::pair<std::string, JsonValue>>;

  JsonValue() = default;  // null
  JsonValue(std::nullptr_t) {}
  JsonValue(bool value) : value_(value) {}
  JsonValue(JsonNumber value) : value_(value) {}
  JsonValue(std::string value) : value_(std::move(value)) {}
  JsonValue(Array value) : value_(std::move(value)) {}
  JsonValue(Object value) : value_(std::move(value)) {}

  JsonType type() const noexcept {
    switch (value_.index()) {
      case 0: return JsonType::null;
      case 1: return JsonType::boolean;
      case 2: return JsonType::number;
      case 3: return JsonType::string;
      case 4: return JsonType::array;
      default: return JsonType::object;
    }
  }
  bool is_null() const noexcept { return type() == JsonType::null; }
  bool is_bool() const noexcept { return type() == JsonType::boolean; }
  bool is_number() const noexcept { return type() == JsonType::number; }
  bool is_string() const noexcept { return type() == JsonType::string; }
  bool is_array() const noexcept { return type() == JsonType::array; }
  bool is_object() const noexcept { return type() == JsonType::object; }

  bool as_bool() const { return get<bool>(JsonType::boolean); }
  const JsonNumber& as_number() const { return get<JsonNumber>(JsonType::number); }
  const std::string& as_string() const { return get<std::string>(JsonType::string); }
  const Array& as_array() const { return get<Array>(JsonType::array); }
  const Object& as_object() const { return get<Object>(JsonType::object); }

  /// The member named `key`, or nullptr if absent (or if this is not an object).
  const JsonValue* find(std::string_view key) const {
    if (!is_object()) return nullptr;
    for (const auto& [name, value] : std::get<Object>(value_)) {
      if (name == key) return &value;
    }
    return nullptr;
  }

  /// The member named `key`; throws IoError if absent.
  const JsonValue& at(std::string_view key) const {
    const JsonValue* value = find(key);
    if (value == nullptr) {
      throw IoError(skiptune::detail::message("JSON object has no key \"", key, "\""));
    }
    return *value;
  }

  friend bool operator==(const JsonValue& a, const JsonValue& b) { return a.value_ == b.value_; }

 private:
  template <class T>
  const T& get(JsonType wanted) const {
    if (const T* value = std::get_if<T>(&value_)) return *value;
    throw IoError(skiptune::detail::message("JSON value is ", json_type_name(type()), ", expected ",
                                            json_type_name(wanted)));
  }

  std::variant<std::nullptr_t, bool, JsonNumber, std::string, Array, Object> value_;
};

/// Reads the next value from `reader` as a tree (duplicate keys are a JsonError).
inline JsonValue read_json_value(JsonReader& reader) {
  switch (reader.peek()) {
    case JsonType::null: reader.read_null(); return JsonValue();
    case JsonType::boolean: return JsonValue(reader.read_bool());
    case JsonType::number: return JsonValue(reader.read_number());
    case JsonType::string: return JsonValue(reader.read_string());
    case JsonType::array: {
      JsonValue::Array array;
      reader.begin_array();
      while (reader.next_element()) array.push_back(read_json_value(reader));
      return JsonValue(std::move(array));
    }
    case JsonType::object: {
      JsonValue::Object object;
      std::unordered_set<std::string> seen;
      reader.begin_object();
      std::string key;
      while (reader.next_member(key)) {
        if (!seen.insert(key).second) {
          reader.fail(reader.last_key_offset(),
                      skiptune::detail::message("duplicate key \"", key, "\" in object"));
        }
        JsonValue value = read_json_value(reader);
        object.emplace_back(std::move(key), std::move(value));
        key.clear();
      }
      return JsonValue(std::move(object));
    }
  }
  return JsonValue();
}

/// Parses a complete JSON document (only whitespace may follow the value).
inline JsonValue parse_json(std::string_view text, JsonLimits limits = {}) {
  JsonReader reader(text, limits);
  JsonValue value = read_json_value(reader);
  reader.end_document();
  return value;
}

// ------------------------------------------------------------------------------------------
// JsonWriter
// ------------------------------------------------------------------------------------------

/// Builds compact JSON. Misuse (a value where a key is due, unbalanced end_*) is a logic_error;
/// unrepresentable data (invalid UTF-8, NaN/Inf) is an InputError.
class JsonWriter {
 public:
  JsonWriter& begin_object() {
    before_value();
    out_ += '{';
    open_.push_back({true, true});
    return *this;
  }
  JsonWriter& end_object() {
    if (open_.empty() || !open_.back().is_object || expecting_value_) {
      throw std::logic_error("JsonWriter::end_object without a matching begin_object");
    }
    open_.pop_back();
    out_ += '}';
    return *this;
  }
  JsonWriter& begin_array() {
    before_value();
    out_ += '[';
    open_.push_back({false, true});
    return *this;
  }
  JsonWriter& end_array() {
    if (open_.empty() || open_.back().is_object) {
      throw std::logic_error("JsonWriter::end_array without a matching begin_array");
    }
    open_.pop_back();
    out_ += ']';
    return *this;
  }
  JsonWriter& key(std::string_view name) {
    if (open_.empty() || !open_.back().is_object || expecting_value_) {
      throw std::logic_error("JsonWriter::key outside an object or twice in a row");
    }
    if (!open_.back().empty_so_far) out_ += ',';
    open_.back().empty_so_far = false;
    append_escaped(name);
    out_ += ':';
    expecting_value_ = true;
    return *this;
  }
  JsonWriter& string(std::string_view value) {
    before_value();
    append_escaped(value);
    return *this;
  }
  template <class Integer>
    requires(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>)
  JsonWriter& integer(Integer value) {
    before_value();
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out_.append(buffer, result.ptr);
    return *this;
  }
  /// Finite doubles only, in the shortest form that reads back to the same double; a ".0" is
  /// added to integral values so they read back as doubles, not integers.
  JsonWriter& number(double value) {
    if (!std::isfinite(value)) throw InputError("JSON cannot represent NaN or infinity");
    before_value();
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    const std::string_view text(buffer, static_cast<std::size_t>(result.ptr - buffer));
    out_ += text;
    if (text.find_first_of(".eE") == std::string_view::npos) out_ += ".0";
    return *this;
  }
  JsonWriter& number(const JsonNumber& value) {
    if (value.is_double()) return number(value.as_double());
    if (const auto as_unsigned = value.as_uint64()) return integer(*as_unsigned);
    return integer(*value.as_int64());
  }
  JsonWriter& boolean(bool value) {
    before_value();
    out_ += value ? "true" : "false";
    return *this;
  }
  JsonWriter& null() {
    before_value();
    out_ += "null";
    return *this;
  }
  JsonWriter& value(const JsonValue& value) {
    switch (value.type()) {
      case JsonType::null: return null();
      case JsonType::boolean: return boolean(value.as_bool());
      case JsonType::number: return number(value.as_number());
      case JsonType::string: return string(value.as_string());
      case JsonType::array:
        begin_array();
        for (const JsonValue& element : value.as_array()) this->value(element);
        return end_array();
      case JsonType::object:
        begin_object();
        for (const auto& [name, member] : value.as_object()) {
          key(name);
          this->value(member);
        }
        return end_object();
    }
    return *this;
  }

  /// True once exactly one complete top-level value has been written.
  bool complete() const noexcept { return open_.empty() && wrote_top_level_; }

  const std::string& str() const noexcept { return out_; }
  std::string take() { return std::move(out_); }

 private:
  struct Open {
    bool is_object;
    bool empty_so_far;
  };

  void before_value() {
    if (open_.empty()) {
      if (wrote_top_level_) throw std::logic_error("JsonWriter: a second top-level value");
      wrote_top_level_ = true;
      return;
    }
    if (open_.back().is_object) {
      if (!expecting_value_) throw std::logic_error("JsonWriter: a value in an object needs a key");
      expecting_value_ = false;
      return;
    }
    if (!open_.back().empty_so_far) out_ += ',';
    open_.back().empty_so_far = false;
  }

  void append_escaped(std::string_view text) {
    if (const std::size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
      throw InputError(skiptune::detail::message(
          "cannot write a JSON string that is not valid UTF-8 (bad byte at offset ", bad, ")"));
    }
    out_ += '"';
    for (const char c : text) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const auto byte = static_cast<unsigned char>(c);
            out_ += "\\u00";
            out_ += "0123456789abcdef"[byte >> 4];
            out_ += "0123456789abcdef"[byte & 15];
          } else {
            out_ += c;  // UTF-8 passes through unchanged
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<Open> open_;
  bool expecting_value_ = false;
  bool wrote_top_level_ = false;
};

/// Compact JSON text of a value.
inline std::string to_json(const JsonValue& value) {
  JsonWriter writer;
  writer.value(value);
  return writer.take();
}

}  // namespace skiptune::io
