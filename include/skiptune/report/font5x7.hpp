// skiptune/report/font5x7.hpp — skiptune's own bitmap font for plots: printable ASCII 32..126,
// each glyph 5 pixels wide in a 9-row cell (rows 0..6: capitals and digits, rows 2..6: the
// x-height, rows 7..8: descenders of g j p q y , ; _). Drawn by hand for this project.
//
// A glyph is written as its rows from the top, '#' for ink, separated by '|', plus the cell row
// its first row lands on (2 for the descender letters, whose table starts at the x-height). The
// table is parsed at compile time: a malformed row stops the build.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace skiptune::report::font {

inline constexpr int glyph_width = 5;   ///< ink columns of every glyph
inline constexpr int cell_height = 9;   ///< rows of a cell: 7 above the baseline, 2 below
inline constexpr int advance = 6;       ///< horizontal step from one character to the next
inline constexpr int line_height = 11;  ///< vertical step from one text line to the next
inline constexpr int baseline = 7;      ///< rows above the baseline (capital height)

namespace detail {

struct GlyphSource {
  char character;
  int top;               // cell row of the first written row
  std::string_view rows;  // "#...#|.#.#.|..." from the top
};

// clang-format off
inline constexpr std::array<GlyphSource, 95> glyph_sources = {{
  {' ', 0, "....."},
  {'!', 0, "..#..|..#..|..#..|..#..|..#..|.....|..#.."},
  {'"', 0, ".#.#.|.#.#.|.#.#."},
  {'#', 0, ".#.#.|.#.#.|#####|.#.#.|#####|.#.#.|.#.#."},
  {'$', 0, "..#..|.####|#.#..|.###.|..#.#|####.|..#.."},
  {'%', 0, "##...|##..#|...#.|..#..|.#...|#..##|...##"},
  {'&', 0, ".##..|#..#.|#.#..|.#...|#.#.#|#..#.|.##.#"},
  {'\'',0, "..#..|..#..|.#..."},
  {'(', 0, "...#.|..#..|.#...|.#...|.#...|..#..|...#."},
  {')', 0, ".#...|..#..|...#.|...#.|...#.|..#..|.#..."},
  {'*', 0, ".....|..#..|#.#.#|.###.|#.#.#|..#..|....."},
  {'+', 0, ".....|..#..|..#..|#####|..#..|..#..|....."},
  {',', 5, ".##..|.##..|..#..|.#..."},
  {'-', 0, ".....|.....|.....|.####|.....|.....|....."},
  {'.', 0, ".....|.....|.....|.....|.....|.##..|.##.."},
  {'/', 0, ".....|....#|...#.|..#..|.#...|#....|....."},
  {'0', 0, ".###.|#...#|#..##|#.#.#|##..#|#...#|.###."},
  {'1', 0, "..#..|.##..|..#..|..#..|..#..|..#..|.###."},
  {'2', 0, ".###.|#...#|....#|...#.|..#..|.#...|#####"},
  {'3', 0, "#####|...#.|..#..|...#.|....#|#...#|.###."},
  {'4', 0, "...#.|..##.|.#.#.|#..#.|#####|...#.|...#."},
  {'5', 0, "#####|#....|####.|....#|....#|#...#|.###."},
  {'6', 0, "..##.|.#...|#....|####.|#...#|#...#|.###."},
  {'7', 0, "#####|....#|...#.|..#..|.#...|.#...|.#..."},
  {'8', 0, ".###.|#...#|#...#|.###.|#...#|#...#|.###."},
  {'9', 0, ".###.|#...#|#...#|.####|....#|...#.|.##.."},
  {':', 0, ".....|.##..|.##..|.....|.##..|.##..|....."},
  {';', 1, ".##..|.##..|.....|.##..|.##..|..#..|.#..."},
  {'<', 0, "...#.|..#..|.#...|#....|.#...|..#..|...#."},
  {'=', 0, ".....|.....|#####|.....|#####|.....|....."},
  {'>', 0, ".#...|..#..|...#.|....#|...#.|..#..|.#..."},
  {'?', 0, ".###.|#...#|....#|...#.|..#..|.....|..#.."},
  {'@', 0, ".###.|#...#|....#|.##.#|#.#.#|#.#.#|.###."},
  {'A', 0, ".###.|#...#|#...#|#####|#...#|#...#|#...#"},
  {'B', 0, "####.|#...#|#...#|####.|#...#|#...#|####."},
  {'C', 0, ".###.|#...#|#....|#....|#....|#...#|.###."},
  {'D', 0, "###..|#..#.|#...#|#...#|#...#|#..#.|###.."},
  {'E', 0, "#####|#....|#....|####.|#....|#....|#####"},
  {'F', 0, "#####|#....|#....|####.|#....|#....|#...."},
  {'G', 0, ".###.|#...#|#....|#.###|#...#|#...#|.####"},
  {'H', 0, "#...#|#...#|#...#|#####|#...#|#...#|#...#"},
  {'I', 0, ".###.|..#..|..#..|..#..|..#..|..#..|.###."},
  {'J', 0, "..###|...#.|...#.|...#.|...#.|#..#.|.##.."},
  {'K', 0, "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#"},
  {'L', 0, "#....|#....|#....|#....|#....|#....|#####"},
  {'M', 0, "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#"},
  {'N', 0, "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#"},
  {'O', 0, ".###.|#...#|#...#|#...#|#...#|#...#|.###."},
  {'P', 0, "####.|#...#|#...#|####.|#....|#....|#...."},
  {'Q', 0, ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#"},
  {'R', 0, "####.|#...#|#...#|####.|#.#..|#..#.|#...#"},
  {'S', 0, ".####|#....|#....|.###.|....#|....#|####."},
  {'T', 0, "#####|..#..|..#..|..#..|..#..|..#..|..#.."},
  {'U', 0, "#...#|#...#|#...#|#...#|#...#|#...#|.###."},
  {'V', 0, "#...#|#...#|#...#|#...#|#...#|.#.#.|..#.."},
  {'W', 0, "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#."},
  {'X', 0, "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#"},
  {'Y', 0, "#...#|#...#|.#.#.|..#..|..#..|..#..|..#.."},
  {'Z', 0, "#####|....#|...#.|..#..|.#...|#....|#####"},
  {'[', 0, ".###.|.#...|.#...|.#...|.#...|.#...|.###."},
  {'\\',0, ".....|#....|.#...|..#..|...#.|....#|....."},
  {']', 0, ".###.|...#.|...#.|...#.|...#.|...#.|.###."},
  {'^', 0, "..#..|.#.#.|#...#"},
  {'_', 8, "#####"},
  {'`', 0, ".#...|..#..|...#."},
  {'a', 2, ".###.|....#|.####|#...#|.####"},
  {'b', 0, "#....|#....|#.##.|##..#|#...#|#...#|####."},
  {'c', 2, ".###.|#....|#....|#...#|.###."},
  {'d', 0, "....#|....#|.##.#|#..##|#...#|#...#|.####"},
  {'e', 2, ".###.|#...#|#####|#....|.###."},
  {'f', 0, "..##.|.#..#|.#...|###..|.#...|.#...|.#..."},
  {'g', 2, ".####|#...#|#...#|#...#|.####|....#|.###."},
  {'h', 0, "#....|#....|#.##.|##..#|#...#|#...#|#...#"},
  {'i', 0, "..#..|.....|.##..|..#..|..#..|..#..|.###."},
  {'j', 0, "...#.|.....|..##.|...#.|...#.|...#.|...#.|#..#.|.##.."},
  {'k', 0, "#....|#....|#..#.|#.#..|##...|#.#..|#..#."},
  {'l', 0, ".##..|..#..|..#..|..#..|..#..|..#..|.###."},
  {'m', 2, "##.#.|#.#.#|#.#.#|#.#.#|#.#.#"},
  {'n', 2, "#.##.|##..#|#...#|#...#|#...#"},
  {'o', 2, ".###.|#...#|#...#|#...#|.###."},
  {'p', 2, "####.|#...#|#...#|#...#|####.|#....|#...."},
  {'q', 2, ".####|#...#|#...#|#...#|.####|....#|....#"},
  {'r', 2, "#.##.|##..#|#....|#....|#...."},
  {'s', 2, ".####|#....|.###.|....#|####."},
  {'t', 0, ".#...|.#...|###..|.#...|.#...|.#..#|..##."},
  {'u', 2, "#...#|#...#|#...#|#..##|.##.#"},
  {'v', 2, "#...#|#...#|#...#|.#.#.|..#.."},
  {'w', 2, "#...#|#...#|#.#.#|#.#.#|.#.#."},
  {'x', 2, "#...#|.#.#.|..#..|.#.#.|#...#"},
  {'y', 2, "#...#|#...#|#...#|#...#|.####|....#|.###."},
  {'z', 2, "#####|...#.|..#..|.#...|#####"},
  {'{', 0, "...##|..#..|..#..|.#...|..#..|..#..|...##"},
  {'|', 0, "..#..|..#..|..#..|..#..|..#..|..#..|..#..|..#.."},
  {'}', 0, "##...|..#..|..#..|...#.|..#..|..#..|##..."},
  {'~', 0, ".....|.....|.#...|#.#.#|...#.|.....|....."},
}};
// clang-format on

/// One glyph as cell rows; bit (glyph_width - 1 - column) of rows[r] is the pixel (column, r).
struct Glyph {
  std::array<std::uint8_t, cell_height> rows{};
};

/// A malformed source row is a compile error (throw in a constant expression).
constexpr Glyph parse_glyph(const GlyphSource& source) {
  Glyph glyph;
  int row = source.top;
  int column = 0;
  for (char c : source.rows) {
    if (c == '|') {
      if (column != glyph_width) throw "font5x7: a glyph row is not 5 columns wide";
      ++row;
      column = 0;
      continue;
    }
    if (row >= cell_height) throw "font5x7: a glyph is taller than the cell";
    if (column >= glyph_width) throw "font5x7: a glyph row is wider than 5 columns";
    if (c == '#') glyph.rows[static_cast<std::size_t>(row)] |= static_cast<std::uint8_t>(1u << (glyph_width - 1 - column));
    else if (c != '.') throw "font5x7: a glyph row holds a character other than '#' and '.'";
    ++column;
  }
  if (column != glyph_width) throw "font5x7: a glyph row is not 5 columns wide";
  return glyph;
}

constexpr std::array<Glyph, 95> parse_all() {
  std::array<Glyph, 95> glyphs{};
  for (std::size_t i = 0; i < glyph_sources.size(); ++i) {
    if (glyph_sources[i].character != static_cast<char>(32 + i)) throw "font5x7: the table is not in ASCII order";
    glyphs[i] = parse_glyph(glyph_sources[i]);
  }
  return glyphs;
}

inline constexpr std::array<Glyph, 95> glyphs = parse_all();

}  // namespace detail

/// The glyph of `c`; characters outside printable ASCII get '?'.
constexpr const detail::Glyph& glyph(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return detail::glyphs[(u >= 32 && u <= 126) ? u - 32 : '?' - 32];
}

/// True when pixel (column, row) of `c`'s cell is ink.
constexpr bool ink(char c, int column, int row) noexcept {
  if (column < 0 || column >= glyph_width || row < 0 || row >= cell_height) return false;
  return (glyph(c).rows[static_cast<std::size_t>(row)] >> (glyph_width - 1 - column)) & 1u;
}

}  // namespace skiptune::report::font
