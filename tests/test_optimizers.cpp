// Optimizers and LR schedules against PyTorch (tests/fixtures/optimizers.txt, written by
// scripts/make_optimizer_fixture.py with torch 1.13 in float64): SGD and AdamW over two
// parameter groups, and the reference (Dassl) cosine-with-warm-up schedule per epoch. Also the
// exact optimizer-state memory, per-group learning rates, checkpoint round trips of the state,
// the threaded path, NaN gradients and every configuration error.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "skiptune/core/memory.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/train/optimizer.hpp"
#include "skiptune/train/schedule.hpp"

using namespace skiptune;

namespace {

using Records = std::map<std::string, std::vector<double>>;

/// Every `key value...` line of the fixture.
const Records& fixture() {
  static const Records records = [] {
    const auto path = std::filesystem::path(SKIPTUNE_SOURCE_DIR) / "tests" / "fixtures" / "optimizers.txt";
    std::ifstream in(path);
    REQUIRE(in.good());
    Records out;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      std::string key, token;
      fields >> key;
      // strtod reads repr()'s shortest round-trip digits back to the same double.
      while (fields >> token) out[key].push_back(std::strtod(token.c_str(), nullptr));
    }
    return out;
  }();
  return records;
}

const std::vector<double>& record(const std::string& key) {
  const auto it = fixture().find(key);
  INFO("fixture record " << key);
  REQUIRE(it != fixture().end());
  return it->second;
}

/// The fixture's three parameters in two groups, with their gradients.
template <class T>
struct FixtureModel {
  static constexpr int steps = 5;
  MemoryMeter& meter;
  std::vector<std::string> names{"text.weight", "text.bias", "image.weight"};
  std::map<std::string, Tensor<T>> values, gradients;

  explicit FixtureModel(MemoryMeter& m) : meter(m) {
    const std::map<std::string, Shape> shapes{{"text.weight", {2, 3}}, {"text.bias", {3}}, {"image.weight", {2, 2}}};
    for (const auto& name : names) {
      values[name] = Tensor<T>(shapes.at(name), meter, MemoryCategory::weights);
      gradients[name] = Tensor<T>::zeros(shapes.at(name), meter, MemoryCategory::gradients);
      const auto& initial = record("initial." + name);
      REQUIRE(static_cast<Index>(initial.size()) == values[name].numel());
      for (Index i = 0; i < values[name].numel(); ++i) values[name][i] = static_cast<T>(initial[i]);
    }
  }

  ParameterRef<T> ref(const std::string& name) { return {name, &values.at(name), &gradients.at(name)}; }

  /// Groups as the fixture has them; base LRs come from the per-step LRs anyway.
  std::vector<ParameterGroup<T>> groups() {
    std::vector<ParameterGroup<T>> g(2);
    g[0].name = "text";
    g[0].parameters = {ref("text.weight"), ref("text.bias")};
    g[1].name = "image";
    g[1].parameters = {ref("image.weight")};
    return g;
  }

  void load_gradients(int step) {
    for (const auto& name : names) {
      const auto& g = record("gradient." + std::to_string(step) + "." + name);
      for (Index i = 0; i < gradients[name].numel(); ++i) gradients[name][i] = static_cast<T>(g[i]);
    }
  }

  /// Run the fixture's 5 steps with its per-step, per-group LRs.
  template <class Optimizer>
  void run(Optimizer& optimizer, const std::string& kind) {
    for (int step = 0; step < steps; ++step) {
      load_gradients(step);
      optimizer.step(record(kind + ".lr." + std::to_string(step)));
    }
  }
};

/// max |a − b| / max |b| over a tensor and a fixture record.
template <class T>
double relative_error(const Tensor<T>& actual, const std::vector<double>& expected) {
  REQUIRE(static_cast<Index>(expected.size()) == actual.numel());
  double max_diff = 0, max_ref = 0;
  for (Index i = 0; i < actual.numel(); ++i) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>(actual[i]) - expected[i]));
    max_ref = std::max(max_ref, std::abs(expected[i]));
  }
  return max_ref == 0 ? max_diff : max_diff / max_ref;
}

