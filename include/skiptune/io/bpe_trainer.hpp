// skiptune/io/bpe_trainer.hpp — learn a byte-level BPE vocabulary in CLIP's symbol space and
// write it as a CLIP merges file, so that ClipTokenizer (max_merges = 0) loads it directly.
//
//   std::vector<std::string> captions = ...;
//   auto merges = skiptune::io::train_clip_bpe(captions, 4000);
//   skiptune::io::write_merges_file("vocab.txt", merges);
//   skiptune::io::ClipTokenizer tok("vocab.txt", {.max_merges = 0});  // 512 + merges + 2 ids
//
// Training sees exactly what encoding sees: every text is cleaned (detail::clip_clean) and split
// by CLIP's pre-tokeniser (detail::for_each_piece), the same functions ClipTokenizer::encode
// uses; literal <|startoftext|> / <|endoftext|> pieces are skipped (they are special ids). Each
// piece's UTF-8 bytes become byte symbols (bytes_to_unicode), the last one with "</w>". Then the
// classic loop over the table of distinct pieces weighted by their counts:
//   count every adjacent symbol pair (overlapping occurrences count: "aaa" has (a,a) twice);
//   take the most frequent pair — ties broken by the smallest (left, right) pair, comparing the
//   two symbols as written in the merges file (UTF-8 strings, byte-wise, left first);
//   merge all its occurrences in every piece, left to right and non-overlapping (as
//   ClipTokenizer does); repeat until `num_merges` merges or the best pair occurs fewer than
//   `min_frequency` times.
// A pair whose concatenation is already a vocabulary string (e.g. (a, bc) after (ab, c)) is never
// learned: CLIP's format maps strings to ids, so a second route to one string would let the
// tokenizer re-create an earlier-ranked pair and segment training words differently from the
// trainer. (A guard: it never fired in random searches over small alphabets, where rank-ordered,
// left-to-right merging seems to leave no second route.) With it, encoding a training piece with
// the written file gives exactly the trainer's final segmentation of it (tested against a naive
// reference trainer).
//
// Cost: pair counts are updated incrementally (only pieces that contain the merged pair are
// touched, found through a pair -> pieces index), the best pair comes from a lazy max-heap.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "skiptune/core/atomic_file.hpp"
#include "skiptune/core/errors.hpp"
#include "skiptune/io/text_clean.hpp"
#include "skiptune/io/tokenizer.hpp"
#include "skiptune/io/unicode.hpp"

