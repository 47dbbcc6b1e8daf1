// report/: the PNG writer (round trip through the project's own decoder, io/image_decode.hpp, and
// a chunk-level check of the file), the canvas and its bitmap font, and the scatter / line charts
// (size as asked, ink in every series colour, the same label in the same colour across panels,
// and a clear InputError for each kind of bad input).
#include <catch2/catch.hpp>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "skiptune/io/image_decode.hpp"
#include "skiptune/report/canvas.hpp"
#include "skiptune/report/line_plot.hpp"
#include "skiptune/report/png_writer.hpp"
#include "skiptune/report/scatter_plot.hpp"

using namespace skiptune;
using namespace skiptune::report;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("skiptune_test_plot_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

/// A deterministic image that exercises every PNG filter: noise, gradients and flat areas.
io::Image8 test_image(int width, int height) {
  io::Image8 image(width, height);
  std::uint32_t state = 12345;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      std::uint8_t* p = image.at(x, y);
      state = state * 1664525u + 1013904223u;
      if (y % 3 == 0) p[0] = static_cast<std::uint8_t>(state >> 24), p[1] = static_cast<std::uint8_t>(state >> 16),
                      p[2] = static_cast<std::uint8_t>(state >> 8);
      else if (y % 3 == 1) p[0] = static_cast<std::uint8_t>(x * 7), p[1] = static_cast<std::uint8_t>(y * 5), p[2] = 200;
      else p[0] = p[1] = p[2] = 17;
    }
  return image;
}

std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

bool has_color(const io::Image8& image, Rgb c, int x0 = 0, int x1 = -1) {
  if (x1 < 0) x1 = image.width;
  for (int y = 0; y < image.height; ++y)
    for (int x = x0; x < x1; ++x) {
      const std::uint8_t* p = image.at(x, y);
      if (p[0] == c.r && p[1] == c.g && p[2] == c.b) return true;
    }
  return false;
}

/// The bounding box of the pixels that differ from `background` (w = 0 when there are none).
Rect ink_box(const io::Image8& image, Rgb background) {
  int x0 = image.width, y0 = image.height, x1 = -1, y1 = -1;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const std::uint8_t* p = image.at(x, y);
      if (p[0] != background.r || p[1] != background.g || p[2] != background.b)
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    }
  if (x1 < 0) return {};
  return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

std::vector<ScatterPanel> sample_scatter() {
  std::vector<ScatterPanel> panels(2);
  panels[0] = {"Accuracy vs time", "seconds per epoch", "accuracy (%)", {}, false};
  panels[1] = {"Accuracy vs memory", "peak memory (GiB)", "accuracy (%)", {}, true};
  const struct { const char* name; double time, memory, accuracy; } methods[] = {
      {"Full FT", 310, 22.5, 80.2}, {"CoOp", 260, 14.1, 79.1}, {"Tip-Adapter", 35, 4.2, 77.9},
      {"LoRA", 150, 9.8, 80.0},     {"Skip Tuning", 48, 3.1, 80.6}, {"Zero-shot", 1, 1.5, 69.4}};
  for (const auto& m : methods) {
    panels[0].points.push_back({m.name, m.time, m.accuracy});
    panels[1].points.push_back({m.name, m.memory, m.accuracy});
  }
  return panels;
}

std::vector<LinePanel> sample_lines() {
  std::vector<LinePanel> panels(2);
  panels[0] = {"Training loss", "step", "loss", {}, std::nullopt, false};
  panels[1] = {"Validation accuracy", "epoch", "accuracy", {}, std::make_pair(0.0, 1.0), false};
  const char* names[] = {"Full FT", "LayerSkip", "Skip Tuning"};
  for (int k = 0; k < 3; ++k) {
    LineSeries loss{names[k], {}}, accuracy{names[k], {}};
    for (int i = 0; i <= 100; ++i) loss.points.emplace_back(i * 10.0, 2.5 * std::exp(-i / (20.0 + 10 * k)) + 0.3);
    for (int e = 1; e <= 10; ++e) accuracy.points.emplace_back(e, 0.9 - 0.4 * std::exp(-e / (2.0 + k)));
    panels[0].series.push_back(loss);
    panels[1].series.push_back(accuracy);
  }
  return panels;
}

}  // namespace

