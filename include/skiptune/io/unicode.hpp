// skiptune/io/unicode.hpp — the Unicode operations the CLIP tokenizer needs, each written to give
// exactly what the Python functions OpenAI's tokenizer calls give: UTF-8 decoding with
// errors="replace", str.isspace, the regex module's \p{L} / \p{N} / \s, str.lower() (full case
// mapping with Final_Sigma) and unicodedata.normalize("NFC"). Data: unicode_tables.hpp (generated
// from Debian's unicode-data, Unicode 15.0; see scripts/gen_unicode_tables.py).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "skiptune/io/unicode_tables.hpp"

namespace skiptune::io::detail {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// ------------------------------------------------------------------------------------- UTF-8
/// Decode one UTF-8 sequence starting at in[i] and advance i. Returns false for an ill-formed
/// sequence; then i has skipped its maximal subpart (Unicode §3.9, "substitution of maximal
/// subparts" — what Python's errors="replace" does): a truncated 3-byte sequence is skipped
/// as one unit, an encoded surrogate (ED A0 80) one byte at a time.
inline bool utf8_next(std::string_view in, std::size_t& i, char32_t& cp) {
  const auto lead = static_cast<unsigned char>(in[i++]);
  if (lead < 0x80) {
    cp = lead;
    return true;
  }
  int continuation_bytes = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the *first* continuation byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuation_bytes = 1;
    cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuation_bytes = 2;
    cp = lead & 0x0Fu;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuation_bytes = 3;
    cp = lead & 0x07u;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return false;  // C0, C1, F5..FF, or a stray continuation byte
  }
  for (int k = 0; k < continuation_bytes; ++k) {
    if (i >= in.size()) return false;
    const auto byte = static_cast<unsigned char>(in[i]);
    if (byte < low || byte > high) return false;  // resume at the byte that broke the sequence
    low = 0x80;
    high = 0xBF;
    cp = (cp << 6) | (byte & 0x3Fu);
    ++i;
  }
  return true;
}

/// Decode UTF-8 like Python's bytes.decode("utf-8", errors="replace"): every maximal
/// ill-formed subsequence becomes one U+FFFD.
inline void utf8_decode_replacing(std::string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  std::size_t i = 0;
  char32_t cp = 0;
  while (i < in.size()) out.push_back(utf8_next(in, i, cp) ? cp : kReplacementCharacter);
}

/// True when `bytes` is well-formed UTF-8; otherwise `bad_offset` is the first offending byte.
inline bool utf8_is_valid(std::string_view bytes, std::size_t& bad_offset) {
  std::size_t i = 0;
  char32_t cp = 0;
  while (i < bytes.size()) {
    const std::size_t start = i;
    if (!utf8_next(bytes, i, cp)) {
      bad_offset = start;
      return false;
    }
  }
  return true;
}

/// Append the UTF-8 encoding of one code point (which must be a scalar value).
inline void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

inline std::string utf8_encode(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) utf8_append(out, cp);
  return out;
}

// ---------------------------------------------------------------------------- range lookups
/// Binary search in a flat table of [first, last] pairs.
template <std::size_t N>
constexpr bool in_ranges(const char32_t (&pairs)[N], char32_t cp) {
  std::size_t lo = 0, hi = N / 2;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (cp < pairs[2 * mid]) {
      hi = mid;
    } else if (cp > pairs[2 * mid + 1]) {
      lo = mid + 1;
    } else {
      return true;
    }
  }
  return false;
}

/// The regex module's \p{L} (general category L*).
inline bool is_letter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(kLetterRanges, cp);
}

/// The regex module's \p{N} (general category N*).
inline bool is_number(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(kNumberRanges, cp);
}

/// The regex module's \s: the White_Space property.
inline bool is_regex_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
  return in_ranges(kWhiteSpaceRanges, cp);
}

