// skiptune/io/image_decode.hpp — decode PNG / JPEG / BMP files or memory into an RGB Image8 with
// the same pixel semantics as Pillow's `Image.open(f).convert("RGB")`, which is what the CLIP
// reference pipeline feeds its transforms.
//
// JPEG is decoded by libjpeg-turbo (Debian's libjpeg62-turbo, the library Pillow itself uses),
// driven the way Pillow 9.4's JpegDecode.c drives it; PNG and BMP by Debian's compiled stb_image
// (libstb.so), so <stb/stb_image.h> is included WITHOUT STB_IMAGE_IMPLEMENTATION. Both come with
// skiptune::io. Semantics, each checked against Pillow 9.4 (docs/images.md, tests/io/test_image.cpp):
//   - always 3-channel RGB; grayscale is replicated into R = G = B;
//   - alpha is DROPPED, never composited (Pillow's RGBA→RGB and LA→RGB conversions do the same);
//   - palette images are expanded through their palette (palette transparency dropped);
//   - 16-bit RGB(A) PNGs keep the high byte (as Pillow's "RGB;16B" unpacker does); 16-bit
//     grayscale PNGs are CLIPPED to 255 (Pillow opens them as mode "I" and I→RGB clips), which
//     stb alone would not do, so that case is loaded as 16-bit and clipped here;
//   - JPEG: libjpeg's defaults (accurate integer IDCT JDCT_ISLOW, fancy upsampling, block
//     smoothing), output RGB for 3 components, grayscale for 1, and for 4 components CMYK taken as
//     Adobe-inverted (Pillow's "CMYK;I") then Pillow's CMYK→RGB formula — bit-identical to Pillow;
//   - EXIF orientation is ignored (Pillow's open + convert ignores it too);
//   - truncated files are errors: stb already refuses truncated PNG data; JPEG data is fed to
//     libjpeg through a suspending source exactly as Pillow feeds it, so a JPEG is refused exactly
//     when Pillow says "image file is truncated"; for BMP (which stb would silently zero-fill) the
//     pixel-array size is checked here with Pillow's threshold.
// Other formats stb could read (GIF, TGA, PSD, HDR, PIC, PNM) are refused: their stb semantics
// differ from Pillow's (e.g. GIF transparency, HDR tone mapping).
#pragma once

#include <stb/stb_image.h>

// jpeglib.h needs size_t and FILE declared first. (It also brings libjpeg's usual global names:
// the boolean / UINT8 / INT32 ... typedefs and the TRUE, FALSE, LOCAL, GLOBAL, METHODDEF ... macros.)
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csetjmp>
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
#include <utility>
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

/// Guards against decompression bombs (checked from the header, before any pixel is allocated) and
/// how strict to be with damaged JPEG data.
struct DecodeLimits {
  /// Pillow raises DecompressionBombError above 2 × Image.MAX_IMAGE_PIXELS = 178,956,970 pixels.
  std::uint64_t max_pixels = 178'956'970;
  /// stb_image's own STBI_MAX_DIMENSIONS (JPEG: libjpeg refuses sides over 65500 itself).
  int max_side = 1 << 24;
  /// libjpeg's warnings ("Corrupt JPEG data: N extraneous bytes before marker 0xd9", "Corrupt JPEG
  /// data: premature end of data segment", ...) mean damaged data that libjpeg decoded anyway.
  /// Pillow ignores them and returns the pixels; so does skiptune by default. Set this to refuse
  /// such files (IoError quoting the first warning). Truncation is always an error, either way.
  bool jpeg_warnings_are_errors = false;
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

// --- JPEG through libjpeg-turbo, the way Pillow 9.4 (src/libImaging/JpegDecode.c) drives it -----
//
// Error handling: libjpeg reports a fatal error by calling error_exit, which must not return.
// Ours formats libjpeg's message and longjmps back. Every libjpeg call that can fail runs inside
// one of the small jpeg_guarded_* functions below: each calls setjmp itself and has no local
// object with a non-trivial destructor, and the only frames between it and error_exit are
// libjpeg's (C) frames, so the longjmp skips no destructor ([csetjmp.syn]: well defined). The C++
// objects (the pixel buffer, the session's owner) live in the caller, above the setjmp frame.
// Exceptions are never thrown through libjpeg.

/// All libjpeg state of one decode, trivially destructible; heap-allocated and owned by JpegOwner,
/// whose deleter calls jpeg_destroy_decompress (which frees everything libjpeg allocated).
struct JpegSession {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr error;
  jpeg_source_mgr source;
  std::jmp_buf jump;
  bool created;
  char message[JMSG_LENGTH_MAX];        // the fatal error's text
  char first_warning[JMSG_LENGTH_MAX];  // the first warning's text (error.num_warnings counts them)
};

struct JpegSessionFree {
  void operator()(JpegSession* session) const noexcept {
    if (session->created) jpeg_destroy_decompress(&session->cinfo);  // cannot fail
    delete session;
  }
};
using JpegOwner = std::unique_ptr<JpegSession, JpegSessionFree>;

inline JpegSession& jpeg_session_of(j_common_ptr cinfo) noexcept {
  return *static_cast<JpegSession*>(cinfo->client_data);
}

/// Fatal error: keep libjpeg's message, jump back to the guarded call (never returns).
inline void jpeg_error_exit(j_common_ptr cinfo) {
  JpegSession& session = jpeg_session_of(cinfo);
  (*cinfo->err->format_message)(cinfo, session.message);
  std::longjmp(session.jump, 1);
}

/// Warnings (msg_level −1) are counted and the first one kept; trace messages are dropped. Nothing
/// is printed (libjpeg's default prints to stderr; Pillow's output_message is a no-op too).
inline void jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;
  if (cinfo->err->num_warnings++ == 0) {
    (*cinfo->err->format_message)(cinfo, jpeg_session_of(cinfo).first_warning);
  }
}
inline void jpeg_output_message(j_common_ptr) {}

