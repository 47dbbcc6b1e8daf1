// Tests for skiptune/io/tokenizer.hpp: CLIP.md's vectors, the parity set written by
// scripts/make_tokenizer_parity.py (an independent Python reference), truncation, decoding,
// vocabulary-file errors, a custom merges file, and the two BPE merge loops agreeing.
#include <zlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "skiptune/io/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
using skiptune::io::ClipTokenizer;
using skiptune::io::ClipTokenizerOptions;
using Ids = std::vector<std::int32_t>;

const fs::path kVocabPath = fs::path(SKIPTUNE_SHARED_DIR) / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz";
const fs::path kParityPath = fs::path(SKIPTUNE_SOURCE_DIR) / "tests" / "fixtures" / "tokenizer_parity.tsv";

/// The real CLIP tokenizer, loaded once for all tests.
const ClipTokenizer& clip() {
  static const ClipTokenizer tokenizer(kVocabPath);
  return tokenizer;
}

/// A fresh directory for files a test writes; removed at exit of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("skiptune_tokenizer_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path file(const std::string& name) const { return path / name; }
};

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_gzip(const fs::path& path, std::string_view bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

Ids with_padding(Ids ids, std::size_t length = 77) {
  ids.resize(length, 0);
  return ids;
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

TEST_CASE("CLIP vocabulary: sizes and special ids", "[tokenizer]") {
  const ClipTokenizer& tok = clip();
  CHECK(tok.vocab_size() == 49408);
  CHECK(tok.merge_count() == 48894);
  CHECK(tok.sot_id() == 49406);
  CHECK(tok.eot_id() == 49407);
  CHECK(tok.token_bytes(0) == "!");
  CHECK(tok.token_bytes(256) == "!</w>");
  CHECK(tok.token_bytes(49406) == "<|startoftext|>");
}

TEST_CASE("CLIP.md test vectors", "[tokenizer]") {
  const ClipTokenizer& tok = clip();
  CHECK(tok.tokenize("hello world") == with_padding({49406, 3306, 1002, 49407}));
  CHECK(tok.tokenize("a photo of a fox") == with_padding({49406, 320, 1125, 539, 320, 3240, 49407}));
  CHECK(tok.tokenize("a photo of a cat.") == with_padding({49406, 320, 1125, 539, 320, 2368, 269, 49407}));
  CHECK(tok.tokenize("Hello, World!") == with_padding({49406, 3306, 267, 1002, 256, 49407}));
  CHECK(tok.tokenize("don't") == with_padding({49406, 847, 713, 49407}));
  CHECK(tok.tokenize("1234") == with_padding({49406, 272, 273, 274, 275, 49407}));
  CHECK(tok.tokenize("&amp;lt;b&amp;gt;") == with_padding({49406, 283, 321, 285, 49407}));
  CHECK(tok.encode("hello world") == Ids{3306, 1002});
}

TEST_CASE("parity with the Python reference on the whole fixture set", "[tokenizer][parity]") {
  std::ifstream in(kParityPath);
  REQUIRE(in.good());
  const ClipTokenizer& tok = clip();
  std::size_t cases = 0, mismatches = 0, too_long = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> columns;
    std::size_t start = 0;
    for (;;) {
      const std::size_t tab = line.find('\t', start);
      columns.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    REQUIRE(columns.size() == 4);
    const std::string text = from_hex(columns[0]);
    const std::size_t full_count = std::stoul(columns[1]);
    Ids expected;
    std::istringstream ids(columns[2]);
    for (std::int32_t id; ids >> id;) expected.push_back(id);
    ++cases;

    const Ids got = tok.tokenize(text, 77, /*truncate=*/true);
    const std::size_t got_full = tok.encode(text).size() + 2;
    if (got != with_padding(expected) || got_full != full_count) {
      ++mismatches;
      if (mismatches <= 10) {
        std::ostringstream shown;
        for (std::int32_t id : got) {
          if (id != 0) shown << id << ' ';
        }
        FAIL_CHECK("mismatch for " << columns[3] << "\n  expected " << columns[2] << "\n  got      " << shown.str()
                                   << "\n  cleaned  \"" << ClipTokenizer::clean_text(text) << "\"");
      }
    }
    if (full_count > 77) {
      ++too_long;
      CHECK_THROWS_AS(tok.tokenize(text, 77, /*truncate=*/false), skiptune::InputError);
    }
  }
  WARN("tokenizer parity: " << cases - mismatches << " of " << cases << " cases equal (" << too_long
                            << " of them truncated)");
  CHECK(cases >= 500);
  CHECK(mismatches == 0);
}

TEST_CASE("truncation and context lengths", "[tokenizer]") {
  const ClipTokenizer& tok = clip();
  std::string text;
  for (int i = 0; i < 100; ++i) text += "cat ";
  SECTION("too long is an InputError naming the text and the lengths") {
    const std::string message = message_of([&] { (void)tok.tokenize(text); });
    CHECK(message.find("\"cat cat cat") != std::string::npos);
    CHECK(message.find("context length 77") != std::string::npos);
    CHECK(message.find("102 tokens") != std::string::npos);
    CHECK_THROWS_AS(tok.tokenize(text), skiptune::InputError);
  }
  SECTION("truncate keeps context_length tokens and forces <|endoftext|> last") {
    const Ids row = tok.tokenize(text, 77, true);
    REQUIRE(row.size() == 77);
    CHECK(row.front() == tok.sot_id());
    CHECK(row.back() == tok.eot_id());
    CHECK(std::count(row.begin(), row.end(), 2368) == 75);  // "cat</w>"
  }
  SECTION("exactly full rows need no truncation") {
    std::string fits;
    for (int i = 0; i < 75; ++i) fits += "cat ";
    const Ids row = tok.tokenize(fits);
    CHECK(row.back() == tok.eot_id());
    CHECK_THROWS_AS(tok.tokenize(fits + "cat"), skiptune::InputError);
  }
  SECTION("other context lengths behave like clip.tokenize") {
    CHECK(tok.tokenize("a photo", 5) == Ids{49406, 320, 1125, 49407, 0});
    CHECK(tok.tokenize("a photo of a cat", 4, true) == Ids{49406, 320, 1125, 49407});
    CHECK(tok.tokenize("a", 1, true) == Ids{49407});  // Python: tokens[:1] then tokens[-1] = eot
    CHECK(tok.tokenize("", 2) == Ids{49406, 49407});
    CHECK_THROWS_AS(tok.tokenize("a", 0, true), skiptune::ConfigError);
  }
}

TEST_CASE("batches: flat rows and EOT positions", "[tokenizer]") {
  const ClipTokenizer& tok = clip();
  const std::vector<std::string> prompts = {"a photo of a cat.", "", "a photo of a <|endoftext|> dog",
                                            std::string(300, 'x') + " long"};
  SECTION("rows equal single tokenize calls") {
    const Ids flat = tok.tokenize_batch(prompts, 77, true);
    REQUIRE(flat.size() == prompts.size() * 77);
    for (std::size_t r = 0; r < prompts.size(); ++r) {
      CHECK(Ids(flat.begin() + static_cast<std::ptrdiff_t>(r * 77), flat.begin() + static_cast<std::ptrdiff_t>(r * 77 + 77)) ==
            tok.tokenize(prompts[r], 77, true));
    }
  }
  SECTION("EOT position is where CLIP's argmax looks") {
    const skiptune::io::TokenBatch batch = tok.tokenize_batch_with_eot(prompts, 77, true);
    CHECK(batch.rows == 4);
    CHECK(batch.eot_positions[0] == 7);
    CHECK(batch.eot_positions[1] == 1);
    CHECK(batch.eot_positions[2] == 5);  // the literal <|endoftext|> comes first
    CHECK(batch.eot_positions[3] == 76);
    CHECK(batch.row(0)[7] == tok.eot_id());
  }
  SECTION("a text that is too long names itself") {
    CHECK_THROWS_WITH(tok.tokenize_batch(prompts, 77, false), Catch::Contains("xxxxxxxx"));
  }
}

TEST_CASE("decode inverts encode up to cleaning", "[tokenizer]") {
  const ClipTokenizer& tok = clip();
  CHECK(tok.decode(tok.encode("A Photo of a Cat!")) == "a photo of a cat ! ");
  CHECK(tok.decode(tok.encode("caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC")) ==
        "caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC ");
  CHECK(tok.decode(tok.encode("it\xE2\x80\x99s &amp; \xF0\x9F\x99\x82")) == "it 's & \xF0\x9F\x99\x82 ");
  for (const std::string text : {"a photo of a dog.", "supercalifragilisticexpialidocious", "x^2 + y^2 = 1"}) {
    CHECK(tok.decode(tok.encode(text)) == tok.decode(tok.encode(tok.decode(tok.encode(text)))));
  }
  SECTION("special tokens and partial UTF-8") {
    CHECK(tok.decode(Ids{49406, 3306, 49407}) == "<|startoftext|>hello <|endoftext|>");
    // The first byte of a 3-byte character alone decodes to U+FFFD, as errors="replace" does.
    const Ids bytes_only = {skiptune::io::detail::byte_alphabet().rank_of_byte[0xE6]};
    CHECK(tok.token_bytes(bytes_only[0]) == "\xE6");
    CHECK(tok.decode(bytes_only) == "\xEF\xBF\xBD");
  }
  SECTION("ids out of range") {
    CHECK_THROWS_AS(tok.decode(Ids{49408}), skiptune::InputError);
    CHECK_THROWS_WITH(tok.decode(Ids{-1}), Catch::Contains("token id -1 is out of range"));
  }
}

TEST_CASE("text cleaning details", "[tokenizer]") {
  using T = ClipTokenizer;
  CHECK(T::clean_text("  Hello\t\n World  ") == "hello world");
  CHECK(T::clean_text("\xE2\x80\x9Cquoted\xE2\x80\x9D it\xE2\x80\x99s") == "\"quoted\" it's");  // uncurled
  CHECK(T::clean_text("&amp;amp;amp;lt;") == "<");  // ftfy unescapes until nothing changes
  CHECK(T::clean_text("<b>&amp;amp;amp;lt;</b>") == "<b>&amp;lt;</b>");  // not after a '<': only 2 passes
  CHECK(T::clean_text("&EACUTE;") == "\xC3\xA9");  // ftfy's all-caps entities, then lowercased
  CHECK(T::clean_text("&notit; &copy 2020") == "\xC2\xACit; \xC2\xA9 2020");
  CHECK(T::clean_text("&#128;&#x80;&#0;") == "\xE2\x82\xAC\xE2\x82\xAC\xEF\xBF\xBD");
  CHECK(T::clean_text("\xC4\xB0stanbul") == "i\xCC\x87stanbul");  // İ -> i + combining dot
  CHECK(T::clean_text("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3") == "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCF\x83");
  CHECK(T::clean_text("e\xCC\x81") == "\xC3\xA9");  // NFC
  CHECK(T::clean_text("\xEF\xAC\x81sh") == "fish");  // ligature
  CHECK(T::clean_text("\xEF\xBC\xA1\xE3\x80\x80" "B") == "a b");  // full width, ideographic space
  CHECK(T::clean_text("\x1B[31mred\x1B[0m\x07") == "red");  // terminal escapes, control chars
  CHECK(T::clean_text("\xC2\x93hi\xC2\x94") == "\"hi\"");  // C1 controls read as Windows-1252
}

TEST_CASE("invalid UTF-8 is decoded like Python's errors='replace'", "[tokenizer]") {
  const ClipTokenizer& tok = clip();
  const Ids replacement = tok.encode("\xEF\xBF\xBD");
  CHECK(tok.encode("\xFF") == replacement);
  CHECK(tok.encode("abc\xE2\x82") == tok.encode("abc\xEF\xBF\xBD"));  // truncated: one U+FFFD
  CHECK(tok.encode("\xED\xA0\x80") == tok.encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));  // surrogate: three
  CHECK_NOTHROW(tok.tokenize(std::string("\x00\xC0\x80\xF5", 4), 77, true));
}

TEST_CASE("the heap BPE loop equals the simple one", "[tokenizer]") {
  // Rebuild the model's pair table from the real file and compare both loops on random words.
  const std::string content = [] {
    gzFile f = gzopen(kVocabPath.c_str(), "rb");
    std::string text;
    char buffer[1 << 15];
    for (int got; (got = gzread(f, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(got));
    gzclose(f);
    return text;
  }();
  const auto model = skiptune::io::detail::parse_merges(content, "test", skiptune::io::kClipMergeCount);
  std::mt19937 rng(7);
  const std::string alphabet = "aaabbbeeeiiilnnorssttt!.";
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t length = 2 + rng() % 120;
    Ids word;
    for (std::size_t i = 0; i < length; ++i) {
      const auto byte = static_cast<unsigned char>(alphabet[rng() % alphabet.size()]);
      word.push_back(i + 1 < length ? model->byte_symbol[byte] : model->byte_symbol_end[byte]);
    }
    Ids simple = word, heap = word;
    skiptune::io::detail::bpe_merge_simple(model->pairs, simple);
    skiptune::io::detail::bpe_merge_heap(model->pairs, heap);
    REQUIRE(simple == heap);
  }
  // "A B A B" with a low-ranked ("AB", "A") pair: all "A B" merge first.
  const auto tiny = skiptune::io::detail::parse_merges("#\na b\nab a\nab ab\n", "tiny", 0);
  const std::int32_t a = tiny->byte_symbol['a'], b = tiny->byte_symbol['b'];
  Ids simple = {a, b, a, b, a, b}, heap = simple;
  skiptune::io::detail::bpe_merge_simple(tiny->pairs, simple);
  skiptune::io::detail::bpe_merge_heap(tiny->pairs, heap);
  CHECK(simple == heap);
  CHECK(simple == Ids{514, 512});  // (ab ab)(ab): ranks decide, not position
}

TEST_CASE("a tiny custom merges file gives a small model its own vocabulary", "[tokenizer]") {
  TempDir dir;
  const std::string merges = "#version: tiny test vocabulary\nh e\nl l\nll o</w>\nhe llo</w>\n";
  const ClipTokenizerOptions all_lines{.max_merges = 0};
  SECTION("plain and gzip'd files load the same") {
    write_file(dir.file("tiny.txt"), merges);
    write_gzip(dir.file("tiny.txt.gz"), merges);
    for (const char* name : {"tiny.txt", "tiny.txt.gz"}) {
      const ClipTokenizer tok(dir.file(name), all_lines);
      CHECK(tok.merge_count() == 4);
      CHECK(tok.vocab_size() == 518);
      CHECK(tok.sot_id() == 516);
      CHECK(tok.eot_id() == 517);
      CHECK(tok.encode("Hello") == Ids{515});
      const std::int32_t l = static_cast<std::int32_t>('l' - '!');
      CHECK(tok.encode("hell") == Ids{512, l, l + 256});  // "he" "l" "l</w>": no (l, l</w>) merge
      CHECK(tok.tokenize("hello hello", 6) == Ids{516, 515, 515, 517, 0, 0});
      CHECK(tok.decode(tok.encode("hello hell")) == "hello hell ");
    }
  }
  SECTION("the CLIP default demands CLIP's number of merges") {
    write_file(dir.file("tiny.txt"), merges);
    const std::string message = message_of([&] { ClipTokenizer tok(dir.file("tiny.txt")); });
    CHECK(message.find("tiny.txt") != std::string::npos);
    CHECK(message.find("has only 4 merge lines") != std::string::npos);
    CHECK(message.find("48894") != std::string::npos);
    const ClipTokenizer three(dir.file("tiny.txt"), ClipTokenizerOptions{.max_merges = 3});
    CHECK(three.vocab_size() == 517);
  }
  SECTION("from memory, with the cache off") {
    const ClipTokenizer tok = ClipTokenizer::from_merges_text(merges, {.max_merges = 0, .cache_capacity = 0});
    CHECK(tok.encode("hello") == Ids{515});
    CHECK(tok.encode("hello") == Ids{515});
  }
}

TEST_CASE("bad vocabulary files are IoErrors naming the file and line", "[tokenizer]") {
  TempDir dir;
  SECTION("missing") {
    const std::string message = message_of([&] { ClipTokenizer tok(dir.file("nope.txt.gz")); });
    CHECK(message.find("nope.txt.gz") != std::string::npos);
    CHECK(message.find("does not exist") != std::string::npos);
    CHECK_THROWS_AS(ClipTokenizer(dir.file("nope.txt.gz")), skiptune::IoError);
    CHECK_THROWS_AS(ClipTokenizer(dir.path), skiptune::IoError);
  }
  SECTION("truncated gzip") {
    const std::string gz = read_file(kVocabPath);
    write_file(dir.file("cut.txt.gz"), std::string_view(gz).substr(0, gz.size() / 2));
    const std::string message = message_of([&] { ClipTokenizer tok(dir.file("cut.txt.gz")); });
    INFO(message);
    CHECK(message.find("cut.txt.gz") != std::string::npos);
    CHECK(message.find("truncated") != std::string::npos);
    CHECK(message.find("line ") != std::string::npos);
    CHECK_THROWS_AS(ClipTokenizer(dir.file("cut.txt.gz")), skiptune::IoError);
  }
  SECTION("corrupt gzip") {
    std::string gz = read_file(kVocabPath);
    for (std::size_t i = gz.size() / 3; i < gz.size() / 3 + 64; ++i) gz[i] = static_cast<char>(~gz[i]);
    write_file(dir.file("bad.txt.gz"), gz);
    const std::string message = message_of([&] { ClipTokenizer tok(dir.file("bad.txt.gz")); });
    INFO(message);
    CHECK(message.find("bad.txt.gz") != std::string::npos);
    CHECK(message.find("corrupt") != std::string::npos);
    CHECK_THROWS_AS(ClipTokenizer(dir.file("bad.txt.gz")), skiptune::IoError);
  }
  SECTION("garbage line") {
    write_file(dir.file("garbage.txt"), "#version\nh e\nthis line has four fields\nl l\n");
    const std::string message = message_of([&] { ClipTokenizer tok(dir.file("garbage.txt"), {.max_merges = 0}); });
    CHECK(message.find("garbage.txt' line 3") != std::string::npos);
    CHECK(message.find("this line has four fields") != std::string::npos);
    write_file(dir.file("blank.txt"), "#version\nh e\n\nl l\n");
    CHECK_THROWS_WITH(ClipTokenizer(dir.file("blank.txt"), {.max_merges = 0}), Catch::Contains("line 3"));
  }
  SECTION("symbols outside the byte alphabet, invalid UTF-8, empty files") {
    write_file(dir.file("space.txt"), "#version\nh e\na \xC4\xA0\n");  // U+0120 is byte 0x20's symbol: fine
    CHECK_NOTHROW(ClipTokenizer(dir.file("space.txt"), {.max_merges = 0}));
    write_file(dir.file("alien.txt"), "#version\nh e\n\xE2\x82\xAC x\n");
    CHECK_THROWS_WITH(ClipTokenizer(dir.file("alien.txt"), {.max_merges = 0}),
                      Catch::Contains("line 3") && Catch::Contains("U+20AC"));
    write_file(dir.file("latin1.txt"), "#version\nh e\ncaf\xE9 x\n");
    CHECK_THROWS_WITH(ClipTokenizer(dir.file("latin1.txt"), {.max_merges = 0}),
                      Catch::Contains("line 3") && Catch::Contains("UTF-8"));
    write_file(dir.file("empty.txt"), "");
    CHECK_THROWS_WITH(ClipTokenizer(dir.file("empty.txt")), Catch::Contains("empty"));
    write_file(dir.file("header_only.txt"), "#version\n");
    CHECK_THROWS_AS(ClipTokenizer(dir.file("header_only.txt"), {.max_merges = 0}), skiptune::IoError);
  }
}

TEST_CASE("copies and concurrent use give the same ids", "[tokenizer]") {
  const ClipTokenizer copy = clip();
  std::vector<std::string> prompts;
  for (int i = 0; i < 200; ++i) prompts.push_back("a photo of a number " + std::to_string(i * 7919) + ", naïve café");
  const Ids expected = clip().tokenize_batch(prompts, 77, true);
  Ids from_thread;
  std::thread worker([&] { from_thread = clip().tokenize_batch(prompts, 77, true); });
  const Ids from_copy = copy.tokenize_batch(prompts, 77, true);
  worker.join();
  CHECK(from_thread == expected);
  CHECK(from_copy == expected);
}