namespace skiptune::io {

/// First line of files written by to_merges_text (ClipTokenizer ignores line 1).
inline constexpr std::string_view kBpeMergesHeader = "#version: skiptune-bpe 1";

struct BpeTrainerOptions {
  /// Stop when the most frequent pair occurs fewer times than this (counted over all texts).
  /// Must be at least 1; the default 2 never learns a pair seen only once.
  std::uint64_t min_frequency = 2;
};

/// One merge, both symbols as written in a merges file: byte symbols of bytes_to_unicode()
/// (UTF-8), a word-final symbol ending in the literal "</w>".
using BpeMerge = std::pair<std::string, std::string>;

namespace detail {

/// The distinct pre-tokeniser pieces of `texts` (UTF-8 bytes) with their counts, in order of
/// first appearance. Special-token pieces are left out.
inline std::vector<std::pair<std::string, std::uint64_t>> count_clip_pieces(const std::vector<std::string>& texts) {
  std::vector<std::pair<std::string, std::uint64_t>> table;
  std::unordered_map<std::string, std::size_t> index;
  std::u32string input, cleaned;
  CleanScratch scratch;
  std::string piece;
  for (const std::string& text : texts) {
    utf8_decode_replacing(text, input);
    clip_clean(input, cleaned, scratch);
    const std::u32string_view view = cleaned;
    for_each_piece(view, [&](std::size_t first, std::size_t last) {
      piece.clear();
      for (std::size_t i = first; i < last; ++i) utf8_append(piece, view[i]);
      if (piece == "<|startoftext|>" || piece == "<|endoftext|>") return;
      const auto [it, inserted] = index.try_emplace(piece, table.size());
      if (inserted) table.emplace_back(piece, 0);
      ++table[it->second].second;
    });
  }
  return table;
}

}  // namespace detail

/// Learn up to `num_merges` BPE merges from `texts` (see the top of this file for the rules).
/// Deterministic: the result depends only on the multiset of texts. num_merges = 0 gives no
/// merges. Throws ConfigError for min_frequency = 0.
inline std::vector<BpeMerge> train_clip_bpe(const std::vector<std::string>& texts, std::size_t num_merges,
                                            BpeTrainerOptions options = {}) {
  require<ConfigError>(options.min_frequency >= 1, "BpeTrainerOptions::min_frequency must be at least 1");
  std::vector<BpeMerge> merges;
  if (num_merges == 0) return merges;

  // Symbols: 0..255 = byte b inside a piece, 256..511 = byte b + "</w>", then one per merge.
  const detail::ByteAlphabet& alphabet = detail::byte_alphabet();
  std::vector<std::string> text_of;  // symbol id -> its merges-file spelling
  text_of.reserve(512 + num_merges);
  std::unordered_map<std::string, std::int32_t> id_of;
  for (int end = 0; end < 2; ++end) {
    for (unsigned b = 0; b < 256; ++b) {
      std::string s;
      detail::utf8_append(s, alphabet.symbol_of_byte[b]);
      if (end != 0) s += "</w>";
      id_of.emplace(s, static_cast<std::int32_t>(text_of.size()));
      text_of.push_back(std::move(s));
    }
  }

  struct Word {
    std::vector<std::int32_t> symbols;
    std::uint64_t count = 0;
    std::uint64_t stamp = 0;  // last merge step that visited it
  };
  std::vector<Word> words;
  for (auto& [piece, count] : detail::count_clip_pieces(texts)) {
    Word w;
    w.count = count;
    for (std::size_t i = 0; i < piece.size(); ++i) {
      const auto byte = static_cast<unsigned char>(piece[i]);
      w.symbols.push_back(static_cast<std::int32_t>(i + 1 < piece.size() ? byte : 256 + byte));
    }
    if (w.symbols.size() >= 2) words.push_back(std::move(w));  // one symbol: nothing to merge
  }

  const auto key_of = [](std::int32_t left, std::int32_t right) {
    return (std::uint64_t{static_cast<std::uint32_t>(left)} << 32) | static_cast<std::uint32_t>(right);
  };
  std::unordered_map<std::uint64_t, std::uint64_t> pair_count;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> pair_words;  // may hold stale / repeated entries
  for (std::size_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].symbols;
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
      const std::uint64_t key = key_of(s[i], s[i + 1]);
      pair_count[key] += words[w].count;
      auto& list = pair_words[key];
      if (list.empty() || list.back() != w) list.push_back(static_cast<std::uint32_t>(w));
    }
  }

  struct Candidate {
    std::uint64_t count;
    std::int32_t left, right;
  };
  // "Less" = lower priority: smaller count, or equal count and a larger (left, right) spelling.
  const auto lower_priority = [&text_of](const Candidate& a, const Candidate& b) {
    if (a.count != b.count) return a.count < b.count;
    const int by_left = text_of[static_cast<std::size_t>(a.left)].compare(text_of[static_cast<std::size_t>(b.left)]);
    if (by_left != 0) return by_left > 0;
    return text_of[static_cast<std::size_t>(a.right)].compare(text_of[static_cast<std::size_t>(b.right)]) > 0;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower_priority)> heap(lower_priority);
  for (const auto& [key, count] : pair_count) {
    heap.push(Candidate{count, static_cast<std::int32_t>(key >> 32), static_cast<std::int32_t>(key & 0xFFFFFFFFu)});
  }

  std::unordered_set<std::uint64_t> banned;
  std::vector<std::uint64_t> touched;
  std::vector<std::int32_t> merged_word;
  std::uint64_t step = 0;
  while (merges.size() < num_merges && !heap.empty()) {
    const Candidate best = heap.top();
    heap.pop();
    const std::uint64_t key = key_of(best.left, best.right);
    const auto count_it = pair_count.find(key);
    if (count_it == pair_count.end() || count_it->second != best.count) continue;  // stale entry
    if (banned.count(key) != 0) continue;
    if (best.count < options.min_frequency) break;  // the heap's best is current: nothing better left
    std::string joined = text_of[static_cast<std::size_t>(best.left)] + text_of[static_cast<std::size_t>(best.right)];
    if (id_of.count(joined) != 0) {
      banned.insert(key);  // a second route to an existing string: never learned (see top)
      continue;
    }
    const auto merged = static_cast<std::int32_t>(text_of.size());
    merges.emplace_back(text_of[static_cast<std::size_t>(best.left)], text_of[static_cast<std::size_t>(best.right)]);
    id_of.emplace(joined, merged);
    text_of.push_back(std::move(joined));

    ++step;
    touched.clear();
    std::vector<std::uint32_t> holders = std::move(pair_words[key]);
    pair_words.erase(key);
    for (const std::uint32_t w : holders) {
      Word& word = words[w];
      if (word.stamp == step) continue;
      word.stamp = step;
      auto& s = word.symbols;
      bool found = false;
      for (std::size_t i = 0; i + 1 < s.size() && !found; ++i) found = s[i] == best.left && s[i + 1] == best.right;
      if (!found) continue;  // stale index entry
      for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        const std::uint64_t k = key_of(s[i], s[i + 1]);
        pair_count[k] -= word.count;
        touched.push_back(k);
      }
      merged_word.clear();
      for (std::size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == best.left && s[i + 1] == best.right) {
          merged_word.push_back(merged);
          i += 2;
        } else {
          merged_word.push_back(s[i++]);
        }
      }
      s.swap(merged_word);
      for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        const std::uint64_t k = key_of(s[i], s[i + 1]);
        pair_count[k] += word.count;
        touched.push_back(k);
        if (s[i] == merged || s[i + 1] == merged) {  // a new pair: index this word under it
          auto& list = pair_words[k];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (const std::uint64_t k : touched) {
      const auto it = pair_count.find(k);
      if (it == pair_count.end()) continue;
      if (it->second == 0) {
        pair_count.erase(it);
        pair_words.erase(k);
      } else if (banned.count(k) == 0) {
        heap.push(Candidate{it->second, static_cast<std::int32_t>(k >> 32), static_cast<std::int32_t>(k & 0xFFFFFFFFu)});
      }
    }
  }
  return merges;
}

