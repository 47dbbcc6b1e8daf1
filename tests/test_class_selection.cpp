// ClassSkip's class selection (skiptune/policy/class_selection.hpp) against an independent
// numpy/torch re-implementation of the reference `select_classes`
// (scripts/make_class_selection_cases.py → tests/fixtures/class_selection_cases.txt), step by
// step: K, keep probabilities, scores, ranks, kept classes, remapped labels. Then the mask draw
// (reproducible, randomness only where the outcome is uncertain, once-per-run vs per-batch), the
// documented deviation (every ground-truth class kept), and every error a caller can cause.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "skiptune/core/rng.hpp"
#include "skiptune/policy/class_selection.hpp"

using namespace skiptune;
using namespace skiptune::policy;
using Catch::Matchers::Contains;

namespace {

/// One fixture case: field name → its whitespace-separated values, as text.
struct FixtureCase {
  std::string name;
  std::map<std::string, std::vector<std::string>> fields;

  const std::vector<std::string>& at(const std::string& key) const {
    const auto found = fields.find(key);
    if (found == fields.end()) FAIL("case " << name << " has no field " << key);
    return found->second;
  }
  std::vector<double> doubles(const std::string& key) const {
    std::vector<double> out;
    for (const auto& text : at(key)) out.push_back(std::stod(text));
    return out;
  }
  template <class Int>
  std::vector<Int> integers(const std::string& key) const {
    std::vector<Int> out;
    for (const auto& text : at(key)) out.push_back(static_cast<Int>(std::stoll(text)));
    return out;
  }
  double number(const std::string& key) const { return doubles(key).at(0); }
  std::size_t count(const std::string& key) const { return integers<std::size_t>(key).at(0); }
};

/// The line format the script writes: "case NAME", "key v v ...", ..., "end"; '#' comments.
std::vector<FixtureCase> read_fixture_cases() {
  const std::string path = std::string(SKIPTUNE_SOURCE_DIR) + "/tests/fixtures/class_selection_cases.txt";
  std::ifstream file(path);
  REQUIRE(file.good());
  std::vector<FixtureCase> cases;
  FixtureCase current;
  bool inside = false;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "case") {
      REQUIRE_FALSE(inside);
      current = FixtureCase{};
      words >> current.name;
      inside = true;
    } else if (key == "end") {
      REQUIRE(inside);
      cases.push_back(std::move(current));
      inside = false;
    } else {
      REQUIRE(inside);
      auto& values = current.fields[key];
      for (std::string value; words >> value;) values.push_back(value);
    }
  }
  REQUIRE_FALSE(inside);
  return cases;
}

ClassSkipOptions options_of(const FixtureCase& c) {
  ClassSkipOptions options;
  options.top_ratio = c.number("top_ratio");
  options.max_top = c.count("max_top");
  options.reserve_scale = c.number("reserve_scale");
  return options;
}

bool has_case(const std::vector<FixtureCase>& cases, const std::string& name) {
  return std::any_of(cases.begin(), cases.end(), [&](const FixtureCase& c) { return c.name == name; });
}

const FixtureCase& case_named(const std::vector<FixtureCase>& cases, const std::string& name) {
  const auto found = std::find_if(cases.begin(), cases.end(), [&](const FixtureCase& c) { return c.name == name; });
  REQUIRE(found != cases.end());
  return *found;
}

std::size_t mask_count(const std::vector<std::uint8_t>& mask) {
  return static_cast<std::size_t>(std::count(mask.begin(), mask.end(), std::uint8_t{1}));
}

}  // namespace

