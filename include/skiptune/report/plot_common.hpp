// skiptune/report/plot_common.hpp — what scatter_plot.hpp and line_plot.hpp share: the colour /
// marker cycle, "nice" tick values (1-2-5 steps; decades on a log axis) and their labels, the
// data → pixel mapping, the panel layout (title, axis labels, tick labels around a plot area) and
// drawing of the grid, axes and ticks, and the legend row under the panels.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/report/canvas.hpp"

namespace skiptune::report {

/// Options shared by the chart writers (the defaults suit most uses).
struct PlotOptions {
  int text_scale = 0;            ///< pixel scale of the 5×7 font; 0: chosen from the image size
  bool legend = true;            ///< the legend row under the panels
  bool point_labels = true;      ///< scatter: each point's label next to its marker
  Rgb background = colors::white;
};

/// Ten colours that stay apart on white (Tableau's "tab10", the matplotlib default cycle).
inline constexpr std::array<Rgb, 10> plot_palette = {{
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
}};
inline constexpr std::array<Marker, 5> plot_markers = {Marker::circle, Marker::square, Marker::triangle_up,
                                                       Marker::diamond, Marker::triangle_down};

/// The colour and marker of the i-th distinct label of a chart: colours cycle first, and each
/// round of ten shifts the markers, so the first 50 labels are all told apart.
struct SeriesStyle {
  Rgb color;
  Marker marker;
};
inline SeriesStyle series_style(std::size_t index) noexcept {
  return {plot_palette[index % plot_palette.size()],
          plot_markers[(index + index / plot_palette.size()) % plot_markers.size()]};
}

/// The distinct labels in order of first appearance; style i belongs to labels[i].
class LabelStyles {
 public:
  std::size_t index_of(const std::string& label) {
    for (std::size_t i = 0; i < labels_.size(); ++i)
      if (labels_[i] == label) return i;
    labels_.push_back(label);
    return labels_.size() - 1;
  }
  [[nodiscard]] const std::vector<std::string>& labels() const noexcept { return labels_; }

 private:
  std::vector<std::string> labels_;
};

// --- ticks -------------------------------------------------------------------------------------

struct Ticks {
  std::vector<double> major;
  std::vector<std::string> labels;  ///< one per major tick
  std::vector<double> minor;        ///< log axes: 2..9 × 10^k between the decades
};

namespace detail {

/// Heckbert's nice number: 1, 2, 5 or 10 × 10^k near x (rounded, or the next one up).
inline double nice_number(double x, bool round) {
  const double exponent = std::floor(std::log10(x));
  const double fraction = x / std::pow(10.0, exponent);
  double nice;
  if (round) nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  else nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * std::pow(10.0, exponent);
}

/// "1e+06" → "1e6", "2.5e-07" → "2.5e-7".
inline std::string tidy_exponent(std::string s) {
  const std::size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
  const bool negative = !exponent.empty() && exponent[0] == '-';
  if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) exponent.erase(0, 1);
  while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
  return mantissa + "e" + (negative ? "-" : "") + exponent;
}

inline std::string format_fixed(double v, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  std::string s = buffer;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // no "-0"
  return s;
}

/// Labels for ticks spaced `step` apart: fixed decimals for ordinary magnitudes, the shortest
/// %g that tells the ticks apart for very large or very small ones.
inline std::vector<std::string> tick_labels(const std::vector<double>& values, double step) {
  double largest = 0;
  for (double v : values) largest = std::max(largest, std::abs(v));
  std::vector<std::string> labels;
  if (largest < 1e6 && step >= 1e-4) {
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    for (double v : values) labels.push_back(format_fixed(std::abs(v) < step * 1e-9 ? 0.0 : v, decimals));
    return labels;
  }
  for (int precision = 1; precision <= 15; ++precision) {
    labels.clear();
    bool exact = true;
    for (double v : values) {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.*g", precision, std::abs(v) < step * 1e-9 ? 0.0 : v);
      if (std::abs(std::strtod(buffer, nullptr) - v) > step * 1e-3) exact = false;
      labels.push_back(tidy_exponent(buffer));
    }
    if (exact) break;
  }
  return labels;
}

}  // namespace detail