/// Python's str.isspace(): White_Space plus the information separators U+001C..U+001F (which
/// CPython counts because their bidirectional class is B or S).
inline bool is_python_space(char32_t cp) { return is_regex_space(cp) || (cp >= 0x1C && cp <= 0x1F); }

/// Python re's \d for str patterns (general category Nd).
inline bool is_decimal_digit(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(kDecimalRanges, cp);
}

inline bool is_cased(char32_t cp) { return in_ranges(kCasedRanges, cp); }
inline bool is_case_ignorable(char32_t cp) { return in_ranges(kCaseIgnorableRanges, cp); }

// ------------------------------------------------------------------------------- lowercase
/// Append the full lowercase mapping of `cp` (not U+03A3, which depends on context).
inline void append_lowercase(std::u32string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  constexpr std::size_t kFullCount = sizeof(kFullLowercase) / sizeof(kFullLowercase[0]) / 4;
  for (std::size_t i = 0; i < kFullCount; ++i) {
    if (kFullLowercase[4 * i] == cp) {
      for (std::size_t k = 1; k <= 3 && kFullLowercase[4 * i + k] != 0; ++k) out.push_back(kFullLowercase[4 * i + k]);
      return;
    }
  }
  // Find the last run starting at or before cp.
  constexpr std::size_t kRuns = sizeof(kLowercaseRuns) / sizeof(kLowercaseRuns[0]) / 4;
  std::size_t lo = 0, hi = kRuns;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (static_cast<char32_t>(kLowercaseRuns[4 * mid]) <= cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo > 0) {
    const std::int32_t* run = &kLowercaseRuns[4 * (lo - 1)];
    const auto first = static_cast<char32_t>(run[0]);
    const auto last = static_cast<char32_t>(run[1]);
    if (cp <= last && (cp - first) % static_cast<char32_t>(run[3]) == 0) {
      out.push_back(static_cast<char32_t>(static_cast<std::int32_t>(cp) + run[2]));
      return;
    }
  }
  out.push_back(cp);
}

/// Python's str.lower(): full lowercase mapping, with CPython's Final_Sigma rule for U+03A3
/// (ς when preceded by a cased letter and not followed by one, skipping case-ignorables).
inline void python_lower(std::u32string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char32_t cp = in[i];
    if (cp != 0x3A3) {
      append_lowercase(out, cp);
      continue;
    }
    // Mirrors CPython's handle_capital_sigma.
    std::size_t j = i;
    char32_t before = 0;
    bool found_before = false;
    while (j > 0) {
      --j;
      before = in[j];
      if (!is_case_ignorable(before)) {
        found_before = true;
        break;
      }
    }
    bool final_sigma = found_before && is_cased(before);
    if (final_sigma && i + 1 < in.size()) {
      std::size_t k = i + 1;
      while (k < in.size() && is_case_ignorable(in[k])) ++k;
      final_sigma = k == in.size() || !is_cased(in[k]);
    }
    out.push_back(final_sigma ? 0x3C2 : 0x3C3);
  }
}

// -------------------------------------------------------------------------------------- NFC
inline std::uint8_t combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  constexpr std::size_t kCount = sizeof(kCombiningClassRanges) / sizeof(kCombiningClassRanges[0]) / 3;
  std::size_t lo = 0, hi = kCount;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (cp < kCombiningClassRanges[3 * mid]) {
      hi = mid;
    } else if (cp > kCombiningClassRanges[3 * mid + 1]) {
      lo = mid + 1;
    } else {
      return static_cast<std::uint8_t>(kCombiningClassRanges[3 * mid + 2]);
    }
  }
  return 0;
}

namespace hangul {
inline constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
inline constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
inline constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;
}  // namespace hangul

