// skiptune/data/emoji_pack.hpp — reader for the EmojiBench pack written by
// tools/emojibench/build_pack.py (format and design: docs/emojibench.md).
//
// One file holds every emoji class (CLDR name, keywords, group), every artwork family (licence,
// source, role), the downstream tasks (base / new classes), the folds (few-shot train and test
// families) and all images (side × side × 3 uint8 RGB, composited on white). Loading verifies
// the magic, the format version, the exact size and the trailing SHA-256 of the whole file, so
// a truncated or corrupted pack raises skiptune::IoError instead of training on garbage.
//
//   auto pack = skiptune::data::EmojiPack::load(path);
//   const auto& task = pack.task("food");
//   const auto& fold = pack.fold(0);
//   for (const auto& shot : pack.shot_plan(task.base_classes, fold, 16)) {
//     std::span<const std::uint8_t> rgb = pack.pixels(shot.image_index);  // + augmentation index
//   }
//
// Layout (little-endian): 64-byte header {magic "EMOJBNCH", u32 version, u32 header size,
// u32 side, u32 channels, u32 compression (0 none, 1 zlib), u32 0, u64 metadata bytes M,
// u64 image count N, u64 stored pixel bytes P, u64 0}, M bytes of UTF-8 JSON metadata,
// N records {u32 class, u16 family, u16 variant} sorted by (class, family, variant), P bytes of
// pixels in record order, 32 bytes SHA-256 of everything before.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"

namespace skiptune::data {

/// What a family's artwork may be used for, for the classes of the downstream tasks. (For
/// classes outside every task, every family may be used in pretraining.)
enum class FamilyRole { pretrain, down, shift };

inline const char* to_string(FamilyRole role) noexcept {
  switch (role) {
    case FamilyRole::pretrain: return "pretrain";
    case FamilyRole::down: return "down";
    case FamilyRole::shift: return "shift";
  }
  return "?";
}

/// One emoji class: a fully-qualified emoji without skin-tone modifier.
struct EmojiClass {
  int id = 0;
  std::string emoji;          ///< the emoji itself, UTF-8
  std::string codepoints;     ///< e.g. "1F34E"
  std::string name;           ///< CLDR short name, e.g. "red apple"
  std::vector<std::string> keywords;  ///< CLDR keywords other than the name
  std::string group;          ///< e.g. "Food & Drink"
  std::string subgroup;       ///< e.g. "food-fruit"
  std::string emoji_version;  ///< e.g. "0.6"
  std::string task;           ///< the downstream task it belongs to, or ""
  std::string split;          ///< "base", "new" or ""
};

/// One artwork family (an emoji design), e.g. Noto Color Emoji or OpenMoji.
struct ArtworkFamily {
  int id = 0;
  std::string name;  ///< short id, e.g. "openmoji"
  std::string title;
  FamilyRole role = FamilyRole::pretrain;
  std::string licence;
  std::string attribution;
  std::string source;   ///< package@version the artwork came from
  std::string mapping;  ///< how the builder matched its drawings to classes
  bool monochrome = false;
};

/// A rendering variant: 0 = default, 1..5 = uniform skin tones, 10·a+b = two different tones.
struct ImageVariant {
  int id = 0;
  std::string name;
};

/// A downstream task: base classes (few-shot training and test) and new classes (test only).
struct EmojiTask {
  std::string name;
  std::vector<std::string> groups;
  std::vector<std::string> subgroups;
  std::vector<int> base_classes;
  std::vector<int> new_classes;

  /// Base classes then new classes.
  [[nodiscard]] std::vector<int> all_classes() const {
    std::vector<int> all = base_classes;
    all.insert(all.end(), new_classes.begin(), new_classes.end());
    return all;
  }
};

/// A fold: which DOWN families give the few-shot images and which are held out for testing.
struct EmojiFold {
  int id = 0;
  std::vector<int> train_families;
  std::vector<int> test_families;
};

/// Which image an entry of the pack is.
struct ImageRecord {
  int class_id = 0;
  int family_id = 0;
  int variant = 0;

