// Tests for skiptune/io/json.hpp and skiptune/io/safetensors.hpp: the strict JSON reader and
// writer, the F16/BF16 conversions, safetensors round trips, the malformed-file corpus in
// tests/fixtures/safetensors_malformed/, sharded checkpoints and atomic writes.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "skiptune/io/json.hpp"
#include "skiptune/io/safetensors.hpp"

namespace fs = std::filesystem;
using namespace skiptune::io;

namespace {

const fs::path source_dir = SKIPTUNE_SOURCE_DIR;

/// A fresh directory under the system temp dir, removed (recursively) at scope exit.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("skiptune_test_safetensors_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path, ignored);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

/// Builds a safetensors file by hand (for layouts the writer never produces).
std::string make_safetensors(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  const std::uint64_t length = header.size();
  std::memcpy(bytes.data(), &length, 8);
  return bytes + header + data;
}

std::span<const std::byte> as_bytes(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::uint32_t bits_of(float value) { return std::bit_cast<std::uint32_t>(value); }
float float_from_bits(std::uint32_t bits) { return std::bit_cast<float>(bits); }

/// Files in `dir` whose names start with what the writer uses for temporaries.
std::vector<std::string> temporaries_in(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) found.push_back(name);
  }
  return found;
}

template <class F>
std::string message_of(F&& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "<no exception>";
}

}  // namespace

// =========================================================================================
// JSON
// =========================================================================================

TEST_CASE("json: parses every value type and keeps object order", "[json]") {
  const JsonValue value = parse_json(R"( {"z": [1, -2, 3.5, true, false, null], "a": {"b": "c"}, "e": {}, "f": []} )");
  REQUIRE(value.is_object());
  const auto& members = value.as_object();
  REQUIRE(members.size() == 4);
  CHECK(members[0].first == "z");
  CHECK(members[1].first == "a");
  const auto& array = value.at("z").as_array();
  REQUIRE(array.size() == 6);
  CHECK(array[0].as_number().as_uint64() == 1u);
  CHECK(array[1].as_number().as_int64() == -2);
  CHECK_FALSE(array[1].as_number().as_uint64().has_value());
  CHECK(array[2].as_number().is_double());
  CHECK(array[2].as_number().as_double() == 3.5);
  CHECK_FALSE(array[2].as_number().as_int64().has_value());
  CHECK(array[3].as_bool());
  CHECK_FALSE(array[4].as_bool());
  CHECK(array[5].is_null());
  CHECK(value.at("a").at("b").as_string() == "c");
  CHECK(value.at("e").as_object().empty());
  CHECK(value.at("f").as_array().empty());
  CHECK(value.find("missing") == nullptr);
  CHECK_THROWS_AS(value.at("missing"), skiptune::IoError);
  CHECK_THROWS_AS(value.at("a").as_array(), skiptune::IoError);
  CHECK(to_json(value) == R"({"z":[1,-2,3.5,true,false,null],"a":{"b":"c"},"e":{},"f":[]})");
  CHECK(parse_json(to_json(value)) == value);
}

TEST_CASE("json: integers are exact 64-bit values with overflow detection", "[json]") {
  CHECK(parse_json("18446744073709551615").as_number().as_uint64() == std::numeric_limits<std::uint64_t>::max());
  CHECK_FALSE(parse_json("18446744073709551615").as_number().as_int64().has_value());
  CHECK(parse_json("9223372036854775807").as_number().as_int64() == std::numeric_limits<std::int64_t>::max());
  CHECK(parse_json("-9223372036854775808").as_number().as_int64() == std::numeric_limits<std::int64_t>::min());
  CHECK(parse_json("-0").as_number().as_int64() == 0);
  CHECK(parse_json("-0").as_number().as_uint64() == 0u);
  CHECK(parse_json("0").as_number().is_integer());
  // 2^53 + 1 is not a double, so an integer that went through double would come back wrong.
  CHECK(parse_json("9007199254740993").as_number().as_uint64() == 9007199254740993ull);

  for (const char* too_big : {"18446744073709551616", "99999999999999999999999", "-9223372036854775809"}) {
    INFO(too_big);
    try {
      parse_json(std::string("[1, ") + too_big + "]");
      FAIL("expected a JsonError");
    } catch (const JsonError& error) {
      CHECK(error.offset() == 4);
      CHECK_THAT(error.what(), Catch::Contains("does not fit in 64 bits"));
    }
  }
  CHECK(parse_json("1.5e3").as_number().as_double() == 1500.0);
  CHECK(parse_json("-0.25").as_number().as_double() == -0.25);
  CHECK(parse_json("1E-2").as_number().as_double() == 0.01);
  CHECK(parse_json("2e+2").as_number().as_double() == 200.0);
  CHECK_THROWS_WITH(parse_json("1e400"), Catch::Contains("outside the range of a double"));
}