/// Compare the parameters and every state tensor after the run; return the worst relative error.
template <class T, class Optimizer>
double compare_with_torch(FixtureModel<T>& model, Optimizer& optimizer, const std::string& kind) {
  double worst = 0;
  for (const auto& name : model.names) {
    const double error = relative_error(model.values.at(name), record(kind + ".final." + name));
    INFO(kind << " parameter " << name);
    worst = std::max(worst, error);
  }
  int state_tensors = 0;
  optimizer.for_each_state_tensor([&](const std::string& name, Tensor<T>& state) {
    INFO(kind << " state " << name);
    worst = std::max(worst, relative_error(state, record(kind + ".state." + name)));
    ++state_tensors;
  });
  CHECK(state_tensors == (kind == "sgd" ? 3 : 6));  // torch has exactly these state entries
  return worst;
}

SgdOptions fixture_sgd_options() {
  const auto& o = record("sgd.options");
  SgdOptions options;
  options.momentum = o[0];
  options.weight_decay = o[1];
  return options;
}

AdamWOptions fixture_adamw_options() {
  const auto& o = record("adamw.options");
  AdamWOptions options;
  options.beta1 = o[0];
  options.beta2 = o[1];
  options.epsilon = o[2];
  options.weight_decay = o[3];
  return options;
}

/// The ConfigError message `f` throws ("<no exception>" / "<other exception>" otherwise).
template <class F>
std::string config_error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (...) {
    return "<other exception>";
  }
  return "<no exception>";
}

template <class T>
std::size_t bytes_of(const std::vector<ParameterGroup<T>>& groups) {
  std::size_t bytes = 0;
  for (const auto& g : groups)
    for (const auto& p : g.parameters) bytes += p.value->bytes();
  return bytes;
}

}  // namespace

TEMPLATE_TEST_CASE("Sgd matches torch.optim.SGD over two parameter groups", "[optimizer][pytorch]", double, float) {
  MemoryMeter meter;
  FixtureModel<TestType> model(meter);
  Sgd<TestType> sgd(model.groups(), meter, fixture_sgd_options());
  model.run(sgd, "sgd");
  CHECK(sgd.step_count() == 5);
  const double error = compare_with_torch(model, sgd, "sgd");
  // Measured: 6.8e-17 in double (1.5e-16 with -march=native, where the compiler fuses into FMA),
  // 9.7e-8 in float.
  CHECK(error <= (std::is_same_v<TestType, double> ? 1e-15 : 1e-6));
}

TEMPLATE_TEST_CASE("AdamW matches torch.optim.AdamW over two parameter groups", "[optimizer][pytorch]", double,
                   float) {
  MemoryMeter meter;
  FixtureModel<TestType> model(meter);
  AdamW<TestType> adamw(model.groups(), meter, fixture_adamw_options());
  model.run(adamw, "adamw");
  CHECK(adamw.step_count() == 5);
  const double error = compare_with_torch(model, adamw, "adamw");
  // Measured: 1.9e-16 in double (with or without -march=native), 1.4e-7 in float.
  CHECK(error <= (std::is_same_v<TestType, double> ? 1e-15 : 1e-6));
}

