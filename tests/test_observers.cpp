// Observers for FineTuner::fit, driven with synthetic events: hook detection (what matches, what
// is declared-but-wrong), the notify_* helpers, CsvLog / JsonLog content and atomicity,
// EarlyStop for both monitors, and ProgressBar's line mode. The compile error for a mis-typed
// hook is checked separately by tests/compile_fail/observer_bad_signature.cpp.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "skiptune/io/json.hpp"
#include "skiptune/train/observers.hpp"

using namespace skiptune;
namespace fs = std::filesystem;

namespace {

// --- observer shapes for the hook detection ---------------------------------------------------

struct NoHooks {};
struct VoidStep {
  void on_step_end(const StepEnd&) {}
};
struct BoolEpoch {
  bool on_epoch_end(const EpochEnd&) { return true; }
};
struct ByValue {
  void on_step_end(StepEnd) {}
};
struct Generic {
  template <class Event>
  void on_step_end(const Event&) {}
};
struct ConstHook {
  void on_step_end(const StepEnd&) const {}
};
struct Overloaded {
  void on_step_end(const StepEnd&) {}
  void on_step_end(int) {}
};
struct Final final {
  void on_fit_end(const FitEnd&) {}
};
struct Inherited : VoidStep {};

// Declared but not matching: each must be found by name and rejected by the call check.
struct WrongEvent {
  void on_step_end(const EpochEnd&) {}
};
struct WrongInt {
  void on_step_end(int) {}
};
struct NonConstReference {
  void on_epoch_end(EpochEnd&) {}
};
class PrivateHook {
  void on_step_end(const StepEnd&) {}
};
struct DataMember {
  int on_fit_begin = 0;
};
struct IntReturn {
  int on_epoch_end(const EpochEnd&) { return 1; }
};
struct BoolFitEnd {
  bool on_fit_end(const FitEnd&) { return true; }
};

using namespace skiptune::observer_detail;

static_assert(!declares_on_step_end<NoHooks> && !can_call_on_step_end<NoHooks>);
static_assert(ObservesStepEnd<VoidStep> && declares_on_step_end<VoidStep>);
static_assert(ObservesEpochEnd<BoolEpoch>);
static_assert(ObservesStepEnd<ByValue>);
static_assert(ObservesStepEnd<Generic> && declares_on_step_end<Generic>);
static_assert(ObservesStepEnd<ConstHook> && ObservesStepEnd<const ConstHook>);
static_assert(ObservesStepEnd<Overloaded> && declares_on_step_end<Overloaded>);
static_assert(ObservesFitEnd<Final> && declares_on_fit_end<Final> && !declares_on_step_end<Final>);
static_assert(ObservesStepEnd<Inherited> && declares_on_step_end<Inherited>);
static_assert(check_observer<VoidStep>() && check_observer<Generic>() && check_observer<const ConstHook>() &&
              check_observer<Overloaded>() && check_observer<Final>() && check_observer<Inherited>());

// The name is seen, the call is not: check_observer<...>() would static_assert on each of these.
static_assert(declares_on_step_end<WrongEvent> && !can_call_on_step_end<WrongEvent>);
static_assert(declares_on_step_end<WrongInt> && !can_call_on_step_end<WrongInt>);
static_assert(declares_on_epoch_end<NonConstReference> && !can_call_on_epoch_end<NonConstReference>);
static_assert(declares_on_step_end<PrivateHook> && !can_call_on_step_end<PrivateHook>);
static_assert(declares_on_fit_begin<DataMember> && !can_call_on_fit_begin<DataMember>);
static_assert(declares_on_step_end<const VoidStep> &&
              !can_call_on_step_end<const VoidStep>);  // non-const hook
static_assert(can_call_on_epoch_end<IntReturn> && !ObservesEpochEnd<IntReturn>);
static_assert(can_call_on_fit_end<BoolFitEnd> && !ObservesFitEnd<BoolFitEnd>);

// The standard observers provide what they document.
static_assert(ObservesFitBegin<ProgressBar> && ObservesStepEnd<ProgressBar> &&
              ObservesEpochEnd<ProgressBar> && ObservesFitEnd<ProgressBar>);
static_assert(ObservesStepEnd<CsvLog> && ObservesEpochEnd<CsvLog> && ObservesFitEnd<CsvLog>);
static_assert(ObservesStepEnd<JsonLog> && ObservesEpochEnd<JsonLog> && ObservesFitEnd<JsonLog>);
static_assert(ObservesEpochEnd<EarlyStop> && !ObservesStepEnd<EarlyStop> && ExplainsStop<EarlyStop>);

// --- synthetic events ---------------------------------------------------------------------

StepEnd make_step(std::size_t epoch, std::size_t epochs, std::size_t step, std::size_t steps, double loss) {
  StepEnd event;
  event.epoch = epoch;
  event.epochs = epochs;
  event.step_in_epoch = step;
  event.steps_per_epoch = steps;
  event.global_step = epoch * steps + step;
  event.loss = loss;
  event.learning_rate = 0.001;
  event.seconds = 1.0;
  event.peak_bytes = 3 * 1024 * 1024;
  event.kept_classes = 5;
  return event;
}

EpochEnd make_epoch(std::size_t epoch, std::size_t epochs, double mean_loss,
                    std::optional<double> accuracy = {}) {
  EpochEnd event;
  event.epoch = epoch;
  event.epochs = epochs;
  event.mean_loss = mean_loss;
  event.seconds = 8.0;
  event.accuracy = accuracy;
  event.peak_bytes = 3 * 1024 * 1024;
  return event;
}

/// Records the order in which hooks were called, and answers `keep_going`.
struct Recorder {
  std::vector<std::string>* calls;
  std::string name;
  bool keep_going = true;
  void on_fit_begin(const FitBegin&) { calls->push_back(name + ":fit_begin"); }
  bool on_step_end(const StepEnd&) {
    calls->push_back(name + ":step");
    return keep_going;
  }
  bool on_epoch_end(const EpochEnd&) {
    calls->push_back(name + ":epoch");
    return keep_going;
  }
  void on_fit_end(const FitEnd&) { calls->push_back(name + ":fit_end"); }
  std::string stop_reason() const { return keep_going ? "" : name + " wants out"; }
};

struct OnlyFitEnd {
  int seen = 0;
  void on_fit_end(const FitEnd&) { ++seen; }
};

/// A fresh, empty directory under the system temporary directory.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("skiptune_test_observers_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  [[nodiscard]] std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(path)) names.insert(entry.path().filename().string());
    return names;
  }
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