TEST_CASE("every fixture case matches the reference step by step", "[class_selection][fixture]") {
  const auto cases = read_fixture_cases();
  REQUIRE(cases.size() >= 40);
  std::size_t cases_where_reference_drops_ground_truth = 0;

  for (const auto& c : cases) {
    INFO("case " << c.name);
    const std::size_t classes = c.count("classes");
    const std::size_t batch = c.count("batch");
    const ClassSkipOptions options = options_of(c);

    // Step 1: K and whether ClassSkip is off.
    const std::size_t top_count = class_skip_top_count(classes, options);
    CHECK(top_count == c.count("top_count"));
    CHECK(class_skip_keeps_all(classes, options) == (c.count("keeps_all") == 1));

    // Step 5: keep probability by rank; ranks < K and the tail's ends exactly.
    const auto probabilities = class_skip_keep_probabilities(classes, top_count, options.reserve_scale);
    const auto expected_probabilities = c.doubles("keep_probabilities");
    REQUIRE(probabilities.size() == expected_probabilities.size());
    for (std::size_t rank = 0; rank < classes; ++rank) {
      INFO("rank " << rank);
      CHECK(std::abs(probabilities[rank] - expected_probabilities[rank]) <= 1e-12);
      if (rank <= top_count) CHECK(probabilities[rank] == 1.0);  // ranks < K, and the first tail rank
    }
    if (classes - top_count >= 2) CHECK(probabilities.back() == 0.0);

    // Steps 3–4: scores (float32 max, exact) and ranks.
    std::vector<float> similarity;
    for (double v : c.doubles("similarity")) similarity.push_back(static_cast<float>(v));
    REQUIRE(similarity.size() == batch * classes);
    const auto labels = c.integers<std::int32_t>("labels");
    REQUIRE(labels.size() == batch);
    const auto scores = class_skip_scores(similarity.data(), labels.data(), batch, classes);
    const auto expected_scores = c.doubles("scores");
    REQUIRE(scores.size() == classes);
    for (std::size_t k = 0; k < classes; ++k) CHECK(scores[k] == static_cast<float>(expected_scores[k]));
    CHECK(rank_classes_by_score(scores) == c.integers<std::int32_t>("ranks"));

    // Steps 6–7 with the fixture's fixed mask.
    const auto rank_mask = c.integers<std::uint8_t>("rank_mask");
    const auto expected_kept = c.integers<std::int32_t>("kept_classes");
    const auto expected_labels = c.integers<std::int32_t>("remapped_labels");
    const auto selection = select_classes(similarity.data(), labels.data(), batch, classes, rank_mask, top_count);
    CHECK(selection.kept_classes == expected_kept);
    CHECK(selection.remapped_labels == expected_labels);

    // The double overload gives the same answer (the similarities are float-exact).
    const std::vector<double> similarity64(similarity.begin(), similarity.end());
    const auto selection64 = select_classes(similarity64.data(), labels.data(), batch, classes, rank_mask, top_count);
    CHECK(selection64.kept_classes == expected_kept);
    CHECK(selection64.remapped_labels == expected_labels);

    // Where we differ from the reference: only by keeping ground truth it would have dropped.
    const auto reference_kept = c.integers<std::int32_t>("reference_kept_classes");
    if (c.count("reference_drops_ground_truth") == 0) {
      CHECK(selection.kept_classes == reference_kept);
    } else {
      ++cases_where_reference_drops_ground_truth;
      const std::set<std::int32_t> ours(selection.kept_classes.begin(), selection.kept_classes.end());
      const std::set<std::int32_t> ground_truth(labels.begin(), labels.end());
      for (std::int32_t k : reference_kept) CHECK(ours.count(k) == 1);
      for (std::int32_t k : ours)
        CHECK((std::binary_search(reference_kept.begin(), reference_kept.end(), k) || ground_truth.count(k) == 1));
      CHECK(ground_truth.size() > top_count);
    }
  }
  CHECK(cases_where_reference_drops_ground_truth >= 2);

  // The boundary cases the fixture must hold.
  for (const char* name :
       {"rho_one_keeps_all", "rho_one_with_max_top_below_classes", "k_equals_classes", "tail_of_one", "rho_count_3",
        "rho_count_20_capped_at_classes", "max_top_below_ceil_rho_c", "ceil_rounding_quirk", "batch_of_one",
        "several_labels", "repeated_labels", "ties_lower_index_first", "ties_between_forced_labels",
        "more_labels_than_k_mask_drops_ground_truth", "cross_dataset_1000_classes"}) {
    INFO(name);
    CHECK(has_case(cases, name));
  }
}