  friend bool operator==(const ImageRecord&, const ImageRecord&) = default;
};

/// One image to use, and the augmentation index to apply (0 = clean; test views: 0..views-1).
struct PlannedImage {
  std::size_t image_index = 0;
  int class_id = 0;
  int family_id = 0;
  int variant = 0;
  int augmentation = 0;
};

namespace detail {

// ------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4), enough to verify the pack's trailing checksum.

class Sha256 {
 public:
  void update(const std::uint8_t* data, std::size_t size) {
    total_bytes_ += size;
    while (size > 0) {
      const std::size_t take = std::min<std::size_t>(64 - buffered_, size);
      std::memcpy(buffer_.data() + buffered_, data, take);
      buffered_ += take;
      data += take;
      size -= take;
      if (buffered_ == 64) {
        compress(buffer_.data());
        buffered_ = 0;
      }
    }
  }

  std::array<std::uint8_t, 32> finish() {
    const std::uint64_t bit_length = total_bytes_ * 8;
    const std::uint8_t one = 0x80;
    update(&one, 1);
    const std::uint8_t zero = 0;
    while (buffered_ != 56) update(&zero, 1);
    std::array<std::uint8_t, 8> length{};
    for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(bit_length >> (56 - 8 * i));
    update(length.data(), 8);
    std::array<std::uint8_t, 32> digest{};
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 4; ++j) digest[4 * i + j] = static_cast<std::uint8_t>(state_[i] >> (24 - 8 * j));
    return digest;
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void compress(const std::uint8_t* block) {
    static constexpr std::array<std::uint32_t, 64> k = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::array<std::uint32_t, 64> w{};
    for (int i = 0; i < 16; ++i)
      w[i] = (std::uint32_t{block[4 * i]} << 24) | (std::uint32_t{block[4 * i + 1]} << 16) |
             (std::uint32_t{block[4 * i + 2]} << 8) | std::uint32_t{block[4 * i + 3]};
    for (int i = 16; i < 64; ++i) {
      const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::array<std::uint32_t, 8> v = state_;
    for (int i = 0; i < 64; ++i) {
      const std::uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
      const std::uint32_t choose = (v[4] & v[5]) ^ (~v[4] & v[6]);
      const std::uint32_t t1 = v[7] + s1 + choose + k[i] + w[i];
      const std::uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
      const std::uint32_t majority = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      const std::uint32_t t2 = s0 + majority;
      v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
    }
    for (int i = 0; i < 8; ++i) state_[i] += v[i];
  }

  std::array<std::uint32_t, 8> state_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

inline std::array<std::uint8_t, 32> sha256(std::span<const std::uint8_t> bytes) {
  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return hash.finish();
}

inline std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// A minimal JSON reader for the pack's metadata (objects, arrays, strings, numbers, literals).

struct JsonValue {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;

  [[nodiscard]] const JsonValue* find(std::string_view key) const {
    for (const auto& [name, value] : object)
      if (name == key) return &value;
    return nullptr;
  }
};

class JsonParser {
 public:
  JsonParser(std::string_view text, std::string context) : text_(text), context_(std::move(context)) {}

  JsonValue parse_document() {
    JsonValue value = parse_value(0);
    skip_space();
    if (position_ != text_.size()) fail("unexpected text after the JSON value");
    return value;
  }

 private:
  static constexpr int max_depth = 64;

  [[noreturn]] void fail(std::string_view what) const {
    throw IoError(skiptune::detail::message(context_, ": metadata JSON: ", what, " at byte ", position_));
  }

  void skip_space() {
    while (position_ < text_.size() &&
           (text_[position_] == ' ' || text_[position_] == '\n' || text_[position_] == '\r' || text_[position_] == '\t'))
      ++position_;
  }

  char peek() {
    skip_space();
    if (position_ >= text_.size()) fail("unexpected end");
    return text_[position_];
  }

  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++position_;
  }

  void expect_literal(std::string_view word) {
    if (text_.substr(position_, word.size()) != word) fail("invalid literal");
    position_ += word.size();
  }

  JsonValue parse_value(int depth) {
    if (depth > max_depth) fail("nesting too deep");
    JsonValue value;
    const char c = peek();
    if (c == '{') {
      value.kind = JsonValue::Kind::object;
      ++position_;
      if (peek() == '}') {
        ++position_;
        return value;
      }
      while (true) {
        if (peek() != '"') fail("expected a string key");
        std::string key = parse_string();
        expect(':');
        value.object.emplace_back(std::move(key), parse_value(depth + 1));
        if (peek() == ',') {
          ++position_;
          continue;
        }
        expect('}');
        return value;
      }
    }
    if (c == '[') {
      value.kind = JsonValue::Kind::array;
      ++position_;
      if (peek() == ']') {
        ++position_;
        return value;
      }
      while (true) {
        value.array.push_back(parse_value(depth + 1));
        if (peek() == ',') {
          ++position_;
          continue;
        }
        expect(']');
        return value;
      }
    }
    if (c == '"') {
      value.kind = JsonValue::Kind::string;
      value.string = parse_string();
      return value;
    }
    if (c == 't' || c == 'f') {
      value.kind = JsonValue::Kind::boolean;
      value.boolean = c == 't';
      expect_literal(value.boolean ? "true" : "false");
      return value;
    }
    if (c == 'n') {
      expect_literal("null");
      return value;
    }
    value.kind = JsonValue::Kind::number;
    const char* begin = text_.data() + position_;
    const char* end = text_.data() + text_.size();
    const auto [stop, error] = std::from_chars(begin, end, value.number);
    if (error != std::errc{} || stop == begin) fail("invalid value");
    position_ += static_cast<std::size_t>(stop - begin);
    return value;
  }

  unsigned parse_hex4() {
    if (position_ + 4 > text_.size()) fail("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[position_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
      else fail("invalid \\u escape");
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (position_ >= text_.size()) fail("unterminated string");
      const char c = text_[position_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (position_ >= text_.size()) fail("unterminated escape");
      const char e = text_[position_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code = parse_hex4();
          if (code >= 0xD800 && code < 0xDC00) {
            if (text_.substr(position_, 2) != "\\u") fail("lone high surrogate");
            position_ += 2;
            const unsigned low = parse_hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("invalid low surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code < 0xE000) {
            fail("lone low surrogate");
          }
          append_utf8(out, code);
          break;
        }
        default: fail("invalid escape");
      }
    }
  }

  std::string_view text_;
  std::string context_;
  std::size_t position_ = 0;
};

/// Typed access to metadata fields with errors that name the pack and the field.
class MetadataReader {
 public:
  explicit MetadataReader(std::string context) : context_(std::move(context)) {}

  const JsonValue& field(const JsonValue& object, std::string_view key, JsonValue::Kind kind) const {
    if (object.kind != JsonValue::Kind::object) fail("expected an object holding '", key, "'");
    const JsonValue* value = object.find(key);
    if (value == nullptr) fail("missing field '", key, "'");
    if (value->kind != kind) fail("field '", key, "' has the wrong type");
    return *value;
  }
  std::string text(const JsonValue& object, std::string_view key) const {
    return field(object, key, JsonValue::Kind::string).string;
  }
  std::string optional_text(const JsonValue& object, std::string_view key) const {
    const JsonValue* value = object.find(key);
    return value != nullptr && value->kind == JsonValue::Kind::string ? value->string : std::string{};
  }
  long long integer(const JsonValue& object, std::string_view key) const {
    return to_integer(field(object, key, JsonValue::Kind::number), key);
  }
  long long to_integer(const JsonValue& value, std::string_view what) const {
    if (value.kind != JsonValue::Kind::number || value.number != static_cast<double>(static_cast<long long>(value.number)))
      fail("'", what, "' must be an integer");
    return static_cast<long long>(value.number);
  }
  const std::vector<JsonValue>& list(const JsonValue& object, std::string_view key) const {
    return field(object, key, JsonValue::Kind::array).array;
  }
  std::vector<std::string> texts(const JsonValue& object, std::string_view key) const {
    std::vector<std::string> out;
    for (const JsonValue& v : list(object, key)) {
      if (v.kind != JsonValue::Kind::string) fail("'", key, "' must hold strings");
      out.push_back(v.string);
    }
    return out;
  }
  std::vector<int> ids(const JsonValue& object, std::string_view key, std::size_t limit) const {
    std::vector<int> out;
    for (const JsonValue& v : list(object, key)) {
      const long long id = to_integer(v, key);
      if (id < 0 || static_cast<std::size_t>(id) >= limit) fail("'", key, "' holds id ", id, ", out of range [0, ", limit, ")");
      out.push_back(static_cast<int>(id));
    }
    return out;
  }

  template <class... Parts>
  [[noreturn]] void fail(Parts&&... parts) const {
    throw IoError(skiptune::detail::message(context_, ": metadata: ", std::forward<Parts>(parts)...));
  }

 private:
  std::string context_;
};

inline std::uint32_t read_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
inline std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint64_t read_u64(const std::uint8_t* p) {
  return std::uint64_t{read_u32(p)} | (std::uint64_t{read_u32(p + 4)} << 32);
}

}  // namespace detail

/// A loaded, verified EmojiBench pack. All images live in memory (≈ 76 MB for the default pack).
class EmojiPack {
 public:
  static constexpr std::uint32_t format_version = 1;
  static constexpr std::string_view magic = "EMOJBNCH";
  static constexpr std::size_t header_bytes = 64;
  static constexpr std::size_t checksum_bytes = 32;
  static constexpr std::size_t record_bytes = 8;