TEST_CASE("json: strings decode escapes and surrogate pairs and must be valid UTF-8", "[json]") {
  CHECK(parse_json(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
  CHECK(parse_json(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
  CHECK(parse_json(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");  // U+1F600
  CHECK(parse_json(R"("\uDBFF\uDFFF")").as_string() == "\xF4\x8F\xBF\xBF");  // U+10FFFF
  CHECK(parse_json(R"("\u0000")").as_string() == std::string(1, '\0'));
  CHECK(parse_json("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"").as_string() == "caf\xC3\xA9 \xF0\x9F\x98\x80");

  struct Bad {
    std::string text;
    std::size_t offset;
    const char* phrase;
  };
  const std::vector<Bad> bad = {
      {R"("\ud800")", 1, "not followed by a low surrogate"},
      {R"("\ud800\u0041")", 7, "not followed by a low surrogate"},
      {R"("\ude00\ud83d")", 1, "unpaired low surrogate"},
      {R"("\u12G4")", 5, "invalid hex digit"},
      {R"("\u12")", 3, "truncated \\u escape"},
      {R"("\x")", 1, "invalid escape"},
      {"\"a\x01\"", 2, "unescaped control character"},
      {"\"a\nb\"", 2, "unescaped control character"},
      {"\"ab", 0, "unterminated string"},
      {"\"a\xFF\"", 2, "invalid UTF-8"},
      {"\"a\xC0\xAF\"", 2, "invalid UTF-8"},          // overlong '/'
      {"\"a\xED\xA0\x80\"", 2, "invalid UTF-8"},      // encoded surrogate
      {"\"a\xF4\x90\x80\x80\"", 2, "invalid UTF-8"},  // above U+10FFFF
      {"\"a\xE2\x82\"", 2, "invalid UTF-8"},          // cut short
  };
  for (const Bad& case_ : bad) {
    INFO(case_.text);
    try {
      parse_json(case_.text);
      FAIL("expected a JsonError");
    } catch (const JsonError& error) {
      CHECK(error.offset() == case_.offset);
      CHECK_THAT(error.reason(), Catch::Contains(case_.phrase));
    }
  }
}

TEST_CASE("json: strict grammar with byte offsets in errors", "[json]") {
  struct Bad {
    std::string text;
    std::size_t offset;
  };
  const std::vector<Bad> bad = {
      {"", 0},          {"   ", 3},      {"{", 1},           {"[1,]", 3},       {"{\"a\":1,}", 7},
      {"[1 2]", 3},     {"{\"a\" 1}", 5}, {"{1:2}", 1},       {"{'a':1}", 1},    {"01", 0},
      {"-01", 0},       {"+1", 0},       {".5", 0},          {"1.", 2},         {"1e", 2},
      {"1e+", 3},       {"-", 1},        {"NaN", 0},         {"Infinity", 0},   {"tru", 0},
      {"nul", 0},       {"[1] 2", 4},    {"{} x", 3},        {"// c\n{}", 0},   {"[1,,2]", 3},
      {"{\"a\":1 \"b\":2}", 7},
  };
  for (const Bad& case_ : bad) {
    INFO(case_.text);
    try {
      parse_json(case_.text);
      FAIL("expected a JsonError");
    } catch (const JsonError& error) {
      CHECK(error.offset() == case_.offset);
      CHECK_THAT(error.what(), Catch::Contains("at byte " + std::to_string(case_.offset)));
    }
  }
  CHECK_THROWS_AS(parse_json("[1,]"), skiptune::IoError);  // JsonError is an IoError
  CHECK_THROWS_WITH(parse_json(R"({"a":1,"a":2})"), Catch::Contains("duplicate key \"a\""));
  CHECK(parse_json(" \t\r\n[ 1 , 2 ]\n ").as_array().size() == 2);
}

TEST_CASE("json: nesting depth is limited, so deep input cannot exhaust the stack", "[json]") {
  const auto nested = [](std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  CHECK_NOTHROW(parse_json(nested(128)));
  CHECK_THROWS_WITH(parse_json(nested(129)), Catch::Contains("nesting deeper than the limit of 128"));
  CHECK_THROWS_AS(parse_json(std::string(1'000'000, '[')), JsonError);
  CHECK_NOTHROW(parse_json(nested(10), JsonLimits{10}));
  CHECK_THROWS_AS(parse_json(nested(11), JsonLimits{10}), JsonError);

  const std::string deep = std::string(200, '[') + std::string(200, ']');
  JsonReader reader(deep);
  CHECK_THROWS_AS(reader.skip_value(), JsonError);
}

TEST_CASE("json: the pull reader walks a document", "[json]") {
  JsonReader reader(R"({"name": "x", "dims": [2, 3], "skip": {"deep": [1, {"a": null}]}, "on": true})");
  reader.begin_object();
  std::string key;
  std::vector<std::string> keys;
  std::vector<std::uint64_t> dims;
  while (reader.next_member(key)) {
    keys.push_back(key);
    if (key == "name") {
      CHECK(reader.read_string() == "x");
    } else if (key == "dims") {
      reader.begin_array();
      while (reader.next_element()) dims.push_back(*reader.read_number().as_uint64());
    } else if (key == "on") {
      CHECK(reader.read_bool());
    } else {
      CHECK(reader.peek() == JsonType::object);
      reader.skip_value();
    }
  }
  reader.end_document();
  CHECK(keys == std::vector<std::string>{"name", "dims", "skip", "on"});
  CHECK(dims == std::vector<std::uint64_t>{2, 3});

  JsonReader wrong_type(R"({"a": 1})");
  wrong_type.begin_object();
  REQUIRE(wrong_type.next_member(key));
  CHECK_THROWS_WITH(wrong_type.read_string(), Catch::Contains("expected a string, found a number"));
}

TEST_CASE("json: UTF-8 validation table", "[json]") {
  CHECK(find_invalid_utf8("") == std::string_view::npos);
  CHECK(find_invalid_utf8("plain ASCII") == std::string_view::npos);
  CHECK(is_valid_utf8("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"));
  CHECK(find_invalid_utf8("ab\x80") == 2);          // lone continuation byte
  CHECK(find_invalid_utf8("\xC1\xBF") == 0);        // overlong two-byte
  CHECK(find_invalid_utf8("\xE0\x9F\xBF") == 0);    // overlong three-byte
  CHECK(find_invalid_utf8("\xF0\x8F\xBF\xBF") == 0);  // overlong four-byte
  CHECK(find_invalid_utf8("x\xED\xBF\xBF") == 1);   // surrogate U+DFFF
  CHECK(find_invalid_utf8("\xF5\x80\x80\x80") == 0);
  CHECK(find_invalid_utf8("ok\xF0\x9F\x98") == 2);  // truncated at the end
  CHECK(find_invalid_utf8("\xFF") == 0);
}

TEST_CASE("json: the writer escapes, formats numbers and refuses what JSON cannot hold", "[json]") {
  JsonWriter writer;
  writer.begin_object()
      .key("s").string("q\"b\\n\n\x01\xC3\xA9")
      .key("i").integer(std::int64_t{-5})
      .key("u").integer(std::numeric_limits<std::uint64_t>::max())
      .key("d").number(0.1)
      .key("w").number(2.0)
      .key("b").boolean(false)
      .key("n").null()
      .key("a").begin_array().integer(1).begin_array().end_array().end_array()
      .end_object();
  CHECK(writer.complete());
  const std::string text = writer.str();
  CHECK(text ==
        "{\"s\":\"q\\\"b\\\\n\\n\\u0001\xC3\xA9\",\"i\":-5,\"u\":18446744073709551615,\"d\":0.1,\"w\":2.0,"
        "\"b\":false,\"n\":null,\"a\":[1,[]]}");
  const JsonValue back = parse_json(text);
  CHECK(back.at("s").as_string() == "q\"b\\n\n\x01\xC3\xA9");
  CHECK(back.at("d").as_number().as_double() == 0.1);
  CHECK(back.at("w").as_number().is_double());

  CHECK_THROWS_AS(JsonWriter().string("\xFF"), skiptune::InputError);
  CHECK_THROWS_AS(JsonWriter().number(std::nan("")), skiptune::InputError);
  CHECK_THROWS_AS(JsonWriter().number(INFINITY), skiptune::InputError);
  CHECK_THROWS_AS(JsonWriter().begin_object().integer(1), std::logic_error);
}

// =========================================================================================
// F16 / BF16 conversions
// =========================================================================================

TEST_CASE("f16: decoding hand-computed bit patterns", "[half]") {
  CHECK(bits_of(half_bits_to_float(0x0000)) == 0x00000000u);
  CHECK(bits_of(half_bits_to_float(0x8000)) == 0x80000000u);  // -0 keeps its sign
  CHECK(half_bits_to_float(0x3C00) == 1.0f);
  CHECK(half_bits_to_float(0xC000) == -2.0f);
  CHECK(half_bits_to_float(0x3555) == 0.333251953125f);
  CHECK(half_bits_to_float(0x7BFF) == 65504.0f);
  CHECK(half_bits_to_float(0x0400) == std::ldexp(1.0f, -14));           // smallest normal
  CHECK(half_bits_to_float(0x0001) == std::ldexp(1.0f, -24));           // smallest subnormal
  CHECK(half_bits_to_float(0x03FF) == std::ldexp(1023.0f, -24));        // largest subnormal
  CHECK(half_bits_to_float(0x8200) == -std::ldexp(1.0f, -15));
  CHECK(half_bits_to_float(0x7C00) == INFINITY);
  CHECK(half_bits_to_float(0xFC00) == -INFINITY);
  CHECK(std::isnan(half_bits_to_float(0x7E00)));
  CHECK(std::isnan(half_bits_to_float(0x7C01)));  // signalling NaN stays NaN
  CHECK(bits_of(half_bits_to_float(0xFE01)) == 0xFFC02000u);  // sign and payload kept
}

TEST_CASE("f16: decoding is exact and encoding inverts it for all 65536 patterns", "[half]") {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float value = half_bits_to_float(half);
    const std::uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    if (exponent == 0x1F) {
      CHECK((mantissa == 0 ? std::isinf(value) : std::isnan(value)));
      continue;
    }
    // Independent reference: value = (-1)^s · m · 2^(e-25) with the implicit bit for normals.
    const double reference = (h & 0x8000 ? -1.0 : 1.0) *
                             std::ldexp(exponent == 0 ? mantissa : (mantissa | 0x400),
                                        exponent == 0 ? -24 : static_cast<int>(exponent) - 25);
    if (static_cast<double>(value) != reference || float_to_half_bits(value) != half) {
      FAIL("pattern 0x" << std::hex << h << " decodes to " << value << ", expected " << reference);
    }
  }
}

TEST_CASE("f16: encoding rounds to nearest even, overflows to inf, keeps NaN", "[half]") {
  CHECK(float_to_half_bits(1.0f) == 0x3C00);
  CHECK(float_to_half_bits(-2.0f) == 0xC000);
  CHECK(float_to_half_bits(0.0f) == 0x0000);
  CHECK(float_to_half_bits(-0.0f) == 0x8000);
  CHECK(float_to_half_bits(65504.0f) == 0x7BFF);
  CHECK(float_to_half_bits(65519.996f) == 0x7BFF);       // just below the 65520 tie
  CHECK(float_to_half_bits(65520.0f) == 0x7C00);         // tie: 0x7BFF is odd → rounds up to inf
  CHECK(float_to_half_bits(1.0e6f) == 0x7C00);
  CHECK(float_to_half_bits(-1.0e6f) == 0xFC00);
  CHECK(float_to_half_bits(INFINITY) == 0x7C00);
  CHECK(float_to_half_bits(-INFINITY) == 0xFC00);
  CHECK(float_to_half_bits(std::numeric_limits<float>::max()) == 0x7C00);
  // Ties in the normal range: 1 + 2^-11 lies halfway between 0x3C00 (even) and 0x3C01.
  CHECK(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);
  CHECK(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);  // 0x3C01 odd → up
  CHECK(float_to_half_bits(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)) == 0x3C01);
  CHECK(float_to_half_bits(2047.0f / 1024.0f + std::ldexp(1.0f, -11)) == 0x4000);  // carry into exponent
  // Subnormals: units of 2^-24, ties to even.
  CHECK(float_to_half_bits(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(float_to_half_bits(std::ldexp(1.0f, -25)) == 0x0000);                   // tie → 0 (even)
  CHECK(float_to_half_bits(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(float_to_half_bits(std::ldexp(3.0f, -25)) == 0x0002);                   // 1.5 units → 2
  CHECK(float_to_half_bits(std::ldexp(5.0f, -25)) == 0x0002);                   // 2.5 units → 2
  CHECK(float_to_half_bits(std::ldexp(2047.0f, -25)) == 0x0400);                // 1023.5 → 1024 = min normal
  CHECK(float_to_half_bits(-std::ldexp(1.0f, -26)) == 0x8000);
  CHECK(float_to_half_bits(1.0e-30f) == 0x0000);
  CHECK(float_to_half_bits(float_from_bits(0x00000001u)) == 0x0000);  // float subnormal
  // NaN stays NaN (quiet), sign kept, even when the payload lives only in the dropped bits.
  for (const std::uint32_t nan : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu}) {
    const std::uint16_t h = float_to_half_bits(float_from_bits(nan));
    CHECK((h & 0x7C00) == 0x7C00);
    CHECK((h & 0x03FF) != 0);
    CHECK((h & 0x8000) == ((nan >> 16) & 0x8000));
  }
}

TEST_CASE("f16: every midpoint between adjacent halves rounds to the even one", "[half]") {
  for (std::uint32_t h = 0; h < 0x7C00; ++h) {
    const float low = half_bits_to_float(static_cast<std::uint16_t>(h));
    const float high = h + 1 == 0x7C00 ? 65536.0f : half_bits_to_float(static_cast<std::uint16_t>(h + 1));
    const float middle = (low + high) / 2;  // exact: one more bit than a half has
    const std::uint16_t even = (h & 1) ? static_cast<std::uint16_t>(h + 1) : static_cast<std::uint16_t>(h);
    const bool ok = float_to_half_bits(middle) == even &&
                    float_to_half_bits(std::nextafter(middle, 0.0f)) == h &&
                    float_to_half_bits(std::nextafter(middle, INFINITY)) == h + 1 &&
                    float_to_half_bits(-middle) == (even | 0x8000);
    if (!ok) FAIL("rounding between 0x" << std::hex << h << " and 0x" << h + 1);
  }
}

TEST_CASE("bf16: conversions round to nearest even and keep NaN", "[half]") {
  CHECK(bfloat16_bits_to_float(0x3F80) == 1.0f);
  CHECK(bfloat16_bits_to_float(0xC049) == -3.140625f);
  CHECK(bfloat16_bits_to_float(0x7F80) == INFINITY);
  CHECK(bfloat16_bits_to_float(0x0001) == float_from_bits(0x00010000u));
  CHECK(std::isnan(bfloat16_bits_to_float(0x7FC1)));

  CHECK(float_to_bfloat16_bits(1.0f) == 0x3F80);
  CHECK(float_to_bfloat16_bits(-0.0f) == 0x8000);
  CHECK(float_to_bfloat16_bits(3.140625f) == 0x4049);
  CHECK(float_to_bfloat16_bits(float_from_bits(0x3F808000u)) == 0x3F80);  // tie, even stays
  CHECK(float_to_bfloat16_bits(float_from_bits(0x3F818000u)) == 0x3F82);  // tie, odd rounds up
  CHECK(float_to_bfloat16_bits(float_from_bits(0x3F808001u)) == 0x3F81);  // above the tie
  CHECK(float_to_bfloat16_bits(float_from_bits(0x3F807FFFu)) == 0x3F80);  // below the tie
  CHECK(float_to_bfloat16_bits(std::numeric_limits<float>::max()) == 0x7F80);  // rounds to inf
  CHECK(float_to_bfloat16_bits(float_from_bits(0x7F7F7FFFu)) == 0x7F7F);       // largest that stays finite
  CHECK(float_to_bfloat16_bits(INFINITY) == 0x7F80);
  CHECK(float_to_bfloat16_bits(-INFINITY) == 0xFF80);
  CHECK(float_to_bfloat16_bits(float_from_bits(0x00008000u)) == 0x0000);  // subnormal tie → even
  CHECK(float_to_bfloat16_bits(float_from_bits(0x00018000u)) == 0x0002);
  CHECK(float_to_bfloat16_bits(float_from_bits(0x7FC00000u)) == 0x7FC0);
  CHECK(float_to_bfloat16_bits(float_from_bits(0x7F800001u)) == 0x7FC0);  // would round to inf without care
  CHECK(float_to_bfloat16_bits(float_from_bits(0xFF800001u)) == 0xFFC0);
  CHECK(float_to_bfloat16_bits(float_from_bits(0x7FFFFFFFu)) == 0x7FFF);
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {  // exact round trip for every non-NaN pattern
    const auto bf = static_cast<std::uint16_t>(b);
    if ((b & 0x7F80) == 0x7F80 && (b & 0x7F)) continue;
    if (float_to_bfloat16_bits(bfloat16_bits_to_float(bf)) != bf) FAIL("bf16 0x" << std::hex << b);
  }
}

// =========================================================================================
// safetensors: round trips
// =========================================================================================

namespace {
std::vector<float> interesting_floats() {
  std::vector<float> values = {0.0f, -0.0f, 1.0f, -1.5f, 3.14159265f, 65504.0f, 65520.0f, 1e-8f, -1e30f,
                               std::ldexp(1.0f, -24), std::ldexp(3.0f, -25), 1.0f + std::ldexp(1.0f, -11),
                               INFINITY, -INFINITY, std::numeric_limits<float>::denorm_min(),
                               float_from_bits(0x7FC00001u), float_from_bits(0xFF800123u)};
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  while (values.size() < 64) values.push_back(normal(rng));
  return values;
}
}  // namespace

TEST_CASE("safetensors: F32 round trip is bit-exact, via mmap and via read", "[safetensors]") {
  ScratchDir dir;
  const std::vector<float> a = interesting_floats();
  std::vector<float> b(3 * 5);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) * 0.5f - 3.0f;
  const float scalar = 2.6593f;
  const fs::path path = dir / "model.safetensors";
  write_safetensors(path, {{"layer.a", {8, 8}, a.data()}, {"b", {3, 5}, b.data()}, {"s", {}, &scalar}});

  for (const LoadMode mode : {LoadMode::map_or_read, LoadMode::read}) {
    const SafetensorsFile file = SafetensorsFile::open(path, mode);
    CHECK(file.is_memory_mapped() == (mode == LoadMode::map_or_read));
    CHECK(file.names() == std::vector<std::string>{"layer.a", "b", "s"});  // the order given
    CHECK(file.size() == 3);
    CHECK(file.data_offset() % 8 == 0);
    CHECK(file.file_size() == file.data_offset() + 4 * (64 + 15 + 1));
    const TensorInfo& info = file.info("layer.a");
    CHECK(info.dtype == Dtype::F32);
    CHECK(info.shape == std::vector<std::int64_t>{8, 8});
    CHECK(info.numel == 64);
    CHECK(info.begin == 0);
    CHECK(info.end == 256);
    CHECK(info.file_offset == file.data_offset());

    std::vector<float> back(64);
    file.read_as_float("layer.a", back.data(), back.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(bits_of(back[i]) == bits_of(a[i]));
    CHECK(file.read_as_float("b") == b);
    CHECK(file.info("s").shape.empty());
    CHECK(file.info("s").numel == 1);
    CHECK(file.read_as_float("s") == std::vector<float>{scalar});
    const std::vector<double> wide = file.read_as_double("b");
    for (std::size_t i = 0; i < b.size(); ++i) CHECK(wide[i] == static_cast<double>(b[i]));
    const auto raw = file.raw_bytes("s");
    REQUIRE(raw.size() == 4);
    CHECK(std::memcmp(raw.data(), &scalar, 4) == 0);
  }

  // from_bytes sees exactly what open() sees.
  const std::string bytes = read_file(path);
  const SafetensorsFile from_memory = SafetensorsFile::from_bytes(as_bytes(bytes));
  CHECK(from_memory.names() == SafetensorsFile::open(path).names());
  CHECK(from_memory.read_as_float("b") == b);
  CHECK_FALSE(from_memory.is_memory_mapped());
}

TEST_CASE("safetensors: the header is compact JSON padded with spaces to a multiple of 8", "[safetensors]") {
  ScratchDir dir;
  for (const std::string name : {"x", "xy", "xyz", "long.tensor.name.0", "caf\xC3\xA9"}) {
    const float value = 1.0f;
    const fs::path path = dir / "h.safetensors";
    write_safetensors(path, {{name, {1}, &value}}, {}, Dtype::BF16);
    const std::string bytes = read_file(path);
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    CHECK(n % 8 == 0);
    const std::string header = bytes.substr(8, n);
    const JsonValue json = parse_json(header);
    CHECK(json.at(name).at("dtype").as_string() == "BF16");
    const std::size_t close = header.rfind('}');
    CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);
    CHECK(header.size() - close - 1 < 8);
  }
}

TEST_CASE("safetensors: F16 round trip matches hand-computed values", "[safetensors]") {
  ScratchDir dir;
  // value → the F16 pattern it must be stored as → the float it must read back as
  struct Case {
    float value;
    std::uint16_t bits;
    float back;
  };
  const std::vector<Case> cases = {
      {1.0f, 0x3C00, 1.0f},
      {-2.0f, 0xC000, -2.0f},
      {0.1f, 0x2E66, 0.0999755859375f},
      {65504.0f, 0x7BFF, 65504.0f},
      {65520.0f, 0x7C00, INFINITY},
      {-1e9f, 0xFC00, -INFINITY},
      {INFINITY, 0x7C00, INFINITY},
      {std::ldexp(1.0f, -24), 0x0001, std::ldexp(1.0f, -24)},
      {std::ldexp(1.0f, -25), 0x0000, 0.0f},
      {std::ldexp(3.0f, -25), 0x0002, std::ldexp(2.0f, -24)},
      {std::ldexp(1023.0f, -24), 0x03FF, std::ldexp(1023.0f, -24)},
      {1.0f + std::ldexp(1.0f, -11), 0x3C00, 1.0f},
      {1.0f + 3 * std::ldexp(1.0f, -11), 0x3C02, 1.0f + std::ldexp(1.0f, -9)},
      {-0.0f, 0x8000, -0.0f},
  };
  std::vector<float> values;
  for (const Case& c : cases) values.push_back(c.value);
  values.push_back(NAN);
  const fs::path path = dir / "half.safetensors";
  write_safetensors(path, {{"h", {static_cast<std::int64_t>(values.size())}, values.data()}}, {}, Dtype::F16);

  const SafetensorsFile file = SafetensorsFile::open(path);
  const TensorInfo& info = file.info("h");
  CHECK(info.dtype == Dtype::F16);
  CHECK(info.byte_size() == 2 * values.size());
  const auto raw = file.raw_bytes("h");
  const std::vector<float> back = file.read_as_float("h");
  const std::vector<double> back_double = file.read_as_double("h");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i << " value " << cases[i].value);
    std::uint16_t stored = 0;
    std::memcpy(&stored, raw.data() + 2 * i, 2);
    CHECK(stored == cases[i].bits);
    CHECK(bits_of(back[i]) == bits_of(cases[i].back));
    CHECK(back_double[i] == static_cast<double>(cases[i].back));
  }
  CHECK(std::isnan(back.back()));
  CHECK(std::isnan(back_double.back()));
}

TEST_CASE("safetensors: BF16 round trip matches hand-computed values", "[safetensors]") {
  ScratchDir dir;
  const std::vector<float> values = {1.0f, 3.14159265f, float_from_bits(0x3F808000u), float_from_bits(0x3F818000u),
                                     -INFINITY, std::numeric_limits<float>::max(), float_from_bits(0x7F800001u), -0.0f};
  const std::vector<std::uint16_t> expected_bits = {0x3F80, 0x4049, 0x3F80, 0x3F82, 0xFF80, 0x7F80, 0x7FC0, 0x8000};
  const fs::path path = dir / "bf.safetensors";
  write_safetensors(path, {{"w", {2, 4}, values.data()}}, {{"format", "pt"}}, Dtype::BF16);
  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.info("w").dtype == Dtype::BF16);
  CHECK(file.info("w").shape == std::vector<std::int64_t>{2, 4});
  const auto raw = file.raw_bytes("w");
  const std::vector<float> back = file.read_as_float("w");
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("element " << i);
    std::uint16_t stored = 0;
    std::memcpy(&stored, raw.data() + 2 * i, 2);
    CHECK(stored == expected_bits[i]);
    CHECK(bits_of(back[i]) == static_cast<std::uint32_t>(expected_bits[i]) << 16);
  }
}

TEST_CASE("safetensors: 0-dim and empty tensors", "[safetensors]") {
  ScratchDir dir;
  const float scalar = -7.25f;
  const fs::path path = dir / "edge.safetensors";
  write_safetensors(path, {{"empty0", {0}, nullptr}, {"scalar", {}, &scalar}, {"empty302", {3, 0, 2}, nullptr},
                           {"last_empty", {0, 4}, nullptr}},
                    {}, Dtype::F16);
  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.names() == std::vector<std::string>{"empty0", "scalar", "empty302", "last_empty"});
  CHECK(file.info("empty302").numel == 0);
  CHECK(file.info("empty302").shape == std::vector<std::int64_t>{3, 0, 2});
  CHECK(file.info("empty302").byte_size() == 0);
  CHECK(file.info("scalar").numel == 1);
  CHECK(file.read_as_float("scalar") == std::vector<float>{-7.25f});
  CHECK(file.read_as_float("empty0").empty());
  file.read_as_float("empty302", nullptr, 0);
  CHECK(file.raw_bytes("last_empty").empty());

  // A file with no tensors at all, and one with only empty tensors.
  write_safetensors(dir / "none.safetensors", std::vector<FloatTensorView>{});
  CHECK(SafetensorsFile::open(dir / "none.safetensors").size() == 0);
  CHECK(SafetensorsFile::open(dir / "none.safetensors").file_size() == 16);  // "{}" + 6 spaces
  write_safetensors(dir / "only_empty.safetensors", {{"e", {0}, nullptr}});
  CHECK(SafetensorsFile::open(dir / "only_empty.safetensors").info("e").numel == 0);
}

TEST_CASE("safetensors: metadata round trip", "[safetensors]") {
  ScratchDir dir;
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "quote \" backslash \\ newline \n tab \t"}, {"unicode", "caf\xC3\xA9 \xF0\x9F\x98\x80"},
      {"empty", ""}};
  const float value = 1.0f;
  write_safetensors(dir / "m.safetensors", {{"x", {1}, &value}}, metadata);
  const SafetensorsFile file = SafetensorsFile::open(dir / "m.safetensors");
  CHECK(file.metadata() == metadata);
  CHECK(file.names() == std::vector<std::string>{"x"});  // __metadata__ is not a tensor
  CHECK_FALSE(file.contains("__metadata__"));

  write_safetensors(dir / "no_meta.safetensors", {{"x", {1}, &value}});
  CHECK(SafetensorsFile::open(dir / "no_meta.safetensors").metadata().empty());
  CHECK(read_file(dir / "no_meta.safetensors").find("__metadata__") == std::string::npos);
}

TEST_CASE("safetensors: hand-built file with mixed dtypes, unaligned data and odd whitespace", "[safetensors]") {
  // Header length 1 mod 8 so the F64 lands on an unaligned address; data layout is in a
  // different order from the header's keys.
  std::string data;
  auto put = [&](const auto& value) { data.append(reinterpret_cast<const char*>(&value), sizeof value); };
  put(std::uint16_t{0x3C00});
  put(std::uint16_t{0x0001});  // F16 [1, 2^-24]
  put(std::uint16_t{0xC049});  // BF16 scalar -3.140625
  put(3.25);                   // F64 at data offset 6
  put(std::int64_t{-9});       // I64
  data += "\x01\x02\x03";      // U8
  const std::string header =
      "{\"d\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[6,14]},"
      "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
      "\"e\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[22,22]},"
      "\"i\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[14,22]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[4,6]},"
      "\"u\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[22,25]},"
      "\"__metadata__\":{\"k\":\"v\"}} \t\r\n  ";
  const std::string bytes = make_safetensors(header + std::string((9 - header.size() % 8) % 8, ' '), data);
  const SafetensorsFile file = SafetensorsFile::from_bytes(as_bytes(bytes), "mixed");
  REQUIRE(file.data_offset() % 8 == 1);
  CHECK(file.names() == std::vector<std::string>{"h", "b", "d", "i", "e", "u"});  // data order
  CHECK(file.read_as_float("h") == std::vector<float>{1.0f, std::ldexp(1.0f, -24)});
  CHECK(file.read_as_float("b") == std::vector<float>{-3.140625f});
  CHECK(file.read_as_double("d") == std::vector<double>{3.25});
  CHECK(file.read_as_float("d") == std::vector<float>{3.25f});
  CHECK(file.info("e").numel == 0);
  CHECK(file.info("u").dtype == Dtype::U8);
  CHECK(file.raw_bytes("u").size() == 3);
  CHECK(std::to_integer<int>(file.raw_bytes("u")[2]) == 3);
  std::int64_t i = 0;
  std::memcpy(&i, file.raw_bytes("i").data(), 8);
  CHECK(i == -9);
  CHECK(file.metadata().at("k") == "v");

  CHECK_THROWS_WITH(file.read_as_float("i"), Catch::Contains("tensor 'i' has dtype I64") &&
                                                 Catch::Contains("converts only F64, F32, F16 and BF16"));
  CHECK_THROWS_AS(file.read_as_double("u"), skiptune::IoError);
  std::vector<float> two(2);
  CHECK_THROWS_AS(file.read_as_float("b", two.data(), 2), skiptune::ShapeError);
  CHECK_THROWS_WITH(file.read_as_float("h", two.data(), 1),
                    Catch::Contains("'h' has shape [2] (2 elements)") && Catch::Contains("room for 1"));
  CHECK_THROWS_AS(file.info("nope"), skiptune::IoError);
  CHECK_THROWS_WITH(file.read_as_float("nope"), Catch::Contains("no tensor named 'nope'") && Catch::Contains("mixed"));
}

// =========================================================================================
// safetensors: malformed input
// =========================================================================================

TEST_CASE("safetensors: every file of the malformed corpus is rejected with the expected message",
          "[safetensors][corpus]") {
  const fs::path corpus = source_dir / "tests" / "fixtures" / "safetensors_malformed";
  std::ifstream manifest(corpus / "MANIFEST.tsv");
  REQUIRE(manifest.good());
  std::map<std::string, std::string> expected;  // file → phrase
  std::string line;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    REQUIRE(expected.emplace(line.substr(0, tab), line.substr(tab + 1)).second);
  }
  CHECK(expected.size() >= 60);

  // The directory and the manifest must agree, so no file goes untested.
  std::set<std::string> on_disk;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    const std::string name = entry.path().filename().string();
    if (name != "MANIFEST.tsv") on_disk.insert(name);
  }
  std::set<std::string> listed;
  for (const auto& [name, phrase] : expected) listed.insert(name);
  CHECK(on_disk == listed);

  for (const auto& [name, phrase] : expected) {
    INFO(name << " — expected phrase: " << phrase);
    const fs::path path = corpus / name;
    for (const LoadMode mode : {LoadMode::map_or_read, LoadMode::read}) {
      try {
        (void)SafetensorsFile::open(path, mode);
        FAIL("accepted a malformed file");
      } catch (const skiptune::IoError& error) {
        const std::string message = error.what();
        CHECK_THAT(message, Catch::Contains(phrase));
        CHECK_THAT(message, Catch::Contains(name));  // names the file
      }
    }
    const std::string bytes = read_file(path);
    try {
      (void)SafetensorsFile::from_bytes(as_bytes(bytes), "buffer:" + name);
      FAIL("accepted a malformed buffer");
    } catch (const skiptune::IoError& error) {
      CHECK_THAT(error.what(), Catch::Contains(phrase) && Catch::Contains("buffer:" + name));
    }
  }
}