/// About `target` evenly spaced 1-2-5 ticks inside [lo, hi].
inline Ticks linear_ticks(double lo, double hi, int target) {
  Ticks ticks;
  if (!(hi > lo)) return ticks;
  const double step = detail::nice_number((hi - lo) / std::max(target - 1, 1), true);
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (double v = first; v <= hi + step * 1e-9; v += step) {
    ticks.major.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    if (ticks.major.size() > 100) break;
  }
  ticks.labels = detail::tick_labels(ticks.major, step);
  return ticks;
}

/// Ticks for a log axis over [lo, hi] (both > 0): decades (every n-th if there are many), or
/// 1-2-5 × 10^k within a narrow range; minor ticks at 2..9 × 10^k.
inline Ticks log_ticks(double lo, double hi, int target) {
  Ticks ticks;
  if (!(lo > 0) || !(hi > lo)) return ticks;
  const int k0 = static_cast<int>(std::floor(std::log10(lo))), k1 = static_cast<int>(std::ceil(std::log10(hi)));
  const auto label = [](double v, int k) {
    if (k >= -3 && k <= 5) return detail::format_fixed(v, std::max(0, -k));
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.0e", v);
    return detail::tidy_exponent(buffer);
  };
  const auto within = [&](double v) { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); };
  const int decades = k1 - k0;
  const int every = std::max(1, static_cast<int>(std::ceil(decades / static_cast<double>(std::max(target, 2)))));
  for (int k = k0; k <= k1; ++k) {
    const double decade = std::pow(10.0, k);
    if (k % every == 0 && within(decade)) ticks.major.push_back(decade), ticks.labels.push_back(label(decade, k));
    if (decades <= 6)
      for (int m = 2; m <= 9; ++m)
        if (within(m * decade)) ticks.minor.push_back(m * decade);
  }
  if (ticks.major.size() < 2) {  // a narrow range: 2 and 5 (then every m) × 10^k as majors
    for (const std::array<int, 2>& mult : {std::array<int, 2>{2, 5}, std::array<int, 2>{0, 0}}) {
      std::vector<std::pair<double, std::string>> all;
      for (int k = k0; k <= k1; ++k) {
        const double decade = std::pow(10.0, k);
        for (int m = 1; m <= 9; ++m) {
          const bool take = mult[0] == 0 || m == 1 || m == mult[0] || m == mult[1];
          if (take && within(m * decade)) all.emplace_back(m * decade, label(m * decade, k));
        }
      }
      if (all.size() >= 3 || mult[0] == 0) {
        ticks.major.clear(), ticks.labels.clear();
        for (auto& [v, s] : all) ticks.major.push_back(v), ticks.labels.push_back(std::move(s));
        break;
      }
    }
    std::erase_if(ticks.minor, [&](double v) {
      return std::any_of(ticks.major.begin(), ticks.major.end(), [&](double m) { return std::abs(m - v) < v * 1e-9; });
    });
  }
  if (ticks.major.size() < 2) {  // less than a factor of two: plain linear ticks
    Ticks linear = linear_ticks(lo, hi, target);
    linear.minor.clear();
    return linear;
  }
  return ticks;
}

// --- axes ---------------------------------------------------------------------------------------

/// Data range [lo, hi] on pixels [p0, p1] (p1 < p0 for a y axis, which grows upwards).
struct AxisScale {
  double lo = 0, hi = 1;
  bool log = false;
  double p0 = 0, p1 = 1;
  [[nodiscard]] double to_pixel(double v) const noexcept {
    const double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    return p0 + t * (p1 - p0);
  }
};

/// The data range of `values` widened by `pad` (a fraction of the span; in log10 units on a log
/// axis). A single value gets a span around it.
inline std::pair<double, double> padded_range(const std::vector<double>& values, bool log, double pad) {
  double lo = *std::min_element(values.begin(), values.end()), hi = *std::max_element(values.begin(), values.end());
  if (log) lo = std::log10(lo), hi = std::log10(hi);
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {
    const double half = log ? 0.5 : std::max(std::abs(hi) * 0.1, 1.0);
    lo -= half, hi += half;
  } else {
    const double span = hi - lo;
    lo -= span * pad, hi += span * pad;
  }
  if (log) return {std::pow(10.0, lo), std::pow(10.0, hi)};
  return {lo, hi};
}