TEST_CASE("top count: fractions, counts, the cap, and the reference's rounding", "[class_selection]") {
  ClassSkipOptions options;
  options.top_ratio = 3.0;
  CHECK(class_skip_top_count(10, options) == 3);
  options.top_ratio = 20.0;
  CHECK(class_skip_top_count(10, options) == 10);
  CHECK(class_skip_keeps_all(10, options));
  options.top_ratio = 2.5;
  CHECK(class_skip_top_count(10, options) == 3);
  options.top_ratio = 0.5;
  CHECK(class_skip_top_count(1000, options) == 50);  // MAX_TOP
  options.max_top = 1000;
  CHECK(class_skip_top_count(1000, options) == 500);
  options.top_ratio = 0.14;  // 0.14 · 50 = 7.000000000000001 in doubles → 8, as in the reference
  CHECK(class_skip_top_count(50, options) == 8);
  options.top_ratio = 1e-300;  // any ρ > 0 keeps at least one class
  CHECK(class_skip_top_count(7, options) == 1);
  options.top_ratio = 1.0;
  options.max_top = 3;
  CHECK(class_skip_top_count(8, options) == 3);
  CHECK(class_skip_keeps_all(8, options));  // ρ == 1 keeps all even below the cap (reference)

  // The fixture's worked example (docs/class_skip.md): C = 6, K = 3, λ = 1.
  const auto p = class_skip_keep_probabilities(6, 3, 1.0);
  CHECK(p[0] == 1.0);
  CHECK(p[3] == 1.0);
  CHECK(p[4] == Approx((std::exp(-2.5) - std::exp(-5.0)) / (1.0 - std::exp(-5.0))).epsilon(1e-14));
  CHECK(p[5] == 0.0);
  // C − K == 1 (reference: 0/0): the single tail rank gets 1. C − K == 0: no tail.
  CHECK(class_skip_keep_probabilities(10, 9, 0.3) == std::vector<double>(10, 1.0));
  CHECK(class_skip_keep_probabilities(4, 4, 0.3) == std::vector<double>(4, 1.0));
}

TEST_CASE("keep probabilities stay finite and monotone for extreme lambda", "[class_selection]") {
  for (double lambda : {1e-300, 1e-3, 0.3, 1e3, 1e300, std::numeric_limits<double>::max()}) {
    INFO("lambda " << lambda);
    const auto p = class_skip_keep_probabilities(100, 10, lambda);
    CHECK(p[10] == 1.0);
    CHECK(p[99] == 0.0);
    for (std::size_t rank = 1; rank < p.size(); ++rank) {
      CHECK(std::isfinite(p[rank]));
      CHECK(p[rank] <= p[rank - 1]);
    }
  }
  // Huge λ: the exponential is flat and min-max tends to the straight line 1 − x/5.
  const auto flat = class_skip_keep_probabilities(12, 1, 1e12);
  for (std::size_t j = 0; j < 11; ++j) CHECK(flat[1 + j] == Approx(1.0 - static_cast<double>(j) / 10.0).margin(1e-9));
}

