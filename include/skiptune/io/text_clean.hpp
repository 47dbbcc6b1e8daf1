// skiptune/io/text_clean.hpp — the text cleaning OpenAI's CLIP tokenizer applies before BPE:
//   ftfy.fix_text(text) → html.unescape twice → strip → collapse \s+ to ' ' → strip → lower()
// reproduced on code points with Python's exact semantics (see docs/tokenizer.md).
//
// ftfy (6.x, default settings) is reproduced except for its mojibake repair. Implemented, in
// ftfy's order and repeated until the text stops changing, per line (per "segment"):
//   unescape_html (only "&name;" / "&#..;" forms, plus all-caps names such as &EACUTE;, and only
//   until a line containing '<' has been seen), fix_c1_controls (U+0080..U+009F read as
//   Windows-1252), fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks,
//   remove_terminal_escapes, remove_control_chars, NFC normalisation.
// NOT implemented: fix_encoding and its helpers (restore_byte_a0, replace_lossy_sequences,
//   decode_inconsistent_utf8) — text such as "cafÃ©" stays as it is instead of becoming "café".
//   fix_surrogates has nothing to do: decoded UTF-8 never contains surrogates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "skiptune/io/html_entities.hpp"
#include "skiptune/io/unicode.hpp"

namespace skiptune::io::detail {

// ------------------------------------------------------------------------------ entity tables
struct EntityValue {
  char32_t code_points[3] = {0, 0, 0};  // 1..3 code points; unused slots are 0
  bool legacy = false;                   // html.unescape also accepts it without ';'
};

struct EntityTables {
  std::unordered_map<std::u32string, EntityValue> html5;        // by name, without ';'
  std::unordered_map<std::u32string, EntityValue> ftfy_shouted;  // "NTILDE" -> Ñ (ftfy only)
  std::size_t longest_name = 0;
};

inline void parse_hex_code_points(std::string_view field, char32_t (&out)[3]) {
  std::size_t slot = 0;
  char32_t value = 0;
  for (char c : field) {
    if (c == '.') {
      out[slot++] = value;
      value = 0;
      continue;
    }
    value = value * 16 + static_cast<char32_t>(c <= '9' ? c - '0' : c - 'A' + 10);
  }
  out[slot] = value;
}

/// The entity tables, parsed from html_entities.hpp on first use (thread-safe static init).
inline const EntityTables& entity_tables() {
  static const EntityTables tables = [] {
    EntityTables t;
    std::string_view blob = kHtmlEntityBlob;
    while (!blob.empty()) {
      const std::size_t space = blob.find(' ');
      std::string_view entry = blob.substr(0, space);
      blob.remove_prefix(space == std::string_view::npos ? blob.size() : space + 1);
      if (entry.empty()) continue;
      std::string_view fields[4];
      std::size_t count = 0;
      while (count < 4) {
        const std::size_t comma = entry.find(',');
        fields[count++] = entry.substr(0, comma);
        if (comma == std::string_view::npos) break;
        entry.remove_prefix(comma + 1);
      }
      const std::u32string name(fields[0].begin(), fields[0].end());
      EntityValue value;
      parse_hex_code_points(fields[1], value.code_points);
      const std::string_view flags = count > 2 ? fields[2] : std::string_view{};
      value.legacy = flags.find('L') != std::string_view::npos;
      t.html5.emplace(name, value);
      t.longest_name = std::max(t.longest_name, name.size());
      if (flags.find('U') != std::string_view::npos) {
        EntityValue shouted;
        if (count > 3) {
          parse_hex_code_points(fields[3], shouted.code_points);
        } else {
          shouted = value;
        }
        std::u32string upper = name;
        for (char32_t& c : upper) {
          if (c >= 'a' && c <= 'z') c -= 32;
        }
        t.ftfy_shouted.emplace(std::move(upper), shouted);
      }
    }
    return t;
  }();
  return tables;
}

inline void append_entity(std::u32string& out, const EntityValue& value) {
  for (char32_t cp : value.code_points) {
    if (cp != 0) out.push_back(cp);
  }
}

inline bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
inline bool is_ascii_hex(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
inline bool is_ascii_alnum(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

/// Python's html._replace_charref for a numeric reference (`number` saturates above U+10FFFF).
inline void append_numeric_charref(std::u32string& out, std::uint32_t number) {
  for (const auto& r : kInvalidCharrefs) {
    if (r.number == number) {
      out.push_back(r.replacement);
      return;
    }
  }
  if ((number >= 0xD800 && number <= 0xDFFF) || number > 0x10FFFF) {
    out.push_back(kReplacementCharacter);
    return;
  }
  for (const auto& r : kInvalidCharrefCodePoints) {
    if (number >= r.first && number <= r.last) return;  // dropped
  }
  out.push_back(static_cast<char32_t>(number));
}

// ---------------------------------------------------------------------------- html.unescape
/// Python's html.unescape: the pattern &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
/// with HTML5's rules (longest legacy-name prefix for "&notit;", Windows-1252 for &#128; ...).
inline void html_unescape(std::u32string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  const EntityTables& tables = entity_tables();
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const char32_t c = in[i];
    if (c != '&' || i + 1 >= n) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (in[i + 1] == '#') {
      const bool hex = i + 2 < n && (in[i + 2] == 'x' || in[i + 2] == 'X');
      std::size_t j = i + (hex ? 3 : 2);
      const std::size_t digits_start = j;
      std::uint32_t number = 0;
      while (j < n && (hex ? is_ascii_hex(in[j]) : is_ascii_digit(in[j]))) {
        const char32_t d = in[j];
        const std::uint32_t digit = is_ascii_digit(d) ? d - '0' : (d | 0x20) - 'a' + 10;
        number = number > 0x10FFFF ? number : number * (hex ? 16 : 10) + digit;  // saturate
        ++j;
      }
      if (j == digits_start) {  // "&#" or "&#x" without digits: not a reference
        out.push_back(c);
        ++i;
        continue;
      }
      if (j < n && in[j] == ';') ++j;
      append_numeric_charref(out, number);
      i = j;
      continue;
    }
    // Named: up to 32 characters outside \t \n \f space < & # ; then an optional ';'.
    std::size_t j = i + 1;
    while (j < n && j - (i + 1) < 32) {
      const char32_t d = in[j];
      if (d == '\t' || d == '\n' || d == '\f' || d == ' ' || d == '<' || d == '&' || d == '#' || d == ';') break;
      ++j;
    }
    if (j == i + 1) {
      out.push_back(c);
      ++i;
      continue;
    }
    const std::u32string_view name = in.substr(i + 1, j - (i + 1));
    const bool semicolon = j < n && in[j] == ';';
    const std::size_t end = semicolon ? j + 1 : j;
    const auto lookup = [&](std::u32string_view key) -> const EntityValue* {
      if (key.size() > tables.longest_name) return nullptr;
      const auto it = tables.html5.find(std::u32string(key));
      return it == tables.html5.end() ? nullptr : &it->second;
    };
    if (const EntityValue* v = lookup(name); v != nullptr && (semicolon || v->legacy)) {
      append_entity(out, *v);
      i = end;
      continue;
    }
    // The longest prefix (of at least 2 characters) that is a legacy name, e.g. "&notit;".
    // The whole match including a ';' counts as the name here, so a bare "&amp" in "&ampx"
    // is found as a prefix of "ampx".
    const std::size_t full = end - (i + 1);
    bool replaced = false;
    for (std::size_t len = full - 1; len >= 2 && len + 1 <= full; --len) {
      if (len > name.size()) continue;  // the prefix would include the ';'
      const EntityValue* v = lookup(name.substr(0, len));
      if (v != nullptr && v->legacy) {
        append_entity(out, *v);
        out.append(in.substr(i + 1 + len, end - (i + 1 + len)));
        replaced = true;
        break;
      }
    }
    if (!replaced) out.append(in.substr(i, end - i));
    i = end;
  }
}

// ------------------------------------------------------------------------------- ftfy steps
/// ftfy's unescape_html: entities matching &#?[0-9A-Za-z]{1,24}; that are HTML5 names ending in
/// ';' (or an all-caps spelling of a lowercase one), or numeric references html.unescape
/// decodes completely.
inline void ftfy_unescape_html(std::u32string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  const EntityTables& tables = entity_tables();
  std::u32string decoded;
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    if (in[i] != '&') {
      out.push_back(in[i++]);
      continue;
    }
    // Try "&#" + alnum{1,24} + ";" first, then "&" + alnum{1,24} + ";" (the regex's '#?').
    std::size_t match_end = 0;
    for (std::size_t body : {i + 2, i + 1}) {
      if (body == i + 2 && !(i + 1 < n && in[i + 1] == '#')) continue;
      std::size_t j = body;
      while (j < n && j - body <= 24 && is_ascii_alnum(in[j])) ++j;
      const std::size_t run = j - body;
      if (run >= 1 && run <= 24 && j < n && in[j] == ';') {
        match_end = j + 1;
        break;
      }
    }
    if (match_end == 0) {
      out.push_back(in[i++]);
      continue;
    }
    const std::u32string_view entity = in.substr(i, match_end - i);  // "&...;"
    const std::u32string name(entity.substr(1, entity.size() - 2));
    if (entity[1] != '#') {
      if (const auto it = tables.html5.find(name); it != tables.html5.end()) {
        append_entity(out, it->second);
      } else if (const auto up = tables.ftfy_shouted.find(name); up != tables.ftfy_shouted.end()) {
        append_entity(out, up->second);
      } else {
        out.append(entity);
      }
    } else {
      // ftfy hands "&#...;" to html.unescape and keeps the original if any ';' is left over.
      html_unescape(entity, decoded);
      out.append(decoded.find(U';') == std::u32string::npos ? std::u32string_view(decoded) : entity);
    }
    i = match_end;
  }
}

/// Windows-1252 for the C1 controls; the five bytes it leaves undefined stay as they are
/// (ftfy's "sloppy-windows-1252").
inline char32_t c1_as_windows_1252(char32_t cp) {
  static constexpr char16_t kTable[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  return (cp >= 0x80 && cp <= 0x9F) ? kTable[cp - 0x80] : cp;
}

/// ftfy's uncurl_quotes.
inline char32_t uncurl_quote(char32_t cp) {
  if (cp == 0x2BC || (cp >= 0x2018 && cp <= 0x201B)) return '\'';
  if (cp >= 0x201C && cp <= 0x201F) return '"';
  return cp;
}

/// fix_character_width then uncurl_quotes for one code point (both are per-character maps).
inline void append_width_fixed_uncurled(std::u32string& out, char32_t cp) {
  if (cp == 0x3000) {
    out.push_back(' ');
    return;
  }
  if (cp >= 0xFF01 && cp <= 0xFFEF) {
    constexpr std::size_t kCount = sizeof(kWidthMap) / sizeof(kWidthMap[0]) / 3;
    std::size_t lo = 0, hi = kCount;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (kWidthMap[3 * mid] < cp) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo < kCount && kWidthMap[3 * lo] == cp) {
      out.push_back(uncurl_quote(kWidthMap[3 * lo + 1]));
      if (kWidthMap[3 * lo + 2] != 0) out.push_back(uncurl_quote(kWidthMap[3 * lo + 2]));
      return;
    }
  }
  out.push_back(uncurl_quote(cp));
}

/// fix_c1_controls, fix_latin_ligatures, fix_character_width and uncurl_quotes in one pass:
/// each is a context-free map of single characters, so chaining them per character is the
/// same as running them one after another over the string.
inline void ftfy_map_characters(std::u32string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  for (char32_t cp : in) {
    cp = c1_as_windows_1252(cp);
    std::u32string_view ligature;
    switch (cp) {
      case 0x132: ligature = U"IJ"; break;
      case 0x133: ligature = U"ij"; break;
      case 0x149: ligature = U"\u02BCn"; break;
      case 0x1F1: ligature = U"DZ"; break;
      case 0x1F2: ligature = U"Dz"; break;
      case 0x1F3: ligature = U"dz"; break;
      case 0x1C4: ligature = U"D\u017D"; break;
      case 0x1C5: ligature = U"D\u017E"; break;
      case 0x1C6: ligature = U"d\u017E"; break;
      case 0x1C7: ligature = U"LJ"; break;
      case 0x1C8: ligature = U"Lj"; break;
      case 0x1C9: ligature = U"lj"; break;
      case 0x1CA: ligature = U"NJ"; break;
      case 0x1CB: ligature = U"Nj"; break;
      case 0x1CC: ligature = U"nj"; break;
      case 0xFB00: ligature = U"ff"; break;
      case 0xFB01: ligature = U"fi"; break;
      case 0xFB02: ligature = U"fl"; break;
      case 0xFB03: ligature = U"ffi"; break;
      case 0xFB04: ligature = U"ffl"; break;
      case 0xFB05: ligature = U"\u017Ft"; break;
      case 0xFB06: ligature = U"st"; break;
      default: break;
    }
    if (ligature.empty()) {
      append_width_fixed_uncurled(out, cp);
    } else {
      for (char32_t part : ligature) append_width_fixed_uncurled(out, part);
    }
  }
}

/// ftfy's fix_line_breaks: CRLF, CR, U+2028, U+2029 and U+0085 become LF.
inline void ftfy_fix_line_breaks(std::u32string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char32_t cp = in[i];
    if (cp == '\r') {
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
      out.push_back('\n');
    } else if (cp == 0x2028 || cp == 0x2029 || cp == 0x85) {
      out.push_back('\n');
    } else {
      out.push_back(cp);
    }
  }
}