// A suspending source over the whole file, as Pillow's: when libjpeg wants bytes past the end,
// fill_input_buffer returns FALSE and the libjpeg call returns "suspended". Pillow then reads
// more from the file, finds none and raises "image file is truncated" — so does skiptune.
// (libjpeg's own jpeg_mem_src would instead insert a fake EOI, warn "Premature end of JPEG file"
// and return a grey-filled image: Pillow's LOAD_TRUNCATED_IMAGES behaviour, not its default.)
inline void jpeg_source_noop(j_decompress_ptr) {}
inline boolean jpeg_source_fill(j_decompress_ptr) { return FALSE; }
inline void jpeg_source_skip(j_decompress_ptr cinfo, long count) {
  jpeg_source_mgr& source = *cinfo->src;
  if (count <= 0) return;
  const auto wanted = static_cast<unsigned long>(count);
  const std::size_t step = std::min<std::size_t>(static_cast<std::size_t>(wanted), source.bytes_in_buffer);
  source.next_input_byte += step;
  source.bytes_in_buffer -= step;  // skipping past the end leaves nothing: the next read suspends
}

enum class JpegStep { done, suspended, failed };

inline JpegStep jpeg_guarded_create(JpegSession& session, const std::uint8_t* data, std::size_t size) noexcept {
  session.cinfo.err = jpeg_std_error(&session.error);
  session.error.error_exit = jpeg_error_exit;
  session.error.emit_message = jpeg_emit_message;
  session.error.output_message = jpeg_output_message;
  session.cinfo.client_data = &session;  // kept by jpeg_create_decompress
  if (setjmp(session.jump)) return JpegStep::failed;
  session.created = true;  // jpeg_destroy_decompress is safe on a partly created (or zeroed) object
  jpeg_create_decompress(&session.cinfo);
  session.source.init_source = jpeg_source_noop;
  session.source.fill_input_buffer = jpeg_source_fill;
  session.source.skip_input_data = jpeg_source_skip;
  session.source.resync_to_restart = jpeg_resync_to_restart;
  session.source.term_source = jpeg_source_noop;
  session.source.next_input_byte = data;
  session.source.bytes_in_buffer = size;
  session.cinfo.src = &session.source;
  return JpegStep::done;
}

/// jpeg_read_header(require_image = FALSE), repeated over tables-only datastreams, as Pillow does.
inline JpegStep jpeg_guarded_read_header(JpegSession& session) noexcept {
  if (setjmp(session.jump)) return JpegStep::failed;
  int status = JPEG_HEADER_TABLES_ONLY;
  while (status == JPEG_HEADER_TABLES_ONLY) status = jpeg_read_header(&session.cinfo, FALSE);
  return status == JPEG_SUSPENDED ? JpegStep::suspended : JpegStep::done;
}

/// jpeg_start_decompress (for a progressive file this reads every scan).
inline JpegStep jpeg_guarded_start(JpegSession& session) noexcept {
  if (setjmp(session.jump)) return JpegStep::failed;
  return jpeg_start_decompress(&session.cinfo) ? JpegStep::done : JpegStep::suspended;
}

/// Pillow's MULDIV255(a, b): t = a·b + 128, ((t >> 8) + t) >> 8 — a·b/255 rounded to nearest.
inline std::uint8_t jpeg_muldiv255(int a, int b) noexcept {
  const int t = a * b + 128;
  return static_cast<std::uint8_t>(((t >> 8) + t) >> 8);
}