// --- PNG writer ---------------------------------------------------------------------------------

TEST_CASE("encode_png round-trips through the project's PNG decoder", "[plot][png]") {
  for (const auto& [w, h] : {std::pair{1, 1}, std::pair{37, 23}, std::pair{256, 3}, std::pair{2, 130}}) {
    const io::Image8 image = test_image(w, h);
    const std::vector<std::uint8_t> png = encode_png(image);
    REQUIRE(io::detail::sniff_image_format(png) == io::ImageFormat::png);
    const io::Image8 decoded = io::decode_image(png, "round trip");
    CHECK(decoded.width == w);
    CHECK(decoded.height == h);
    CHECK(decoded.pixels == image.pixels);
  }
}

TEST_CASE("encode_png writes IHDR, IDAT, IEND with correct lengths and CRCs", "[plot][png]") {
  const io::Image8 image = test_image(13, 7);
  const std::vector<std::uint8_t> png = encode_png(image);
  const std::vector<std::uint8_t> signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  REQUIRE(std::equal(signature.begin(), signature.end(), png.begin()));
  std::vector<std::string> types;
  std::size_t at = 8;
  while (at < png.size()) {
    REQUIRE(at + 12 <= png.size());
    const std::uint32_t length = be32(png, at);
    REQUIRE(at + 12 + length <= png.size());
    types.emplace_back(png.begin() + static_cast<std::ptrdiff_t>(at + 4), png.begin() + static_cast<std::ptrdiff_t>(at + 8));
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), png.data() + at + 4, 4 + length);
    CHECK(be32(png, at + 8 + length) == static_cast<std::uint32_t>(crc));
    if (types.back() == "IHDR") {
      REQUIRE(length == 13);
      CHECK(be32(png, at + 8) == 13);      // width
      CHECK(be32(png, at + 12) == 7);      // height
      CHECK(png[at + 16] == 8);            // bit depth
      CHECK(png[at + 17] == 2);            // truecolour RGB
      CHECK(png[at + 20] == 0);            // no interlace
    }
    at += 12 + length;
  }
  CHECK(at == png.size());
  CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
}

TEST_CASE("write_png writes the file atomically and it loads back", "[plot][png]") {
  TempDir dir("write");
  const io::Image8 image = test_image(20, 10);
  write_png(dir.path / "a.png", image);
  CHECK(io::load_image(dir.path / "a.png") == image);
  write_png(dir.path / "a.png", test_image(5, 4));  // replaced in place
  CHECK(io::load_image(dir.path / "a.png").width == 5);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);  // no temporary left
  CHECK_THROWS_AS(write_png(dir.path / "missing_dir" / "b.png", image), IoError);
}

TEST_CASE("encode_png refuses empty images and wrong buffers", "[plot][png]") {
  CHECK_THROWS_AS(encode_png(0, 5, {}), InputError);
  CHECK_THROWS_WITH(encode_png(0, 5, {}), Contains("empty") && Contains("0x5"));
  CHECK_THROWS_WITH(encode_png(4, -1, {}), Contains("empty"));
  CHECK_THROWS_WITH(encode_png(io::Image8{}), Contains("empty"));
  const std::vector<std::uint8_t> short_buffer(10);
  CHECK_THROWS_WITH(encode_png(2, 2, short_buffer), Contains("needs 12 pixel bytes, got 10"));
}

// --- canvas and font ----------------------------------------------------------------------------