/// The text size of a chart: options.text_scale, or 1 for images up to about 2000 × 700, 2 up to
/// about 3000 × 1000, and so on (the 5×7 font at scale 1 matches ~9 pt text at 100 dpi).
inline int auto_text_scale(const PlotOptions& options, int width, int height) {
  if (options.text_scale > 0) return options.text_scale;
  return std::max(1, static_cast<int>(std::floor(std::min(width / 1100.0, height / 420.0) + 0.25)));
}

/// Where a panel's parts go once its frame is known.
struct PanelLayout {
  Rect outer;      ///< the whole panel
  Rect plot;       ///< the data area
  AxisScale x, y;
  Ticks x_ticks, y_ticks;
};

namespace detail {

/// Validates the size and text scale of a chart of `panels` panels.
inline void check_chart_size(std::string_view what, int width, int height, std::size_t panels) {
  require<InputError>(width > 0 && height > 0, what, ": image size ", width, "x", height,
                      " is not valid (both sides must be >= 1)");
  require<InputError>(width <= 16384 && height <= 16384, what, ": image size ", width, "x", height,
                      " is too large (at most 16384 pixels a side)");
  require<InputError>(panels > 0, what, ": no panels to draw");
}

/// Lays out one panel in `outer`: title on top, y label (rotated) and y tick labels on the left,
/// x tick labels and x label below. x/y ranges in data units.
inline PanelLayout layout_panel(std::string_view what, std::string_view title, const Rect& outer,
                                std::pair<double, double> x_range, bool log_x, std::pair<double, double> y_range,
                                bool has_x_label, bool has_y_label, int s) {
  PanelLayout layout;
  layout.outer = outer;
  const int text_h = Canvas::text_height(s), gap = 4 * s, tick = 4 * s;
  const int top = outer.y + (title.empty() ? 2 * gap : text_h + 2 * gap);
  const int bottom = outer.bottom() - gap - (has_x_label ? text_h + gap : 0) - text_h - gap - tick;
  const int plot_h = bottom - top;
  require<InputError>(plot_h >= 24 * s, what, ": the image is too small: panel '", title, "' would get a plot area ",
                      plot_h, " pixels high");
  layout.y_ticks = linear_ticks(y_range.first, y_range.second, std::clamp(plot_h / (35 * s), 3, 10));
  int label_w = 0;
  for (const std::string& label : layout.y_ticks.labels) label_w = std::max(label_w, Canvas::text_width(label, s));
  const int left = outer.x + gap + (has_y_label ? text_h + gap : 0) + label_w + gap + tick;
  const int right = outer.right() - 3 * gap;  // room for half of the last x tick label
  const int plot_w = right - left;
  require<InputError>(plot_w >= 24 * s, what, ": the image is too small: panel '", title, "' would get a plot area ",
                      plot_w, " pixels wide");
  layout.plot = {left, top, plot_w, plot_h};
  layout.x = {x_range.first, x_range.second, log_x, static_cast<double>(left), static_cast<double>(left + plot_w)};
  layout.y = {y_range.first, y_range.second, false, static_cast<double>(top + plot_h), static_cast<double>(top)};
  const int x_target = std::clamp(plot_w / (60 * s), 3, 12);
  layout.x_ticks = log_x ? log_ticks(x_range.first, x_range.second, x_target)
                         : linear_ticks(x_range.first, x_range.second, x_target);
  // Thin the x ticks until their labels do not touch.
  for (std::size_t every = 2; every < 12; ++every) {
    bool crowded = false;
    for (std::size_t i = 1; i < layout.x_ticks.major.size(); ++i) {
      const double dx = layout.x.to_pixel(layout.x_ticks.major[i]) - layout.x.to_pixel(layout.x_ticks.major[i - 1]);
      const int need = (Canvas::text_width(layout.x_ticks.labels[i], s) + Canvas::text_width(layout.x_ticks.labels[i - 1], s)) / 2 + 3 * gap;
      if (dx < need) crowded = true;
    }
    if (!crowded) break;
    Ticks thinned;
    thinned.minor = layout.x_ticks.minor;
    for (std::size_t i = 0; i < layout.x_ticks.major.size(); i += 2) {
      thinned.major.push_back(layout.x_ticks.major[i]);
      thinned.labels.push_back(layout.x_ticks.labels[i]);
    }
    if (thinned.major.size() == layout.x_ticks.major.size()) break;
    layout.x_ticks = std::move(thinned);
  }
  return layout;
}

/// Grid (minor then major), axes, ticks, tick labels, axis labels and the panel title.
inline void draw_panel_frame(Canvas& canvas, const PanelLayout& layout, std::string_view title,
                             std::string_view x_label, std::string_view y_label, int s) {
  const Rect& p = layout.plot;
  const int gap = 4 * s, tick = 4 * s, text_h = Canvas::text_height(s);
  const auto px = [&](double v) { return static_cast<int>(std::lround(layout.x.to_pixel(v))); };
  const auto py = [&](double v) { return static_cast<int>(std::lround(layout.y.to_pixel(v))); };
  const auto inside_x = [&](int x) { return x >= p.x && x < p.right(); };
  const auto inside_y = [&](int y) { return y >= p.y && y < p.bottom(); };
  const int line = std::max(1, s / 2 + s % 2);  // 1 px at scale 1 and 2, 2 px at 3 and 4, ...
  for (double v : layout.x_ticks.minor)
    if (int x = px(v); inside_x(x)) canvas.fill_rect(x, p.y, line, p.h, colors::minor_grid);
  for (double v : layout.y_ticks.minor)
    if (int y = py(v); inside_y(y)) canvas.fill_rect(p.x, y, p.w, line, colors::minor_grid);
  for (double v : layout.x_ticks.major)
    if (int x = px(v); inside_x(x)) canvas.fill_rect(x, p.y, line, p.h, colors::grid);
  for (double v : layout.y_ticks.major)
    if (int y = py(v); inside_y(y)) canvas.fill_rect(p.x, y, p.w, line, colors::grid);
  // Axes: left and bottom, dark; a light frame on top and right closes the box.
  canvas.draw_rect({p.x, p.y, p.w + line, p.h + line}, colors::grid, line);
  canvas.fill_rect(p.x - line, p.y, line, p.h + line, colors::axis);
  canvas.fill_rect(p.x - line, p.bottom(), p.w + 2 * line, line, colors::axis);
  for (std::size_t i = 0; i < layout.x_ticks.major.size(); ++i) {
    const int x = px(layout.x_ticks.major[i]);
    if (!inside_x(x) && x != p.right()) continue;
    canvas.fill_rect(x, p.bottom() + line, line, tick, colors::axis);
    canvas.draw_text(x, p.bottom() + line + tick + gap, layout.x_ticks.labels[i], colors::text, s, HAlign::center,
                     VAlign::top);
  }
  for (std::size_t i = 0; i < layout.y_ticks.major.size(); ++i) {
    const int y = py(layout.y_ticks.major[i]);
    if (!inside_y(y) && y != p.bottom()) continue;
    canvas.fill_rect(p.x - line - tick, y, tick, line, colors::axis);
    canvas.draw_text(p.x - line - tick - gap, y, layout.y_ticks.labels[i], colors::text, s, HAlign::right,
                     VAlign::middle);
  }
  if (!x_label.empty())
    canvas.draw_text(p.x + p.w / 2, p.bottom() + line + tick + gap + text_h + gap, x_label, colors::text, s,
                     HAlign::center, VAlign::top);
  if (!y_label.empty())
    canvas.draw_text_vertical(layout.outer.x + gap + text_h / 2, p.y + p.h / 2, y_label, colors::text, s);
  if (!title.empty())
    canvas.draw_text(p.x + p.w / 2, layout.outer.y + gap, title, colors::text, s, HAlign::center, VAlign::top, true);
}

/// One legend entry's width: a 16·s swatch, a 5·s gap, the label.
inline int legend_entry_width(std::string_view label, int s) { return 21 * s + Canvas::text_width(label, s); }

/// Rows of legend entries (indices), wrapped to `width`.
inline std::vector<std::vector<std::size_t>> legend_rows(const std::vector<std::string>& labels, int width, int s) {
  std::vector<std::vector<std::size_t>> rows;
  int used = 0;
  const int spacing = 16 * s;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int w = legend_entry_width(labels[i], s);
    if (rows.empty() || (used + spacing + w > width && !rows.back().empty())) rows.emplace_back(), used = -spacing;
    rows.back().push_back(i);
    used += spacing + w;
  }
  return rows;
}