TEST_CASE("safetensors: error messages name the byte offset and the tensor", "[safetensors]") {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[-3],"data_offsets":[8,8]}})";
  const std::string bytes = make_safetensors(header, std::string(8, '\0'));
  const std::size_t at = 8 + header.find("-3");
  CHECK_THAT(message_of([&] { (void)SafetensorsFile::from_bytes(as_bytes(bytes), "f"); }),
             Catch::Contains("tensor 'b'") && Catch::Contains("at file offset " + std::to_string(at)));

  const std::string broken = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]} "b":1})";
  const std::size_t broken_at = 8 + broken.find(" \"b\"") + 1;
  CHECK_THAT(message_of([&] { (void)SafetensorsFile::from_bytes(as_bytes(make_safetensors(broken, "")), "f"); }),
             Catch::Contains("invalid JSON in header at file offset " + std::to_string(broken_at)));
}

TEST_CASE("safetensors: every truncation and many corruptions of a valid file are caught", "[safetensors]") {
  ScratchDir dir;
  const std::vector<float> values = {1, 2, 3, 4, 5, 6};
  const float scalar = 0.5f;
  write_safetensors(dir / "v.safetensors", {{"w", {2, 3}, values.data()}, {"s", {}, &scalar}}, {{"k", "v"}});
  const std::string good = read_file(dir / "v.safetensors");
  REQUIRE_NOTHROW(SafetensorsFile::from_bytes(as_bytes(good)));

  for (std::size_t length = 0; length < good.size(); ++length) {
    const std::string cut = good.substr(0, length);
    if (length >= 8) {
      // Keep the original header length: any cut inside header or data must be caught.
      CHECK_THROWS_AS(SafetensorsFile::from_bytes(as_bytes(cut)), skiptune::IoError);
    } else {
      CHECK_THROWS_WITH(SafetensorsFile::from_bytes(as_bytes(cut)), Catch::Contains("starts with an 8-byte"));
    }
  }
  CHECK_THROWS_WITH(SafetensorsFile::from_bytes(as_bytes(good + "x")), Catch::Contains("1 trailing byte(s)"));

  // Flip every byte of the length prefix and the header: the result either still parses into a
  // consistent file or is rejected with an IoError; it never crashes or reads out of bounds.
  std::uint64_t n = 0;
  std::memcpy(&n, good.data(), 8);
  for (std::size_t i = 0; i < 8 + n; ++i) {
    for (const int flip : {0x01, 0x20, 0x80, 0xFF}) {
      std::string corrupt = good;
      corrupt[i] = static_cast<char>(static_cast<unsigned char>(corrupt[i]) ^ flip);
      try {
        const SafetensorsFile file = SafetensorsFile::from_bytes(as_bytes(corrupt));
        for (const TensorInfo& tensor : file.tensors()) {
          CHECK(tensor.file_offset + tensor.byte_size() <= corrupt.size());
        }
      } catch (const skiptune::IoError&) {
      }
    }
  }
}