TEST_CASE("Canvas has the asked size and background; drawing is clipped", "[plot][canvas]") {
  Canvas canvas(40, 30, Rgb{10, 20, 30});
  CHECK(canvas.width() == 40);
  CHECK(canvas.height() == 30);
  CHECK(canvas.image().pixels.size() == 40u * 30u * 3u);
  CHECK(canvas.pixel(39, 29) == Rgb{10, 20, 30});
  CHECK_THROWS_AS(canvas.pixel(40, 0), InputError);
  CHECK_THROWS_AS(Canvas(0, 10), InputError);

  canvas.fill_rect(-5, -5, 10, 10, colors::white);  // partly outside: cut, no crash
  CHECK(canvas.pixel(4, 4) == colors::white);
  CHECK(canvas.pixel(5, 5) == Rgb{10, 20, 30});

  canvas.set_clip({20, 0, 5, 30});
  canvas.fill_rect(0, 20, 40, 5, colors::black);
  canvas.reset_clip();
  CHECK(canvas.pixel(19, 22) == Rgb{10, 20, 30});
  CHECK(canvas.pixel(20, 22) == colors::black);
  CHECK(canvas.pixel(25, 22) == Rgb{10, 20, 30});

  // Shapes far outside draw nothing and do not fail.
  canvas.draw_line(-100, -100, -50, -80, colors::black, 3);
  canvas.fill_circle(1000, 1000, 5, colors::black);
  canvas.draw_marker(Marker::diamond, -40, 500, 9, colors::black);
}

TEST_CASE("Lines, circles and markers put ink where they should", "[plot][canvas]") {
  Canvas canvas(60, 60);
  canvas.draw_line(5, 10.5, 55, 10.5, colors::black, 1);
  CHECK(canvas.pixel(30, 10) == colors::black);
  CHECK(canvas.pixel(30, 13) == colors::white);
  canvas.fill_circle(30, 35, 6, Rgb{200, 0, 0});
  CHECK(canvas.pixel(30, 35) == Rgb{200, 0, 0});
  CHECK(canvas.pixel(30, 43) == colors::white);
  for (Marker m : {Marker::circle, Marker::square, Marker::triangle_up, Marker::diamond, Marker::triangle_down,
                   Marker::plus, Marker::cross}) {
    Canvas c(21, 21);
    c.draw_marker(m, 10.5, 10.5, 10, Rgb{0, 0, 255}, Rgb{0, 0, 90});
    const Rect box = ink_box(c.image(), colors::white);
    INFO("marker " << static_cast<int>(m));
    CHECK(c.pixel(10, 10) == Rgb{0, 0, 255});
    CHECK(box.w >= 8);
    CHECK(box.w <= 16);
    CHECK(box.h >= 8);
    CHECK(box.h <= 16);
  }
}

TEST_CASE("The bitmap font covers printable ASCII with distinct glyphs", "[plot][font]") {
  std::set<std::array<std::uint8_t, font::cell_height>> seen;
  for (int c = 33; c <= 126; ++c) {
    const auto& rows = font::glyph(static_cast<char>(c)).rows;
    INFO("character '" << static_cast<char>(c) << "'");
    CHECK(std::any_of(rows.begin(), rows.end(), [](std::uint8_t r) { return r != 0; }));
    CHECK(seen.insert(rows).second);
  }
  const auto& space = font::glyph(' ').rows;
  CHECK(std::all_of(space.begin(), space.end(), [](std::uint8_t r) { return r == 0; }));
  CHECK(font::glyph('\x01').rows == font::glyph('?').rows);
  // Descenders reach below the baseline; capitals do not.
  CHECK(font::ink('g', 1, 8));
  CHECK(!font::ink('A', 0, 7));
}