inline int legend_row_height(int s) { return Canvas::text_height(s) + 6 * s; }

/// Draws the legend rows centred in `area`; `swatch(i, cx, cy)` draws entry i's symbol centred on (cx, cy).
template <class Swatch>
void draw_legend(Canvas& canvas, const Rect& area, const std::vector<std::string>& labels,
                 const std::vector<std::vector<std::size_t>>& rows, int s, Swatch&& swatch) {
  const int spacing = 16 * s, row_h = legend_row_height(s);
  int y = area.y + (area.h - static_cast<int>(rows.size()) * row_h) / 2;
  for (const auto& row : rows) {
    int total = -spacing;
    for (std::size_t i : row) total += spacing + legend_entry_width(labels[i], s);
    int x = area.x + std::max(0, (area.w - total) / 2);
    const int cy = y + row_h / 2;
    for (std::size_t i : row) {
      swatch(i, x + 8 * s, cy);
      canvas.draw_text(x + 21 * s, cy, labels[i], colors::text, s, HAlign::left, VAlign::middle);
      x += legend_entry_width(labels[i], s) + spacing;
    }
    y += row_h;
  }
}

/// The bands of a chart: the title on top, the legend rows at the bottom, the panels side by side
/// in between (panel i's outer rect is panel_rect(i)).
struct ChartFrame {
  int s = 1;
  Rect panels;
  Rect legend;
  std::vector<std::vector<std::size_t>> legend_rows;
  std::size_t panel_count = 1;
  [[nodiscard]] Rect panel_rect(std::size_t i) const noexcept {
    const int n = static_cast<int>(panel_count), k = static_cast<int>(i);
    const int x0 = panels.x + panels.w * k / n, x1 = panels.x + panels.w * (k + 1) / n;
    return {x0, panels.y, x1 - x0, panels.h};
  }
};