FitBegin make_fit_begin() {
  FitBegin event;
  event.epochs = 2;
  event.steps_per_epoch = 3;
  event.trained_parameters = 1234;
  event.planned_peak_bytes = 4096;
  event.description = "SkipTuning(omega=6, rho=0.5) on 83 classes";
  return event;
}

}  // namespace

TEST_CASE("notify helpers call every observer in order and report a stop request", "[observers]") {
  std::vector<std::string> calls;
  Recorder first{&calls, "a"};
  Recorder second{&calls, "b"};
  OnlyFitEnd quiet;

  notify_fit_begin(make_fit_begin(), first, quiet, second);
  CHECK(notify_step_end(make_step(0, 1, 0, 2, 1.0), first, quiet, second));
  second.keep_going = false;
  // `second` asks to stop; `first` was still told, and is told first.
  CHECK_FALSE(notify_step_end(make_step(0, 1, 1, 2, 1.0), first, quiet, second));
  // A stop request from the first observer does not keep the later ones from hearing about it.
  first.keep_going = false;
  second.keep_going = true;
  CHECK_FALSE(notify_epoch_end(make_epoch(0, 1, 1.0), first, quiet, second));
  CHECK(stop_reasons(first, quiet, second) == "a wants out");
  second.keep_going = false;
  CHECK(stop_reasons(first, quiet, second) == "a wants out; b wants out");
  notify_fit_end(FitEnd{}, first, quiet, second);

  const std::vector<std::string> expected{"a:fit_begin", "b:fit_begin", "a:step",  "b:step",    "a:step",
                                          "b:step",      "a:epoch",     "b:epoch", "a:fit_end", "b:fit_end"};
  CHECK(calls == expected);
  CHECK(quiet.seen == 1);

  // No observers at all: nothing to stop.
  CHECK(notify_step_end(make_step(0, 1, 0, 1, 1.0)));
  CHECK(notify_epoch_end(make_epoch(0, 1, 1.0)));

  // Void hooks never stop; const observers with const hooks are called.
  VoidStep plain;
  const ConstHook constant;
  CHECK(notify_step_end(make_step(0, 1, 0, 1, 1.0), plain, constant));
  BoolEpoch agreeable;
  CHECK(notify_epoch_end(make_epoch(0, 1, 1.0), agreeable));
}

