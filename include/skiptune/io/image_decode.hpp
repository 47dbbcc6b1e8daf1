// skiptune/io/image_decode.hpp — decode PNG / JPEG / BMP files or memory into an RGB Image8 with
// the same pixel semantics as Pillow's `Image.open(f).convert("RGB")`, which is what the CLIP
// reference pipeline feeds its transforms.
//
// Decoding is done by Debian's compiled stb_image (libstb.so, linked through skiptune::io), so
// <stb/stb_image.h> is included WITHOUT STB_IMAGE_IMPLEMENTATION. Semantics, each checked against
// Pillow 9.4 (see docs/images.md and tests/io/test_image.cpp):
//   - always 3-channel RGB; grayscale is replicated into R = G = B;
//   - alpha is DROPPED, never composited (Pillow's RGBA→RGB and LA→RGB conversions do the same);
//   - palette images are expanded through their palette (palette transparency dropped);
//   - 16-bit RGB(A) PNGs keep the high byte (as Pillow's "RGB;16B" unpacker does); 16-bit
//     grayscale PNGs are CLIPPED to 255 (Pillow opens them as mode "I" and I→RGB clips), which
//     stb alone would not do, so that case is loaded as 16-bit and clipped here;
//   - EXIF orientation is ignored (Pillow's open + convert ignores it too);
//   - truncated files are errors: stb already refuses truncated PNG and JPEG data; for BMP (which
//     stb would silently zero-fill) the pixel-array size is checked here with Pillow's threshold;
//   - JPEG pixels are NOT bit-identical to Pillow's (libjpeg-turbo's IDCT and chroma upsampling
//     differ from stb's); the difference is measured in the tests and documented.
// Other formats stb could read (GIF, TGA, PSD, HDR, PIC, PNM) are refused: their stb semantics
// differ from Pillow's (e.g. GIF transparency, HDR tone mapping).
#pragma once

#include <stb/stb_image.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/io/image8.hpp"

namespace skiptune::io {

enum class ImageFormat { png, jpeg, bmp };

inline const char* format_name(ImageFormat format) noexcept {
  switch (format) {
    case ImageFormat::png: return "PNG";
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::bmp: return "BMP";
  }
  return "?";
}

/// Guards against decompression bombs: checked from the header, before any pixel is allocated.
struct DecodeLimits {
  /// Pillow raises DecompressionBombError above 2 × Image.MAX_IMAGE_PIXELS = 178,956,970 pixels.
  std::uint64_t max_pixels = 178'956'970;
  /// stb_image's own STBI_MAX_DIMENSIONS.
  int max_side = 1 << 24;
};

namespace detail {

/// The format from the file's magic bytes, or nullopt for anything else.
inline std::optional<ImageFormat> sniff_image_format(std::span<const std::uint8_t> bytes) noexcept {
  static constexpr std::uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), png_signature, 8) == 0) return ImageFormat::png;
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return ImageFormat::jpeg;
  if (bytes.size() >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return ImageFormat::bmp;
  return std::nullopt;
}

inline std::uint32_t read_u32_le(const std::uint8_t* p) noexcept {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
inline std::uint16_t read_u16_le(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}

/// True for a 16-bit plain grayscale PNG (IHDR bit depth 16, colour type 0): the one PNG kind
/// where Pillow (mode "I", then clip to 255) and stb (high byte) disagree.
inline bool is_png_gray16(std::span<const std::uint8_t> bytes) noexcept {
  // signature (8) | IHDR length (4) | "IHDR" (4) | width (4) | height (4) | depth (1) | colour type (1)
  return bytes.size() >= 26 && std::memcmp(bytes.data() + 12, "IHDR", 4) == 0 && bytes[24] == 16 && bytes[25] == 0;
}

/// For an uncompressed BMP, an error text when the file is too short for its pixel array, else
/// empty. stb zero-fills missing BMP data silently; Pillow refuses it. Pillow's threshold is
/// reproduced: every row but the last needs its padded stride, the last row only its pixel bytes.
inline std::string bmp_truncation_problem(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 30) return {};  // too short for a header: stb reports that itself
  const std::uint32_t pixel_offset = read_u32_le(bytes.data() + 10);
  const std::uint32_t header_size = read_u32_le(bytes.data() + 14);
  std::int64_t width = 0, height = 0;
  std::uint32_t bits_per_pixel = 0, compression = 0;
  if (header_size == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes, never compressed
    width = read_u16_le(bytes.data() + 18);
    height = read_u16_le(bytes.data() + 20);
    bits_per_pixel = read_u16_le(bytes.data() + 24);
  } else {
    if (bytes.size() < 34) return {};
    width = static_cast<std::int32_t>(read_u32_le(bytes.data() + 18));
    height = static_cast<std::int32_t>(read_u32_le(bytes.data() + 22));
    bits_per_pixel = read_u16_le(bytes.data() + 28);
    compression = read_u32_le(bytes.data() + 30);
  }
  if (height < 0) height = -height;  // top-down BMP
  // Only BI_RGB (0), BI_BITFIELDS (3) and BI_ALPHABITFIELDS (6) have a computable size; stb
  // refuses RLE itself. Nonsense headers are left to stb's own checks.
  if ((compression != 0 && compression != 3 && compression != 6) || width <= 0 || height <= 0 ||
      bits_per_pixel == 0 || bits_per_pixel > 32 || pixel_offset < 14 + header_size) {
    return {};
  }
  const std::uint64_t row_bits = static_cast<std::uint64_t>(width) * bits_per_pixel;
  const std::uint64_t stride = (row_bits + 31) / 32 * 4;
  const std::uint64_t needed = pixel_offset + stride * static_cast<std::uint64_t>(height - 1) + (row_bits + 7) / 8;
  if (needed <= bytes.size()) return {};
  return skiptune::detail::message("truncated BMP: the pixel data needs ", needed, " bytes, the file has ",
                                   bytes.size());
}