/// The table row of cp's one-level canonical decomposition, or nullptr.
inline const std::uint32_t* find_canonical_decomposition(char32_t cp) {
  constexpr std::size_t kCount = sizeof(kCanonicalDecompositions) / sizeof(kCanonicalDecompositions[0]) / 3;
  std::size_t lo = 0, hi = kCount;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    const char32_t key = kCanonicalDecompositions[3 * mid] & 0x7FFFFFFFu;
    if (cp < key) {
      hi = mid;
    } else if (cp > key) {
      lo = mid + 1;
    } else {
      return &kCanonicalDecompositions[3 * mid];
    }
  }
  return nullptr;
}

/// Append the full canonical decomposition of cp (recursive; Hangul syllables algorithmic).
inline void append_canonical_decomposition(std::u32string& out, char32_t cp) {
  using namespace hangul;
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const std::uint32_t* row = cp < 0xC0 ? nullptr : find_canonical_decomposition(cp);
  if (row == nullptr) {
    out.push_back(cp);
    return;
  }
  append_canonical_decomposition(out, row[1]);
  if (row[2] != 0) append_canonical_decomposition(out, row[2]);
}

/// The primary composite of (starter, next), or 0 when there is none.
inline char32_t compose_pair(char32_t starter, char32_t next) {
  using namespace hangul;
  if (starter >= kLBase && starter < kLBase + kLCount && next >= kVBase && next < kVBase + kVCount) {
    return kSBase + ((starter - kLBase) * kVCount + (next - kVBase)) * kTCount;
  }
  if (starter >= kSBase && starter < kSBase + kSCount && (starter - kSBase) % kTCount == 0 && next > kTBase &&
      next < kTBase + kTCount) {
    return starter + (next - kTBase);
  }
  // Built once: every canonical pair decomposition that is not a composition exclusion.
  static const std::unordered_map<std::uint64_t, char32_t> compositions = [] {
    std::unordered_map<std::uint64_t, char32_t> map;
    constexpr std::size_t kCount = sizeof(kCanonicalDecompositions) / sizeof(kCanonicalDecompositions[0]) / 3;
    for (std::size_t i = 0; i < kCount; ++i) {
      const std::uint32_t* row = &kCanonicalDecompositions[3 * i];
      if ((row[0] & 0x80000000u) == 0 && row[2] != 0) {
        map.emplace((std::uint64_t{row[1]} << 32) | row[2], row[0]);
      }
    }
    return map;
  }();
  const auto it = compositions.find((std::uint64_t{starter} << 32) | next);
  return it == compositions.end() ? 0 : it->second;
}

/// unicodedata.normalize("NFC", text): decompose, reorder marks by combining class, recompose.
/// `scratch` is reused between calls to avoid allocations.
inline void nfc_normalize(std::u32string& text, std::u32string& scratch) {
  // Below U+0300 every code point is its own NFC form and nothing there combines with a
  // following character, so most text (ASCII, Latin-1) returns here.
  if (std::all_of(text.begin(), text.end(), [](char32_t cp) { return cp < 0x300; })) return;

  std::u32string& d = scratch;
  d.clear();
  d.reserve(text.size() + 8);
  for (char32_t cp : text) append_canonical_decomposition(d, cp);

  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (std::size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < d.size() && combining_class(d[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    }
    i = j;
  }

  // Canonical composition (UAX #15): a character joins the last starter unless blocked.
  text.clear();
  if (d.empty()) return;
  std::size_t starter_pos = 0;
  int last_class = combining_class(d[0]) == 0 ? 0 : 256;  // 256: no starter seen yet
  text.push_back(d[0]);
  for (std::size_t i = 1; i < d.size(); ++i) {
    const char32_t cp = d[i];
    const int cls = combining_class(cp);
    if (last_class != 256 && (last_class < cls || last_class == 0)) {
      const char32_t composite = compose_pair(text[starter_pos], cp);
      if (composite != 0) {
        text[starter_pos] = composite;
        continue;
      }
    }
    if (cls == 0) {
      starter_pos = text.size();
    }
    last_class = cls;
    text.push_back(cp);
  }
}

}  // namespace skiptune::io::detail
