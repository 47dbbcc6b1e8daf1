// emojibench — the paper's protocols on EmojiBench with the embedded default model, every
// method in one harness (include/skiptune/emojibench/). README command 1 runs it with its
// defaults: base-to-new on "food", 3 folds, zero-shot vs full fine-tuning vs Skip Tuning.
//
//   emojibench [--pack PATH] [--model DIR] [--protocol P] [--tasks a,b|all] [--folds 0,1,2]
//              [--methods m1,m2|all] [--shots K[,K...]] [--epochs N] [--batch B] [--lr X] [--coop-lr X]
//              [--no-augment] [--batching reference|random|same-class] [--omega V,T] [--rho X]
//              [--sweep omega|rho] [--out DIR] [--quiet] [--jobs N]
//
//   P: base-to-new (default) | few-shot | cross-task | domain-shift
//   methods: zero-shot ft lskip cskip skip-tuning linear-probe coop
//   --sweep omega: LayerSkip with ω = 0 … N (both towers scaled), --sweep rho: ClassSkip ρ grid.
// Writes DIR/results.csv (one row per run), DIR/summary.md (mean ± sd over folds) and, for
// base-to-new, DIR/accuracy_vs_cost.png (HM against training memory and time) — each
// atomically. Default DIR: results/emojibench. --jobs N runs N runs at once, each with one
// OpenMP thread and its own model, meter and tokenizer (no progress bars then); results are
// identical to --jobs 1 except wall times.
#include <omp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "skiptune/core/atomic_file.hpp"
#include "skiptune/emojibench/methods.hpp"
#include "skiptune/emojibench/protocols.hpp"
#include "skiptune/emojibench/report.hpp"