  /// Read and verify a pack file. Throws IoError (missing, truncated, corrupted, wrong version).
  static EmojiPack load(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    require<IoError>(static_cast<bool>(in), "EmojiBench pack ", path.string(),
                     " cannot be opened (build it with tools/emojibench/build_pack.py)");
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    in.seekg(0, std::ios::beg);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(std::max<std::streamoff>(size, 0)));
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    require<IoError>(static_cast<bool>(in), "EmojiBench pack ", path.string(), ": read error");
    return from_bytes(bytes, path.string());
  }

  /// Parse and verify a pack held in memory; `name` appears in error messages.
  static EmojiPack from_bytes(std::span<const std::uint8_t> bytes, const std::string& name = "EmojiBench pack") {
    EmojiPack pack;
    pack.parse(bytes, name);
    return pack;
  }

  // -- shape of the images ---------------------------------------------------------------------
  [[nodiscard]] int image_side() const noexcept { return side_; }
  [[nodiscard]] int channels() const noexcept { return channels_; }
  /// Bytes of one image: side × side × channels (row-major, RGB interleaved).
  [[nodiscard]] std::size_t image_bytes() const noexcept {
    return static_cast<std::size_t>(side_) * static_cast<std::size_t>(side_) * static_cast<std::size_t>(channels_);
  }
  [[nodiscard]] std::size_t image_count() const noexcept { return records_.size(); }