/// Read the scanlines one at a time, as Pillow does, converting each into RGB at `rgb` (rows of
/// 3·width bytes); `scratch` holds one decoded row of 1 or 4 components. `rows_read` counts the
/// rows delivered before any suspension.
inline JpegStep jpeg_guarded_read_rows(JpegSession& session, std::uint8_t* rgb, std::uint8_t* scratch,
                                       JDIMENSION& rows_read) noexcept {
  if (setjmp(session.jump)) return JpegStep::failed;
  jpeg_decompress_struct& cinfo = session.cinfo;
  const std::size_t width = cinfo.output_width;
  const int components = cinfo.output_components;
  while (cinfo.output_scanline < cinfo.output_height) {
    std::uint8_t* out = rgb + static_cast<std::size_t>(cinfo.output_scanline) * width * 3;
    JSAMPROW row = components == 3 ? out : scratch;
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) return JpegStep::suspended;
    rows_read = cinfo.output_scanline;
    if (components == 1) {  // Pillow: mode "L", then L→RGB replicates
      for (std::size_t x = 0; x < width; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = scratch[x];
    } else if (components == 4) {
      // Pillow: mode "CMYK" with rawmode "CMYK;I" (it always assumes Adobe's inverted CMYK and
      // inverts every byte), then Convert.c's cmyk2rgb: nk = 255 − k, channel = nk − nk·c/255.
      for (std::size_t x = 0; x < width; ++x) {
        const std::uint8_t* p = scratch + 4 * x;
        const int nk = p[3];  // 255 − (255 − stored k)
        for (std::size_t c = 0; c < 3; ++c) {
          out[3 * x + c] = static_cast<std::uint8_t>(nk - jpeg_muldiv255(255 - p[c], nk));  // in [0, nk]
        }
      }
    }
  }
  rows_read = cinfo.output_scanline;
  return JpegStep::done;
}

/// jpeg_finish_decompress: reads on to the EOI. Suspending here (the file lacks only data after
/// the last row, e.g. the EOI marker) is accepted, as Pillow accepts it; an error is an error.
inline JpegStep jpeg_guarded_finish(JpegSession& session) noexcept {
  if (setjmp(session.jump)) return JpegStep::failed;
  return jpeg_finish_decompress(&session.cinfo) ? JpegStep::done : JpegStep::suspended;
}

/// An IoError "image '<source>': <parts>".
template <typename... Parts>
IoError image_error(std::string_view source_name, Parts&&... parts) {
  return IoError(skiptune::detail::message("image '", source_name, "': ", std::forward<Parts>(parts)...));
}

/// Refuse absurd sizes from the header, before any pixel is allocated.
inline void check_decode_limits(std::string_view source_name, const char* kind, int width, int height,
                                const DecodeLimits& limits) {
  if (width <= 0 || height <= 0) {
    throw image_error(source_name, kind, " header gives an empty size ", width, "x", height);
  }
  const std::uint64_t pixel_count = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  if (width > limits.max_side || height > limits.max_side || pixel_count > limits.max_pixels) {
    throw image_error(source_name, kind, " header gives ", width, "x", height, " = ", pixel_count,
                      " pixels, over the limit (DecodeLimits: max_pixels ", limits.max_pixels, ", max_side ",
                      limits.max_side, ")");
  }
}