TEST_CASE("Text lands inside its box, at every scale and in both directions", "[plot][font]") {
  for (int scale : {1, 2, 3}) {
    Canvas canvas(400, 80);
    const Rect box = canvas.draw_text(12, 20, "Skip Tuning: 80.6%", colors::black, scale);
    CHECK(box.w == Canvas::text_width("Skip Tuning: 80.6%", scale));
    CHECK(box.w == (18 * 6 - 1) * scale);
    CHECK(box.h == 9 * scale);
    const Rect ink = ink_box(canvas.image(), colors::white);
    INFO("scale " << scale);
    REQUIRE(ink.w > 0);
    CHECK(box.contains(ink));
    CHECK(ink.x == 12);         // 'S' starts in its first column
    CHECK(ink.y == 20);         // and in its first row
    CHECK(ink.bottom() == 20 + 9 * scale);  // 'p' and 'g' reach the last descender row
    CHECK(ink.w >= box.w - scale);
  }
  {
    Canvas canvas(100, 100);
    const Rect box = canvas.draw_text(50, 50, "Hi", colors::black, 2, HAlign::center, VAlign::middle);
    CHECK(box.x == 50 - Canvas::text_width("Hi", 2) / 2);
    CHECK(box.contains(ink_box(canvas.image(), colors::white)));
  }
  {
    Canvas canvas(60, 120);
    const Rect box = canvas.draw_text_vertical(30, 60, "accuracy", colors::black, 1);
    const Rect ink = ink_box(canvas.image(), colors::white);
    CHECK(box.h == Canvas::text_width("accuracy", 1));
    CHECK(box.contains(ink));
    CHECK(ink.h > ink.w);  // it reads upwards
  }
  CHECK(Canvas::text_width("") == 0);
  CHECK(Canvas::text_width("\xc3\xa9t\xc3\xa9") == Canvas::text_width("?t?"));  // UTF-8: one '?' each
}

// --- charts --------------------------------------------------------------------------------------

