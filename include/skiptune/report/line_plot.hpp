// skiptune/report/line_plot.hpp — line charts for learning curves (loss or accuracy against step
// or epoch): one or more panels side by side, each with several series; a series keeps its colour
// in every panel (matched by label) and a legend row under the panels names them. The y range is
// the data's (padded) unless the panel fixes it, e.g. [0, 1] for accuracy; lines are clipped to
// the plot area. Written as PNG (png_writer.hpp). See docs/plots.md.
#pragma once

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/report/canvas.hpp"
#include "skiptune/report/plot_common.hpp"

namespace skiptune::report {

struct LineSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  ///< (x, y), drawn in the given order
};

struct LinePanel {
  std::string title, x_label, y_label;
  std::vector<LineSeries> series;
  std::optional<std::pair<double, double>> y_range;  ///< fixed [lo, hi]; the data's range when empty
  bool log_x = false;                                ///< x on a log10 axis (every x must then be > 0)
};

namespace detail {

inline void check_line_input(const std::vector<LinePanel>& panels) {
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const LinePanel& panel = panels[p];
    require<InputError>(!panel.series.empty(), "write_line_png: panel ", p, " ('", panel.title, "') has no series");
    for (const LineSeries& series : panel.series) {
      require<InputError>(!series.points.empty(), "write_line_png: panel ", p, " ('", panel.title, "'): series '",
                          series.label, "' has no points");
      for (const auto& [x, y] : series.points) {
        require<InputError>(std::isfinite(x) && std::isfinite(y), "write_line_png: panel ", p, " ('", panel.title,
                            "'): series '", series.label, "' has a non-finite point (", x, ", ", y, ")");
        require<InputError>(!panel.log_x || x > 0, "write_line_png: panel ", p, " ('", panel.title,
                            "') has a log x axis but series '", series.label, "' has x = ", x, " (must be > 0)");
      }
    }
    if (panel.y_range) {
      const auto [lo, hi] = *panel.y_range;
      require<InputError>(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "write_line_png: panel ", p, " ('",
                          panel.title, "'): y_range [", lo, ", ", hi, "] must be finite with lo < hi");
    }
  }
}

}  // namespace detail

/// Renders the chart (see write_line_png) into an image.
inline io::Image8 render_lines(const std::string& title, const std::vector<LinePanel>& panels, int width, int height,
                               const PlotOptions& options = {}) {
  detail::check_chart_size("write_line_png", width, height, panels.size());
  detail::check_line_input(panels);

  LabelStyles styles;
  for (const LinePanel& panel : panels)
    for (const LineSeries& series : panel.series) styles.index_of(series.label);

  Canvas canvas(width, height, options.background);
  const detail::ChartFrame frame =
      detail::begin_chart(canvas, "write_line_png", title, panels.size(), styles.labels(), options);
  const int s = frame.s;
  const double line_width = 1.75 * s, marker_size = 6.0 * s;

  for (std::size_t p = 0; p < panels.size(); ++p) {
    const LinePanel& panel = panels[p];
    std::vector<double> xs, ys;
    std::size_t most_points = 0;
    for (const LineSeries& series : panel.series) {
      for (const auto& [x, y] : series.points) xs.push_back(x), ys.push_back(y);
      most_points = std::max(most_points, series.points.size());
    }
    const std::pair<double, double> x_range = padded_range(xs, panel.log_x, 0.0);
    const std::pair<double, double> y_range = panel.y_range ? *panel.y_range : padded_range(ys, false, 0.06);
    const PanelLayout layout =
        detail::layout_panel("write_line_png", panel.title, frame.panel_rect(p), x_range, panel.log_x, y_range,
                             !panel.x_label.empty(), !panel.y_label.empty(), s);
    detail::draw_panel_frame(canvas, layout, panel.title, panel.x_label, panel.y_label, s);

    // Lines may run up to the frame; a marker on the edge shows in full.
    const int slack = static_cast<int>(marker_size);
    canvas.set_clip({layout.plot.x - slack, layout.plot.y, layout.plot.w + 2 * slack, layout.plot.h + 1});
    const bool with_markers = most_points <= 30;
    for (const LineSeries& series : panel.series) {
      const SeriesStyle style = series_style(styles.index_of(series.label));
      std::vector<std::pair<double, double>> pixels;
      for (const auto& [x, y] : series.points) pixels.emplace_back(layout.x.to_pixel(x), layout.y.to_pixel(y));
      canvas.draw_polyline(pixels, style.color, line_width);
      if (with_markers)
        for (const auto& [px, py] : pixels) canvas.draw_marker(style.marker, px, py, marker_size, style.color);
    }
    canvas.reset_clip();
  }

  if (options.legend)
    detail::draw_legend(canvas, frame.legend, styles.labels(), frame.legend_rows, s, [&](std::size_t i, int cx, int cy) {
      const SeriesStyle style = series_style(i);
      canvas.draw_line(cx - 7 * s, cy + 0.5, cx + 8 * s, cy + 0.5, style.color, line_width);
      canvas.draw_marker(style.marker, cx + 0.5, cy + 0.5, marker_size, style.color);
    });
  return canvas.image();
}

/// Draws `panels` side by side under `title` and writes a width × height PNG to `path`
/// (atomically). InputError for no panels, a panel without series, a series without points, a
/// non-finite point, a bad y_range, x ≤ 0 on a log axis, or an image too small for the layout;
/// IoError if the file cannot be written.
inline void write_line_png(const std::filesystem::path& path, const std::string& title,
                           const std::vector<LinePanel>& panels, int width = 1200, int height = 520,
                           const PlotOptions& options = {}) {
  write_png(path, render_lines(title, panels, width, height, options));
}

}  // namespace skiptune::report