  // -- metadata ------------------------------------------------------------------------------
  [[nodiscard]] const std::vector<EmojiClass>& classes() const noexcept { return classes_; }
  [[nodiscard]] const EmojiClass& emoji_class(int class_id) const {
    require<InputError>(class_id >= 0 && static_cast<std::size_t>(class_id) < classes_.size(), "EmojiBench class id ",
                        class_id, " out of range [0, ", classes_.size(), ")");
    return classes_[static_cast<std::size_t>(class_id)];
  }
  [[nodiscard]] const std::vector<ArtworkFamily>& families() const noexcept { return families_; }
  [[nodiscard]] const ArtworkFamily& family(int family_id) const {
    require<InputError>(family_id >= 0 && static_cast<std::size_t>(family_id) < families_.size(),
                        "EmojiBench family id ", family_id, " out of range [0, ", families_.size(), ")");
    return families_[static_cast<std::size_t>(family_id)];
  }
  [[nodiscard]] const ArtworkFamily& family(std::string_view name) const {
    for (const auto& f : families_)
      if (f.name == name) return f;
    throw InputError(skiptune::detail::message("EmojiBench pack has no artwork family '", name, "'"));
  }
  [[nodiscard]] std::vector<int> families_with_role(FamilyRole role) const {
    std::vector<int> ids;
    for (const auto& f : families_)
      if (f.role == role) ids.push_back(f.id);
    return ids;
  }
  [[nodiscard]] const std::vector<ImageVariant>& variants() const noexcept { return variants_; }
  [[nodiscard]] const std::vector<EmojiTask>& tasks() const noexcept { return tasks_; }
  [[nodiscard]] const EmojiTask& task(std::string_view name) const {
    for (const auto& t : tasks_)
      if (t.name == name) return t;
    throw InputError(skiptune::detail::message("EmojiBench pack has no task '", name, "'"));
  }
  [[nodiscard]] const std::vector<EmojiFold>& folds() const noexcept { return folds_; }
  [[nodiscard]] const EmojiFold& fold(int fold_id) const {
    require<InputError>(fold_id >= 0 && static_cast<std::size_t>(fold_id) < folds_.size(), "EmojiBench fold ",
                        fold_id, " out of range [0, ", folds_.size(), ")");
    return folds_[static_cast<std::size_t>(fold_id)];
  }
  /// Fixed test views per test image (view 0 clean), from the pack's protocol.
  [[nodiscard]] int test_views() const noexcept { return test_views_; }
  /// The metadata exactly as stored (UTF-8 JSON), for fields this reader does not expose.
  [[nodiscard]] const std::string& metadata_json() const noexcept { return metadata_json_; }
  /// SHA-256 of the whole file before the checksum (hex), i.e. the checksum stored in the pack.
  [[nodiscard]] const std::string& checksum_hex() const noexcept { return checksum_hex_; }

