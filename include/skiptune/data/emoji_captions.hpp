// skiptune/data/emoji_captions.hpp — the text side of EmojiBench: pretraining captions drawn
// from templates over the CLDR name and keywords, the zero-shot prompt, and the corpus the BPE
// vocabulary is learned from.
//
// Every caption keeps the class name (keyword-only captions would teach "fruit" → 🍎 and
// 🍌 alike); keywords, when used, come after it in random order. Names and keywords are
// lower-cased by CLIP's tokenizer anyway.
#pragma once

#include <string>
#include <vector>

#include "skiptune/core/rng.hpp"
#include "skiptune/data/emoji_pack.hpp"

namespace skiptune::data {

/// The prompt of zero-shot classification and of fine-tuning: "an emoji of {name}".
inline std::string emoji_prompt(const EmojiClass& c) { return "an emoji of " + c.name; }

inline constexpr int emoji_caption_templates = 6;

/// Caption template `which` (0 … emoji_caption_templates − 1) for class `c`; templates 4 and 5
/// add up to two (resp. one) keywords chosen with `rng`.
inline std::string emoji_caption(const EmojiClass& c, int which, Rng& rng) {
  auto keywords = [&](std::size_t most) {
    std::vector<std::string> kws = c.keywords;
    rng.shuffle(kws);
    std::string out;
    for (std::size_t k = 0; k < kws.size() && k < most; ++k) out += ", " + kws[k];
    return out;
  };
  switch (which) {
    case 0: return c.name;
    case 1: return "an emoji of " + c.name;
    case 2: return c.name + " emoji";
    case 3: return "a drawing of " + c.name;
    case 4: return c.name + keywords(2);
    default: return "an emoji of " + c.name + keywords(1);
  }
}

/// A random caption for class `c`.
inline std::string random_emoji_caption(const EmojiClass& c, Rng& rng) {
  return emoji_caption(c, static_cast<int>(rng.below(emoji_caption_templates)), rng);
}

/// The texts the BPE vocabulary is learned from: every class's name, keywords, prompt, and the
/// template words — each once, in class order (deterministic).
inline std::vector<std::string> emoji_bpe_corpus(const EmojiPack& pack) {
  std::vector<std::string> texts;
  for (const EmojiClass& c : pack.classes()) {
    texts.push_back(emoji_prompt(c));
    texts.push_back("a drawing of " + c.name + " emoji");
    for (const std::string& k : c.keywords) texts.push_back(k);
  }
  return texts;
}

}  // namespace skiptune::data