TEST_CASE("safetensors: open() reports missing files and directories", "[safetensors]") {
  ScratchDir dir;
  CHECK_THROWS_WITH(SafetensorsFile::open(dir / "absent.safetensors"),
                    Catch::Contains("absent.safetensors") && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(SafetensorsFile::open(dir.path), Catch::Contains("not a regular file"));
}

// =========================================================================================
// Writing: validation and atomicity
// =========================================================================================

TEST_CASE("write_safetensors: invalid arguments are rejected before any file is created", "[safetensors][write]") {
  ScratchDir dir;
  const fs::path path = dir / "w.safetensors";
  const float value = 1.0f;
  CHECK_THROWS_AS(write_safetensors(path, {{"", {1}, &value}}), skiptune::InputError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {1}, &value}, {"a", {1}, &value}}), skiptune::InputError);
  CHECK_THROWS_AS(write_safetensors(path, {{"__metadata__", {1}, &value}}), skiptune::InputError);
  CHECK_THROWS_AS(write_safetensors(path, {{"bad\xFF", {1}, &value}}), skiptune::InputError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {2}, nullptr}}), skiptune::InputError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {1}, &value}}, {{"k", "\xC0"}}), skiptune::InputError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {1}, &value}}, {}, Dtype::I32), skiptune::InputError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {-1}, &value}}), skiptune::ShapeError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {1ll << 40, 1ll << 40}, &value}}), skiptune::ShapeError);
  CHECK_THROWS_WITH(write_safetensors(path, {{"a", {1}, &value}, {"a", {1}, &value}}),
                    Catch::Contains("duplicate tensor name 'a'") && Catch::Contains("w.safetensors"));
  CHECK(fs::is_empty(dir.path));
}