TEST_CASE("CsvLog writes one row per step and per epoch, rewriting only at boundaries", "[observers][csv]") {
  TempDir dir("csv");
  const fs::path path = dir.path / "log.csv";
  CsvLog log(path);
  CHECK(log.path() == path);

  log.on_fit_begin(make_fit_begin());
  CHECK(read_file(path) == CsvLog::header);  // created at once: a bad path fails before training

  StepEnd step = make_step(0, 2, 0, 3, 0.1);
  log.on_step_end(step);
  step = make_step(0, 2, 1, 3, std::numeric_limits<double>::quiet_NaN());
  log.on_step_end(step);
  step = make_step(0, 2, 2, 3, -std::numeric_limits<double>::infinity());
  step.learning_rate = 1.0 / 3.0;
  log.on_step_end(step);
  CHECK(read_file(path) == CsvLog::header);  // steps alone never touch the file

  log.on_epoch_end(make_epoch(0, 2, 2.5, 0.75));
  const std::string after_first_epoch = std::string(CsvLog::header) +
                                        "step,0,0,0,0.1,0.001,1,3145728,5,\n"
                                        "step,0,1,1,nan,0.001,1,3145728,5,\n"
                                        "step,0,2,2,-inf,0.3333333333333333,1,3145728,5,\n"
                                        "epoch,0,,2,2.5,,8,3145728,,0.75\n";
  CHECK(read_file(path) == after_first_epoch);

  // A stop in the middle of epoch 1: the file keeps the last complete epoch until fit end.
  log.on_step_end(make_step(1, 2, 0, 3, 0.5));
  CHECK(read_file(path) == after_first_epoch);
  log.on_fit_end(FitEnd{1, 9.0, true, "test"});
  CHECK(read_file(path) == after_first_epoch + "step,1,0,3,0.5,0.001,1,3145728,5,\n");

  // An epoch without evaluation has an empty accuracy cell.
  log.on_epoch_end(make_epoch(1, 2, 0.25));
  const std::string text = read_file(path);
  CHECK(text.substr(text.size() - std::string("epoch,1,,3,0.25,,8,3145728,,\n").size()) ==
        "epoch,1,,3,0.25,,8,3145728,,\n");

  // Every row has the header's number of columns.
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) CHECK(std::count(line.begin(), line.end(), ',') == 9);

  // No temporary files left behind.
  CHECK(dir.entries() == std::set<std::string>{"log.csv"});

  // A second fit with the same observer starts a fresh file.
  log.on_fit_begin(make_fit_begin());
  CHECK(read_file(path) == CsvLog::header);
}

TEST_CASE("CsvLog and JsonLog report unwritable paths as IoError naming the path", "[observers][io]") {
  TempDir dir("unwritable");
  const fs::path missing_directory = dir.path / "no_such_directory" / "log.csv";
  CsvLog csv(missing_directory);
  try {
    csv.on_fit_begin(make_fit_begin());
    FAIL("expected IoError");
  } catch (const IoError& error) {
    CHECK_THAT(error.what(), Catch::Contains(missing_directory.string()));
  }

  // The target is a directory: the temporary file is written, the rename fails, and the
  // temporary file must be removed again.
  const fs::path directory_target = dir.path / "log.json";
  fs::create_directory(directory_target);
  JsonLog json(directory_target);
  try {
    json.on_fit_begin(make_fit_begin());
    FAIL("expected IoError");
  } catch (const IoError& error) {
    CHECK_THAT(error.what(), Catch::Contains(directory_target.string()));
  }
  CHECK(dir.entries() == std::set<std::string>{"log.json"});

  CHECK_THROWS_AS(CsvLog(dir.path / "").write(), IoError);  // a directory name, not a file
}