TEST_CASE("the rank mask: reproducible, randomness only where uncertain, fork semantics", "[class_selection][rng]") {
  const ClassSkipOptions options;  // ρ 0.5, MAX_TOP 50, λ 0.3
  const std::size_t classes = 1000;
  const std::size_t top_count = class_skip_top_count(classes, options);
  REQUIRE(top_count == 50);
  const auto probabilities = class_skip_keep_probabilities(classes, top_count, options.reserve_scale);

  SECTION("same seed, same mask; ranks below K and the first tail rank kept, the last dropped") {
    Rng first(42), second(42);
    const auto mask = draw_rank_mask(probabilities, first);
    CHECK(mask == draw_rank_mask(probabilities, second));
    Rng third(42);
    CHECK(mask == draw_class_skip_rank_mask(classes, options, third));
    for (std::size_t rank = 0; rank <= top_count; ++rank) CHECK(mask[rank] == 1);
    CHECK(mask.back() == 0);
    CHECK(mask_count(mask) > top_count);
    CHECK(mask_count(mask) < classes / 2);
  }

  SECTION("one uniform draw per uncertain position, none for p == 1 or p == 0") {
    Rng drawn(5), reference(5);
    const auto mask = draw_rank_mask({1.0, 1.0, 0.5, 0.0, 1.0, 0.25, 0.0}, drawn);
    REQUIRE(mask.size() == 7);
    CHECK(mask[0] == 1);
    CHECK(mask[1] == 1);
    CHECK(mask[3] == 0);
    CHECK(mask[4] == 1);
    CHECK(mask[6] == 0);
    CHECK(mask[2] == (reference.uniform() < 0.5 ? 1 : 0));
    CHECK(mask[5] == (reference.uniform() < 0.25 ? 1 : 0));
    CHECK(drawn.next_u64() == reference.next_u64());  // exactly two values consumed
    Rng untouched(9), fresh(9);
    CHECK(draw_rank_mask(std::vector<double>(20, 1.0), untouched) == std::vector<std::uint8_t>(20, 1));
    CHECK(untouched.next_u64() == fresh.next_u64());
  }

  SECTION("once per run: one mask reused; per batch: a fresh draw from a forked or advancing stream") {
    const Rng base(2025);
    Rng run_a = base.fork(3), run_b = base.fork(3);
    const auto once = draw_rank_mask(probabilities, run_a);
    CHECK(once == draw_rank_mask(probabilities, run_b));  // same stream: same mask
    Rng other = base.fork(4);
    CHECK(once != draw_rank_mask(probabilities, other));  // another stream: another mask
    Rng batches = base.fork(5);
    const auto batch_0 = draw_rank_mask(probabilities, batches);
    const auto batch_1 = draw_rank_mask(probabilities, batches);
    CHECK(batch_0 != batch_1);  // per-batch redraw advances the stream
  }

  SECTION("the expected number of kept classes is K + sum of tail probabilities") {
    double expected = 0.0;
    for (double p : probabilities) expected += p;
    Rng rng(77);
    const int draws = 2000;
    double total = 0.0;
    for (int d = 0; d < draws; ++d) total += static_cast<double>(mask_count(draw_rank_mask(probabilities, rng)));
    // σ of one count ≈ sqrt(Σ p(1−p)) ≈ 5, so the mean of 2000 has σ ≈ 0.12.
    CHECK(std::abs(total / draws - expected) < 0.6);
  }
}

TEST_CASE("every ground-truth class is kept, even with more distinct labels than K", "[class_selection]") {
  const auto cases = read_fixture_cases();
  const auto& c = case_named(cases, "more_labels_than_k_mask_drops_ground_truth");
  REQUIRE(c.count("reference_drops_ground_truth") == 1);

  // Cosine similarities: the ground-truth classes take ranks 0..3; K = 2 and the mask keeps only
  // ranks 0 and 1. The reference would map two labels to position 0; we keep all four classes.
  const std::vector<std::int32_t> labels{7, 3, 5, 1};
  std::vector<float> similarity(4 * 10, 0.25f);
  ClassSkipOptions options;
  options.top_ratio = 0.2;
  const std::size_t top_count = class_skip_top_count(10, options);
  REQUIRE(top_count == 2);
  std::vector<std::uint8_t> mask(10, 0);
  mask[0] = mask[1] = 1;
  const auto selection = select_classes(similarity.data(), labels.data(), 4, 10, mask, top_count);
  CHECK(selection.kept_classes == std::vector<std::int32_t>{1, 3, 5, 7});
  CHECK(selection.remapped_labels == std::vector<std::int32_t>{3, 1, 2, 0});

  // Not cosine similarities (a caller's arbitrary scores above the forced 1e4): the ground truth
  // no longer ranks first, and is still kept.
  std::vector<double> wild(2 * 5, 0.0);
  wild[0 * 5 + 4] = 5e4;  // item 0 (label 0) prefers class 4 over its forced 1e4
  const std::vector<std::int32_t> wild_labels{0, 2};
  const auto wild_scores = class_skip_scores(wild.data(), wild_labels.data(), 2, 5);
  CHECK(rank_classes_by_score(wild_scores) == std::vector<std::int32_t>{4, 0, 2, 1, 3});
  const auto wild_selection = select_classes(wild.data(), wild_labels.data(), 2, 5, {1, 0, 0, 0, 0}, 1);
  CHECK(wild_selection.kept_classes == std::vector<std::int32_t>{0, 2, 4});
  CHECK(wild_selection.remapped_labels == std::vector<std::int32_t>{0, 1});
}

