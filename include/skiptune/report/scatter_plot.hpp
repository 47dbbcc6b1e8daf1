// skiptune/report/scatter_plot.hpp — "Figure 1 in miniature": labelled points (methods, models,
// settings) in one or more panels side by side, e.g. accuracy against training time and against
// memory. Each panel gets axes with nice ticks, a grid, its title and axis labels; each point a
// coloured marker with its label placed next to it where it overlaps least; a label keeps its
// colour and marker in every panel, and a legend row under the panels lists them all.
// Written as PNG (png_writer.hpp). See docs/plots.md.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/report/canvas.hpp"
#include "skiptune/report/plot_common.hpp"

namespace skiptune::report {

struct ScatterPoint {
  std::string label;
  double x = 0, y = 0;
};

struct ScatterPanel {
  std::string title, x_label, y_label;
  std::vector<ScatterPoint> points;
  bool log_x = false;  ///< x on a log10 axis (every x must then be > 0)
};

namespace detail {

inline void check_scatter_input(const std::vector<ScatterPanel>& panels) {
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const ScatterPanel& panel = panels[p];
    require<InputError>(!panel.points.empty(), "write_scatter_png: panel ", p, " ('", panel.title, "') has no points");
    for (const ScatterPoint& point : panel.points) {
      require<InputError>(std::isfinite(point.x) && std::isfinite(point.y), "write_scatter_png: panel ", p, " ('",
                          panel.title, "'): point '", point.label, "' has a non-finite coordinate (", point.x, ", ",
                          point.y, ")");
      require<InputError>(!panel.log_x || point.x > 0, "write_scatter_png: panel ", p, " ('", panel.title,
                          "') has a log x axis but point '", point.label, "' has x = ", point.x, " (must be > 0)");
    }
  }
}

/// Puts each label next to its marker: of eight positions around it (then eight further out),
/// the first that stays inside the plot area and overlaps no marker and no label placed before;
/// failing that, the one that overlaps least.
inline std::vector<Rect> place_point_labels(const std::vector<std::string>& labels,
                                            const std::vector<std::pair<double, double>>& centres, double radius,
                                            const Rect& area, int s) {
  std::vector<Rect> obstacles;
  for (const auto& [cx, cy] : centres) {
    const int r = static_cast<int>(std::ceil(radius)) + 1;
    obstacles.push_back({static_cast<int>(std::lround(cx)) - r, static_cast<int>(std::lround(cy)) - r, 2 * r + 1, 2 * r + 1});
  }
  std::vector<Rect> placed;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int cx = static_cast<int>(std::lround(centres[i].first)), cy = static_cast<int>(std::lround(centres[i].second));
    Rect best{};
    long best_score = -1;
    for (int ring = 0; ring < 2 && best_score != 0; ++ring) {
      const int d = static_cast<int>(std::ceil(radius)) + 3 * s + ring * 8 * s;
      const int dd = static_cast<int>(d * 0.75);
      const Rect candidates[] = {
          Canvas::text_box(cx + d, cy, labels[i], s, HAlign::left, VAlign::middle),
          Canvas::text_box(cx - d, cy, labels[i], s, HAlign::right, VAlign::middle),
          Canvas::text_box(cx, cy - d, labels[i], s, HAlign::center, VAlign::bottom),
          Canvas::text_box(cx, cy + d - 1, labels[i], s, HAlign::center, VAlign::top),
          Canvas::text_box(cx + dd, cy - dd, labels[i], s, HAlign::left, VAlign::bottom),
          Canvas::text_box(cx + dd, cy + dd - 1, labels[i], s, HAlign::left, VAlign::top),
          Canvas::text_box(cx - dd, cy - dd, labels[i], s, HAlign::right, VAlign::bottom),
          Canvas::text_box(cx - dd, cy + dd - 1, labels[i], s, HAlign::right, VAlign::top),
      };
      for (const Rect& candidate : candidates) {
        // Text boxes include descender rows; pad by one pixel so neighbours never touch.
        const Rect padded{candidate.x - s, candidate.y - s, candidate.w + 2 * s, candidate.h + 2 * s};
        long score = 0;
        if (!area.contains({candidate.x - 4 * s, candidate.y - s, candidate.w + 8 * s, candidate.h + 2 * s})) score += 1000000L + (static_cast<long>(candidate.w) * candidate.h -
                                                            area.overlap_area(candidate)) * 100;
        for (const Rect& o : obstacles) score += 3L * padded.overlap_area(o);
        for (const Rect& o : placed) score += 5L * padded.overlap_area(o);
        if (best_score < 0 || score < best_score) best_score = score, best = candidate;
        if (score == 0) break;
      }
    }
    placed.push_back(best);
  }
  return placed;
}

}  // namespace detail

