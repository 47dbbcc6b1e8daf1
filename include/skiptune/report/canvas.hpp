// skiptune/report/canvas.hpp — a small RGB raster canvas for plots: anti-aliased lines, filled
// circles and polygon markers (coverage by distance or 4×4 supersampling, blended over what is
// there), rectangles, and text in skiptune's own 5×7 bitmap font (font5x7.hpp) at an integer
// scale, horizontal or rotated 90° (for a y-axis label). Drawing outside the canvas, or outside
// the clip rectangle, is silently cut. Coordinates are pixels, (0, 0) the top-left corner, pixel
// (x, y) covering [x, x + 1) × [y, y + 1) (so its centre is (x + 0.5, y + 0.5)).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/io/image8.hpp"
#include "skiptune/report/font5x7.hpp"
#include "skiptune/report/png_writer.hpp"

namespace skiptune::report {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

/// `c` mixed towards white (amount > 0) or black (amount < 0) by |amount| ∈ [0, 1].
constexpr Rgb shade(Rgb c, double amount) noexcept {
  const auto mix = [&](std::uint8_t v) {
    const double target = amount >= 0 ? 255.0 : 0.0;
    const double a = amount >= 0 ? amount : -amount;
    return static_cast<std::uint8_t>(v + (target - v) * a + 0.5);
  };
  return {mix(c.r), mix(c.g), mix(c.b)};
}

namespace colors {
inline constexpr Rgb white{255, 255, 255};
inline constexpr Rgb black{0, 0, 0};
inline constexpr Rgb text{34, 34, 34};
inline constexpr Rgb axis{51, 51, 51};
inline constexpr Rgb grid{226, 226, 226};
inline constexpr Rgb minor_grid{242, 242, 242};
}  // namespace colors

enum class Marker { circle, square, triangle_up, diamond, triangle_down, plus, cross };
enum class HAlign { left, center, right };
enum class VAlign { top, middle, bottom };  ///< middle: the centre of the capital height

/// A pixel rectangle: columns [x, x + w), rows [y, y + h).
struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  [[nodiscard]] int right() const noexcept { return x + w; }
  [[nodiscard]] int bottom() const noexcept { return y + h; }
  [[nodiscard]] bool intersects(const Rect& o) const noexcept {
    return x < o.right() && o.x < right() && y < o.bottom() && o.y < bottom();
  }
  [[nodiscard]] int overlap_area(const Rect& o) const noexcept {
    const int ow = std::min(right(), o.right()) - std::max(x, o.x);
    const int oh = std::min(bottom(), o.bottom()) - std::max(y, o.y);
    return ow > 0 && oh > 0 ? ow * oh : 0;
  }
  [[nodiscard]] bool contains(const Rect& o) const noexcept {
    return o.x >= x && o.y >= y && o.right() <= right() && o.bottom() <= bottom();
  }
};

class Canvas {
 public:
  /// A width × height canvas filled with `background`. InputError for a side < 1.
  Canvas(int width, int height, Rgb background = colors::white) {
    require<InputError>(width > 0 && height > 0, "Canvas: size ", width, "x", height,
                        " is not a valid canvas size (both sides must be >= 1)");
    image_ = io::Image8(width, height);
    clip_ = {0, 0, width, height};
    fill_rect(0, 0, width, height, background);
  }

  [[nodiscard]] int width() const noexcept { return image_.width; }
  [[nodiscard]] int height() const noexcept { return image_.height; }
  [[nodiscard]] const io::Image8& image() const noexcept { return image_; }