  // -- images --------------------------------------------------------------------------------
  [[nodiscard]] const std::vector<ImageRecord>& records() const noexcept { return records_; }
  [[nodiscard]] const ImageRecord& record(std::size_t image_index) const {
    check_image_index(image_index);
    return records_[image_index];
  }
  /// The image's bytes: image_side() × image_side() × channels() uint8, row-major RGB.
  [[nodiscard]] std::span<const std::uint8_t> pixels(std::size_t image_index) const {
    check_image_index(image_index);
    return {pixels_.data() + image_index * image_bytes(), image_bytes()};
  }
  /// Every image of (class, family), variants ascending (default rendering first when present).
  [[nodiscard]] std::vector<std::size_t> images_of(int class_id, int family_id) const {
    const auto [first, last] = range_of(class_id, family_id);
    std::vector<std::size_t> out;
    for (std::size_t i = first; i < last; ++i) out.push_back(i);
    return out;
  }
  /// The image of (class, family, variant), if the pack has it.
  [[nodiscard]] std::optional<std::size_t> find_image(int class_id, int family_id, int variant = 0) const {
    const ImageRecord key{class_id, family_id, variant};
    const auto it = std::lower_bound(records_.begin(), records_.end(), key, record_less);
    if (it == records_.end() || !(*it == key)) return std::nullopt;
    return static_cast<std::size_t>(it - records_.begin());
  }
  [[nodiscard]] bool has_image(int class_id, int family_id, int variant = 0) const {
    return find_image(class_id, family_id, variant).has_value();
  }
  /// Every image of one family, in record order.
  [[nodiscard]] std::vector<std::size_t> images_of_family(int family_id) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < records_.size(); ++i)
      if (records_[i].family_id == family_id) out.push_back(i);
    return out;
  }
  /// The protocol's pretraining rule: task classes only through PRETRAIN families, every other
  /// class through every family (so DOWN and SHIFT artwork of task classes is never pretrained on).
  [[nodiscard]] bool usable_for_pretraining(std::size_t image_index) const {
    const ImageRecord& r = record(image_index);
    return classes_[static_cast<std::size_t>(r.class_id)].task.empty() ||
           families_[static_cast<std::size_t>(r.family_id)].role == FamilyRole::pretrain;
  }
  [[nodiscard]] std::vector<std::size_t> pretraining_images() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < records_.size(); ++i)
      if (usable_for_pretraining(i)) out.push_back(i);
    return out;
  }

  // -- the few-shot protocol -------------------------------------------------------------------
  /// K-shot training images: shot j of a class uses the fold's train family j mod T; r = j div T
  /// first walks through that family's distinct renderings of the class (n skin-tone variants:
  /// rendering r mod n) and then augmentations (index r div n, 0 = clean).
  [[nodiscard]] std::vector<PlannedImage> shot_plan(std::span<const int> class_ids, const EmojiFold& fold,
                                                    int shots) const {
    require<ConfigError>(shots >= 0, "EmojiBench shot_plan: shots must be >= 0, got ", shots);
    require<ConfigError>(!fold.train_families.empty(), "EmojiBench fold ", fold.id, " has no train families");
    std::vector<PlannedImage> plan;
    const int families = static_cast<int>(fold.train_families.size());
    for (int class_id : class_ids) {
      for (int shot = 0; shot < shots; ++shot) {
        const int family_id = fold.train_families[static_cast<std::size_t>(shot % families)];
        const auto [first, last] = range_of(class_id, family_id);
        require<InputError>(first < last, "EmojiBench class ", class_id, " has no image in train family ",
                            family_name(family_id));
        const int round = shot / families;
        const int renderings = static_cast<int>(last - first);
        const std::size_t index = first + static_cast<std::size_t>(round % renderings);
        plan.push_back({index, class_id, family_id, records_[index].variant, round / renderings});
      }
    }
    return plan;
  }
  /// Test images: each test family's default rendering × `views` fixed views (0 = clean).
  [[nodiscard]] std::vector<PlannedImage> test_plan(std::span<const int> class_ids, const EmojiFold& fold,
                                                    int views = 0) const {
    if (views <= 0) views = test_views_;
    std::vector<PlannedImage> plan;
    for (int class_id : class_ids) {
      for (int family_id : fold.test_families) {
        const auto index = find_image(class_id, family_id, 0);
        require<InputError>(index.has_value(), "EmojiBench class ", class_id, " has no default image in test family ",
                            family_name(family_id));
        for (int view = 0; view < views; ++view) plan.push_back({*index, class_id, family_id, 0, view});
      }
    }
    return plan;
  }

 private:
  EmojiPack() = default;

  static bool record_less(const ImageRecord& a, const ImageRecord& b) {
    if (a.class_id != b.class_id) return a.class_id < b.class_id;
    if (a.family_id != b.family_id) return a.family_id < b.family_id;
    return a.variant < b.variant;
  }

  std::string family_name(int family_id) const {
    return family_id >= 0 && static_cast<std::size_t>(family_id) < families_.size()
               ? families_[static_cast<std::size_t>(family_id)].name
               : std::to_string(family_id);
  }

  std::pair<std::size_t, std::size_t> range_of(int class_id, int family_id) const {
    const auto first = std::lower_bound(records_.begin(), records_.end(), ImageRecord{class_id, family_id, 0}, record_less);
    auto last = first;
    while (last != records_.end() && last->class_id == class_id && last->family_id == family_id) ++last;
    return {static_cast<std::size_t>(first - records_.begin()), static_cast<std::size_t>(last - records_.begin())};
  }

  void check_image_index(std::size_t image_index) const {
    require<InputError>(image_index < records_.size(), "EmojiBench image index ", image_index, " out of range [0, ",
                        records_.size(), ")");
  }

  void parse(std::span<const std::uint8_t> bytes, const std::string& name) {
    using skiptune::detail::message;
    require<IoError>(bytes.size() >= header_bytes + checksum_bytes, name, ": ", bytes.size(),
                     " bytes is too short for an EmojiBench pack (truncated?)");
    require<IoError>(std::memcmp(bytes.data(), magic.data(), magic.size()) == 0, name,
                     ": not an EmojiBench pack (bad magic; expected \"EMOJBNCH\")");
    const std::uint8_t* header = bytes.data();
    const std::uint32_t version = detail::read_u32(header + 8);
    require<IoError>(version == format_version, name, ": EmojiBench pack format version ", version,
                     ", this reader expects version ", format_version,
                     " (rebuild the pack with tools/emojibench/build_pack.py, or update skiptune)");
    const std::uint32_t stated_header = detail::read_u32(header + 12);
    const std::uint32_t side = detail::read_u32(header + 16);
    const std::uint32_t channels = detail::read_u32(header + 20);
    const std::uint32_t compression = detail::read_u32(header + 24);
    const std::uint64_t metadata_size = detail::read_u64(header + 32);
    const std::uint64_t count = detail::read_u64(header + 40);
    const std::uint64_t stored_size = detail::read_u64(header + 48);
    require<IoError>(stated_header == header_bytes, name, ": header size ", stated_header, ", expected ", header_bytes,
                     " (corrupted)");

    // Exact size, computed without overflow: every part must fit in what is left.
    const std::uint64_t available = bytes.size() - header_bytes - checksum_bytes;
    const bool fits = metadata_size <= available && count <= (available - metadata_size) / record_bytes &&
                      stored_size == available - metadata_size - count * record_bytes;
    if (!fits) {
      throw IoError(message(name, ": file is ", bytes.size(), " bytes but its header describes ",
                            metadata_size, " metadata bytes, ", count, " images and ", stored_size,
                            " pixel bytes (truncated or corrupted)"));
    }
    const auto stored_checksum = bytes.subspan(bytes.size() - checksum_bytes);
    const auto computed = detail::sha256(bytes.first(bytes.size() - checksum_bytes));
    if (!std::equal(computed.begin(), computed.end(), stored_checksum.begin())) {
      throw IoError(message(name, ": SHA-256 checksum mismatch (file is corrupted): stored ",
                            detail::hex(stored_checksum), ", computed ", detail::hex(computed)));
    }
    checksum_hex_ = detail::hex(stored_checksum);
    require<IoError>(side >= 1 && side <= 4096 && channels >= 1 && channels <= 4, name, ": implausible image shape ",
                     side, "x", side, "x", channels);
    side_ = static_cast<int>(side);
    channels_ = static_cast<int>(channels);

    std::size_t offset = header_bytes;
    metadata_json_.assign(reinterpret_cast<const char*>(bytes.data() + offset), static_cast<std::size_t>(metadata_size));
    offset += static_cast<std::size_t>(metadata_size);
    parse_metadata(name);

    records_.resize(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < records_.size(); ++i) {
      const std::uint8_t* r = bytes.data() + offset + i * record_bytes;
      records_[i] = {static_cast<int>(detail::read_u32(r)), detail::read_u16(r + 4), detail::read_u16(r + 6)};
      const ImageRecord& rec = records_[i];
      require<IoError>(rec.class_id >= 0 && static_cast<std::size_t>(rec.class_id) < classes_.size() &&
                           static_cast<std::size_t>(rec.family_id) < families_.size(),
                       name, ": image record ", i, " names class ", rec.class_id, " / family ", rec.family_id,
                       " that the metadata does not define");
      require<IoError>(i == 0 || record_less(records_[i - 1], rec), name, ": image records are not sorted at ", i);
    }
    offset += records_.size() * record_bytes;

    const std::size_t expected_pixels = records_.size() * image_bytes();
    const std::uint8_t* stored = bytes.data() + offset;
    if (compression == 0) {
      require<IoError>(stored_size == expected_pixels, name, ": ", stored_size, " pixel bytes, expected ", expected_pixels);
      pixels_.assign(stored, stored + expected_pixels);
    } else if (compression == 1) {
      pixels_.resize(expected_pixels);
      uLongf produced = static_cast<uLongf>(expected_pixels);
      const int status = uncompress(pixels_.data(), &produced, stored, static_cast<uLong>(stored_size));
      require<IoError>(status == Z_OK && produced == expected_pixels, name, ": zlib pixel data does not inflate to ",
                       expected_pixels, " bytes (zlib status ", status, ")");
    } else {
      throw IoError(message(name, ": unknown pixel compression ", compression));
    }
  }

  void parse_metadata(const std::string& name) {
    const detail::JsonValue root = detail::JsonParser(metadata_json_, name).parse_document();
    const detail::MetadataReader read(name);
    require<IoError>(read.text(root, "format") == "skiptune-emojibench", name, ": metadata format is not skiptune-emojibench");
    require<IoError>(read.integer(root, "image_side") == side_ && read.integer(root, "channels") == channels_, name,
                     ": metadata image shape disagrees with the header");

    for (const detail::JsonValue& c : read.list(root, "classes")) {
      EmojiClass e;
      e.id = static_cast<int>(read.integer(c, "id"));
      if (static_cast<std::size_t>(e.id) != classes_.size()) read.fail("class ids must be 0, 1, 2, ... in order");
      e.emoji = read.text(c, "emoji");
      e.codepoints = read.text(c, "codepoints");
      e.name = read.text(c, "name");
      e.keywords = read.texts(c, "keywords");
      e.group = read.text(c, "group");
      e.subgroup = read.text(c, "subgroup");
      e.emoji_version = read.optional_text(c, "emoji_version");
      e.task = read.optional_text(c, "task");
      e.split = read.optional_text(c, "split");
      classes_.push_back(std::move(e));
    }
    for (const detail::JsonValue& f : read.list(root, "families")) {
      ArtworkFamily a;
      a.id = static_cast<int>(read.integer(f, "id"));
      if (static_cast<std::size_t>(a.id) != families_.size()) read.fail("family ids must be 0, 1, 2, ... in order");
      a.name = read.text(f, "name");
      a.title = read.optional_text(f, "title");
      const std::string role = read.text(f, "role");
      if (role == "pretrain") a.role = FamilyRole::pretrain;
      else if (role == "down") a.role = FamilyRole::down;
      else if (role == "shift") a.role = FamilyRole::shift;
      else read.fail("family '", a.name, "' has unknown role '", role, "'");
      a.licence = read.text(f, "licence");
      a.attribution = read.optional_text(f, "attribution");
      a.source = read.text(f, "source");
      a.mapping = read.optional_text(f, "mapping");
      const detail::JsonValue* mono = f.find("monochrome");
      a.monochrome = mono != nullptr && mono->kind == detail::JsonValue::Kind::boolean && mono->boolean;
      families_.push_back(std::move(a));
    }
    for (const detail::JsonValue& v : read.list(root, "variants"))
      variants_.push_back({static_cast<int>(read.integer(v, "id")), read.text(v, "name")});
    for (const detail::JsonValue& t : read.list(root, "tasks")) {
      EmojiTask task;
      task.name = read.text(t, "name");
      task.groups = read.texts(t, "groups");
      task.subgroups = read.texts(t, "subgroups");
      task.base_classes = read.ids(t, "base", classes_.size());
      task.new_classes = read.ids(t, "new", classes_.size());
      tasks_.push_back(std::move(task));
    }
    for (const detail::JsonValue& f : read.list(root, "folds")) {
      EmojiFold fold;
      fold.id = static_cast<int>(read.integer(f, "id"));
      fold.train_families = read.ids(f, "train_families", families_.size());
      fold.test_families = read.ids(f, "test_families", families_.size());
      for (int test_family : fold.test_families)
        if (std::find(fold.train_families.begin(), fold.train_families.end(), test_family) != fold.train_families.end())
          read.fail("fold ", fold.id, " trains and tests on the same family ", test_family);
      folds_.push_back(std::move(fold));
    }
    if (const detail::JsonValue* protocol = root.find("protocol"); protocol != nullptr && protocol->find("test_views"))
      test_views_ = static_cast<int>(read.integer(*protocol, "test_views"));
  }

  int side_ = 0;
  int channels_ = 0;
  int test_views_ = 4;
  std::string metadata_json_;
  std::string checksum_hex_;
  std::vector<EmojiClass> classes_;
  std::vector<ArtworkFamily> families_;
  std::vector<ImageVariant> variants_;
  std::vector<EmojiTask> tasks_;
  std::vector<EmojiFold> folds_;
  std::vector<ImageRecord> records_;
  std::vector<std::uint8_t> pixels_;
};

}  // namespace skiptune::data
