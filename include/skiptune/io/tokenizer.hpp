// skiptune/io/tokenizer.hpp — OpenAI CLIP's byte-level BPE tokenizer, exact.
//
//   skiptune::io::ClipTokenizer tok(shared_dir / "data/clip/bpe_simple_vocab_16e6.txt.gz");
//   std::vector<std::int32_t> row = tok.tokenize("a photo of a cat.");  // 77 ids, zero padded
//   std::vector<std::int32_t> rows = tok.tokenize_batch(prompts, 77, /*truncate=*/true);
//
// Same ids as clip.tokenize() (OpenAI's simple_tokenizer.py) for every input, with one
// documented exception: ftfy's mojibake repair is not reproduced (see text_clean.hpp and
// docs/tokenizer.md). Input is UTF-8; ill-formed bytes are decoded like Python's
// bytes.decode("utf-8", errors="replace"), i.e. each becomes U+FFFD, never an error.
//
// Pipeline: clean the text (text_clean.hpp) → split it with the pre-tokeniser pattern
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (IGNORECASE) → each piece's UTF-8 bytes become byte symbols, the last one marked `</w>` →
// merge the lowest-ranked adjacent pair until no pair is in the merge list. Results per piece
// are cached, so a batch of prompts that share words costs little beyond the cleaning.
//
// Thread safety: all const member functions may be called concurrently (the cache is locked).
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/io/text_clean.hpp"
#include "skiptune/io/unicode.hpp"

namespace skiptune::io {

/// Merge lines of bpe_simple_vocab_16e6.txt.gz that CLIP uses (49152 - 256 - 2).
inline constexpr std::size_t kClipMergeCount = 48894;
/// CLIP's text context length.
inline constexpr std::size_t kClipContextLength = 77;

struct ClipTokenizerOptions {
  /// Merge lines to read after the header. The default is CLIP's; a file with fewer lines is
  /// an error (it is truncated). 0 = every line of the file (for custom merges files).
  std::size_t max_merges = kClipMergeCount;
  /// Pieces (words) whose BPE result is cached; when full, the cache starts over. 0 = no cache.
  std::size_t cache_capacity = 1u << 16;
};

/// Token rows for a batch of texts.
struct TokenBatch {
  std::vector<std::int32_t> ids;            ///< [rows, context_length], row-major, zero padded
  std::vector<std::int32_t> eot_positions;  ///< [rows]: where CLIP reads each row's feature
  std::size_t rows = 0;
  std::size_t context_length = 0;

  std::span<const std::int32_t> row(std::size_t r) const {
    return std::span<const std::int32_t>(ids).subspan(r * context_length, context_length);
  }
};

namespace detail {

// ------------------------------------------------------------------------- byte alphabet
/// GPT-2/CLIP's bytes_to_unicode(): byte b is written as a printable character. The vocabulary
/// lists the 256 byte symbols in this order: '!'..'~', '¡'..'¬', '®'..'ÿ', then the remaining
/// bytes ascending, which are written as U+0100 upwards.
struct ByteAlphabet {
  std::array<std::uint8_t, 256> byte_at_rank{};  // vocabulary rank -> byte
  std::array<std::uint16_t, 256> rank_of_byte{};
  std::array<char32_t, 256> symbol_of_byte{};     // byte -> its printable stand-in

  ByteAlphabet() {
    std::size_t rank = 0;
    const auto printable = [](unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
    for (unsigned b = 0; b < 256; ++b) {
      if (printable(b)) {
        byte_at_rank[rank] = static_cast<std::uint8_t>(b);
        rank_of_byte[b] = static_cast<std::uint16_t>(rank++);
        symbol_of_byte[b] = b;
      }
    }
    char32_t next_extra = 256;
    for (unsigned b = 0; b < 256; ++b) {
      if (!printable(b)) {
        byte_at_rank[rank] = static_cast<std::uint8_t>(b);
        rank_of_byte[b] = static_cast<std::uint16_t>(rank++);
        byte_of_remapped[next_extra - 256] = static_cast<std::uint8_t>(b);
        symbol_of_byte[b] = next_extra++;
      }
    }
  }

  /// The byte a printable stand-in represents, or -1.
  int byte_of_symbol(char32_t cp) const {
    if (cp < 256) return symbol_of_byte[cp] == cp ? static_cast<int>(cp) : -1;
    if (cp - 256 < kRemapped) return byte_of_remapped[cp - 256];
    return -1;
  }

 private:
  static constexpr char32_t kRemapped = 68;  // bytes that are not printable: 0..32, 127..160, 173
  std::array<std::uint8_t, kRemapped> byte_of_remapped{};
};

inline const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

// ----------------------------------------------------------------------------- merge table
/// (left id, right id) -> (rank, merged id); open addressing, sized for a load factor <= 0.5.
class PairTable {
 public:
  struct Entry {
    std::uint64_t key = kEmpty;
    std::int32_t rank = 0;
    std::int32_t merged = 0;
  };

