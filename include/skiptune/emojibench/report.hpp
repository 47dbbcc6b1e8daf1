// skiptune/emojibench/report.hpp — EmojiBench results: one row per (protocol run, method),
// written as CSV; folds summarised as mean ± sd in a Markdown table. For base-to-new the
// table has base, new and their harmonic mean (per fold, then averaged, as the paper does
// over datasets), training time and training peak memory.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "skiptune/core/atomic_file.hpp"
#include "skiptune/core/memory.hpp"
#include "skiptune/emojibench/methods.hpp"
#include "skiptune/report/line_plot.hpp"
#include "skiptune/report/scatter_plot.hpp"
#include "skiptune/train/evaluation.hpp"

namespace skiptune::emojibench {

struct ResultRow {
  std::string protocol;
  std::string task;
  int fold = 0;
  int shots = 0;
  std::string setting;  ///< hyperparameters that distinguish variants of a method ("omega=3/2")
  MethodResult result;

  [[nodiscard]] std::string method_label() const {
    std::string m(method_name(result.method));
    return setting.empty() ? m : m + " (" + setting + ")";
  }
  /// HM of "base" and "new" when both exist.
  [[nodiscard]] std::optional<double> harmonic() const {
    double b = -1, n = -1;
    for (const auto& [name, a] : result.accuracy) {
      if (name == "base") b = a;
      if (name == "new") n = a;
    }
    if (b < 0 || n < 0) return std::nullopt;
    return harmonic_mean(b, n);
  }
};

/// One line: accuracies, HM, time, memory.
inline std::string describe(const ResultRow& row) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  for (const auto& [name, a] : row.result.accuracy) s << name << " " << 100 * a << "%  ";
  if (const auto hm = row.harmonic()) s << "HM " << 100 * *hm << "%  ";
  s.precision(2);
  s << "train " << row.result.train_seconds << " s, peak " << format_bytes(row.result.train_peak_bytes);
  return s.str();
}

/// results.csv: one row per run; the evaluations as name:accuracy pairs separated by ';'.
inline void write_results_csv(const std::filesystem::path& path, const std::vector<ResultRow>& rows) {
  std::ostringstream s;
  s.precision(6);
  s << "protocol,task,fold,shots,method,setting,train_seconds,train_peak_bytes,steps,final_loss,hm,accuracies\n";
  for (const ResultRow& r : rows) {
    s << r.protocol << ',' << r.task << ',' << r.fold << ',' << r.shots << ',' << method_name(r.result.method) << ','
      << r.setting << ',' << r.result.train_seconds << ',' << r.result.train_peak_bytes << ',' << r.result.steps << ','
      << r.result.final_loss << ',';
    if (const auto hm = r.harmonic()) s << *hm;
    s << ',';
    for (std::size_t k = 0; k < r.result.accuracy.size(); ++k)
      s << (k ? ";" : "") << r.result.accuracy[k].first << ':' << r.result.accuracy[k].second;
    s << '\n';
  }
  std::filesystem::create_directories(path.parent_path().empty() ? "." : path.parent_path());
  write_file_atomically(path, s.str(), "EmojiBench results");
}

/// mean and sample standard deviation (0 for one value).
inline std::pair<double, double> mean_sd(const std::vector<double>& v) {
  if (v.empty()) return {std::nan(""), std::nan("")};
  double m = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double q = 0;
  for (double x : v) q += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(q / static_cast<double>(v.size() - 1)) : 0.0};
}

/// Rows grouped by (protocol, task, shots, method label), folds pooled, in first-seen order.
struct SummaryGroup {
  std::string protocol, task, method;
  int shots = 0;
  std::vector<const ResultRow*> rows;

  [[nodiscard]] std::pair<double, double> accuracy(const std::string& name) const {
    std::vector<double> v;
    for (const ResultRow* r : rows)
      for (const auto& [n, a] : r->result.accuracy)
        if (n == name) v.push_back(100 * a);
    return mean_sd(v);
  }
  [[nodiscard]] std::pair<double, double> hm() const {
    std::vector<double> v;
    for (const ResultRow* r : rows)
      if (const auto h = r->harmonic()) v.push_back(100 * *h);
    return mean_sd(v);
  }
  [[nodiscard]] double mean_seconds() const {
    double s = 0;
    for (const ResultRow* r : rows) s += r->result.train_seconds;
    return s / static_cast<double>(rows.size());
  }
  [[nodiscard]] std::size_t max_peak() const {
    std::size_t p = 0;
    for (const ResultRow* r : rows) p = std::max(p, r->result.train_peak_bytes);
    return p;
  }
};

