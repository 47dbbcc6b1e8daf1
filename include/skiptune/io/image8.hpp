// skiptune/io/image8.hpp — Image8, the one in-memory image type of the image pipeline: 8-bit RGB,
// interleaved, row-major ([height, width, 3], no row padding), plus the trivial geometric
// operations on it (crop, horizontal flip). Decoding is in image_decode.hpp, Pillow-exact
// resizing in image_resize.hpp, CLIP eval / training transforms in image_transforms.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "skiptune/core/errors.hpp"

namespace skiptune::io {

/// An 8-bit RGB image: pixel (x, y) channel c is pixels[(y * width + x) * 3 + c].
struct Image8 {
  static constexpr int channels = 3;

  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // [height, width, 3]

  Image8() = default;

  /// A zero-filled width × height image. Both sides must be ≥ 1.
  Image8(int image_width, int image_height) : width(image_width), height(image_height) {
    require<InputError>(image_width > 0 && image_height > 0, "Image8: size ", image_width, "x", image_height,
                        " is not a valid image size (both sides must be >= 1)");
    pixels.assign(static_cast<std::size_t>(image_width) * static_cast<std::size_t>(image_height) * channels, 0);
  }

  [[nodiscard]] bool empty() const noexcept { return pixels.empty(); }
  [[nodiscard]] std::size_t row_bytes() const noexcept { return static_cast<std::size_t>(width) * channels; }

  [[nodiscard]] std::uint8_t* row(int y) noexcept { return pixels.data() + static_cast<std::size_t>(y) * row_bytes(); }
  [[nodiscard]] const std::uint8_t* row(int y) const noexcept {
    return pixels.data() + static_cast<std::size_t>(y) * row_bytes();
  }

  /// Pointer to the 3 bytes (R, G, B) of pixel (x, y). No bounds check.
  [[nodiscard]] std::uint8_t* at(int x, int y) noexcept { return row(y) + static_cast<std::size_t>(x) * channels; }
  [[nodiscard]] const std::uint8_t* at(int x, int y) const noexcept {
    return row(y) + static_cast<std::size_t>(x) * channels;
  }

  friend bool operator==(const Image8&, const Image8&) = default;
};

/// A rectangle in pixels: columns [left, left + width), rows [top, top + height).
struct CropBox {
  int left = 0;
  int top = 0;
  int width = 0;
  int height = 0;
  friend bool operator==(const CropBox&, const CropBox&) = default;
};

/// The sub-image [left, left + crop_width) × [top, top + crop_height). The box must lie inside the
/// image (Pillow's crop would pad outside pixels with zeros; no transform here ever needs that).
inline Image8 crop(const Image8& image, int left, int top, int crop_width, int crop_height) {
  require<InputError>(crop_width > 0 && crop_height > 0 && left >= 0 && top >= 0 &&
                          left <= image.width - crop_width && top <= image.height - crop_height,
                      "crop: box (left ", left, ", top ", top, ", width ", crop_width, ", height ", crop_height,
                      ") is not inside the ", image.width, "x", image.height, " image");
  Image8 out(crop_width, crop_height);
  for (int y = 0; y < crop_height; ++y) {
    const std::uint8_t* source = image.at(left, top + y);
    std::copy(source, source + out.row_bytes(), out.row(y));
  }
  return out;
}

inline Image8 crop(const Image8& image, const CropBox& box) {
  return crop(image, box.left, box.top, box.width, box.height);
}

/// Mirror left ↔ right in place (torchvision's hflip / Pillow's FLIP_LEFT_RIGHT).
inline void flip_horizontal(Image8& image) noexcept {
  for (int y = 0; y < image.height; ++y) {
    std::uint8_t* left = image.row(y);
    std::uint8_t* right = left + (image.width - 1) * Image8::channels;
    for (; left < right; left += Image8::channels, right -= Image8::channels) {
      std::swap_ranges(left, left + Image8::channels, right);
    }
  }
}

}  // namespace skiptune::io