  void reserve(std::size_t count) {
    std::size_t capacity = 16;
    while (capacity < 2 * count) capacity *= 2;
    slots_.assign(capacity, Entry{});
    mask_ = capacity - 1;
  }

  /// Later insertions of the same pair win, like Python's dict(zip(merges, ranks)).
  void insert_or_assign(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t merged) {
    const std::uint64_t key = make_key(left, right);
    for (std::size_t i = hash(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty || slots_[i].key == key) {
        slots_[i] = Entry{key, rank, merged};
        return;
      }
    }
  }

  const Entry* find(std::int32_t left, std::int32_t right) const {
    const std::uint64_t key = make_key(left, right);
    for (std::size_t i = hash(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i];
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::uint64_t make_key(std::int32_t left, std::int32_t right) {
    return (std::uint64_t{static_cast<std::uint32_t>(left)} << 32) | static_cast<std::uint32_t>(right);
  }
  std::size_t hash(std::uint64_t key) const {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask_;
  }

  std::vector<Entry> slots_;
  std::size_t mask_ = 0;
};

// ------------------------------------------------------------------------------- BPE merges
/// BPE exactly as simple_tokenizer.bpe: find the adjacent pair with the lowest rank, merge every
/// occurrence of it left to right (non-overlapping), repeat. O(n²); for short pieces.
inline void bpe_merge_simple(const PairTable& pairs, std::vector<std::int32_t>& word) {
  constexpr std::int32_t kNone = std::numeric_limits<std::int32_t>::max();
  while (word.size() > 1) {
    std::int32_t best_rank = kNone, left = 0, right = 0, merged = 0;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      const PairTable::Entry* e = pairs.find(word[i], word[i + 1]);
      if (e != nullptr && e->rank < best_rank) {
        best_rank = e->rank;
        left = word[i];
        right = word[i + 1];
        merged = e->merged;
      }
    }
    if (best_rank == kNone) return;
    std::size_t out = 0;
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
        word[out++] = merged;
        i += 2;
      } else {
        word[out++] = word[i++];
      }
    }
    word.resize(out);
  }
}

/// The same result in O(n log n), for long pieces: a linked list of symbols and a min-heap of
/// (rank, position). All occurrences of the lowest-ranked pair are merged as one batch, in
/// position order, before any pair the batch creates is considered — which is what makes it
/// identical to bpe_merge_simple (merging one occurrence at a time would not be: in "ABAB",
/// a low-ranked pair ("AB", "A") could otherwise steal the second "A").
inline void bpe_merge_heap(const PairTable& pairs, std::vector<std::int32_t>& word) {
  const std::size_t n = word.size();
  if (n < 2) return;
  struct Node {
    std::int32_t symbol;
    std::int32_t prev;
    std::int32_t next;
  };
  struct Candidate {
    std::int32_t rank;
    std::int32_t pos;  // the left node
    std::int32_t left;
    std::int32_t right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Node> nodes(n);
  for (std::size_t i = 0; i < n; ++i) {
    nodes[i] = Node{word[i], static_cast<std::int32_t>(i) - 1, i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  const auto push_pair = [&](std::int32_t pos) {
    if (pos < 0) return;
    const std::int32_t next = nodes[static_cast<std::size_t>(pos)].next;
    if (next < 0) return;
    const std::int32_t left = nodes[static_cast<std::size_t>(pos)].symbol;
    const std::int32_t right = nodes[static_cast<std::size_t>(next)].symbol;
    if (const PairTable::Entry* e = pairs.find(left, right)) heap.push(Candidate{e->rank, pos, left, right});
  };
  const auto still_valid = [&](const Candidate& c) {
    const Node& node = nodes[static_cast<std::size_t>(c.pos)];
    return node.symbol == c.left && node.next >= 0 && nodes[static_cast<std::size_t>(node.next)].symbol == c.right;
  };
  for (std::size_t i = 0; i + 1 < n; ++i) push_pair(static_cast<std::int32_t>(i));

  std::vector<Candidate> batch;
  std::vector<std::int32_t> touched;
  while (!heap.empty()) {
    const std::int32_t rank = heap.top().rank;
    batch.clear();
    while (!heap.empty() && heap.top().rank == rank) {
      batch.push_back(heap.top());
      heap.pop();
    }
    // One rank is one pair; the batch arrives in position (left-to-right) order.
    const std::int32_t merged = pairs.find(batch.front().left, batch.front().right)->merged;
    touched.clear();
    for (const Candidate& c : batch) {
      if (!still_valid(c)) continue;  // stale, or consumed by the previous merge (A A A)
      Node& node = nodes[static_cast<std::size_t>(c.pos)];
      const std::int32_t gone = node.next;
      node.symbol = merged;
      node.next = nodes[static_cast<std::size_t>(gone)].next;
      if (node.next >= 0) nodes[static_cast<std::size_t>(node.next)].prev = c.pos;
      nodes[static_cast<std::size_t>(gone)].symbol = -1;  // dead
      touched.push_back(c.pos);
    }
    for (std::int32_t pos : touched) {
      push_pair(nodes[static_cast<std::size_t>(pos)].prev);
      push_pair(pos);
    }
  }
  word.clear();
  for (std::int32_t i = 0; i >= 0; i = nodes[static_cast<std::size_t>(i)].next) word.push_back(nodes[static_cast<std::size_t>(i)].symbol);
}

/// Pieces longer than this (in byte symbols) use the heap variant.
inline constexpr std::size_t kSimpleBpeMaxSymbols = 48;

// ----------------------------------------------------------------------------- pre-tokeniser
/// Case-insensitive match of an ASCII literal as the regex module does it under IGNORECASE
/// (simple case folding: besides the ASCII pairs, U+017F LATIN SMALL LETTER LONG S matches 's').
inline bool literal_at(std::u32string_view text, std::size_t pos, std::string_view literal) {
  if (text.size() - pos < literal.size()) return false;
  for (std::size_t k = 0; k < literal.size(); ++k) {
    const char32_t c = text[pos + k];
    const auto l = static_cast<char32_t>(static_cast<unsigned char>(literal[k]));
    const bool letter = l >= 'a' && l <= 'z';
    if (!(c == l || (letter && c == l - 32) || (l == 's' && c == 0x17F))) return false;
  }
  return true;
}

/// Call `emit(first, last)` for each match of the pre-tokeniser pattern in `text`, in order —
/// re.findall with the pattern's alternatives tried left to right at each position.
template <class Emit>
void for_each_piece(std::u32string_view text, Emit&& emit) {
  static constexpr std::string_view kLiterals[] = {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re",
                                                   "'ve", "'m", "'ll", "'d"};
  // U+0345 COMBINING GREEK YPOGEGRAMMENI case-folds to ι, a letter, so under IGNORECASE the
  // regex module excludes it from [^\s\p{L}\p{N}] — yet [\p{L}] does not take it either: no
  // alternative matches it and findall skips it. (Checked against the regex module for every
  // code point; it is the only such character.)
  const auto is_other = [](char32_t c) {
    return c != 0x345 && !is_letter(c) && !is_number(c) && !is_regex_space(c);
  };
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const char32_t c = text[i];
    if (c == '<' || c == '\'') {
      std::size_t matched = 0;
      for (std::string_view literal : kLiterals) {
        if (literal_at(text, i, literal)) {
          matched = literal.size();
          break;
        }
      }
      if (matched != 0) {
        emit(i, i + matched);
        i += matched;
        continue;
      }
    }
    if (is_letter(c)) {
      std::size_t j = i + 1;
      while (j < n && is_letter(text[j])) ++j;
      emit(i, j);
      i = j;
    } else if (is_number(c)) {
      emit(i, i + 1);
      ++i;
    } else if (is_other(c)) {
      std::size_t j = i + 1;
      while (j < n && is_other(text[j])) ++j;
      emit(i, j);
      i = j;
    } else {
      ++i;  // whitespace (and U+0345) belongs to no piece
    }
  }
}

// ------------------------------------------------------------------------------ the model
struct ClipBpeModel {
  std::string source;                                // file name, for messages
  std::array<std::int32_t, 256> byte_symbol{};       // byte -> id inside a piece
  std::array<std::int32_t, 256> byte_symbol_end{};   // byte -> id as a piece's last symbol (</w>)
  PairTable pairs;
  std::vector<std::string> token_bytes;  // id -> the bytes it stands for ("</w>" kept literally)
  std::size_t merge_count = 0;
  std::int32_t sot = 0;
  std::int32_t eot = 0;
};

/// Read a file, gunzipping it when it is gzip (zlib reads plain files transparently).
inline std::string read_possibly_gzipped(const std::filesystem::path& path) {
  std::error_code ec;
  require<IoError>(std::filesystem::exists(path, ec), "CLIP BPE vocabulary '", path.string(), "' does not exist");
  require<IoError>(!std::filesystem::is_directory(path, ec), "CLIP BPE vocabulary '", path.string(),
                   "' is a directory, expected a (gzip'd) merges file");
  gzFile file = gzopen(path.c_str(), "rb");
  require<IoError>(file != nullptr, "cannot open CLIP BPE vocabulary '", path.string(), "': ", std::strerror(errno));
  gzbuffer(file, 1u << 17);
  std::string content;
  std::vector<char> chunk(1u << 16);
  const auto fail = [&](const char* what) {
    int code = Z_OK;
    const std::string zlib_message = gzerror(file, &code);
    gzclose_r(file);
    const auto line = 1 + std::count(content.begin(), content.end(), '\n');
    throw IoError(skiptune::detail::message("CLIP BPE vocabulary '", path.string(), "': ", what, " after ",
                                            content.size(), " decompressed bytes (in line ", line, "): zlib: ",
                                            zlib_message.empty() ? "unknown error" : zlib_message));
  };
  for (;;) {
    const int got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got < 0) fail("corrupt gzip data");
    if (got == 0) break;
    content.append(chunk.data(), static_cast<std::size_t>(got));
  }
  int code = Z_OK;
  gzerror(file, &code);
  if (code != Z_OK) fail("truncated or corrupt gzip data");
  const int closed = gzclose_r(file);
  require<IoError>(closed == Z_OK, "CLIP BPE vocabulary '", path.string(),
                   "': truncated gzip data (the stream ends early, zlib status ", closed, ")");
  return content;
}

inline std::string shorten_for_message(std::string_view text, std::size_t max_bytes = 80) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // whole characters
  return std::string(text.substr(0, cut)) + "...";
}

/// Build the model from the text of a merges file (the format of bpe_simple_vocab_16e6.txt).
inline std::shared_ptr<const ClipBpeModel> parse_merges(std::string_view content, const std::string& source,
                                                        std::size_t max_merges) {
  auto model = std::make_shared<ClipBpeModel>();
  model->source = source;
  const auto where = [&](std::size_t line) { return skiptune::detail::message("CLIP BPE vocabulary '", source, "' line ", line); };

  std::size_t bad_offset = 0;
  if (!utf8_is_valid(content, bad_offset)) {
    const auto line = 1 + std::count(content.begin(), content.begin() + static_cast<std::ptrdiff_t>(bad_offset), '\n');
    throw IoError(skiptune::detail::message(where(static_cast<std::size_t>(line)), ": not valid UTF-8 (byte offset ",
                                            bad_offset, "); is this a CLIP merges file?"));
  }
  require<IoError>(!content.empty(), "CLIP BPE vocabulary '", source,
                   "' is empty; expected a header line followed by merge lines");

  // Lines as Python's str.split("\n") gives them; a final newline does not start a merge line.
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0;;) {
    const std::size_t nl = content.find('\n', pos);
    lines.push_back(content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  if (lines.size() > 1 && lines.back().empty()) lines.pop_back();
  const std::size_t available = lines.size() - 1;  // after the header
  if (max_merges != 0) {
    require<IoError>(available >= max_merges, "CLIP BPE vocabulary '", source, "' has only ", available,
                     " merge lines after its header, expected at least ", max_merges,
                     ": the file is truncated or not a CLIP vocabulary (for a custom merges file, set "
                     "ClipTokenizerOptions::max_merges = 0 to use all of its lines)");
  }
  const std::size_t count = max_merges == 0 ? available : max_merges;
  require<IoError>(count > 0, "CLIP BPE vocabulary '", source, "' has a header but no merge lines");

  // Vocabulary strings (in byte-symbol characters, UTF-8) -> id. Later entries win, as in
  // Python's dict(zip(vocab, range(len(vocab)))).
  const ByteAlphabet& alphabet = byte_alphabet();
  std::unordered_map<std::string, std::int32_t> encoder;
  encoder.reserve(2 * (512 + count + 2));
  model->token_bytes.reserve(512 + count + 2);
  for (std::size_t rank = 0; rank < 256; ++rank) {
    std::string symbol;
    utf8_append(symbol, alphabet.symbol_of_byte[alphabet.byte_at_rank[rank]]);
    encoder.insert_or_assign(symbol, static_cast<std::int32_t>(rank));
    model->token_bytes.emplace_back(1, static_cast<char>(alphabet.byte_at_rank[rank]));
  }
  for (std::size_t rank = 0; rank < 256; ++rank) {
    std::string symbol;
    utf8_append(symbol, alphabet.symbol_of_byte[alphabet.byte_at_rank[rank]]);
    encoder.insert_or_assign(symbol + "</w>", static_cast<std::int32_t>(256 + rank));
    model->token_bytes.push_back(std::string(1, static_cast<char>(alphabet.byte_at_rank[rank])) + "</w>");
  }

  struct Merge {
    std::string_view left, right;
  };
  std::vector<Merge> merges;
  merges.reserve(count);
  std::u32string code_points;
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t line_number = k + 2;  // 1-based, after the header
    const std::string_view line = lines[k + 1];
    // Python's str.split(): fields separated by runs of whitespace.
    std::string_view fields[2];
    std::size_t field_count = 0;
    std::size_t pos = 0, field_start = 0;
    bool in_field = false;
    while (pos < line.size()) {
      const std::size_t at = pos;
      char32_t cp = 0;
      utf8_next(line, pos, cp);  // the file is valid UTF-8 (checked above)
      const bool space = is_python_space(cp);
      if (!space && !in_field) field_start = at;
      if (space && in_field) {
        if (field_count < 2) fields[field_count] = line.substr(field_start, at - field_start);
        ++field_count;
      }
      in_field = !space;
    }
    if (in_field) {
      if (field_count < 2) fields[field_count] = line.substr(field_start);
      ++field_count;
    }
    if (field_count != 2) {
      throw IoError(skiptune::detail::message(where(line_number), ": expected two symbols separated by a space, found \"",
                                              shorten_for_message(line), "\""));
    }
    std::string bytes;
    for (const std::string_view field : {fields[0], fields[1]}) {
      utf8_decode_replacing(field, code_points);
      for (const char32_t symbol : code_points) {
        const int byte = alphabet.byte_of_symbol(symbol);
        if (byte < 0) {
          throw IoError(skiptune::detail::message(where(line_number), ": \"", shorten_for_message(line),
                                                  "\" contains U+", std::hex, std::uppercase,
                                                  static_cast<std::uint32_t>(symbol), std::dec,
                                                  ", which is not one of the 256 byte symbols"));
        }
        bytes.push_back(static_cast<char>(byte));
      }
    }
    merges.push_back(Merge{fields[0], fields[1]});
    std::string joined;
    joined.reserve(fields[0].size() + fields[1].size());
    joined.append(fields[0]).append(fields[1]);
    encoder.insert_or_assign(std::move(joined), static_cast<std::int32_t>(512 + k));
    model->token_bytes.push_back(std::move(bytes));
  }
  model->merge_count = count;
  model->sot = static_cast<std::int32_t>(512 + count);
  model->eot = model->sot + 1;
  encoder.insert_or_assign("<|startoftext|>", model->sot);
  encoder.insert_or_assign("<|endoftext|>", model->eot);
  model->token_bytes.emplace_back("<|startoftext|>");
  model->token_bytes.emplace_back("<|endoftext|>");

  for (unsigned b = 0; b < 256; ++b) {
    std::string symbol;
    utf8_append(symbol, alphabet.symbol_of_byte[b]);
    model->byte_symbol[b] = encoder.at(symbol);
    model->byte_symbol_end[b] = encoder.at(symbol + "</w>");
  }
  // A merge whose halves are not vocabulary strings can never apply: every symbol of a word is
  // a vocabulary string.
  model->pairs.reserve(count);
  std::string joined;
  for (std::size_t k = 0; k < count; ++k) {
    const auto left = encoder.find(std::string(merges[k].left));
    const auto right = encoder.find(std::string(merges[k].right));
    if (left == encoder.end() || right == encoder.end()) continue;
    joined.assign(merges[k].left).append(merges[k].right);
    model->pairs.insert_or_assign(left->second, right->second, static_cast<std::int32_t>(k), encoder.at(joined));
  }
  return model;
}

/// Transparent hashing so the cache can be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// Per-piece BPE results: piece bytes -> a range of ids in one shared arena.
struct BpeCache {
  struct Span {
    std::uint32_t offset;
    std::uint32_t length;
  };
  std::mutex mutex;
  std::unordered_map<std::string, Span, StringHash, std::equal_to<>> index;
  std::vector<std::int32_t> arena;
};

/// Buffers one encode() call needs, kept per thread so that batches do not allocate per text.
struct EncodeScratch {
  std::u32string input, cleaned;
  CleanScratch clean;
  std::string piece;
  std::vector<std::int32_t> word;
};

inline EncodeScratch& thread_encode_scratch() {
  thread_local EncodeScratch scratch;
  return scratch;
}

}  // namespace detail

/// The CLIP tokenizer. Cheap to copy (the vocabulary is shared; each copy has its own cache).
class ClipTokenizer {
 public:
  /// Load `bpe_simple_vocab_16e6.txt.gz` (or any merges file of that format, gzip'd or not).
  /// Throws IoError naming the file (and line) when it is missing, unreadable, truncated,
  /// corrupt, or has a malformed line.
  explicit ClipTokenizer(const std::filesystem::path& merges_file, ClipTokenizerOptions options = {})
      : ClipTokenizer(detail::parse_merges(detail::read_possibly_gzipped(merges_file), merges_file.string(),
                                           options.max_merges),
                      options) {}

