// skiptune/report/png_writer.hpp — encode an 8-bit RGB image as a PNG file (zlib only), and write
// it atomically. The output is a plain, valid PNG: signature, IHDR (8-bit truecolour, no
// interlace), one IDAT (zlib stream of the filtered scanlines), IEND, each chunk with its CRC-32.
// Each scanline takes the filter (None, Sub, Up, Average, Paeth) with the smallest sum of absolute
// filtered bytes — the usual heuristic; plots (large flat areas) compress to a few KiB.
// Decoding is io/image_decode.hpp's business (tests/test_plot.cpp round-trips through it).
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "skiptune/core/atomic_file.hpp"
#include "skiptune/core/errors.hpp"
#include "skiptune/io/image8.hpp"

namespace skiptune::report {

namespace detail {

inline void png_put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 24));
  out.push_back(static_cast<std::uint8_t>(value >> 16));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

/// Appends one chunk: length, type, data, CRC-32 over type + data.
inline void png_put_chunk(std::vector<std::uint8_t>& out, const char (&type)[5], std::span<const std::uint8_t> data) {
  png_put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + type_at, 4);
  // zlib's crc32 takes uInt lengths: feed the data in pieces (a chunk may exceed 4 GiB in theory).
  const std::uint8_t* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const auto piece = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = crc32(crc, p, piece);
    p += piece;
    left -= piece;
  }
  png_put_u32(out, static_cast<std::uint32_t>(crc));
}

inline std::uint8_t png_paeth(int a, int b, int c) noexcept {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
  if (pb <= pc) return static_cast<std::uint8_t>(b);
  return static_cast<std::uint8_t>(c);
}

}  // namespace detail

/// The PNG file (all its bytes) of a width × height RGB image; `rgb` holds [height][width][3]
/// bytes, row-major, no padding. InputError for an empty image (a side ≤ 0), a side above PNG's
/// 2^31 − 1, or a pixel buffer of the wrong size; IoError if zlib fails.
inline std::vector<std::uint8_t> encode_png(int width, int height, std::span<const std::uint8_t> rgb) {
  require<InputError>(width > 0 && height > 0, "encode_png: the image is empty (", width, "x", height,
                      "); a PNG needs width >= 1 and height >= 1");
  const std::size_t row = static_cast<std::size_t>(width) * 3;
  const std::size_t expected = row * static_cast<std::size_t>(height);
  require<InputError>(rgb.size() == expected, "encode_png: a ", width, "x", height, " RGB image needs ", expected,
                      " pixel bytes, got ", rgb.size());

  // Filtered scanlines: one filter-type byte, then the row.
  std::vector<std::uint8_t> filtered((row + 1) * static_cast<std::size_t>(height));
  std::array<std::vector<std::uint8_t>, 5> candidates;
  for (auto& candidate : candidates) candidate.resize(row);
  const std::vector<std::uint8_t> zero_row(row, 0);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* cur = rgb.data() + static_cast<std::size_t>(y) * row;
    const std::uint8_t* prev = y > 0 ? cur - row : zero_row.data();
    for (std::size_t i = 0; i < row; ++i) {
      const int a = i >= 3 ? cur[i - 3] : 0, b = prev[i], c = i >= 3 ? prev[i - 3] : 0, x = cur[i];
      candidates[0][i] = static_cast<std::uint8_t>(x);
      candidates[1][i] = static_cast<std::uint8_t>(x - a);
      candidates[2][i] = static_cast<std::uint8_t>(x - b);
      candidates[3][i] = static_cast<std::uint8_t>(x - (a + b) / 2);
      candidates[4][i] = static_cast<std::uint8_t>(x - detail::png_paeth(a, b, c));
    }
    std::size_t best = 0;
    std::uint64_t best_cost = std::numeric_limits<std::uint64_t>::max();
    for (std::size_t f = 0; f < candidates.size(); ++f) {
      std::uint64_t cost = 0;  // bytes read as signed: small residues either way are cheap
      for (std::uint8_t v : candidates[f]) cost += v < 128 ? v : 256 - v;
      if (cost < best_cost) best_cost = cost, best = f;
    }
    std::uint8_t* out = filtered.data() + static_cast<std::size_t>(y) * (row + 1);
    out[0] = static_cast<std::uint8_t>(best);
    std::copy(candidates[best].begin(), candidates[best].end(), out + 1);
  }

  require<InputError>(filtered.size() <= std::numeric_limits<uLong>::max() / 2,
                      "encode_png: a ", width, "x", height, " image is too large for zlib");
  uLongf compressed_size = compressBound(static_cast<uLong>(filtered.size()));
  std::vector<std::uint8_t> compressed(compressed_size);
  const int status = compress2(compressed.data(), &compressed_size, filtered.data(),
                               static_cast<uLong>(filtered.size()), 6);
  require<IoError>(status == Z_OK, "encode_png: zlib compress2 failed (status ", status, ")");
  compressed.resize(compressed_size);
  require<InputError>(compressed.size() <= 0x7fffffffu, "encode_png: the compressed image exceeds PNG's 2 GiB chunk limit");

  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> ihdr;
  detail::png_put_u32(ihdr, static_cast<std::uint32_t>(width));
  detail::png_put_u32(ihdr, static_cast<std::uint32_t>(height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
  detail::png_put_chunk(png, "IHDR", ihdr);
  detail::png_put_chunk(png, "IDAT", compressed);
  detail::png_put_chunk(png, "IEND", {});
  return png;
}

/// The PNG file of an Image8 (InputError if it is empty).
inline std::vector<std::uint8_t> encode_png(const io::Image8& image) {
  return encode_png(image.width, image.height, image.pixels);
}

/// Encode and write a PNG atomically (core/atomic_file.hpp): a reader sees the old file or the
/// new one, never half a picture. IoError names the path.
inline void write_png(const std::filesystem::path& path, int width, int height, std::span<const std::uint8_t> rgb) {
  const std::vector<std::uint8_t> bytes = encode_png(width, height, rgb);
  write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), "PNG image");
}

inline void write_png(const std::filesystem::path& path, const io::Image8& image) {
  write_png(path, image.width, image.height, image.pixels);
}

}  // namespace skiptune::report
