// skiptune/data/emoji_views.hpp — the EmojiBench views of a pack image: the training
// augmentation and the fixed test views, written straight into the model's input layout.
//
// An emoji is a centred drawing on white, and its class name may say "left", "right", "red" or
// "green": so the augmentation never flips and never shifts hue. It is a random similarity
// transform (scale 0.8–1.05, rotation ±0.25 rad, translation ±12 % of the side) resampled
// bilinearly with white outside the drawing, then brightness and contrast ±20 %
// (shared/docs/EMOJIBENCH.md). Test view 0 is the clean image; view v > 0 is one augmentation
// drawn from an Rng seeded by (image index, v) only, so every method, run and fold sees the
// same test pixels.
//
//   float* out = ...;  // [3, side, side], CLIP-normalised
//   skiptune::data::write_view(pack.pixels(i), pack.image_side(), sample_emoji_view(rng), out);
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/io/image_transforms.hpp"

namespace skiptune::data {

/// Ranges of the training augmentation (all symmetric around the identity except scale).
struct EmojiAugmentation {
  double scale_min = 0.8;
  double scale_max = 1.05;
  double max_rotation = 0.25;     ///< radians
  double max_translation = 0.12;  ///< fraction of the image side
  double max_brightness = 0.2;    ///< multiplicative factor in [1 - b, 1 + b]
  double max_contrast = 0.2;      ///< factor around the image's mean grey in [1 - c, 1 + c]

  void validate() const {
    require<ConfigError>(scale_min > 0 && scale_min <= scale_max, "EmojiAugmentation: scale range [", scale_min,
                         ", ", scale_max, "] must satisfy 0 < min <= max");
    require<ConfigError>(max_rotation >= 0 && max_translation >= 0 && max_brightness >= 0 && max_brightness < 1 &&
                             max_contrast >= 0 && max_contrast < 1,
                         "EmojiAugmentation: rotation/translation must be >= 0 and brightness/contrast in [0, 1)");
  }
};

/// One drawn view: the geometric and photometric parameters.
struct EmojiView {
  double scale = 1, rotation = 0, shift_x = 0, shift_y = 0;  ///< shifts as fractions of the side
  double brightness = 1, contrast = 1;

  [[nodiscard]] bool is_identity() const noexcept {
    return scale == 1 && rotation == 0 && shift_x == 0 && shift_y == 0 && brightness == 1 && contrast == 1;
  }
};

inline EmojiView sample_emoji_view(Rng& rng, const EmojiAugmentation& a = {}) {
  auto symmetric = [&](double half_width) { return (2 * rng.uniform() - 1) * half_width; };
  EmojiView v;
  v.scale = a.scale_min + (a.scale_max - a.scale_min) * rng.uniform();
  v.rotation = symmetric(a.max_rotation);
  v.shift_x = symmetric(a.max_translation);
  v.shift_y = symmetric(a.max_translation);
  v.brightness = 1 + symmetric(a.max_brightness);
  v.contrast = 1 + symmetric(a.max_contrast);
  return v;
}

/// The fixed test view `view` of pack image `image_index` (0 = clean).
inline EmojiView test_view(std::size_t image_index, int view, const EmojiAugmentation& a = {}) {
  if (view <= 0) return {};
  Rng rng(0x7E57'0000'0000ull ^ static_cast<std::uint64_t>(image_index), static_cast<std::uint64_t>(view));
  return sample_emoji_view(rng, a);
}

/// Apply `view` to an RGB image (side × side × 3, uint8, HWC) and write it CLIP-normalised into
/// `out` [3, side, side]. Output pixel p samples the source at c + R(-θ)(p - c - t) / s
/// (c = the centre, t = the shift in pixels), bilinear, white outside the source.
inline void write_view(std::span<const std::uint8_t> rgb, int side, const EmojiView& view, float* out,
                       const io::Normalization& normalization = io::clip_normalization) {
  const std::size_t plane = static_cast<std::size_t>(side) * static_cast<std::size_t>(side);
  require<ShapeError>(side > 0 && rgb.size() == plane * 3, "write_view: ", rgb.size(), " bytes for a ", side, "x",
                      side, " RGB image (expected ", plane * 3, ")");
  // Geometric resample into float RGB in [0, 255].
  std::array<float, 3> white{255.f, 255.f, 255.f};
  static thread_local std::vector<float> work;
  work.assign(plane * 3, 0.f);
  if (view.scale == 1 && view.rotation == 0 && view.shift_x == 0 && view.shift_y == 0) {
    for (std::size_t i = 0; i < plane * 3; ++i) work[i] = rgb[i];
  } else {
    const double c = (side - 1) / 2.0, cos_t = std::cos(view.rotation), sin_t = std::sin(view.rotation);
    const double tx = view.shift_x * side, ty = view.shift_y * side, inv_s = 1.0 / view.scale;
    auto at = [&](int x, int y, int ch) -> float {
      if (x < 0 || y < 0 || x >= side || y >= side) return white[static_cast<std::size_t>(ch)];
      return rgb[(static_cast<std::size_t>(y) * side + static_cast<std::size_t>(x)) * 3 + static_cast<std::size_t>(ch)];
    };
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const double dx = x - c - tx, dy = y - c - ty;
        const double sx = c + (cos_t * dx + sin_t * dy) * inv_s;  // rotate by -θ, then unscale
        const double sy = c + (-sin_t * dx + cos_t * dy) * inv_s;
        const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
        const float fx = static_cast<float>(sx - x0), fy = static_cast<float>(sy - y0);
        float* dst = &work[(static_cast<std::size_t>(y) * side + static_cast<std::size_t>(x)) * 3];
        for (int ch = 0; ch < 3; ++ch) {
          const float top = at(x0, y0, ch) * (1 - fx) + at(x0 + 1, y0, ch) * fx;
          const float bottom = at(x0, y0 + 1, ch) * (1 - fx) + at(x0 + 1, y0 + 1, ch) * fx;
          dst[ch] = top * (1 - fy) + bottom * fy;
        }
      }
  }
  // Photometric: brightness scales, contrast stretches around the mean grey (as torchvision's
  // ColorJitter, whose grey is 0.299 R + 0.587 G + 0.114 B), clamped to [0, 255].
  if (view.brightness != 1 || view.contrast != 1) {
    double grey = 0;
    for (std::size_t i = 0; i < plane; ++i)
      grey += 0.299 * work[3 * i] + 0.587 * work[3 * i + 1] + 0.114 * work[3 * i + 2];
    const float mean = static_cast<float>(grey / static_cast<double>(plane) * view.brightness);
    const float b = static_cast<float>(view.brightness), k = static_cast<float>(view.contrast);
    for (float& v : work) v = std::clamp((v * b - mean) * k + mean, 0.f, 255.f);
  }
  for (int ch = 0; ch < 3; ++ch) {
    const float scale = 1.f / (255.f * normalization.std[static_cast<std::size_t>(ch)]);
    const float shift = normalization.mean[static_cast<std::size_t>(ch)] / normalization.std[static_cast<std::size_t>(ch)];
    float* dst = out + static_cast<std::size_t>(ch) * plane;
    for (std::size_t i = 0; i < plane; ++i) dst[i] = work[3 * i + static_cast<std::size_t>(ch)] * scale - shift;
  }
}

}  // namespace skiptune::data