  /// Build from the text of a merges file already in memory (header line, then "a b" lines).
  static ClipTokenizer from_merges_text(std::string_view merges_text, ClipTokenizerOptions options = {},
                                        const std::string& source_name = "<memory>") {
    return ClipTokenizer(detail::parse_merges(merges_text, source_name, options.max_merges), options);
  }

  ClipTokenizer(const ClipTokenizer& other) : model_(other.model_), options_(other.options_) {}
  ClipTokenizer& operator=(const ClipTokenizer& other) {
    if (this != &other) {
      model_ = other.model_;
      options_ = other.options_;
      cache_ = std::make_unique<detail::BpeCache>();
    }
    return *this;
  }
  ClipTokenizer(ClipTokenizer&&) noexcept = default;
  ClipTokenizer& operator=(ClipTokenizer&&) noexcept = default;

  std::int32_t sot_id() const { return model_->sot; }  ///< <|startoftext|> (49406 for CLIP)
  std::int32_t eot_id() const { return model_->eot; }  ///< <|endoftext|> (49407 for CLIP)
  std::size_t vocab_size() const { return model_->token_bytes.size(); }  ///< 49408 for CLIP
  std::size_t merge_count() const { return model_->merge_count; }
  const std::string& source() const { return model_->source; }

  /// The bytes token `id` stands for; a word-final token ends in the literal "</w>".
  const std::string& token_bytes(std::int32_t id) const {
    check_id(id);
    return model_->token_bytes[static_cast<std::size_t>(id)];
  }