/// A JPEG → RGB, bit-identical to Pillow 9.4's Image.open(f).convert("RGB") with the same
/// libjpeg-turbo: the same source (suspending), the same calls in the same order, the same
/// decompression parameters, the same treatment of suspension, errors and warnings.
inline Image8 decode_jpeg(std::span<const std::uint8_t> bytes, std::string_view source_name,
                          const DecodeLimits& limits) {
  const JpegOwner owner(new JpegSession{});  // value-initialised: all zero
  JpegSession& session = *owner;
  const auto truncated = [&](auto&&... where) {
    return image_error(source_name, "truncated JPEG: the file ends ", where...,
                       " (libjpeg suspended for want of data; Pillow: \"image file is truncated\")");
  };
  const auto corrupt = [&](const char* what) {
    return image_error(source_name, "corrupt or unsupported JPEG ", what, " (libjpeg: ", session.message, ")");
  };

  if (jpeg_guarded_create(session, bytes.data(), bytes.size()) != JpegStep::done) throw corrupt("decoder setup");
  switch (jpeg_guarded_read_header(session)) {
    case JpegStep::failed: throw corrupt("header");
    case JpegStep::suspended: throw truncated("inside the header");
    case JpegStep::done: break;
  }
  jpeg_decompress_struct& cinfo = session.cinfo;
  // Pillow's JpegImagePlugin: 1 component → "L", 3 → "RGB", 4 → "CMYK", anything else refused.
  const int components = cinfo.num_components;
  if (components != 1 && components != 3 && components != 4) {
    throw image_error(source_name, "JPEG with ", components, " components: only 1 (gray), 3 (colour) or 4 (CMYK) "
                      "can be read, as in Pillow");
  }
  const int width = static_cast<int>(cinfo.image_width);    // ≤ 65500: libjpeg's JPEG_MAX_DIMENSION
  const int height = static_cast<int>(cinfo.image_height);
  check_decode_limits(source_name, "JPEG", width, height, limits);

  // Pillow's decoder settings for open(...).convert("RGB"): out_color_space from the mode ("RGB":
  // RGB — Pillow asks for JCS_EXT_RGBX, the same values plus a padding byte; "L": grayscale;
  // "CMYK;I": CMYK, which libjpeg also makes from YCCK); jpeg_color_space left as libjpeg guesses
  // it (JFIF / Adobe markers, component ids); no draft mode, hence libjpeg's defaults: accurate
  // integer IDCT, fancy (triangle-filter) chroma upsampling, block smoothing, no scaling. Set
  // explicitly here, to the values jpeg_read_header has just put there.
  cinfo.out_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  cinfo.do_block_smoothing = TRUE;
  cinfo.scale_num = cinfo.scale_denom = 1;

  switch (jpeg_guarded_start(session)) {
    case JpegStep::failed: throw corrupt("data");
    case JpegStep::suspended: throw truncated("before the image data does");
    case JpegStep::done: break;
  }
  if (cinfo.output_width != cinfo.image_width || cinfo.output_height != cinfo.image_height ||
      cinfo.output_components != components) {
    throw image_error(source_name, "libjpeg's output (", cinfo.output_width, "x", cinfo.output_height, ", ",
                      cinfo.output_components, " components) differs from the header");
  }

  Image8 image(width, height);
  const std::size_t scratch_size = static_cast<std::size_t>(width) * static_cast<std::size_t>(components);
  std::vector<std::uint8_t> scratch(components == 3 ? 0 : scratch_size);
  JDIMENSION rows_read = 0;
  switch (jpeg_guarded_read_rows(session, image.pixels.data(), scratch.data(), rows_read)) {
    case JpegStep::failed: throw corrupt("data");
    case JpegStep::suspended: throw truncated("after ", rows_read, " of ", height, " rows");
    case JpegStep::done: break;
  }
  if (jpeg_guarded_finish(session) == JpegStep::failed) throw corrupt("data after the last row");
  if (limits.jpeg_warnings_are_errors && session.error.num_warnings > 0) {
    throw image_error(source_name, "corrupt JPEG data: libjpeg warned ", session.error.num_warnings,
                      " time(s), first: \"", session.first_warning,
                      "\" (DecodeLimits::jpeg_warnings_are_errors is set; Pillow would load it)");
  }
  return image;
}

}  // namespace detail

/// Decode an encoded PNG / JPEG / BMP image held in memory. `source_name` names the image in
/// error messages (a file path, a dataset key). Throws IoError naming it and the decoder's reason
/// (libjpeg's message for JPEG, stb_image's for PNG / BMP).
inline Image8 decode_image(std::span<const std::uint8_t> bytes, std::string_view source_name = "<memory>",
                           const DecodeLimits& limits = {}) {
  const auto fail = [&](auto&&... parts) -> IoError {
    return IoError(skiptune::detail::message("image '", source_name, "': ", parts...));
  };
  if (bytes.empty()) throw fail("the file is empty (0 bytes)");
  const std::optional<ImageFormat> format = detail::sniff_image_format(bytes);
  if (!format) {
    throw fail("unsupported or unrecognised image format (first bytes: ", detail::first_bytes_hex(bytes),
               "); supported: PNG, JPEG, BMP");
  }
  if (*format != ImageFormat::jpeg && bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    throw fail("a ", format_name(*format), " file larger than 2 GiB, which stb_image cannot take");
  }
  if (*format == ImageFormat::jpeg) return detail::decode_jpeg(bytes, source_name, limits);

  // PNG and BMP: stb_image.
  const char* kind = format_name(*format);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = static_cast<int>(bytes.size());

  // Header first: refuse absurd sizes before stb allocates anything.
  int width = 0, height = 0, stored_channels = 0;
  if (!stbi_info_from_memory(data, length, &width, &height, &stored_channels)) {
    throw fail("corrupt or unsupported ", kind, " header (stb_image: ", detail::stb_reason(), ")");
  }
  detail::check_decode_limits(source_name, kind, width, height, limits);
  const std::uint64_t pixel_count = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
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