/// ftfy's remove_terminal_escapes (ESC [ (\d|;)* letter, with \d = any Unicode decimal digit)
/// followed by remove_control_chars (U+0000..0008, 000B, 000E..001F, 007F, 206A..206F, FEFF,
/// FFF9..FFFC). They must run in this order: the second would delete the ESC the first needs.
inline void ftfy_remove_escapes_and_controls(std::u32string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  const auto is_removed_control = [](char32_t cp) {
    return cp <= 0x08 || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F ||
           (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFC);
  };
  for (std::size_t i = 0; i < in.size();) {
    if (in[i] == 0x1B && i + 1 < in.size() && in[i + 1] == '[') {
      std::size_t j = i + 2;
      while (j < in.size() && (in[j] == ';' || is_decimal_digit(in[j]))) ++j;
      if (j < in.size() && (in[j] | 0x20) >= 'a' && (in[j] | 0x20) <= 'z') {
        i = j + 1;  // the whole escape sequence goes
        continue;
      }
    }
    if (!is_removed_control(in[i])) out.push_back(in[i]);
    ++i;
  }
}

/// Scratch buffers for the cleaning pipeline, reused across calls to avoid allocations.
struct CleanScratch {
  std::u32string a, b, c, segment, before;
};

/// ftfy's fix_and_explain loop for one segment: apply every step until nothing changes.
inline void ftfy_fix_segment(std::u32string& segment, bool unescape_html, CleanScratch& s) {
  for (;;) {
    s.before = segment;
    if (unescape_html) {
      ftfy_unescape_html(segment, s.c);
      segment.swap(s.c);
    }
    ftfy_map_characters(segment, s.c);
    ftfy_fix_line_breaks(s.c, segment);
    ftfy_remove_escapes_and_controls(segment, s.c);
    segment.swap(s.c);
    nfc_normalize(segment, s.c);
    if (segment == s.before) return;
  }
}