inline std::string first_bytes_hex(std::span<const std::uint8_t> bytes) {
  std::ostringstream out;
  for (std::size_t i = 0; i < bytes.size() && i < 8; ++i) {
    out << (i ? " " : "") << std::hex << std::setw(2) << std::setfill('0') << int{bytes[i]};
  }
  return out.str();
}

inline std::string stb_reason() {
  const char* reason = stbi_failure_reason();  // thread-local in Debian's build
  return reason ? reason : "no reason given";
}

struct StbFree {
  void operator()(void* p) const noexcept { stbi_image_free(p); }
};

}  // namespace detail

/// Decode an encoded PNG / JPEG / BMP image held in memory. `source_name` names the image in
/// error messages (a file path, a dataset key). Throws IoError naming it and stb's reason.
inline Image8 decode_image(std::span<const std::uint8_t> bytes, std::string_view source_name = "<memory>",
                           const DecodeLimits& limits = {}) {
  const auto fail = [&](auto&&... parts) -> IoError {
    return IoError(skiptune::detail::message("image '", source_name, "': ", parts...));
  };
  if (bytes.empty()) throw fail("the file is empty (0 bytes)");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) throw fail("larger than 2 GiB, which stb_image cannot take");
  const std::optional<ImageFormat> format = detail::sniff_image_format(bytes);
  if (!format) {
    throw fail("unsupported or unrecognised image format (first bytes: ", detail::first_bytes_hex(bytes),
               "); supported: PNG, JPEG, BMP");
  }
  const char* kind = format_name(*format);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = static_cast<int>(bytes.size());

  // Header first: refuse absurd sizes before stb allocates anything.
  int width = 0, height = 0, stored_channels = 0;
  if (!stbi_info_from_memory(data, length, &width, &height, &stored_channels)) {
    throw fail("corrupt or unsupported ", kind, " header (stb_image: ", detail::stb_reason(), ")");
  }
  if (width <= 0 || height <= 0) throw fail(kind, " header gives an empty size ", width, "x", height);
  const std::uint64_t pixel_count = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  if (width > limits.max_side || height > limits.max_side || pixel_count > limits.max_pixels) {
    throw fail(kind, " header gives ", width, "x", height, " = ", pixel_count,
               " pixels, over the limit (DecodeLimits: max_pixels ", limits.max_pixels, ", max_side ",
               limits.max_side, ")");
  }
  if (*format == ImageFormat::bmp) {
    if (std::string problem = detail::bmp_truncation_problem(bytes); !problem.empty()) throw fail(problem);
  }

  Image8 image(width, height);
  int decoded_width = 0, decoded_height = 0, ignored_channels = 0;
  if (*format == ImageFormat::png && detail::is_png_gray16(bytes)) {
    // Pillow: mode "I" → RGB clips each value to 255 (not the high byte).
    std::unique_ptr<stbi_us, detail::StbFree> gray(
        stbi_load_16_from_memory(data, length, &decoded_width, &decoded_height, &ignored_channels, 1));
    if (!gray) throw fail("corrupt or truncated ", kind, " data (stb_image: ", detail::stb_reason(), ")");
    if (decoded_width != width || decoded_height != height) throw fail("decoded size differs from the header");
    for (std::size_t i = 0; i < pixel_count; ++i) {
      const auto value = static_cast<std::uint8_t>(std::min<stbi_us>(gray.get()[i], 255));
      image.pixels[3 * i] = image.pixels[3 * i + 1] = image.pixels[3 * i + 2] = value;
    }
    return image;
  }
  // req_comp = 3: stb replicates gray into RGB, drops alpha, expands palettes, and takes the high
  // byte of 16-bit samples — Pillow's convert("RGB") in every one of those cases.
  std::unique_ptr<stbi_uc, detail::StbFree> rgb(
      stbi_load_from_memory(data, length, &decoded_width, &decoded_height, &ignored_channels, 3));
  if (!rgb) throw fail("corrupt or truncated ", kind, " data (stb_image: ", detail::stb_reason(), ")");
  if (decoded_width != width || decoded_height != height) throw fail("decoded size differs from the header");
  std::memcpy(image.pixels.data(), rgb.get(), image.pixels.size());
  return image;
}

namespace detail {

/// The whole file as bytes; IoError naming the file and the OS reason otherwise.
inline std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    throw IoError(skiptune::detail::message("image '", path.string(), "': cannot open: no such file"));
  }
  if (std::filesystem::is_directory(status)) {
    throw IoError(skiptune::detail::message("image '", path.string(), "': cannot open: it is a directory"));
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError(skiptune::detail::message("image '", path.string(), "': cannot open: ",
                                  errno ? std::strerror(errno) : "unknown error"));
  }
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(skiptune::detail::message("image '", path.string(), "': read error"));
  return bytes;
}

}  // namespace detail

/// Load and decode an image file (PNG / JPEG / BMP) to RGB. Errors name the file.
inline Image8 load_image(const std::filesystem::path& path, const DecodeLimits& limits = {}) {
  const std::vector<std::uint8_t> bytes = detail::read_file_bytes(path);
  return decode_image(bytes, path.string(), limits);
}

}  // namespace skiptune::io