/// Renders the chart (see write_scatter_png) into an image.
inline io::Image8 render_scatter(const std::string& title, const std::vector<ScatterPanel>& panels, int width,
                                 int height, const PlotOptions& options = {}) {
  detail::check_chart_size("write_scatter_png", width, height, panels.size());
  detail::check_scatter_input(panels);

  LabelStyles styles;
  for (const ScatterPanel& panel : panels)
    for (const ScatterPoint& point : panel.points) styles.index_of(point.label);

  Canvas canvas(width, height, options.background);
  const detail::ChartFrame frame =
      detail::begin_chart(canvas, "write_scatter_png", title, panels.size(), styles.labels(), options);
  const int s = frame.s;
  const double marker_size = 9.0 * s;

  for (std::size_t p = 0; p < panels.size(); ++p) {
    const ScatterPanel& panel = panels[p];
    std::vector<double> xs, ys;
    for (const ScatterPoint& point : panel.points) xs.push_back(point.x), ys.push_back(point.y);
    const PanelLayout layout = detail::layout_panel(
        "write_scatter_png", panel.title, frame.panel_rect(p), padded_range(xs, panel.log_x, 0.1),
        panel.log_x, padded_range(ys, false, 0.12), !panel.x_label.empty(), !panel.y_label.empty(), s);
    detail::draw_panel_frame(canvas, layout, panel.title, panel.x_label, panel.y_label, s);

    std::vector<std::pair<double, double>> centres;
    std::vector<std::string> labels;
    for (const ScatterPoint& point : panel.points) {
      // Marker centres on pixel centres keep small markers symmetric.
      centres.emplace_back(std::floor(layout.x.to_pixel(point.x)) + 0.5, std::floor(layout.y.to_pixel(point.y)) + 0.5);
      labels.push_back(point.label);
    }
    canvas.set_clip(layout.plot);
    for (std::size_t i = 0; i < centres.size(); ++i) {
      const SeriesStyle style = series_style(styles.index_of(labels[i]));
      canvas.draw_marker(style.marker, centres[i].first, centres[i].second, marker_size, style.color,
                         shade(style.color, -0.45));
    }
    if (options.point_labels) {
      const std::vector<Rect> boxes = detail::place_point_labels(labels, centres, marker_size / 2, layout.plot, s);
      for (std::size_t i = 0; i < boxes.size(); ++i) {
        const SeriesStyle style = series_style(styles.index_of(labels[i]));
        canvas.draw_text(boxes[i].x, boxes[i].y, labels[i], shade(style.color, -0.45), s);
      }
    }
    canvas.reset_clip();
  }

  if (options.legend)
    detail::draw_legend(canvas, frame.legend, styles.labels(), frame.legend_rows, s, [&](std::size_t i, int cx, int cy) {
      const SeriesStyle style = series_style(i);
      canvas.draw_marker(style.marker, cx + 0.5, cy + 0.5, marker_size, style.color, shade(style.color, -0.45));
    });
  return canvas.image();
}

/// Draws `panels` side by side under `title` and writes a width × height PNG to `path`
/// (atomically). InputError for no panels, a panel without points, a non-finite coordinate, x ≤ 0
/// on a log axis, or an image too small for the layout; IoError if the file cannot be written.
inline void write_scatter_png(const std::filesystem::path& path, const std::string& title,
                              const std::vector<ScatterPanel>& panels, int width = 1200, int height = 520,
                              const PlotOptions& options = {}) {
  write_png(path, render_scatter(title, panels, width, height, options));
}

}  // namespace skiptune::report