TEST_CASE("CosineWithConstantWarmup matches torch's CosineAnnealingLR inside Dassl's warm-up", "[schedule][pytorch]") {
  // Closed form vs torch's recursive form: measured ≤ 6.5e-16 relative (a few ulps); allowed 2e-15.
  constexpr double tolerance = 2e-15;
  SECTION("base-to-new: text 2e-5 and image 5e-6, 20 epochs, one warm-up epoch at 1e-6") {
    const auto& config = record("schedule.base_to_new.config");  // max, warmup, warmup_lr, bases...
    const CosineWithConstantWarmup schedule{.base_lr = config[3],
                                            .max_epochs = static_cast<std::size_t>(config[0]),
                                            .warmup_epochs = static_cast<std::size_t>(config[1]),
                                            .warmup_lr = config[2]};
    const std::vector<double> bases{config[3], config[4]};
    const auto& text = record("schedule.base_to_new.group0");
    const auto& image = record("schedule.base_to_new.group1");
    REQUIRE(text.size() == 20);
    for (std::size_t epoch = 0; epoch < 20; ++epoch) {
      INFO("epoch " << epoch);
      const auto rates = schedule.learning_rates_at_epoch(epoch, bases);
      CHECK(std::abs(rates[0] - text[epoch]) <= tolerance * text[epoch]);
      CHECK(std::abs(rates[1] - image[epoch]) <= tolerance * image[epoch]);
      CHECK(schedule.lr_at_epoch(epoch) == rates[0]);
    }
    // The warm-up LR is absolute and shared; epoch 1 starts the cosine at each group's own base.
    CHECK(schedule.learning_rates_at_epoch(0, bases) == std::vector<double>{1e-6, 1e-6});
    CHECK(schedule.learning_rates_at_epoch(1, bases) == std::vector<double>{2e-5, 5e-6});
  }
  SECTION("few-shot: 1e-5, 40 epochs, no warm-up") {
    const CosineWithConstantWarmup schedule{.base_lr = 1e-5, .max_epochs = 40};
    const auto& expected = record("schedule.few_shot.group0");
    REQUIRE(expected.size() == 40);
    for (std::size_t epoch = 0; epoch < 40; ++epoch) {
      INFO("epoch " << epoch);
      CHECK(std::abs(schedule.lr_at_epoch(epoch) - expected[epoch]) <= tolerance * expected[epoch]);
    }
  }
  SECTION("constant") {
    const ConstantLr constant{.learning_rate = 3e-4};
    CHECK(constant.lr_at_epoch(7) == 3e-4);
    CHECK(constant.learning_rates_at_epoch(7, {1e-3, 2e-3}) == std::vector<double>{1e-3, 2e-3});
  }
}

TEST_CASE("optimizer state is allocated once, exactly as the memory planner counts it", "[optimizer][memory]") {
  MemoryMeter meter;
  FixtureModel<float> model(meter);
  const std::size_t parameter_bytes = bytes_of(model.groups());  // 13 floats
  REQUIRE(parameter_bytes == 13 * sizeof(float));
  REQUIRE(meter.current()[MemoryCategory::optimizer_state] == 0);

  auto state_count = [](auto& optimizer) {
    int count = 0;
    optimizer.for_each_state_tensor([&](const std::string&, Tensor<float>&) { ++count; });
    return count;
  };

  SECTION("SGD with momentum: one tensor per parameter") {
    Sgd<float> sgd(model.groups(), meter, SgdOptions{.learning_rate = 0.1, .momentum = 0.9});
    CHECK(meter.current()[MemoryCategory::optimizer_state] == parameter_bytes);
    CHECK(state_count(sgd) == 3);
    const auto allocations = meter.allocation_count();
    sgd.step();
    CHECK(meter.allocation_count() == allocations);  // step() allocates nothing
  }
  SECTION("SGD without momentum: no state") {
    Sgd<float> sgd(model.groups(), meter, SgdOptions{.learning_rate = 0.1, .momentum = 0});
    CHECK(meter.current()[MemoryCategory::optimizer_state] == 0);
    CHECK(state_count(sgd) == 0);
  }
  SECTION("AdamW: two tensors per parameter") {
    AdamW<float> adamw(model.groups(), meter);
    CHECK(meter.current()[MemoryCategory::optimizer_state] == 2 * parameter_bytes);
    CHECK(state_count(adamw) == 6);
    const auto allocations = meter.allocation_count();
    adamw.step();
    CHECK(meter.allocation_count() == allocations);
  }
  // Every section's optimizer is gone: its state is returned to the meter.
  CHECK(meter.current()[MemoryCategory::optimizer_state] == 0);
}