namespace {
/// Writes a small valid checkpoint at `path` and returns its bytes.
std::string write_original(const fs::path& path) {
  const std::vector<float> original = {10, 20, 30};
  write_safetensors(path, {{"orig", {3}, original.data()}}, {{"version", "1"}});
  return read_file(path);
}
}  // namespace

TEST_CASE("write_safetensors: a successful write replaces the file; readers of the old one are unaffected",
          "[safetensors][write]") {
  ScratchDir dir;
  const fs::path path = dir / "model.safetensors";
  write_original(path);
  const SafetensorsFile old_view = SafetensorsFile::open(path);  // mapped
  const std::vector<float> replacement = {1, 2, 3, 4};
  write_safetensors(path, {{"new", {2, 2}, replacement.data()}});
  CHECK(SafetensorsFile::open(path).read_as_float("new") == replacement);
  CHECK(old_view.read_as_float("orig") == std::vector<float>{10, 20, 30});  // rename kept the old inode
  CHECK(temporaries_in(dir.path).empty());
}

TEST_CASE("write_safetensors: a failing write leaves the old file byte-identical and no temporary",
          "[safetensors][write]") {
  ScratchDir dir;
  const fs::path path = dir / "model.safetensors";
  const std::string before = write_original(path);
  const std::vector<float> big(1 << 18, 1.0f);  // 1 MiB of F32

  SECTION("invalid tensor name") {
    CHECK_THROWS_AS(write_safetensors(path, {{"ok", {1}, big.data()}, {"", {1}, big.data()}}), skiptune::InputError);
  }
  SECTION("rename onto a non-empty directory fails after the data was written") {
    const fs::path blocked = dir / "blocked.safetensors";
    fs::create_directories(blocked / "child");
    CHECK_THROWS_WITH(write_safetensors(blocked, {{"x", {static_cast<std::int64_t>(big.size())}, big.data()}}),
                      Catch::Contains("rename") && Catch::Contains("blocked.safetensors"));
    CHECK(fs::is_directory(blocked / "child"));
  }
  SECTION("the file system refuses the data half-way (RLIMIT_FSIZE)") {
    // Root ignores directory permissions, so a size limit is the portable way to make write()
    // fail in the middle of the data. SIGXFSZ is ignored so write() returns EFBIG instead.
    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limited = saved;
    limited.rlim_cur = 64 * 1024;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
    std::string message;
    try {
      write_safetensors(path, {{"x", {static_cast<std::int64_t>(big.size())}, big.data()}});
    } catch (const skiptune::IoError& error) {
      message = error.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::signal(SIGXFSZ, old_handler);
    CHECK_THAT(message, Catch::Contains("write failed") && Catch::Contains("model.safetensors.tmp."));
  }
  SECTION("the directory is read-only") {
    if (::geteuid() == 0) {
      WARN("running as root: directory permissions do not stop root, read-only case not exercised");
    } else {
      fs::permissions(dir.path, fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                      fs::perm_options::remove);
      CHECK_THROWS_WITH(write_safetensors(path, {{"x", {1}, big.data()}}), Catch::Contains("cannot create temporary file"));
      fs::permissions(dir.path, fs::perms::owner_write, fs::perm_options::add);
    }
  }
  SECTION("the directory does not exist") {
    CHECK_THROWS_AS(write_safetensors(dir / "missing" / "m.safetensors", {{"x", {1}, big.data()}}), skiptune::IoError);
  }

  CHECK(read_file(path) == before);
  CHECK(temporaries_in(dir.path).empty());
  CHECK(SafetensorsFile::open(path).read_as_float("orig") == std::vector<float>{10, 20, 30});
}

// =========================================================================================
// Sharded checkpoints
// =========================================================================================

TEST_CASE("sharded: index, lazy shards and the same accessors", "[safetensors][sharded]") {
  ScratchDir dir;
  const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6}, c = {7};
  write_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", {2, 2}, a.data()}, {"b", {2}, b.data()}});
  write_safetensors(dir / "model-00002-of-00002.safetensors", {{"c", {}, c.data()}, {"unlisted", {1}, c.data()}},
                    {}, Dtype::F16);
  write_file(dir / "model.safetensors.index.json",
             R"({"metadata": {"total_size": 26, "format": "pt"},
                 "weight_map": {"b": "model-00001-of-00002.safetensors",
                                "c": "model-00002-of-00002.safetensors",
                                "a": "model-00001-of-00002.safetensors"}})");
  const ShardedSafetensors sharded = ShardedSafetensors::open(dir / "model.safetensors.index.json");
  CHECK(sharded.names() == std::vector<std::string>{"b", "c", "a"});
  CHECK(sharded.size() == 3);
  CHECK(sharded.contains("a"));
  CHECK_FALSE(sharded.contains("unlisted"));
  CHECK(sharded.shard_files() ==
        std::vector<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"});
  CHECK(sharded.shard_file_of("c") == "model-00002-of-00002.safetensors");
  CHECK(sharded.metadata().at("total_size") == "26");
  CHECK(sharded.metadata().at("format") == "pt");
  CHECK(sharded.info("a").shape == std::vector<std::int64_t>{2, 2});
  CHECK(sharded.info("c").dtype == Dtype::F16);
  CHECK(sharded.read_as_float("a") == a);
  CHECK(sharded.read_as_double("c") == std::vector<double>{7.0});
  std::vector<float> two(2);
  sharded.read_as_float("b", two.data(), 2);
  CHECK(two == b);
  CHECK_THROWS_AS(sharded.read_as_float("b", two.data(), 1), skiptune::ShapeError);
  CHECK_THROWS_WITH(sharded.info("unlisted"), Catch::Contains("no tensor named 'unlisted'"));
  CHECK(&sharded.shard("model-00001-of-00002.safetensors") == &sharded.shard("model-00001-of-00002.safetensors"));
  CHECK_NOTHROW(sharded.open_all_shards());
}