  /// The text BPE sees: ftfy-fixed, HTML-unescaped twice, whitespace collapsed, lowercased.
  static std::string clean_text(std::string_view text) {
    detail::EncodeScratch& s = detail::thread_encode_scratch();
    detail::utf8_decode_replacing(text, s.input);
    detail::clip_clean(s.input, s.cleaned, s.clean);
    return detail::utf8_encode(s.cleaned);
  }

  /// Token ids of `text`, without <|startoftext|> / <|endoftext|>.
  std::vector<std::int32_t> encode(std::string_view text) const {
    std::vector<std::int32_t> ids;
    encode_append(text, ids);
    return ids;
  }

  /// Append the token ids of `text` to `out`.
  void encode_append(std::string_view text, std::vector<std::int32_t>& out) const {
    detail::EncodeScratch& s = detail::thread_encode_scratch();
    detail::utf8_decode_replacing(text, s.input);
    detail::clip_clean(s.input, s.cleaned, s.clean);
    const std::u32string_view cleaned = s.cleaned;
    detail::for_each_piece(cleaned, [&](std::size_t first, std::size_t last) {
      s.piece.clear();
      for (std::size_t i = first; i < last; ++i) detail::utf8_append(s.piece, cleaned[i]);
      if (s.piece == "<|startoftext|>") {
        out.push_back(model_->sot);
      } else if (s.piece == "<|endoftext|>") {
        out.push_back(model_->eot);
      } else {
        append_bpe(s.piece, s.word, out);
      }
    });
    release_if_huge(s);
  }