TEST_CASE("each parameter group trains at its own learning rate", "[optimizer]") {
  MemoryMeter meter;
  FixtureModel<double> model(meter);
  model.load_gradients(0);
  const std::vector<double> image_before(model.values["image.weight"].data(),
                                         model.values["image.weight"].data() + 4);
  const double text_before = model.values["text.weight"][0];

  SECTION("SGD: LR 0 leaves a group bit-identical, the other moves") {
    Sgd<double> sgd(model.groups(), meter);
    sgd.step({0.5, 0.0});
    CHECK(std::memcmp(model.values["image.weight"].data(), image_before.data(), 4 * sizeof(double)) == 0);
    CHECK(model.values["text.weight"][0] != text_before);
  }
  SECTION("AdamW: LR 0 leaves a group bit-identical, the other moves") {
    AdamW<double> adamw(model.groups(), meter);
    adamw.step({1e-3, 0.0});
    CHECK(std::memcmp(model.values["image.weight"].data(), image_before.data(), 4 * sizeof(double)) == 0);
    CHECK(model.values["text.weight"][0] != text_before);
  }
  SECTION("a group's own base LR overrides the options'; step() uses the base LRs") {
    auto groups = model.groups();
    groups[1].learning_rate = 0.25;
    Sgd<double> sgd(std::move(groups), meter, SgdOptions{.learning_rate = 0.5, .momentum = 0, .weight_decay = 0});
    CHECK(sgd.base_learning_rates() == std::vector<double>{0.5, 0.25});
    sgd.step();
    const auto& g = model.gradients["image.weight"];
    for (Index i = 0; i < 4; ++i) CHECK(model.values["image.weight"][i] == image_before[i] - 0.25 * g[i]);
    CHECK(model.values["text.weight"][0] == text_before - 0.5 * model.gradients["text.weight"][0]);
  }
  SECTION("a group's own weight decay overrides the options'") {
    model.gradients["image.weight"].fill(0);
    model.gradients["text.weight"].fill(0);
    auto groups = model.groups();
    groups[1].weight_decay = 0.0;  // e.g. biases and LayerNorm
    AdamW<double> adamw(std::move(groups), meter, AdamWOptions{.learning_rate = 0.1, .weight_decay = 0.5});
    adamw.step();
    // Zero gradient: the image group (wd 0) does not move; the text group only decays.
    CHECK(std::memcmp(model.values["image.weight"].data(), image_before.data(), 4 * sizeof(double)) == 0);
    CHECK(model.values["text.weight"][0] == text_before * (1 - 0.1 * 0.5));
  }
}

TEST_CASE("restoring the optimizer state and step count continues a run exactly", "[optimizer][checkpoint]") {
  // Uninterrupted: 5 steps. Interrupted: 2 steps, copy state out, fresh optimizer, copy state in, 3 steps.
  MemoryMeter meter;
  FixtureModel<double> uninterrupted(meter), resumed(meter);
  AdamW<double> reference(uninterrupted.groups(), meter, fixture_adamw_options());
  uninterrupted.run(reference, "adamw");

  std::map<std::string, std::vector<double>> saved;
  std::size_t saved_steps = 0;
  {
    AdamW<double> first(resumed.groups(), meter, fixture_adamw_options());
    for (int step = 0; step < 2; ++step) {
      resumed.load_gradients(step);
      first.step(record("adamw.lr." + std::to_string(step)));
    }
    first.for_each_state_tensor([&](const std::string& name, Tensor<double>& state) {
      saved[name].assign(state.data(), state.data() + state.numel());
    });
    saved_steps = first.step_count();
  }
  AdamW<double> second(resumed.groups(), meter, fixture_adamw_options());
  second.for_each_state_tensor([&](const std::string& name, Tensor<double>& state) {
    REQUIRE(saved.count(name) == 1);
    std::memcpy(state.data(), saved[name].data(), state.bytes());
  });
  second.set_step_count(saved_steps);
  for (int step = 2; step < 5; ++step) {
    resumed.load_gradients(step);
    second.step(record("adamw.lr." + std::to_string(step)));
  }
  for (const auto& name : resumed.names)
    CHECK(std::memcmp(resumed.values[name].data(), uninterrupted.values[name].data(),
                      resumed.values[name].bytes()) == 0);
}