/// Draws the chart title and reserves the legend band; validation of the size is the caller's.
inline ChartFrame begin_chart(Canvas& canvas, std::string_view what, std::string_view title, std::size_t panel_count,
                              const std::vector<std::string>& legend_labels, const PlotOptions& options) {
  ChartFrame frame;
  frame.panel_count = panel_count;
  const int s = frame.s = auto_text_scale(options, canvas.width(), canvas.height());
  const int margin = 6 * s;
  int top = margin;
  if (!title.empty()) {
    canvas.draw_text(canvas.width() / 2, top, title, colors::text, 2 * s, HAlign::center, VAlign::top, true);
    top += Canvas::text_height(2 * s) + 2 * s;
  }
  int legend_h = 0;
  if (options.legend && !legend_labels.empty()) {
    frame.legend_rows = legend_rows(legend_labels, canvas.width() - 2 * margin, s);
    legend_h = static_cast<int>(frame.legend_rows.size()) * legend_row_height(s) + 2 * s;
  }
  const int bottom = canvas.height() - margin - legend_h;
  require<InputError>(bottom - top >= 40 * s, what, ": the image is too small: ", canvas.width(), "x",
                      canvas.height(), " leaves ", bottom - top, " pixels of height for the panels");
  frame.panels = {margin, top, canvas.width() - 2 * margin, bottom - top};
  frame.legend = {margin, bottom, canvas.width() - 2 * margin, legend_h};
  return frame;
}

}  // namespace detail

}  // namespace skiptune::report