  /// Decode ids back to text like simple_tokenizer.decode: bytes joined, invalid UTF-8 replaced
  /// by U+FFFD, every "</w>" turned into a space. Throws InputError for an id out of range.
  std::string decode(std::span<const std::int32_t> ids) const {
    std::string bytes;
    for (const std::int32_t id : ids) bytes += token_bytes(id);
    std::u32string code_points;
    detail::utf8_decode_replacing(bytes, code_points);
    const std::string text = detail::utf8_encode(code_points);
    std::string out;
    out.reserve(text.size());
    for (std::size_t pos = 0;;) {
      const std::size_t hit = text.find("</w>", pos);
      out.append(text, pos, hit == std::string::npos ? std::string::npos : hit - pos);
      if (hit == std::string::npos) break;
      out.push_back(' ');
      pos = hit + 4;
    }
    return out;
  }

  /// clip.tokenize for one text: <|startoftext|> + ids + <|endoftext|>, zero padded to
  /// `context_length`. Too long is an InputError, unless `truncate`: then the first
  /// context_length tokens are kept and the last one is forced to <|endoftext|>.
  std::vector<std::int32_t> tokenize(std::string_view text, std::size_t context_length = kClipContextLength,
                                     bool truncate = false) const {
    std::vector<std::int32_t> row(context_length, 0);
    std::vector<std::int32_t> ids;
    tokenize_into(text, context_length, truncate, ids, row);
    return row;
  }