TEST_CASE("the threaded update equals the single-threaded one bit for bit", "[optimizer][threads]") {
  // One tensor above the parallel grain vs the same numbers as small tensors (serial path).
  constexpr Index big = 40000, chunk = 1000;
  static_assert(big > skiptune::detail::parallel_grain && chunk < skiptune::detail::parallel_grain);
#ifdef _OPENMP
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(2);
#endif
  MemoryMeter meter;
  auto value_at = [](Index i) { return std::sin(0.001 * static_cast<double>(i)); };
  auto gradient_at = [](Index i) { return std::cos(0.0007 * static_cast<double>(i * i % 9973)); };

  auto run = [&](auto make_optimizer) {
    Tensor<float> whole({big}, meter, MemoryCategory::weights), whole_grad({big}, meter, MemoryCategory::gradients);
    std::vector<Tensor<float>> parts, part_grads;
    for (Index i = 0; i < big; ++i) {
      whole[i] = static_cast<float>(value_at(i));
      whole_grad[i] = static_cast<float>(gradient_at(i));
    }
    for (Index c = 0; c < big / chunk; ++c) {
      parts.emplace_back(Shape{chunk}, meter, MemoryCategory::weights);
      part_grads.emplace_back(Shape{chunk}, meter, MemoryCategory::gradients);
      std::memcpy(parts.back().data(), whole.data() + c * chunk, chunk * sizeof(float));
      std::memcpy(part_grads.back().data(), whole_grad.data() + c * chunk, chunk * sizeof(float));
    }
    std::vector<ParameterGroup<float>> threaded(1), serial(1);
    threaded[0].parameters = {{"whole", &whole, &whole_grad}};
    for (Index c = 0; c < big / chunk; ++c)
      serial[0].parameters.push_back({"part" + std::to_string(c), &parts[c], &part_grads[c]});
    auto a = make_optimizer(std::move(threaded));
    auto b = make_optimizer(std::move(serial));
    for (int step = 0; step < 3; ++step) {
      a.step({1e-2});
      b.step({1e-2});
    }
    for (Index c = 0; c < big / chunk; ++c)
      REQUIRE(std::memcmp(parts[c].data(), whole.data() + c * chunk, chunk * sizeof(float)) == 0);
  };
  run([&](std::vector<ParameterGroup<float>> g) { return Sgd<float>(std::move(g), meter); });
  run([&](std::vector<ParameterGroup<float>> g) { return AdamW<float>(std::move(g), meter); });
#ifdef _OPENMP
  omp_set_num_threads(threads_before);
#endif
}

TEST_CASE("a NaN gradient does not crash: it propagates, and only into its own element", "[optimizer][nan]") {
  // By design the optimizers do not scan gradients; the trainer's loss check (NumericError on a
  // NaN/Inf loss) is the guard. This pins down the behaviour: same as torch.
  MemoryMeter meter;
  FixtureModel<float> model(meter);
  model.load_gradients(0);
  model.gradients["text.bias"][1] = std::numeric_limits<float>::quiet_NaN();
  SECTION("SGD") {
    Sgd<float> sgd(model.groups(), meter);
    REQUIRE_NOTHROW(sgd.step({0.1, 0.1}));
  }
  SECTION("AdamW") {
    AdamW<float> adamw(model.groups(), meter);
    REQUIRE_NOTHROW(adamw.step({0.1, 0.1}));
  }
  CHECK(std::isnan(model.values["text.bias"][1]));
  CHECK(std::isfinite(model.values["text.bias"][0]));
  CHECK(std::isfinite(model.values["text.bias"][2]));
  CHECK(std::isfinite(model.values["image.weight"][0]));
}