TEST_CASE("Nice ticks", "[plot][ticks]") {
  const Ticks unit = linear_ticks(0, 1, 6);
  CHECK(unit.labels == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  const Ticks centred = linear_ticks(-7, 7, 5);
  CHECK(centred.labels == std::vector<std::string>{"-5", "0", "5"});
  const Ticks large = linear_ticks(0, 3e7, 4);
  CHECK(large.labels == std::vector<std::string>{"0", "1e7", "2e7", "3e7"});
  const Ticks decades = log_ticks(1, 1000, 5);
  CHECK(decades.major == std::vector<double>{1, 10, 100, 1000});
  CHECK(decades.labels == std::vector<std::string>{"1", "10", "100", "1000"});
  CHECK(decades.minor.size() == 3 * 8);
  const Ticks narrow = log_ticks(1.5, 30, 5);
  CHECK(narrow.labels == std::vector<std::string>{"2", "5", "10", "20"});
}

TEST_CASE("write_scatter_png draws every point's colour at the asked size", "[plot][scatter]") {
  TempDir dir("scatter");
  const std::vector<ScatterPanel> panels = sample_scatter();
  write_scatter_png(dir.path / "scatter.png", "Accuracy vs cost", panels, 900, 420);
  const io::Image8 image = io::load_image(dir.path / "scatter.png");
  CHECK(image.width == 900);
  CHECK(image.height == 420);
  for (std::size_t i = 0; i < panels[0].points.size(); ++i) {
    INFO("label " << panels[0].points[i].label);
    CHECK(has_color(image, series_style(i).color));
  }
  CHECK(image == render_scatter("Accuracy vs cost", panels, 900, 420));  // deterministic

  // The same label keeps its colour across panels: one point "B" in each, after an "A" on the left.
  std::vector<ScatterPanel> two(2);
  two[0].points = {{"A", 1, 1}, {"B", 2, 2}};
  two[1].points = {{"B", 5, 5}};
  PlotOptions no_legend;
  no_legend.legend = false;
  const io::Image8 pair = render_scatter("", two, 600, 300, no_legend);
  CHECK(has_color(pair, series_style(1).color, 300, 600));
  CHECK(!has_color(pair, series_style(0).color, 300, 600));
  CHECK(has_color(pair, series_style(0).color, 0, 300));
}

TEST_CASE("write_line_png draws every series' colour at the asked size", "[plot][line]") {
  TempDir dir("line");
  const std::vector<LinePanel> panels = sample_lines();
  write_line_png(dir.path / "lines.png", "Learning curves", panels, 1000, 400);
  const io::Image8 image = io::load_image(dir.path / "lines.png");
  CHECK(image.width == 1000);
  CHECK(image.height == 400);
  for (std::size_t i = 0; i < panels[0].series.size(); ++i) {
    INFO("series " << panels[0].series[i].label);
    CHECK(has_color(image, series_style(i).color, 0, 500));
    CHECK(has_color(image, series_style(i).color, 500, 1000));
  }
  // A single point, a constant series and a log x axis are fine too.
  std::vector<LinePanel> odd(1);
  odd[0].series = {{"one", {{3, 3}}}, {"flat", {{1, 2}, {10, 2}, {100, 2}}}};
  odd[0].log_x = true;
  CHECK(render_lines("odd", odd, 400, 300).width == 400);
}

TEST_CASE("Charts refuse bad input with a clear InputError", "[plot][errors]") {
  TempDir dir("errors");
  const fs::path out = dir.path / "x.png";
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();

  CHECK_THROWS_WITH(write_scatter_png(out, "t", {}, 800, 400), Contains("no panels"));
  std::vector<ScatterPanel> empty(1);
  empty[0].title = "Empty";
  CHECK_THROWS_AS(write_scatter_png(out, "t", empty, 800, 400), InputError);
  CHECK_THROWS_WITH(write_scatter_png(out, "t", empty, 800, 400), Contains("'Empty'") && Contains("no points"));
  std::vector<ScatterPanel> bad = sample_scatter();
  bad[1].points[2].x = nan;
  CHECK_THROWS_WITH(write_scatter_png(out, "t", bad, 800, 400),
                    Contains("Tip-Adapter") && Contains("non-finite"));
  bad = sample_scatter();
  bad[0].points[0].y = -inf;
  CHECK_THROWS_AS(write_scatter_png(out, "t", bad, 800, 400), InputError);
  bad = sample_scatter();
  bad[1].points[0].x = 0;
  CHECK_THROWS_WITH(write_scatter_png(out, "t", bad, 800, 400), Contains("log x axis") && Contains("must be > 0"));
  CHECK_THROWS_WITH(write_scatter_png(out, "t", sample_scatter(), 0, 400), Contains("0x400"));
  CHECK_THROWS_WITH(write_scatter_png(out, "t", sample_scatter(), 800, -3), Contains("not valid"));
  CHECK_THROWS_WITH(write_scatter_png(out, "t", sample_scatter(), 60, 50), Contains("too small"));

  CHECK_THROWS_WITH(write_line_png(out, "t", {}, 800, 400), Contains("no panels"));
  std::vector<LinePanel> lines(1);
  CHECK_THROWS_WITH(write_line_png(out, "t", lines, 800, 400), Contains("no series"));
  lines[0].series = {{"loss", {}}};
  CHECK_THROWS_WITH(write_line_png(out, "t", lines, 800, 400), Contains("'loss'") && Contains("no points"));
  lines[0].series = {{"loss", {{0, 1}, {1, nan}}}};
  CHECK_THROWS_WITH(write_line_png(out, "t", lines, 800, 400), Contains("non-finite"));
  lines[0].series = {{"loss", {{0, 1}, {1, 2}}}};
  lines[0].y_range = std::make_pair(1.0, 1.0);
  CHECK_THROWS_WITH(write_line_png(out, "t", lines, 800, 400), Contains("y_range"));
  lines[0].y_range.reset();
  CHECK_THROWS_AS(write_line_png(out, "t", lines, 0, 0), InputError);
  CHECK(!fs::exists(out));  // nothing was written by any failed call
}