  /// Later drawing lands only inside `clip` (cut to the canvas); reset_clip() lifts it.
  void set_clip(Rect clip) noexcept {
    const int x0 = std::max(0, clip.x), y0 = std::max(0, clip.y);
    const int x1 = std::min(width(), clip.right()), y1 = std::min(height(), clip.bottom());
    clip_ = {x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
  }
  void reset_clip() noexcept { clip_ = {0, 0, width(), height()}; }

  [[nodiscard]] Rgb pixel(int x, int y) const {
    require<InputError>(x >= 0 && y >= 0 && x < width() && y < height(), "Canvas::pixel: (", x, ", ", y,
                        ") is outside the ", width(), "x", height(), " canvas");
    const std::uint8_t* p = image_.at(x, y);
    return {p[0], p[1], p[2]};
  }

  void set_pixel(int x, int y, Rgb c) noexcept {
    if (!in_clip(x, y)) return;
    std::uint8_t* p = image_.at(x, y);
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }

  /// Mixes `c` over the pixel with opacity alpha ∈ [0, 1].
  void blend_pixel(int x, int y, Rgb c, double alpha) noexcept {
    if (!(alpha > 0) || !in_clip(x, y)) return;
    if (alpha >= 1) return set_pixel(x, y, c);
    std::uint8_t* p = image_.at(x, y);
    const auto mix = [&](std::uint8_t under, std::uint8_t over) {
      return static_cast<std::uint8_t>(under + (over - under) * alpha + 0.5);
    };
    p[0] = mix(p[0], c.r), p[1] = mix(p[1], c.g), p[2] = mix(p[2], c.b);
  }

  void fill_rect(int x, int y, int w, int h, Rgb c) noexcept {
    const int x0 = std::max(x, clip_.x), y0 = std::max(y, clip_.y);
    const int x1 = std::min(x + w, clip_.right()), y1 = std::min(y + h, clip_.bottom());
    for (int yy = y0; yy < y1; ++yy)
      for (int xx = x0; xx < x1; ++xx) set_pixel(xx, yy, c);
  }
  void fill_rect(const Rect& r, Rgb c) noexcept { fill_rect(r.x, r.y, r.w, r.h, c); }

  /// Translucent fill (opacity alpha), e.g. a legend box over gridlines.
  void blend_rect(const Rect& r, Rgb c, double alpha) noexcept {
    for (int yy = r.y; yy < r.bottom(); ++yy)
      for (int xx = r.x; xx < r.right(); ++xx) blend_pixel(xx, yy, c, alpha);
  }

  /// The outline of a rectangle, `thickness` pixels wide, inside the rectangle.
  void draw_rect(const Rect& r, Rgb c, int thickness = 1) noexcept {
    thickness = std::max(1, std::min({thickness, r.w, r.h}));
    fill_rect(r.x, r.y, r.w, thickness, c);
    fill_rect(r.x, r.bottom() - thickness, r.w, thickness, c);
    fill_rect(r.x, r.y, thickness, r.h, c);
    fill_rect(r.right() - thickness, r.y, thickness, r.h, c);
  }

  /// A line from (x0, y0) to (x1, y1) (continuous coordinates), `thickness` pixels wide with
  /// round caps, anti-aliased by the distance of each pixel centre to the segment.
  void draw_line(double x0, double y0, double x1, double y1, Rgb c, double thickness = 1.0) {
    if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
    const double half = std::max(thickness, 0.5) / 2;
    const double reach = half + 1;
    const double dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy;
    const int row0 = std::max(clip_.y, static_cast<int>(std::floor(std::min(y0, y1) - reach)));
    const int row1 = std::min(clip_.bottom() - 1, static_cast<int>(std::ceil(std::max(y0, y1) + reach)));
    for (int y = row0; y <= row1; ++y) {
      const double cy = y + 0.5;
      // The part of the segment within `reach` rows of this one bounds the columns to visit.
      double t0 = 0, t1 = 1;
      if (std::abs(dy) > 1e-12) {
        t0 = (cy - reach - y0) / dy, t1 = (cy + reach - y0) / dy;
        if (t0 > t1) std::swap(t0, t1);
        t0 = std::max(t0, 0.0), t1 = std::min(t1, 1.0);
        if (t0 > t1) continue;
      }
      const double xa = x0 + dx * t0, xb = x0 + dx * t1;
      const int col0 = std::max(clip_.x, static_cast<int>(std::floor(std::min(xa, xb) - reach)));
      const int col1 = std::min(clip_.right() - 1, static_cast<int>(std::ceil(std::max(xa, xb) + reach)));
      for (int x = col0; x <= col1; ++x) {
        const double cx = x + 0.5;
        double t = length2 > 0 ? ((cx - x0) * dx + (cy - y0) * dy) / length2 : 0.0;
        t = std::clamp(t, 0.0, 1.0);
        const double ex = cx - (x0 + t * dx), ey = cy - (y0 + t * dy);
        const double coverage = std::clamp(half + 0.5 - std::sqrt(ex * ex + ey * ey), 0.0, 1.0);
        blend_pixel(x, y, c, coverage);
      }
    }
  }

  /// Connected segments through `points`.
  void draw_polyline(std::span<const std::pair<double, double>> points, Rgb c, double thickness = 1.0) {
    if (points.size() == 1) fill_circle(points[0].first, points[0].second, thickness / 2, c);
    for (std::size_t i = 1; i < points.size(); ++i)
      draw_line(points[i - 1].first, points[i - 1].second, points[i].first, points[i].second, c, thickness);
  }

  /// A filled disc, anti-aliased.
  void fill_circle(double cx, double cy, double radius, Rgb c) {
    if (!std::isfinite(cx) || !std::isfinite(cy) || !(radius > 0)) return;
    const int x0 = static_cast<int>(std::floor(cx - radius - 1)), x1 = static_cast<int>(std::ceil(cx + radius + 1));
    const int y0 = static_cast<int>(std::floor(cy - radius - 1)), y1 = static_cast<int>(std::ceil(cy + radius + 1));
    for (int y = std::max(y0, clip_.y); y <= std::min(y1, clip_.bottom() - 1); ++y)
      for (int x = std::max(x0, clip_.x); x <= std::min(x1, clip_.right() - 1); ++x) {
        const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
        blend_pixel(x, y, c, std::clamp(radius + 0.5 - d, 0.0, 1.0));
      }
  }

  /// A filled polygon (even-odd rule), anti-aliased by 4×4 supersampling per pixel.
  void fill_polygon(std::span<const std::pair<double, double>> vertices, Rgb c) {
    if (vertices.size() < 3) return;
    double min_x = vertices[0].first, max_x = min_x, min_y = vertices[0].second, max_y = min_y;
    for (const auto& [vx, vy] : vertices) {
      if (!std::isfinite(vx) || !std::isfinite(vy)) return;
      min_x = std::min(min_x, vx), max_x = std::max(max_x, vx), min_y = std::min(min_y, vy), max_y = std::max(max_y, vy);
    }
    const auto inside = [&](double px, double py) {
      bool in = false;
      for (std::size_t i = 0, j = vertices.size() - 1; i < vertices.size(); j = i++) {
        const auto [xi, yi] = vertices[i];
        const auto [xj, yj] = vertices[j];
        if ((yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi) in = !in;
      }
      return in;
    };
    const int x0 = std::max(clip_.x, static_cast<int>(std::floor(min_x)));
    const int x1 = std::min(clip_.right() - 1, static_cast<int>(std::ceil(max_x)));
    const int y0 = std::max(clip_.y, static_cast<int>(std::floor(min_y)));
    const int y1 = std::min(clip_.bottom() - 1, static_cast<int>(std::ceil(max_y)));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        int hits = 0;
        for (int sy = 0; sy < 4; ++sy)
          for (int sx = 0; sx < 4; ++sx) hits += inside(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4);
        blend_pixel(x, y, c, hits / 16.0);
      }
  }

  /// A marker of `shape` centred on (cx, cy), about `size` pixels across, filled with `fill`
  /// and outlined (1 px) in `outline` when that differs from the fill.
  void draw_marker(Marker shape, double cx, double cy, double size, Rgb fill, Rgb outline) {
    const double r = size / 2;
    using Points = std::vector<std::pair<double, double>>;
    const auto polygon = [&](const Points& outer, const Points& inner) {
      fill_polygon(outer, outline);
      fill_polygon(inner, fill);
    };
    const auto scaled = [&](const Points& unit, double radius) {
      Points out;
      for (const auto& [ux, uy] : unit) out.emplace_back(cx + ux * radius, cy + uy * radius);
      return out;
    };
    const bool outlined = !(outline == fill);
    const double inset = outlined ? 1.0 : 0.0;
    switch (shape) {
      case Marker::circle:
        fill_circle(cx, cy, r, outline);
        if (outlined) fill_circle(cx, cy, r - 1, fill);
        return;
      case Marker::square: {
        const Points unit = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
        const double s = r * 0.88;  // the same visual weight as the circle
        return polygon(scaled(unit, s), scaled(unit, s - inset));
      }
      case Marker::diamond: {
        const Points unit = {{0, -1}, {1, 0}, {0, 1}, {-1, 0}};
        const double s = r * 1.2;
        return polygon(scaled(unit, s), scaled(unit, s - 1.41 * inset));
      }
      case Marker::triangle_up:
      case Marker::triangle_down: {
        const double f = shape == Marker::triangle_up ? 1.0 : -1.0;
        // Centroid on (cx, cy): vertices at distance 1 from it.
        const Points unit = {{0, -f}, {0.866, 0.5 * f}, {-0.866, 0.5 * f}};
        const double s = r * 1.25;
        return polygon(scaled(unit, s), scaled(unit, s - 2 * inset));
      }
      case Marker::plus:
      case Marker::cross: {
        const double w = std::max(2.0, size / 4);
        if (shape == Marker::plus) {
          draw_line(cx - r, cy, cx + r, cy, fill, w);
          draw_line(cx, cy - r, cx, cy + r, fill, w);
        } else {
          const double d = r * 0.8;
          draw_line(cx - d, cy - d, cx + d, cy + d, fill, w);
          draw_line(cx - d, cy + d, cx + d, cy - d, fill, w);
        }
        return;
      }
    }
  }
  void draw_marker(Marker shape, double cx, double cy, double size, Rgb fill) {
    draw_marker(shape, cx, cy, size, fill, fill);
  }

  // --- text ---------------------------------------------------------------------------------

  /// Pixel width of `text` at `scale` (no trailing gap). Each byte outside printable ASCII, and
  /// each UTF-8 sequence, is drawn as one '?'.
  [[nodiscard]] static int text_width(std::string_view text, int scale = 1) {
    const int n = static_cast<int>(visible_characters(text).size());
    return n == 0 ? 0 : (n * font::advance - (font::advance - font::glyph_width)) * std::max(scale, 1);
  }
  /// Pixel height of one line (capitals plus descenders) at `scale`.
  [[nodiscard]] static int text_height(int scale = 1) noexcept { return font::cell_height * std::max(scale, 1); }

  /// Draws `text` with its cell's top-left corner at (x, y); `bold` doubles each stroke.
  /// Returns the box the cells cover.
  Rect draw_text(int x, int y, std::string_view text, Rgb c, int scale = 1, bool bold = false) {
    scale = std::max(scale, 1);
    const std::string characters = visible_characters(text);
    int pen = x;
    for (char ch : characters) {
      for (int row = 0; row < font::cell_height; ++row)
        for (int col = 0; col < font::glyph_width; ++col) {
          if (!font::ink(ch, col, row)) continue;
          fill_rect(pen + col * scale, y + row * scale, scale, scale, c);
          if (bold) fill_rect(pen + col * scale + std::max(1, scale / 2), y + row * scale, scale, scale, c);
        }
      pen += font::advance * scale;
    }
    return {x, y, text_width(text, scale) + (bold ? std::max(1, scale / 2) : 0), text_height(scale)};
  }

  /// Draws `text` anchored at (x, y) by the given alignment; returns the covered box.
  Rect draw_text(int x, int y, std::string_view text, Rgb c, int scale, HAlign h, VAlign v, bool bold = false) {
    const Rect box = text_box(x, y, text, std::max(scale, 1), h, v);
    return draw_text(box.x, box.y, text, c, scale, bold);
  }

  /// The box draw_text(x, y, text, c, scale, h, v) would cover.
  [[nodiscard]] static Rect text_box(int x, int y, std::string_view text, int scale, HAlign h, VAlign v) {
    scale = std::max(scale, 1);
    const int w = text_width(text, scale);
    const int left = h == HAlign::left ? x : h == HAlign::center ? x - w / 2 : x - w;
    const int top = v == VAlign::top ? y : v == VAlign::middle ? y - font::baseline * scale / 2 : y - font::baseline * scale;
    return {left, top, w, text_height(scale)};
  }

  /// Text rotated 90° counter-clockwise (reading bottom to top), centred on (cx, cy).
  Rect draw_text_vertical(int cx, int cy, std::string_view text, Rgb c, int scale = 1) {
    scale = std::max(scale, 1);
    const std::string characters = visible_characters(text);
    const int w = text_width(text, scale);  // becomes the vertical extent
    const int hgt = font::baseline * scale;  // centre on the capital height
    // Unrotated (u, v) → rotated (x = left + v, y = bottom - u).
    const int left = cx - hgt / 2, bottom = cy + w / 2;
    int pen = 0;
    for (char ch : characters) {
      for (int row = 0; row < font::cell_height; ++row)
        for (int col = 0; col < font::glyph_width; ++col) {
          if (!font::ink(ch, col, row)) continue;
          const int u = pen + col * scale, v = row * scale;
          fill_rect(left + v, bottom - u - scale, scale, scale, c);
        }
      pen += font::advance * scale;
    }
    return {left, bottom - w, text_height(scale), w};
  }

  /// Encodes the canvas as PNG and writes it atomically (png_writer.hpp).
  void write_png(const std::filesystem::path& path) const { report::write_png(path, image_); }

 private:
  [[nodiscard]] bool in_clip(int x, int y) const noexcept {
    return x >= clip_.x && y >= clip_.y && x < clip_.right() && y < clip_.bottom();
  }

  /// One byte per drawn character: printable ASCII as is, a UTF-8 sequence or a control byte as '?'.
  [[nodiscard]] static std::string visible_characters(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto u = static_cast<unsigned char>(text[i]);
      if (u >= 32 && u <= 126) out.push_back(static_cast<char>(u));
      else if ((u & 0xC0) == 0x80) continue;  // continuation byte: part of the previous '?'
      else out.push_back('?');
    }
    return out;
  }

  io::Image8 image_;
  Rect clip_;
};

}  // namespace skiptune::report
