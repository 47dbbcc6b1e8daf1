// The EmojiBench pack reader against the tiny synthetic pack in tests/emojibench/fixtures,
// written by the builder's own writer (tools/emojibench/build_pack.py --synthetic-fixture):
// metadata, image lookup, the few-shot protocol, and refusal of damaged files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "skiptune/data/emoji_pack.hpp"

using namespace skiptune;
using namespace skiptune::data;

namespace {

std::filesystem::path fixture_pack_path() {
  return std::filesystem::path(SKIPTUNE_SOURCE_DIR) / "tests" / "emojibench" / "fixtures" / "emojibench-fixture.pack";
}

std::vector<std::uint8_t> fixture_bytes() {
  std::ifstream in(fixture_pack_path(), std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The builder's synthetic pattern (build_pack.synthetic_fixture_pack), pixel (y, x).
std::array<std::uint8_t, 3> expected_pixel(int class_id, int family_id, int variant, int y, int x) {
  return {static_cast<std::uint8_t>((37 * class_id + 11 * variant) % 256),
          static_cast<std::uint8_t>((53 * family_id + 3 * x) % 256),
          static_cast<std::uint8_t>((7 * y * (class_id + 1) + 5 * variant) % 256)};
}

std::string error_of(const std::vector<std::uint8_t>& bytes) {
  try {
    (void)EmojiPack::from_bytes(bytes, "damaged.pack");
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("EmojiPack reads the fixture's metadata", "[emoji_pack]") {
  const EmojiPack pack = EmojiPack::load(fixture_pack_path());
  CHECK(pack.image_side() == 8);
  CHECK(pack.channels() == 3);
  CHECK(pack.image_bytes() == 8 * 8 * 3);
  CHECK(pack.image_count() == 65);

  REQUIRE(pack.classes().size() == 8);
  const EmojiClass& cat = pack.emoji_class(0);
  CHECK(cat.name == "cat");
  CHECK(cat.emoji == "\xF0\x9F\x90\x80");  // U+1F400 as UTF-8
  CHECK(cat.group == "Animals & Nature");
  CHECK(cat.subgroup == "animal-mammal");
  REQUIRE(cat.keywords.size() == 2);
  CHECK(cat.keywords[1] == "k0 \"quoted\" \\ tab\t");  // JSON escapes survive
  CHECK(pack.emoji_class(7).task.empty());               // eagle misses a DOWN family

  REQUIRE(pack.families().size() == 7);
  CHECK(pack.family("openmoji").id == 3);
  CHECK(pack.family(5).role == FamilyRole::pretrain);
  CHECK(pack.family(6).role == FamilyRole::shift);
  CHECK(pack.family(6).monochrome);
  CHECK(pack.families_with_role(FamilyRole::down) == std::vector<int>{0, 1, 2, 3, 4});
  CHECK_THROWS_AS(pack.family("apple"), InputError);

  const EmojiTask& animals = pack.task("animals");
  CHECK(animals.base_classes == std::vector<int>{0, 2, 4, 5});
  CHECK(animals.new_classes == std::vector<int>{1, 3, 6});
  CHECK(animals.all_classes().size() == 7);
  CHECK_THROWS_AS(pack.task("planets"), InputError);

  REQUIRE(pack.folds().size() == 3);
  CHECK(pack.fold(0).train_families == std::vector<int>{2, 3, 4});
  CHECK(pack.fold(0).test_families == std::vector<int>{0, 1});
  CHECK(pack.fold(2).test_families == std::vector<int>{4, 0});
  CHECK(pack.test_views() == 4);
  CHECK(pack.variants().size() == 3);
  CHECK(pack.checksum_hex().size() == 64);
}

TEST_CASE("EmojiPack finds images by class, family and variant", "[emoji_pack]") {
  const EmojiPack pack = EmojiPack::load(fixture_pack_path());
  for (std::size_t i = 0; i < pack.image_count(); ++i) {
    const ImageRecord& r = pack.record(i);
    const auto rgb = pack.pixels(i);
    REQUIRE(rgb.size() == pack.image_bytes());
    for (int y = 0; y < 8; y += 3)
      for (int x = 0; x < 8; x += 3) {
        const auto want = expected_pixel(r.class_id, r.family_id, r.variant, y, x);
        const std::size_t at = (static_cast<std::size_t>(y) * 8 + static_cast<std::size_t>(x)) * 3;
        REQUIRE(rgb[at] == want[0]);
        REQUIRE(rgb[at + 1] == want[1]);
        REQUIRE(rgb[at + 2] == want[2]);
      }
  }
  const auto dog_noto = pack.images_of(1, 0);  // dog has two skin tones in DOWN families
  REQUIRE(dog_noto.size() == 3);
  CHECK(pack.record(dog_noto[0]).variant == 0);
  CHECK(pack.record(dog_noto[1]).variant == 1);
  CHECK(pack.record(dog_noto[2]).variant == 5);
  CHECK(pack.find_image(1, 0, 5) == dog_noto[2]);
  CHECK_FALSE(pack.find_image(7, 2).has_value());  // eagle has no noto-v1 image
  CHECK(pack.images_of(7, 2).empty());
  CHECK(pack.images_of_family(6).size() == 8);
  CHECK_THROWS_AS(pack.pixels(pack.image_count()), InputError);
}

TEST_CASE("EmojiPack pretraining rule keeps DOWN and SHIFT artwork of task classes out", "[emoji_pack]") {
  const EmojiPack pack = EmojiPack::load(fixture_pack_path());
  for (std::size_t i : pack.pretraining_images()) {
    const ImageRecord& r = pack.record(i);
    const bool task_class = !pack.emoji_class(r.class_id).task.empty();
    CHECK((!task_class || pack.family(r.family_id).role == FamilyRole::pretrain));
  }
  CHECK(pack.usable_for_pretraining(*pack.find_image(7, 0)));   // eagle: no task, any family
  CHECK_FALSE(pack.usable_for_pretraining(*pack.find_image(0, 0)));
  CHECK(pack.usable_for_pretraining(*pack.find_image(0, 5)));
}

TEST_CASE("EmojiPack shot and test plans never share an artwork family", "[emoji_pack]") {
  const EmojiPack pack = EmojiPack::load(fixture_pack_path());
  const EmojiTask& task = pack.task("animals");
  for (const EmojiFold& fold : pack.folds()) {
    const auto shots = pack.shot_plan(task.base_classes, fold, 16);
    const auto tests = pack.test_plan(task.all_classes(), fold);
    CHECK(shots.size() == task.base_classes.size() * 16);
    CHECK(tests.size() == task.all_classes().size() * fold.test_families.size() * 4);
    std::set<int> shot_families, test_families;
    for (const auto& s : shots) shot_families.insert(s.family_id);
    for (const auto& t : tests) test_families.insert(t.family_id);
    for (int f : shot_families) CHECK(test_families.count(f) == 0);
    for (const auto& s : shots) CHECK(pack.record(s.image_index).family_id == s.family_id);
  }
  // Shot j uses train family j mod 3; the skin tones of "dog" come before augmentations.
  const EmojiFold& fold = pack.fold(0);
  const int dog[] = {1};
  const auto plan = pack.shot_plan(dog, fold, 12);
  CHECK(plan[0].family_id == 2);
  CHECK(plan[1].family_id == 3);
  CHECK(plan[3].family_id == 2);
  CHECK(plan[0].variant == 0);
  CHECK(plan[3].variant == 1);
  CHECK(plan[6].variant == 5);
  CHECK(plan[9].variant == 0);
  CHECK(plan[9].augmentation == 1);
  const int cat[] = {0};
  const auto cat_plan = pack.shot_plan(cat, fold, 7);
  CHECK(cat_plan[6].augmentation == 2);
  CHECK(cat_plan[6].variant == 0);
}

TEST_CASE("EmojiPack rejects corrupted, truncated and wrong-version files", "[emoji_pack]") {
  const std::vector<std::uint8_t> good = fixture_bytes();
  REQUIRE_NOTHROW(EmojiPack::from_bytes(good));

  SECTION("a flipped byte anywhere after the header fails the checksum") {
    for (std::size_t at : {std::size_t{70}, good.size() / 2, good.size() - 40, good.size() - 1}) {
      auto bad = good;
      bad[at] ^= 0x01;
      const std::string message = error_of(bad);
      CHECK_THAT(message, Catch::Contains("checksum mismatch") && Catch::Contains("damaged.pack"));
    }
  }
  SECTION("a flipped size field is caught before anything is read") {
    auto bad = good;
    bad[40] ^= 0x01;  // image count
    CHECK_THAT(error_of(bad), Catch::Contains("truncated or corrupted"));
  }
  SECTION("truncation") {
    for (std::size_t keep : {std::size_t{0}, std::size_t{10}, std::size_t{95}, good.size() / 2, good.size() - 1}) {
      const std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep));
      CHECK_THAT(error_of(cut), Catch::Contains("truncated"));
    }
  }
  SECTION("trailing garbage") {
    auto longer = good;
    longer.push_back(0);
    CHECK_THAT(error_of(longer), Catch::Contains("truncated or corrupted"));
  }
  SECTION("wrong version names the expected one") {
    auto bad = good;
    bad[8] = 2;
    CHECK_THAT(error_of(bad), Catch::Contains("format version 2") && Catch::Contains("expects version 1"));
  }
  SECTION("wrong magic") {
    auto bad = good;
    bad[0] = 'X';
    CHECK_THAT(error_of(bad), Catch::Contains("not an EmojiBench pack"));
  }
  SECTION("missing file") {
    CHECK_THROWS_AS(EmojiPack::load(fixture_pack_path().string() + ".missing"), IoError);
  }
}

TEST_CASE("EmojiPack's SHA-256 and JSON reader", "[emoji_pack]") {
  const std::string abc = "abc";
  const auto digest = data::detail::sha256(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()));
  CHECK(data::detail::hex(digest) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string million(1000000, 'a');
  CHECK(data::detail::hex(data::detail::sha256(std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(million.data()), million.size()))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  const auto value = data::detail::JsonParser(R"({"a": [1, -2.5e1, true, null], "s": "x\u00e9\ud83c\udf4e\n"})", "t")
                         .parse_document();
  REQUIRE(value.find("a") != nullptr);
  CHECK(value.find("a")->array.size() == 4);
  CHECK(value.find("a")->array[1].number == -25.0);
  CHECK(value.find("s")->string == "x\xC3\xA9\xF0\x9F\x8D\x8E\n");
  CHECK_THROWS_AS(data::detail::JsonParser(R"({"a": [1, 2})", "t").parse_document(), IoError);
  CHECK_THROWS_AS(data::detail::JsonParser(R"({"a": "\ud83c"})", "t").parse_document(), IoError);
  CHECK_THROWS_AS(data::detail::JsonParser(R"({"a": 1} x)", "t").parse_document(), IoError);
}