TEST_CASE("invalid options and groups throw errors that name the bad value", "[optimizer][schedule][errors]") {
  MemoryMeter meter;
  FixtureModel<float> model(meter);
  using Catch::Contains;

  SECTION("SGD options") {
    CHECK_THAT(config_error_of([&] { (void)Sgd<float>(model.groups(), meter, SgdOptions{.learning_rate = -0.25}); }),
               Contains("learning rate") && Contains("-0.25"));
    CHECK_THAT(config_error_of([&] { (void)Sgd<float>(model.groups(), meter, SgdOptions{.momentum = 1}); }),
               Contains("momentum") && Contains("got 1"));
    CHECK_THAT(config_error_of([&] { (void)Sgd<float>(model.groups(), meter, SgdOptions{.momentum = -0.5}); }),
               Contains("momentum") && Contains("-0.5"));
    CHECK_THAT(config_error_of([&] { (void)Sgd<float>(model.groups(), meter, SgdOptions{.weight_decay = -0.001}); }),
               Contains("weight decay") && Contains("-0.001"));
  }
  SECTION("AdamW options") {
    auto adamw = [&](AdamWOptions o) { return config_error_of([&] { (void)AdamW<float>(model.groups(), meter, o); }); };
    CHECK_THAT(adamw({.learning_rate = -3}), Contains("learning rate") && Contains("-3"));
    CHECK_THAT(adamw({.beta1 = 1.0}), Contains("beta1") && Contains("got 1"));
    CHECK_THAT(adamw({.beta2 = -0.125}), Contains("beta2") && Contains("-0.125"));
    CHECK_THAT(adamw({.epsilon = 0}), Contains("epsilon") && Contains("got 0"));
    CHECK_THAT(adamw({.weight_decay = -2.5}), Contains("weight decay") && Contains("-2.5"));
    CHECK_THAT(adamw({.learning_rate = std::numeric_limits<double>::quiet_NaN()}),
               Contains("learning rate") && Contains("nan"));
    CHECK(meter.current()[MemoryCategory::optimizer_state] == 0);  // nothing allocated before the check
  }
  SECTION("groups") {
    auto groups = model.groups();
    groups[1].learning_rate = -0.75;
    CHECK_THAT(config_error_of([&] { (void)Sgd<float>(groups, meter); }), Contains("'image'") && Contains("-0.75"));
    groups = model.groups();
    groups[0].weight_decay = -4.0;
    CHECK_THAT(config_error_of([&] { (void)AdamW<float>(groups, meter); }), Contains("'text'") && Contains("-4"));
    groups = model.groups();
    groups[0].parameters[1].gradient = nullptr;
    CHECK_THAT(config_error_of([&] { (void)Sgd<float>(groups, meter); }), Contains("text.bias") && Contains("frozen"));
    groups = model.groups();
    groups[1].parameters.push_back(groups[0].parameters[0]);
    CHECK_THAT(config_error_of([&] { (void)AdamW<float>(groups, meter); }), Contains("text.weight") && Contains("more than once"));
    groups = model.groups();
    groups[1].parameters[0].name = "text.bias";
    CHECK_THAT(config_error_of([&] { (void)AdamW<float>(groups, meter); }), Contains("text.bias"));
    CHECK_THAT(config_error_of([&] { (void)Sgd<float>({}, meter); }), Contains("at least one parameter group"));
    groups = model.groups();
    groups[1].parameters[0].gradient = &model.gradients["text.bias"];
    CHECK_THROWS_AS(Sgd<float>(groups, meter), ShapeError);
  }
  SECTION("step learning rates") {
    Sgd<float> sgd(model.groups(), meter);
    CHECK_THAT(config_error_of([&] { sgd.step({0.1}); }), Contains("1 learning rates for 2"));
    CHECK_THAT(config_error_of([&] { sgd.step({0.1, -0.5}); }), Contains("'image'") && Contains("-0.5"));
    AdamW<float> adamw(model.groups(), meter);
    CHECK_THAT(config_error_of([&] { adamw.step({std::numeric_limits<double>::infinity(), 0.1}); }),
               Contains("'text'") && Contains("inf"));
    CHECK(sgd.step_count() == 0);
    CHECK(adamw.step_count() == 0);
  }
  SECTION("schedules") {
    auto cosine = [](CosineWithConstantWarmup s) { return config_error_of([&] { (void)s.lr_at_epoch(0); }); };
    CHECK_THAT(cosine({.base_lr = -1e-5, .max_epochs = 10}), Contains("base learning rate") && Contains("-1e-05"));
    CHECK_THAT(cosine({.base_lr = 1e-5, .max_epochs = 0}), Contains("max_epochs") && Contains("got 0"));
    CHECK_THAT(cosine({.base_lr = 1e-5, .max_epochs = 4, .warmup_epochs = 5}),
               Contains("warmup_epochs") && Contains("got 5"));
    CHECK_THAT(cosine({.base_lr = 1e-5, .max_epochs = 4, .warmup_epochs = 1, .warmup_lr = -1e-6}),
               Contains("warm-up") && Contains("-1e-06"));
    CHECK_THAT(config_error_of([] { (void)ConstantLr{.learning_rate = -7}.lr_at_epoch(0); }), Contains("-7"));
    const CosineWithConstantWarmup schedule{.base_lr = 1e-5, .max_epochs = 4};
    CHECK_THAT(config_error_of([&] { (void)schedule.learning_rates_at_epoch(0, {1e-5, -2e-5}); }),
               Contains("-2e-05"));
    CHECK_THROWS_AS(schedule.lr_at_epoch(4), InputError);  // past the last epoch
    CHECK_NOTHROW(CosineWithConstantWarmup{.base_lr = 1e-5, .max_epochs = 4, .warmup_epochs = 4}.lr_at_epoch(3));
  }
}