/// The text of a merges file: kBpeMergesHeader, then "left right" per merge, each line ending in
/// '\n'. Throws InputError for a symbol that is empty or contains whitespace (it could not be
/// read back).
inline std::string to_merges_text(const std::vector<BpeMerge>& merges) {
  std::string out(kBpeMergesHeader);
  out.push_back('\n');
  std::u32string code_points;
  for (std::size_t k = 0; k < merges.size(); ++k) {
    for (const std::string* symbol : {&merges[k].first, &merges[k].second}) {
      detail::utf8_decode_replacing(*symbol, code_points);
      bool ok = !code_points.empty();
      for (const char32_t c : code_points) ok = ok && !detail::is_python_space(c);
      require<InputError>(ok, "merge ", k, " (\"", detail::shorten_for_message(merges[k].first), "\", \"",
                          detail::shorten_for_message(merges[k].second),
                          "\") has an empty symbol or one containing whitespace");
    }
    out.append(merges[k].first).push_back(' ');
    out.append(merges[k].second).push_back('\n');
  }
  return out;
}

/// Write to_merges_text(merges) to `path` atomically: a temporary file in the same directory is
/// written, flushed, fsync'd and renamed over `path` (then the directory is fsync'd, best
/// effort), so `path` holds either its old content or the whole new file. IoError naming `path`
/// on any failure (the temporary file is removed).
inline void write_merges_file(const std::filesystem::path& path, const std::vector<BpeMerge>& merges) {
  write_file_atomically(path, to_merges_text(merges), "BPE merges file");
}

}  // namespace skiptune::io