TEST_CASE("JsonLog writes valid JSON with exact numbers, null for NaN/Inf and escaped strings",
          "[observers][json]") {
  TempDir dir("json");
  const fs::path path = dir.path / "log.json";
  JsonLog log(path);

  FitBegin begin = make_fit_begin();
  begin.description =
      std::string("quote \" backslash \\ newline \n tab \t bell \x01 caf\xc3\xa9 bad \xff end");
  log.on_fit_begin(begin);
  {
    const io::JsonValue document = io::parse_json(read_file(path));
    CHECK(document.at("fit").at("description").as_string() ==
          "quote \" backslash \\ newline \n tab \t bell \x01 caf\xc3\xa9 bad \xef\xbf\xbd end");
    CHECK(document.at("fit").at("trained_parameters").as_number().as_double() == 1234);
    CHECK(document.at("steps").as_array().empty());
    CHECK(document.at("epochs").as_array().empty());
    CHECK(document.at("end").is_null());
  }

  StepEnd step = make_step(0, 2, 0, 2, 1.0 / 3.0);
  step.learning_rate = 0.1;
  log.on_step_end(step);
  log.on_step_end(make_step(0, 2, 1, 2, std::numeric_limits<double>::infinity()));
  const std::string before_epoch = read_file(path);
  log.on_step_end(make_step(0, 2, 1, 2, 1.0));
  CHECK(read_file(path) == before_epoch);  // only epoch boundaries rewrite the file

  EpochEnd epoch = make_epoch(0, 2, std::numeric_limits<double>::quiet_NaN());
  log.on_epoch_end(epoch);
  {
    const std::string text = read_file(path);
    CHECK(text.find("\"learning_rate\": 0.1,") != std::string::npos);  // shortest round trip
    const io::JsonValue document = io::parse_json(text);
    const auto& steps = document.at("steps").as_array();
    REQUIRE(steps.size() == 3);
    CHECK(steps[0].at("loss").as_number().as_double() == 1.0 / 3.0);  // bit-exact
    CHECK(steps[0].at("kept_classes").as_number().as_double() == 5);
    CHECK(steps[1].at("loss").is_null());  // +Inf
    const auto& epochs = document.at("epochs").as_array();
    REQUIRE(epochs.size() == 1);
    CHECK(epochs[0].at("mean_loss").is_null());  // NaN
    CHECK(epochs[0].at("accuracy").is_null());   // not evaluated
    CHECK(epochs[0].at("peak_bytes").as_number().as_double() == 3 * 1024 * 1024);
    CHECK(document.at("end").is_null());
  }

  log.on_epoch_end(make_epoch(1, 2, 0.5, 0.875));
  log.on_fit_end(FitEnd{2, 16.5, false, ""});
  {
    const io::JsonValue document = io::parse_json(read_file(path));
    CHECK(document.at("epochs").as_array()[1].at("accuracy").as_number().as_double() == 0.875);
    const io::JsonValue& end = document.at("end");
    CHECK(end.at("epochs_run").as_number().as_double() == 2);
    CHECK(end.at("seconds").as_number().as_double() == 16.5);
    CHECK(end.at("stopped_early").as_bool() == false);
    CHECK(end.at("stop_reason").as_string().empty());
  }
  CHECK(dir.entries() == std::set<std::string>{"log.json"});

  // Without on_fit_begin, "fit" is null and the document is still valid.
  JsonLog bare(dir.path / "bare.json");
  bare.write();
  CHECK(io::parse_json(read_file(dir.path / "bare.json")).at("fit").is_null());
}