TEST_CASE("sharded: shards open lazily and are checked against the weight_map", "[safetensors][sharded]") {
  ScratchDir dir;
  const std::vector<float> a = {1, 2};
  write_safetensors(dir / "one.safetensors", {{"a", {2}, a.data()}});
  write_file(dir / "index.json",
             R"({"weight_map": {"a": "one.safetensors", "ghost": "one.safetensors", "far": "two.safetensors"}})");
  const ShardedSafetensors sharded = ShardedSafetensors::open(dir / "index.json");  // opens no shard
  CHECK_THROWS_WITH(sharded.info("far"), Catch::Contains("two.safetensors") && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(sharded.read_as_float("a"),
                    Catch::Contains("puts tensor 'ghost' in shard 'one.safetensors'") &&
                        Catch::Contains("has no such tensor"));
  CHECK_THROWS_AS(sharded.open_all_shards(), skiptune::IoError);
}

TEST_CASE("sharded: malformed indexes are rejected", "[safetensors][sharded]") {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"metadata": {}})", "missing \"weight_map\""},
      {R"([1])", "must be a JSON object"},
      {R"({"weight_map": {"a": "x.safetensors",})", "invalid JSON at byte"},
      {R"({"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}})", "duplicate tensor name 'a'"},
      {R"({"weight_map": {"a": "../x.safetensors"}})", "must be a plain file name"},
      {R"({"weight_map": {"a": "sub/x.safetensors"}})", "must be a plain file name"},
      {R"({"weight_map": {"a": ".."}})", "must be a plain file name"},
      {R"({"weight_map": {"a": 3}})", "must be a shard file name string"},
      {R"({"weight_map": []})", "must be an object mapping tensor names"},
      {R"({"metadata": 5, "weight_map": {}})", "\"metadata\" at byte"},
  };
  for (const auto& [text, phrase] : cases) {
    INFO(text);
    write_file(dir / "index.json", text);
    CHECK_THROWS_WITH(ShardedSafetensors::open(dir / "index.json"),
                      Catch::Contains(phrase) && Catch::Contains("index.json"));
  }
  CHECK_THROWS_AS(ShardedSafetensors::open(dir / "absent.json"), skiptune::IoError);
}

// =========================================================================================
// The PyTorch-generated fixture
// =========================================================================================

TEST_CASE("safetensors: opens the clip_tiny fixture written by the Python generator", "[safetensors][fixture]") {
  const fs::path path = source_dir / "tests" / "fixtures" / "clip_tiny" / "model.safetensors";
  REQUIRE(fs::exists(path));
  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.size() == 62);
  const TensorInfo& conv = file.info("visual.conv1.weight");
  CHECK(conv.dtype == Dtype::F32);
  CHECK(conv.shape == std::vector<std::int64_t>{32, 3, 8, 8});
  CHECK(conv.numel == 32 * 3 * 8 * 8);
  const TensorInfo& scale = file.info("logit_scale");
  CHECK(scale.shape.empty());
  CHECK(scale.numel == 1);
  CHECK(file.read_as_float("logit_scale")[0] == Approx(std::log(1.0 / 0.07)).epsilon(1e-6));
  CHECK(file.read_as_float("logit_scale")[0] == Approx(2.6593).margin(1e-4));
  std::int64_t total = 0;
  for (const TensorInfo& tensor : file.tensors()) total += tensor.numel;
  CHECK(total == 62849);  // the parameter count the fixture's README states
}