TEST_CASE("random batches: kept classes ascending, labels point back, mask ranks kept", "[class_selection]") {
  Rng rng(314);
  ClassSelection reused;  // the out-parameter overload reuses its vectors across batches
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t classes = 1 + rng.below(80);
    const std::size_t batch = 1 + rng.below(8);
    ClassSkipOptions options;
    options.top_ratio = rng.bernoulli(0.5) ? rng.uniform(0.01, 1.0) : rng.uniform(1.0, 12.0);
    options.max_top = 1 + rng.below(20);
    options.reserve_scale = rng.uniform(0.05, 3.0);
    const std::size_t top_count = class_skip_top_count(classes, options);
    const auto mask = draw_class_skip_rank_mask(classes, options, rng);
    std::vector<float> similarity(batch * classes);
    for (auto& s : similarity) s = static_cast<float>(std::round(rng.uniform(-1.0, 1.0) * 8.0) / 8.0);  // ties
    std::vector<std::int32_t> labels(batch);
    for (auto& y : labels) y = static_cast<std::int32_t>(rng.below(classes));

    select_classes(similarity.data(), labels.data(), batch, classes, mask, top_count, reused);
    const auto fresh = select_classes(similarity.data(), labels.data(), batch, classes, mask, top_count);
    REQUIRE(reused.kept_classes == fresh.kept_classes);
    REQUIRE(reused.remapped_labels == fresh.remapped_labels);
    REQUIRE(std::is_sorted(fresh.kept_classes.begin(), fresh.kept_classes.end()));
    REQUIRE(std::adjacent_find(fresh.kept_classes.begin(), fresh.kept_classes.end()) == fresh.kept_classes.end());
    for (std::size_t i = 0; i < batch; ++i)
      REQUIRE(fresh.kept_classes[static_cast<std::size_t>(fresh.remapped_labels[i])] == labels[i]);
    const auto ranks = rank_classes_by_score(class_skip_scores(similarity.data(), labels.data(), batch, classes));
    for (std::size_t rank = 0; rank < classes; ++rank)
      if (mask[rank] != 0)
        REQUIRE(std::binary_search(fresh.kept_classes.begin(), fresh.kept_classes.end(), ranks[rank]));
    // Nothing beyond mask ranks and ground truth is kept.
    std::set<std::int32_t> allowed(labels.begin(), labels.end());
    for (std::size_t rank = 0; rank < classes; ++rank)
      if (mask[rank] != 0) allowed.insert(ranks[rank]);
    REQUIRE(fresh.kept_classes.size() == allowed.size());
  }
}

TEST_CASE("large class counts run in O(B·C + C log C)", "[class_selection]") {
  // 200 000 classes: an O(C²) step would take minutes; this takes milliseconds.
  const std::size_t classes = 200000, batch = 4;
  Rng rng(1);
  std::vector<float> similarity(batch * classes);
  for (auto& s : similarity) s = static_cast<float>(rng.uniform(-1.0, 1.0));
  const std::vector<std::int32_t> labels{199999, 0, 123456, 0};
  ClassSkipOptions options;
  const std::size_t top_count = class_skip_top_count(classes, options);
  const auto mask = draw_class_skip_rank_mask(classes, options, rng);
  const auto selection = select_classes(similarity.data(), labels.data(), batch, classes, mask, top_count);
  CHECK(selection.kept_classes.size() >= top_count);
  CHECK(selection.kept_classes.size() < classes / 2);
  CHECK(selection.remapped_labels[1] == 0);
  CHECK(selection.kept_classes[static_cast<std::size_t>(selection.remapped_labels[2])] == 123456);
}