TEST_CASE("JSON strings: every control character escaped, invalid UTF-8 replaced", "[observers][json]") {
  std::string all_controls;
  for (int c = 0; c < 0x20; ++c) all_controls += static_cast<char>(c);
  std::string literal;
  observer_detail::append_json_string(literal, all_controls);
  for (char c : literal) CHECK(static_cast<unsigned char>(c) >= 0x20);
  CHECK(io::parse_json(literal).as_string() == all_controls);

  // Overlong '/', a UTF-16 surrogate, beyond U+10FFFF, a truncated sequence, a lone continuation.
  literal.clear();
  observer_detail::append_json_string(
      literal, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82|\x80|\xf0\x9f\x98\x80");
  const std::string decoded = io::parse_json(literal).as_string();
  CHECK(decoded.find('\xc0') == std::string::npos);
  CHECK(decoded.substr(decoded.size() - 4) == "\xf0\x9f\x98\x80");  // valid 4-byte sequence kept
}

TEST_CASE("EarlyStop on mean loss: patience, min_delta and the stop reason", "[observers][early_stop]") {
  EarlyStop stop{.patience = 2, .min_delta = 0.1};
  stop.on_fit_begin(make_fit_begin());
  CHECK(stop.on_epoch_end(make_epoch(0, 10, 1.0)));   // first value is the best
  CHECK(stop.on_epoch_end(make_epoch(1, 10, 0.8)));   // improved by 0.2 > 0.1
  CHECK(stop.on_epoch_end(make_epoch(2, 10, 0.75)));  // 0.05: not enough, 1 epoch stale
  CHECK(stop.stop_reason().empty());
  CHECK_FALSE(stop.on_epoch_end(make_epoch(3, 10, 0.71)));  // 2 epochs stale
  CHECK(stop.progress.best == 0.8);
  CHECK(stop.progress.best_epoch == 1);
  CHECK_THAT(stop.stop_reason(), Catch::Contains("epoch 4/10") && Catch::Contains("mean loss") &&
                                     Catch::Contains("2 epochs") && Catch::Contains("best 0.8 at epoch 2"));
  CHECK(stop_reasons(stop) == stop.stop_reason());

  // on_fit_begin resets.
  stop.on_fit_begin(make_fit_begin());
  CHECK(stop.stop_reason().empty());
  CHECK_FALSE(stop.progress.best.has_value());

  // min_delta 0: equal is not an improvement; patience 0 stops at the first stale epoch.
  EarlyStop eager{.patience = 0};
  CHECK(eager.on_epoch_end(make_epoch(0, 5, 1.0)));
  CHECK(eager.on_epoch_end(make_epoch(1, 5, 0.9)));
  CHECK_FALSE(eager.on_epoch_end(make_epoch(2, 5, 0.9)));

  // NaN never improves and never becomes the best.
  EarlyStop nan_watch{.patience = 2};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(nan_watch.on_epoch_end(make_epoch(0, 5, nan)));  // 1 epoch without a best
  CHECK_FALSE(nan_watch.on_epoch_end(make_epoch(1, 5, nan)));
  CHECK_FALSE(nan_watch.progress.best.has_value());

  EarlyStop negative{.patience = 1, .min_delta = -1};
  CHECK_THROWS_AS(negative.on_fit_begin(make_fit_begin()), ConfigError);
}

TEST_CASE("EarlyStop on accuracy: higher is better, unevaluated epochs decide nothing",
          "[observers][early_stop]") {
  EarlyStop stop{.patience = 3, .min_delta = 0.01, .monitor = EarlyStop::Monitor::accuracy};
  stop.on_fit_begin(make_fit_begin());
  CHECK(stop.on_epoch_end(make_epoch(0, 20, 5.0, 0.50)));
  CHECK(stop.on_epoch_end(make_epoch(1, 20, 0.1)));              // not evaluated: loss is ignored
  CHECK(stop.on_epoch_end(make_epoch(2, 20, 9.0, 0.60)));        // better
  CHECK(stop.on_epoch_end(make_epoch(3, 20, 9.0)));              // not evaluated
  CHECK(stop.on_epoch_end(make_epoch(4, 20, 9.0, 0.605)));       // +0.005 < min_delta: 2 epochs stale
  CHECK(stop.on_epoch_end(make_epoch(5, 20, 9.0)));              // not evaluated: cannot decide
  CHECK_FALSE(stop.on_epoch_end(make_epoch(6, 20, 9.0, 0.59)));  // 4 epochs since epoch 2 >= 3
  CHECK(stop.progress.best == 0.60);
  CHECK(stop.progress.best_epoch == 2);
  CHECK_THAT(stop.stop_reason(), Catch::Contains("accuracy") && Catch::Contains("4 epochs"));

  // The trainer uses the helpers: EarlyStop's false reaches notify_epoch_end's caller.
  EarlyStop impatient{.patience = 0, .monitor = EarlyStop::Monitor::accuracy};
  CHECK(notify_epoch_end(make_epoch(0, 3, 1.0, 0.5), impatient));
  CHECK_FALSE(notify_epoch_end(make_epoch(1, 3, 1.0, 0.4), impatient));
}

TEST_CASE(
    "ProgressBar in line mode prints every N% of an epoch, a summary per epoch, and no carriage returns",
    "[observers][progress]") {
  std::ostringstream out;
  ProgressBar bar(out, {.line_every_percent = 25});
  CHECK_FALSE(bar.in_place());  // a string stream is not a terminal

  FitBegin begin = make_fit_begin();
  begin.epochs = 2;
  begin.steps_per_epoch = 8;
  bar.on_fit_begin(begin);
  for (std::size_t epoch = 0; epoch < 2; ++epoch) {
    for (std::size_t step = 0; step < 8; ++step) bar.on_step_end(make_step(epoch, 2, step, 8, 1.0 + step));
    bar.on_epoch_end(make_epoch(epoch, 2, 4.5, epoch == 1 ? std::optional<double>(0.8125) : std::nullopt));
  }
  bar.on_fit_end(FitEnd{2, 16.0, true, "early stop after epoch 2/2"});

  const std::string text = out.str();
  CHECK(text.find('\r') == std::string::npos);
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  // Header, 3 progress lines (steps 2, 4, 6 — step 8 is the summary's) + summary per epoch, end.
  REQUIRE(lines.size() == 1 + 2 * 4 + 1);
  CHECK_THAT(lines[0], Catch::Contains("SkipTuning(omega=6, rho=0.5) on 83 classes") &&
                           Catch::Contains("2 epochs x 8 steps") &&
                           Catch::Contains("1234 trained parameters") &&
                           Catch::Contains("planned peak 4.00 KiB"));
  // Step 2 of 16: mean loss of 1 and 2, 1 s per step, 14 steps to go.
  CHECK(lines[1] == "epoch 1/2 step 2/8 | loss 1.5 lr 0.001 | 1.0s/step ETA 14.0s | peak 3.00 MiB");
  CHECK_THAT(lines[3], Catch::StartsWith("epoch 1/2 step 6/8 | loss 3.5"));
  CHECK(lines[4] == "epoch 1/2 done | mean loss 4.5 | 8.0s | peak 3.00 MiB");
  CHECK_THAT(lines[5], Catch::StartsWith("epoch 2/2 step 2/8 | loss 1.5"));
  CHECK_THAT(lines[5], Catch::Contains("ETA 6.0s"));
  CHECK(lines[8] == "epoch 2/2 done | mean loss 4.5 accuracy 81.25% | 8.0s | peak 3.00 MiB");
  CHECK(lines[9] == "done: 2 epochs in 16.0s, stopped early: early stop after epoch 2/2");
}

TEST_CASE("ProgressBar in place mode redraws one line per epoch with carriage returns",
          "[observers][progress]") {
  std::ostringstream out;
  ProgressBar bar(out, {.mode = ProgressMode::in_place, .redraw_seconds = 0});
  CHECK(bar.in_place());
  for (std::size_t step = 0; step < 3; ++step) bar.on_step_end(make_step(0, 1, step, 3, 1.0));
  bar.on_epoch_end(make_epoch(0, 1, 1.0));
  const std::string text = out.str();
  CHECK(std::count(text.begin(), text.end(), '\r') == 4);  // three steps and the summary
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);  // one finished line for the epoch
  CHECK(text.back() == '\n');
  // The summary is shorter than the step line it replaces: padded so no old text remains.
  std::vector<std::string> drawn;  // what each '\r' drew
  for (std::size_t at = text.find('\r'); at != std::string::npos;) {
    const std::size_t next = text.find('\r', at + 1);
    drawn.push_back(text.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1));
    at = next;
  }
  REQUIRE(drawn.size() == 4);
  CHECK_THAT(drawn[2], Catch::StartsWith("epoch 1/1 step 3/3"));
  CHECK_THAT(drawn[3], Catch::StartsWith("epoch 1/1 done | mean loss 1"));
  // Each draw covers all of the previous one: '\r' only moves the cursor, so a shorter line
  // (the summary, "ETA 0s" after "ETA 1.0s") is padded with spaces.
  for (std::size_t i = 1; i < drawn.size(); ++i) {
    const std::string visible = drawn[i].substr(0, drawn[i].find('\n'));
    CHECK(visible.size() >= drawn[i - 1].size());
  }
  CHECK(drawn[3].find('\n') == drawn[3].size() - 1);

  CHECK_THROWS_AS(ProgressBar(out, {.line_every_percent = 0}), ConfigError);
  CHECK_THROWS_AS(ProgressBar(out, {.redraw_seconds = -1}), ConfigError);
}