  /// clip.tokenize for many texts: a flat row-major [texts.size(), context_length] array.
  std::vector<std::int32_t> tokenize_batch(std::span<const std::string> texts,
                                           std::size_t context_length = kClipContextLength,
                                           bool truncate = false) const {
    return tokenize_batch_with_eot(texts, context_length, truncate).ids;
  }

  /// tokenize_batch plus, per row, the position CLIP's text tower takes its feature from
  /// (text.argmax(dim=-1) in OpenAI's code: the first <|endoftext|>, the largest id).
  TokenBatch tokenize_batch_with_eot(std::span<const std::string> texts,
                                     std::size_t context_length = kClipContextLength,
                                     bool truncate = false) const {
    require<ConfigError>(context_length >= 1, "context_length must be at least 1");
    TokenBatch batch;
    batch.rows = texts.size();
    batch.context_length = context_length;
    batch.ids.assign(texts.size() * context_length, 0);
    batch.eot_positions.resize(texts.size());
    std::vector<std::int32_t> ids;
    for (std::size_t r = 0; r < texts.size(); ++r) {
      const std::span<std::int32_t> row(batch.ids.data() + r * context_length, context_length);
      tokenize_into(texts[r], context_length, truncate, ids, row);
      batch.eot_positions[r] = static_cast<std::int32_t>(std::find(row.begin(), row.end(), model_->eot) - row.begin());
    }
    return batch;
  }