/// ftfy.fix_text with default settings (minus mojibake repair): fixes each line separately and
/// stops decoding HTML entities for good once a line containing '<' appears (it may be HTML).
inline void ftfy_fix_text(std::u32string_view text, std::u32string& out, CleanScratch& s) {
  constexpr std::size_t kMaxDecodeLength = 1000000;  // ftfy's max_decode_length
  out.clear();
  bool unescape_html = true;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t newline = text.find(U'\n', pos);
    std::size_t end = newline == std::u32string_view::npos ? text.size() : newline + 1;
    if (end - pos > kMaxDecodeLength) end = pos + kMaxDecodeLength;
    s.segment.assign(text.substr(pos, end - pos));
    if (unescape_html && s.segment.find(U'<') != std::u32string::npos) unescape_html = false;
    ftfy_fix_segment(s.segment, unescape_html, s);
    out += s.segment;
    pos = end;
  }
}

/// whitespace_clean: regex.sub(r"\s+", " ", text).strip() — runs of White_Space become one
/// space, then str.strip() removes str.isspace() characters from both ends.
inline void collapse_whitespace(std::u32string_view in, std::u32string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size();) {
    if (is_regex_space(in[i])) {
      while (i < in.size() && is_regex_space(in[i])) ++i;
      out.push_back(' ');
    } else {
      out.push_back(in[i++]);
    }
  }
  std::size_t begin = 0, end = out.size();
  while (begin < end && is_python_space(out[begin])) ++begin;
  while (end > begin && is_python_space(out[end - 1])) --end;
  out.erase(end);
  out.erase(0, begin);
}

/// The whole cleaning pipeline on code points: whitespace_clean(basic_clean(text)).lower().
/// (basic_clean's own strip() is subsumed by whitespace_clean's.)
inline void clip_clean(std::u32string_view text, std::u32string& out, CleanScratch& s) {
  ftfy_fix_text(text, s.a, s);
  html_unescape(s.a, s.b);
  html_unescape(s.b, s.a);
  collapse_whitespace(s.a, s.b);
  python_lower(s.b, out);
}

}  // namespace skiptune::io::detail
