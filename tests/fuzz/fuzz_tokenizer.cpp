// libFuzzer target for the CLIP tokenizer (skiptune/io/tokenizer.hpp). Arbitrary bytes are
// tokenized with truncation, and — when the first byte is a multiple of 8 — also read as a
// merges file. The only acceptable outcomes are success or a skiptune::Error; a crash, a
// sanitizer report, another exception type escaping, or a broken invariant (a row that does not
// start with <|startoftext|> and hold <|endoftext|>, an id outside the vocabulary, decode()
// failing on ids encode() produced) is a bug. Not built by CMake; see docs/tokenizer.md:
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include
//     -DSKIPTUNE_SHARED_DIR='"/work/shared"' tests/fuzz/fuzz_tokenizer.cpp -lz -o fuzz_tokenizer
//   ./fuzz_tokenizer -max_total_time=60
// SKIPTUNE_CLIP_VOCAB in the environment overrides where the vocabulary is read from.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "skiptune/io/tokenizer.hpp"

#ifndef SKIPTUNE_SHARED_DIR
#define SKIPTUNE_SHARED_DIR "../shared"
#endif

namespace {

void check(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that broke an invariant
}

const skiptune::io::ClipTokenizer& clip() {
  static const skiptune::io::ClipTokenizer tokenizer([] {
    const char* override_path = std::getenv("SKIPTUNE_CLIP_VOCAB");
    return std::string(override_path != nullptr ? override_path
                                                : SKIPTUNE_SHARED_DIR "/data/clip/bpe_simple_vocab_16e6.txt.gz");
  }());
  return tokenizer;
}

void exercise_tokenizer(const skiptune::io::ClipTokenizer& tok, std::string_view text) {
  const std::vector<std::int32_t> row = tok.tokenize(text, 77, /*truncate=*/true);
  check(row.size() == 77);
  check(row[0] == tok.sot_id());
  const auto eot = std::find(row.begin(), row.end(), tok.eot_id());
  check(eot != row.end());
  for (const std::int32_t id : row) check(id >= 0 && static_cast<std::size_t>(id) < tok.vocab_size());
  const std::vector<std::int32_t> ids = tok.encode(text);
  check(std::equal(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(ids.size(), 75)),
                   row.begin() + 1));
  (void)tok.decode(ids);  // must not throw: every id is in range
  (void)skiptune::io::ClipTokenizer::clean_text(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    exercise_tokenizer(clip(), bytes);
  } catch (const skiptune::Error&) {
    // acceptable (none is expected for tokenizing, but it is not a crash)
  }
  if (size > 0 && data[0] % 8 == 0) {
    try {
      const auto custom = skiptune::io::ClipTokenizer::from_merges_text(bytes.substr(1), {.max_merges = 0}, "fuzz");
      check(custom.vocab_size() == 512 + custom.merge_count() + 2);
      exercise_tokenizer(custom, "hello world, a photo of a cat");
      exercise_tokenizer(custom, bytes.substr(1));
    } catch (const skiptune::Error&) {
      // malformed merges files are IoErrors
    }
  }
  return 0;
}