 private:
  ClipTokenizer(std::shared_ptr<const detail::ClipBpeModel> model, ClipTokenizerOptions options)
      : model_(std::move(model)), options_(options) {}

  void check_id(std::int32_t id) const {
    require<InputError>(id >= 0 && static_cast<std::size_t>(id) < model_->token_bytes.size(), "token id ", id,
                        " is out of range for the CLIP vocabulary '", model_->source, "' (size ",
                        model_->token_bytes.size(), ")");
  }

  void tokenize_into(std::string_view text, std::size_t context_length, bool truncate, std::vector<std::int32_t>& ids,
                     std::span<std::int32_t> row) const {
    require<ConfigError>(context_length >= 1, "context_length must be at least 1");
    ids.clear();
    ids.push_back(model_->sot);
    encode_append(text, ids);
    ids.push_back(model_->eot);
    if (ids.size() > context_length) {
      if (!truncate) {
        throw InputError(skiptune::detail::message(
            "input text \"", detail::shorten_for_message(text), "\" is too long for context length ", context_length,
            ": it has ", ids.size(), " tokens including <|startoftext|> and <|endoftext|> (tokenize with "
            "truncate = true to cut it)"));
      }
      ids.resize(context_length);
      ids.back() = model_->eot;
    }
    std::copy(ids.begin(), ids.end(), row.begin());
    std::fill(row.begin() + static_cast<std::ptrdiff_t>(ids.size()), row.end(), 0);
  }