inline std::vector<SummaryGroup> summarise(const std::vector<ResultRow>& rows) {
  std::vector<SummaryGroup> groups;
  for (const ResultRow& r : rows) {
    const std::string label = r.method_label();
    auto it = std::find_if(groups.begin(), groups.end(), [&](const SummaryGroup& g) {
      return g.protocol == r.protocol && g.task == r.task && g.shots == r.shots && g.method == label;
    });
    if (it == groups.end()) {
      groups.push_back({r.protocol, r.task, label, r.shots, {}});
      it = groups.end() - 1;
    }
    it->rows.push_back(&r);
  }
  return groups;
}

inline std::string pm(std::pair<double, double> v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f ± %.1f", v.first, v.second);
  return buf;
}

/// For base-to-new over several tasks: per method, the mean over tasks of the fold means of base,
/// new and HM, the mean training time and the largest training peak, and time and peak as a
/// fraction of FT's on the same tasks (the paper's Table 1 "average over datasets" row and its
/// cost ratios). Empty when there is one task or no base-to-new rows.
inline std::string across_tasks_markdown(const std::vector<SummaryGroup>& groups) {
  std::vector<std::string> methods, tasks;
  for (const SummaryGroup& g : groups) {
    if (g.protocol != "base-to-new" || !g.rows.front()->harmonic()) continue;
    if (std::find(methods.begin(), methods.end(), g.method) == methods.end()) methods.push_back(g.method);
    if (std::find(tasks.begin(), tasks.end(), g.task) == tasks.end()) tasks.push_back(g.task);
  }
  if (tasks.size() < 2) return "";
  auto find = [&](const std::string& method, const std::string& task) -> const SummaryGroup* {
    for (const SummaryGroup& g : groups)
      if (g.protocol == "base-to-new" && g.method == method && g.task == task) return &g;
    return nullptr;
  };
  std::ostringstream s;
  s << "\n### base-to-new | mean over " << tasks.size()
    << " tasks (of the fold means, top-1 %)\n\n| method | base | new | HM | train time (s) | time / FT | "
       "train peak memory | peak / FT |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
  double ft_seconds = 0, ft_peak = 0;
  for (const std::string& task : tasks)
    if (const SummaryGroup* g = find("ft", task)) {
      ft_seconds += g->mean_seconds();
      ft_peak += static_cast<double>(g->max_peak());
    }
  for (const std::string& method : methods) {
    double base = 0, novel = 0, hm = 0, seconds = 0, peak = 0;
    std::size_t n = 0;
    for (const std::string& task : tasks) {
      const SummaryGroup* g = find(method, task);
      if (!g) continue;
      base += g->accuracy("base").first;
      novel += g->accuracy("new").first;
      hm += g->hm().first;
      seconds += g->mean_seconds();
      peak += static_cast<double>(g->max_peak());
      ++n;
    }
    if (n != tasks.size()) continue;  // only methods run on every task
    const double k = static_cast<double>(n);
    char buf[256];
    std::snprintf(buf, sizeof buf, "| %s | %.1f | %.1f | %.1f | %.2f | %s | %s | %s |\n", method.c_str(), base / k,
                  novel / k, hm / k, seconds / k, ft_seconds > 0 ? std::to_string(seconds / ft_seconds).substr(0, 5).c_str() : "–",
                  format_bytes(static_cast<std::size_t>(peak / k)).c_str(),
                  ft_peak > 0 ? std::to_string(peak / ft_peak).substr(0, 5).c_str() : "–");
    s << buf;
  }
  return s.str();
}

/// A Markdown table per (protocol, task, shots): one line per method.
inline std::string summary_markdown(const std::vector<ResultRow>& rows) {
  std::ostringstream s;
  const auto groups = summarise(rows);
  std::string current;
  for (const SummaryGroup& g : groups) {
    const std::string key = g.protocol + " | " + g.task + " | " + std::to_string(g.shots) + "-shot";
    std::vector<std::string> names;
    for (const auto& [n, a] : g.rows.front()->result.accuracy) names.push_back(n);
    const bool b2n = g.rows.front()->harmonic().has_value();
    if (key != current) {
      current = key;
      s << "\n### " << key << " (" << g.rows.size() << " fold" << (g.rows.size() > 1 ? "s" : "")
        << ", top-1 %, mean ± sd)\n\n| method |";
      for (const auto& n : names) s << ' ' << n << " |";
      if (b2n) s << " HM |";
      s << " train time (s) | train peak memory |\n|---|";
      for (std::size_t k = 0; k < names.size() + (b2n ? 1 : 0); ++k) s << "---:|";
      s << "---:|---:|\n";
    }
    s << "| " << g.method << " |";
    for (const auto& n : names) s << ' ' << pm(g.accuracy(n)) << " |";
    if (b2n) s << ' ' << pm(g.hm()) << " |";
    char buf[96];
    std::snprintf(buf, sizeof buf, " %.2f | %s |\n", g.mean_seconds(), format_bytes(g.max_peak()).c_str());
    s << buf;
  }
  s << across_tasks_markdown(groups);
  return s.str();
}