namespace {

using namespace skiptune;
using namespace skiptune::emojibench;

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Cli {
  std::filesystem::path pack = data::default_emojibench_pack();
  std::filesystem::path model = "models/emojibench-tiny";
  std::filesystem::path out = "results/emojibench";
  std::string protocol = "base-to-new";
  std::vector<std::string> tasks{"food"};
  std::vector<int> folds{0, 1, 2};
  std::vector<Method> methods{Method::zero_shot, Method::full_fine_tune, Method::skip_tuning};
  std::vector<int> shots{16};
  std::string sweep;
  MethodOptions options;
  bool quiet = false;
  int jobs = 1;  ///< runs in parallel, one OpenMP thread each (small models use cores better so)
};

Cli parse(int argc, char** argv, const data::EmojiPack* pack_for_all = nullptr) {
  Cli cli;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw ConfigError(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--pack") cli.pack = value();
    else if (flag == "--model") cli.model = value();
    else if (flag == "--out") cli.out = value();
    else if (flag == "--protocol") cli.protocol = value();
    else if (flag == "--tasks") cli.tasks = split(value());
    else if (flag == "--folds") {
      cli.folds.clear();
      for (const auto& f : split(value())) cli.folds.push_back(std::stoi(f));
    } else if (flag == "--methods") {
      const std::string v = value();
      cli.methods.clear();
      if (v == "all") cli.methods.assign(std::begin(all_methods), std::end(all_methods));
      else for (const auto& m : split(v)) cli.methods.push_back(parse_method(m));
    } else if (flag == "--shots") {
      cli.shots.clear();
      for (const auto& k : split(value())) cli.shots.push_back(std::stoi(k));
    } else if (flag == "--epochs") cli.options.fit.epochs = std::stoul(value());
    else if (flag == "--batch") cli.options.fit.batch_size = std::stoul(value());
    else if (flag == "--lr") cli.options.fit.text_learning_rate = cli.options.fit.vision_learning_rate = std::stod(value());
    else if (flag == "--coop-lr") cli.options.coop_learning_rate = std::stod(value());
    else if (flag == "--no-augment") cli.options.augment = false;
    else if (flag == "--batching") {
      const std::string b = value();
      if (b == "reference") cli.options.fit.batching = Batching::reference;
      else if (b == "random") cli.options.fit.batching = Batching::random;
      else if (b == "same-class") cli.options.fit.batching = Batching::same_class;
      else throw ConfigError("--batching takes reference, random or same-class, got '" + b + "'");
    }
    else if (flag == "--omega") {
      const auto parts = split(value());
      require<ConfigError>(parts.size() == 2, "--omega takes VISION,TEXT, e.g. 3,2");
      cli.options.vision_omega = std::stoul(parts[0]);
      cli.options.text_omega = std::stoul(parts[1]);
    } else if (flag == "--rho") cli.options.class_skip.top_ratio = std::stod(value());
    else if (flag == "--sweep") cli.sweep = value();
    else if (flag == "--quiet") cli.quiet = true;
    else if (flag == "--jobs") cli.jobs = std::stoi(value());
    else throw ConfigError("unknown option " + flag + " (see the comment at the top of examples/emojibench.cpp)");
  }
  (void)pack_for_all;
  require<ConfigError>(cli.sweep.empty() || cli.sweep == "omega" || cli.sweep == "rho",
                       "--sweep takes omega or rho, got '", cli.sweep, "'");
  return cli;
}

/// The (method, options, label) triples a run executes: the chosen methods, or a sweep.
struct Variant {
  Method method;
  MethodOptions options;
  std::string setting;
};

std::vector<Variant> variants(const Cli& cli, const ClipConfig& config) {
  std::vector<Variant> out;
  if (cli.sweep == "omega") {
    // ω_vision = k, ω_text scaled to the text tower's depth (the paper sweeps one ω over two
    // 12-block towers; ours have 6 and 4 blocks).
    const std::size_t Nv = static_cast<std::size_t>(config.vision.layers), Nt = static_cast<std::size_t>(config.text.layers);
    for (std::size_t k = 0; k <= Nv; ++k) {
      Variant v{Method::layer_skip, cli.options, ""};
      v.options.vision_omega = k;
      v.options.text_omega = (k * Nt + Nv / 2) / Nv;
      v.setting = "omega=" + std::to_string(k) + "/" + std::to_string(v.options.text_omega);
      out.push_back(v);
    }
    return out;
  }
  if (cli.sweep == "rho") {
    for (double rho : {0.1, 0.2, 0.3, 0.5, 0.7, 1.0}) {
      Variant v{Method::class_skip, cli.options, ""};
      v.options.class_skip.top_ratio = rho;
      std::ostringstream s;
      s << "rho=" << rho;
      v.setting = s.str();
      out.push_back(v);
    }
    return out;
  }
  for (Method m : cli.methods) {
    Variant v{m, cli.options, ""};
    if (m == Method::coop && cli.options.coop_learning_rate != MethodOptions{}.coop_learning_rate) {
      std::ostringstream s;
      s << "lr=" << cli.options.coop_learning_rate;
      v.setting = s.str();
    }
    if (m == Method::layer_skip || m == Method::skip_tuning)
      v.setting = "omega=" + std::to_string(cli.options.vision_omega) + "/" + std::to_string(cli.options.text_omega);
    if (m == Method::class_skip || m == Method::skip_tuning) {
      std::ostringstream s;
      s << (v.setting.empty() ? "" : " ") << "rho=" << cli.options.class_skip.top_ratio;
      v.setting += s.str();
    }
    out.push_back(v);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Cli cli = parse(argc, argv);
    const auto start = std::chrono::steady_clock::now();
    const data::EmojiPack pack = data::EmojiPack::load(cli.pack);
    const PretrainedClip pretrained = PretrainedClip::from_directory(cli.model);
    if (cli.tasks.size() == 1 && cli.tasks[0] == "all") {
      cli.tasks.clear();
      for (const auto& t : pack.tasks()) cli.tasks.push_back(t.name);
    }
    MemoryMeter probe_meter;
    const ClipConfig config = pretrained.load(probe_meter).config();
    const auto plan = variants(cli, config);

    // Every run, in a fixed order (task, shots, fold, variant): results are written in this
    // order whatever the number of jobs.
    struct Job {
      ProtocolRun run;
      const Variant* variant;
    };
    std::vector<Job> jobs;
    for (const auto& task : cli.tasks)
      for (int shots : cli.shots)
        for (int fold : cli.folds) {
          const ProtocolRun run = make_protocol_run(pack, cli.protocol, task, fold, shots);
          for (const Variant& v : plan) jobs.push_back({run, &v});
        }
    require<ConfigError>(cli.jobs >= 1, "--jobs must be >= 1, got ", cli.jobs);
    std::printf("EmojiBench %s | model %s (%zu parameters) | tasks", cli.protocol.c_str(), cli.model.string().c_str(),
                Clip<float>(config, probe_meter).parameter_count());
    for (const auto& t : cli.tasks) std::printf(" %s", t.c_str());
    std::printf(" | folds %zu | %zu runs | %d job%s\n", cli.folds.size(), jobs.size(), cli.jobs, cli.jobs > 1 ? "s" : "");
    std::fflush(stdout);

    std::vector<std::optional<ResultRow>> slots(jobs.size());
    std::mutex lock;
    std::atomic<std::size_t> next{0};
    std::size_t finished = 0;
    std::exception_ptr failure;
    auto worker = [&](bool single_thread) {
      if (single_thread) omp_set_num_threads(1);
      const PretrainedClip own{pretrained.weights, pretrained.tokenizer};  // the tokenizer caches: one per worker
      Harness harness{&pack, &own, cli.quiet || cli.jobs > 1 ? nullptr : &std::cerr};
      for (std::size_t k = next++; k < jobs.size(); k = next++) {
        const Job& job = jobs[k];
        {
          std::lock_guard guard(lock);
          if (failure) return;
          std::fprintf(stderr, "[%zu/%zu] %s %s fold %d %d-shot: %s %s\n", k + 1, jobs.size(), cli.protocol.c_str(),
                       job.run.task.c_str(), job.run.fold, job.run.shots,
                       std::string(method_name(job.variant->method)).c_str(), job.variant->setting.c_str());
        }
        try {
          MethodResult r = harness.run(job.variant->method, job.run, job.variant->options);
          std::lock_guard guard(lock);
          slots[k] = ResultRow{job.run.protocol, job.run.task, job.run.fold, job.run.shots, job.variant->setting, std::move(r)};
          std::fprintf(stderr, "    [%zu] %s %s: %s\n", k + 1, std::string(method_name(job.variant->method)).c_str(),
                       job.variant->setting.c_str(), describe(*slots[k]).c_str());
          ++finished;
          // Keep what is done on disk (an interrupted run keeps its rows): the finished prefix.
          std::vector<ResultRow> done_rows;
          for (const auto& slot : slots)
            if (slot) done_rows.push_back(*slot);
          write_results_csv(cli.out / "results.csv", done_rows);
        } catch (...) {
          std::lock_guard guard(lock);
          if (!failure) failure = std::current_exception();
          return;
        }
      }
    };
    if (cli.jobs == 1) {
      worker(false);
    } else {
      std::vector<std::thread> threads;
      for (int j = 0; j < cli.jobs; ++j) threads.emplace_back(worker, true);
      for (auto& t : threads) t.join();
    }
    if (failure) std::rethrow_exception(failure);
    std::vector<ResultRow> rows;
    for (auto& slot : slots) rows.push_back(std::move(*slot));
    write_results_csv(cli.out / "results.csv", rows);
    const std::string summary = summary_markdown(rows);
    write_file_atomically(cli.out / "summary.md", summary, "EmojiBench summary");
    std::printf("\n%s\n", summary.c_str());
    if (cli.protocol == "base-to-new") {
      write_cost_plot(cli.out / "accuracy_vs_cost.png", rows);
      std::printf("plot: %s\n", (cli.out / "accuracy_vs_cost.png").string().c_str());
    }
    std::printf("results: %s, %s (%.1f min)\n", (cli.out / "results.csv").string().c_str(),
                (cli.out / "summary.md").string().c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emojibench: error: %s\n", e.what());
    return 1;
  }
}