  /// BPE of one piece (UTF-8 bytes), through the cache.
  void append_bpe(const std::string& piece, std::vector<std::int32_t>& word, std::vector<std::int32_t>& out) const {
    const bool cacheable = options_.cache_capacity != 0 && piece.size() <= 256;
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_->mutex);
      const auto it = cache_->index.find(std::string_view(piece));
      if (it != cache_->index.end()) {
        const auto first = cache_->arena.begin() + it->second.offset;
        out.insert(out.end(), first, first + it->second.length);
        return;
      }
    }
    word.clear();
    for (std::size_t i = 0; i < piece.size(); ++i) {
      const auto byte = static_cast<unsigned char>(piece[i]);
      word.push_back(i + 1 < piece.size() ? model_->byte_symbol[byte] : model_->byte_symbol_end[byte]);
    }
    if (word.size() <= detail::kSimpleBpeMaxSymbols) {
      detail::bpe_merge_simple(model_->pairs, word);
    } else {
      detail::bpe_merge_heap(model_->pairs, word);
    }
    out.insert(out.end(), word.begin(), word.end());
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_->mutex);
      if (cache_->index.size() >= options_.cache_capacity) {
        cache_->index.clear();
        cache_->arena.clear();
      }
      const auto offset = static_cast<std::uint32_t>(cache_->arena.size());
      if (cache_->index.try_emplace(piece, detail::BpeCache::Span{offset, static_cast<std::uint32_t>(word.size())}).second) {
        cache_->arena.insert(cache_->arena.end(), word.begin(), word.end());
      }
    }
  }

  /// Give back scratch memory after an unusually long text, so one huge input does not pin it.
  static void release_if_huge(detail::EncodeScratch& s) {
    constexpr std::size_t kKeep = 1u << 20;
    if (s.input.capacity() > kKeep) {
      s = detail::EncodeScratch{};
    }
  }

  std::shared_ptr<const detail::ClipBpeModel> model_;
  ClipTokenizerOptions options_;
  std::unique_ptr<detail::BpeCache> cache_ = std::make_unique<detail::BpeCache>();
};

}  // namespace skiptune::io