/// The paper's Figure 1 in miniature: HM (mean over folds) against training time and against
/// training peak memory, one point per method. Needs base-to-new rows; one task or several
/// (then means over tasks too).
inline void write_cost_plot(const std::filesystem::path& path, const std::vector<ResultRow>& rows,
                            const std::string& title = "EmojiBench base-to-new: accuracy vs training cost") {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const ResultRow*>> by_method;
  for (const ResultRow& r : rows) {
    if (!r.harmonic()) continue;
    const std::string label = r.method_label();
    if (!by_method.count(label)) order.push_back(label);
    by_method[label].push_back(&r);
  }
  require<InputError>(!order.empty(), "write_cost_plot: no base-to-new results to plot");
  report::ScatterPanel time_panel{"HM vs training time", "training wall time (s)", "HM top-1 (%)", {}, false};
  report::ScatterPanel memory_panel{"HM vs training memory", "training peak memory (MiB, allocator-exact)",
                                    "HM top-1 (%)", {}, false};
  for (const std::string& label : order) {
    double hm = 0, seconds = 0, peak = 0;
    const auto& group = by_method[label];
    for (const ResultRow* r : group) {
      hm += 100 * *r->harmonic();
      seconds += r->result.train_seconds;
      peak += static_cast<double>(r->result.train_peak_bytes) / (1024.0 * 1024.0);
    }
    const double n = static_cast<double>(group.size());
    time_panel.points.push_back({label, seconds / n, hm / n});
    memory_panel.points.push_back({label, peak / n, hm / n});
  }
  report::write_scatter_png(path, title, {time_panel, memory_panel});
}

/// The pretraining learning curve (emojibench_pretrain's curve.csv: step, samples, seconds, loss,
/// logit_scale, <task>_base, <task>_new ..., mean_base, mean_new) as a PNG: zero-shot top-1 on
/// held-out artwork against samples seen — the mean over tasks (base, new) and each task's new
/// classes — and the training loss.
inline void write_learning_curve_png(const std::string& curve_csv, const std::filesystem::path& path) {
  std::istringstream in(curve_csv);
  std::string line;
  require<InputError>(static_cast<bool>(std::getline(in, line)), "learning curve: empty CSV");
  std::vector<std::string> header;
  {
    std::stringstream h(line);
    for (std::string f; std::getline(h, f, ',');) header.push_back(f);
  }
  require<InputError>(header.size() >= 7 && header[1] == "samples" && header[3] == "loss",
                      "learning curve: unexpected header '", line, "'");
  std::vector<std::vector<double>> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> v;
    std::stringstream r(line);
    for (std::string f; std::getline(r, f, ',');) v.push_back(std::stod(f));
    require<InputError>(v.size() == header.size(), "learning curve: row '", line, "' has ", v.size(), " fields, expected ",
                        header.size());
    rows.push_back(std::move(v));
  }
  require<InputError>(rows.size() >= 2, "learning curve: fewer than two evaluations");
  auto series = [&](std::size_t column, std::string label, double scale) {
    report::LineSeries s{std::move(label), {}};
    for (const auto& r : rows) s.points.emplace_back(r[1] / 1000.0, scale * r[column]);
    return s;
  };
  report::LinePanel mean{"mean over the six tasks", "samples seen (thousands)", "zero-shot top-1 (%)", {}, {}, false};
  const std::size_t last = header.size() - 1;
  mean.series.push_back(series(last - 1, "base classes", 100));
  mean.series.push_back(series(last, "new classes", 100));
  report::LinePanel per_task{"new classes, per task", "samples seen (thousands)", "zero-shot top-1 (%)", {}, {}, false};
  for (std::size_t c = 5; c + 2 < header.size(); c += 2)
    per_task.series.push_back(series(c + 1, header[c + 1].substr(0, header[c + 1].size() - 4), 100));
  report::LinePanel loss{"training loss (symmetric InfoNCE)", "samples seen (thousands)", "loss", {}, {}, false};
  loss.series.push_back(series(3, "loss", 1));
  loss.series.front().points.erase(loss.series.front().points.begin());  // row 0 is ln B, not a measurement
  report::write_line_png(path, "EmojiBench pretraining: zero-shot accuracy on held-out artwork", {mean, per_task, loss},
                         1500, 520);
}

}  // namespace skiptune::emojibench