TEST_CASE("invalid options throw ConfigError naming the value", "[class_selection][errors]") {
  const auto with = [](double rho, std::size_t max_top, double lambda) {
    ClassSkipOptions options;
    options.top_ratio = rho;
    options.max_top = max_top;
    options.reserve_scale = lambda;
    return options;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_NOTHROW(ClassSkipOptions{}.validate());
  CHECK_THROWS_AS(with(0.0, 50, 0.3).validate(), ConfigError);
  CHECK_THROWS_WITH(with(0.0, 50, 0.3).validate(), Contains("top_ratio") && Contains("got 0"));
  CHECK_THROWS_WITH(with(-0.5, 50, 0.3).validate(), Contains("top_ratio") && Contains("got -0.5"));
  CHECK_THROWS_WITH(with(nan, 50, 0.3).validate(), Contains("top_ratio") && Contains("nan"));
  CHECK_THROWS_WITH(with(inf, 50, 0.3).validate(), Contains("top_ratio") && Contains("inf"));
  CHECK_THROWS_AS(with(0.5, 0, 0.3).validate(), ConfigError);
  CHECK_THROWS_WITH(with(0.5, 0, 0.3).validate(), Contains("max_top") && Contains("got 0"));
  CHECK_THROWS_AS(with(0.5, 50, 0.0).validate(), ConfigError);
  CHECK_THROWS_WITH(with(0.5, 50, 0.0).validate(), Contains("reserve_scale") && Contains("got 0"));
  CHECK_THROWS_WITH(with(0.5, 50, -2.0).validate(), Contains("reserve_scale") && Contains("got -2"));
  CHECK_THROWS_WITH(with(0.5, 50, nan).validate(), Contains("reserve_scale") && Contains("nan"));
  // Every entry point that takes options validates them.
  CHECK_THROWS_AS(class_skip_top_count(10, with(0.0, 50, 0.3)), ConfigError);
  CHECK_THROWS_AS(class_skip_keeps_all(10, with(0.5, 50, -1.0)), ConfigError);
  Rng rng(0);
  CHECK_THROWS_AS(draw_class_skip_rank_mask(10, with(0.5, 0, 0.3), rng), ConfigError);
  CHECK_THROWS_WITH(class_skip_keep_probabilities(10, 3, 0.0), Contains("got 0"));
  CHECK_THROWS_AS(class_skip_keep_probabilities(10, 0, 0.3), ConfigError);
  CHECK_THROWS_WITH(class_skip_keep_probabilities(10, 11, 0.3), Contains("got 11"));
}

TEST_CASE("bad input throws InputError or ShapeError naming the culprit", "[class_selection][errors]") {
  const std::size_t classes = 5, batch = 3;
  const std::vector<float> similarity(batch * classes, 0.1f);
  const std::vector<std::uint8_t> mask{1, 1, 0, 1, 0};
  const std::vector<std::int32_t> good{0, 4, 2};

  CHECK_NOTHROW(select_classes(similarity.data(), good.data(), batch, classes, mask, 2));
  for (std::int32_t bad : {-1, 5, 1000}) {
    const std::vector<std::int32_t> labels{0, 4, bad};
    CHECK_THROWS_AS(select_classes(similarity.data(), labels.data(), batch, classes, mask, 2), InputError);
    CHECK_THROWS_WITH(select_classes(similarity.data(), labels.data(), batch, classes, mask, 2),
                      Contains("batch item 2") && Contains(std::to_string(bad)) && Contains("[0, 5)"));
  }
  CHECK_THROWS_AS(select_classes(similarity.data(), good.data(), batch, classes, std::vector<std::uint8_t>(4, 1), 2),
                  ShapeError);
  CHECK_THROWS_AS(select_classes(similarity.data(), good.data(), 0, classes, mask, 2), ShapeError);
  CHECK_THROWS_AS(select_classes(similarity.data(), good.data(), batch, 0, std::vector<std::uint8_t>{}, 1),
                  InputError);
  CHECK_THROWS_AS(select_classes<float>(nullptr, good.data(), batch, classes, mask, 2), InputError);
  // A mask that drops a rank below K was not drawn from these probabilities.
  CHECK_THROWS_WITH(select_classes(similarity.data(), good.data(), batch, classes, {1, 0, 1, 1, 1}, 2),
                    Contains("rank_mask[1]"));
  CHECK_THROWS_AS(select_classes(similarity.data(), good.data(), batch, classes, mask, 0), ConfigError);
  // Non-finite similarities mean broken features: fail loudly instead of ranking NaN.
  auto poisoned = similarity;
  poisoned[1 * classes + 3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(select_classes(poisoned.data(), good.data(), batch, classes, mask, 2),
                    Contains("similarity[1, 3]"));
  // Keep probabilities outside [0, 1].
  Rng rng(0);
  CHECK_THROWS_AS(draw_rank_mask({1.0, 1.5}, rng), InputError);
  CHECK_THROWS_WITH(draw_rank_mask({1.0, std::numeric_limits<double>::quiet_NaN()}, rng), Contains("rank 1"));
  CHECK_THROWS_AS(class_skip_top_count(0, ClassSkipOptions{}), InputError);
}
