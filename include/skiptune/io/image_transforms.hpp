// skiptune/io/image_transforms.hpp — CLIP's image transforms on Image8, written out as float32
// CHW planes straight into the model's input buffer ([B, 3, H, W] row-major).
//
//   Eval (OpenAI clip.py `_transform`): torchvision Resize(size, BICUBIC) → CenterCrop(size) →
//   RGB → ToTensor (/255) → Normalize(CLIP mean, std).
//   Training (CoOp / Skip Tuning): RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3),
//   BICUBIC) → RandomHorizontalFlip(0.5) → ToTensor → Normalize.
//
// torchvision semantics reproduced (from its source; torchvision is not a dependency):
//   - Resize(int) on a PIL image: the shorter side becomes `size`, the longer side becomes
//     int(size * long / short) — Python float division, truncated (_compute_resized_output_size).
//     When the shorter side already equals `size` that is the identity (no resampling at all).
//   - CenterCrop: top = int(round((H − size) / 2.0)), left likewise; Python's round() is
//     round-half-to-even, so an odd excess of 1 gives offset 0, of 3 gives 2, of 19 gives 10.
//   - ToTensor + Normalize in float32 exactly as PyTorch's CPU kernels do it:
//     x = float(u8) / 255.0f (a true division, not a multiply by 1/255), then (x − mean) / std
//     with mean and std rounded to float32. Computed once per (channel, byte) into a table.
//   - RandomResizedCrop.get_params: 10 attempts of {area fraction ~ U(scale), aspect = exp(U(log
//     ratio)), w = round(sqrt(A·aspect)), h = round(sqrt(A/aspect)); accept if 0 < w ≤ W and
//     0 < h ≤ H, then top ~ randint(0, H − h + 1), left ~ randint(0, W − w + 1)}, else the
//     central-crop fallback clamped to the ratio range. Then F.resized_crop = crop THEN resize
//     (not Pillow's resize-with-box, whose filter would read pixels outside the crop).
//     The random numbers come from skiptune::Rng, so the choices are reproducible per seed but
//     not the same draws as torch's generator.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/io/image8.hpp"
#include "skiptune/io/image_resize.hpp"

namespace skiptune::io {

/// Per-channel normalisation (x − mean) / std applied after scaling bytes to [0, 1].
struct Normalization {
  std::array<float, 3> mean;
  std::array<float, 3> std;
};

/// OpenAI CLIP's normalisation constants (clip.py), rounded to float32 as torch does.
inline constexpr Normalization clip_normalization{{0.48145466f, 0.4578275f, 0.40821073f},
                                                  {0.26862954f, 0.26130258f, 0.27577711f}};

namespace detail {

/// Python's round() for doubles: nearest, ties to even (independent of the FP rounding mode).
inline double round_half_even(double value) noexcept {
  const double floor_value = std::floor(value);
  const double fraction = value - floor_value;  // exact for |value| < 2^52
  if (fraction < 0.5) return floor_value;
  if (fraction > 0.5) return floor_value + 1.0;
  return std::fmod(floor_value, 2.0) == 0.0 ? floor_value : floor_value + 1.0;
}

/// table[c * 256 + v] = (float(v) / 255.0f − mean[c]) / std[c], all in float32 (PyTorch's CPU
/// ToTensor + Normalize give exactly these values).
inline std::array<float, 3 * 256> normalization_table(const Normalization& normalization) {
  std::array<float, 3 * 256> table{};
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float unit = static_cast<float>(v) / 255.0f;
      table[static_cast<std::size_t>(c * 256 + v)] = (unit - normalization.mean[static_cast<std::size_t>(c)]) /
                                                     normalization.std[static_cast<std::size_t>(c)];
    }
  }
  return table;
}

}  // namespace detail

/// Write `image` normalised into dst_chw as 3 planes [3, height, width] (R plane first).
/// dst_chw must hold 3 · width · height floats.
inline void normalize_into(const Image8& image, float* dst_chw,
                           const Normalization& normalization = clip_normalization) {
  require<InputError>(!image.empty(), "normalize_into: the image is empty");
  const auto table = detail::normalization_table(normalization);
  const std::size_t plane = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
  const std::uint8_t* source = image.pixels.data();
  for (std::size_t i = 0; i < plane; ++i, source += 3) {
    dst_chw[i] = table[source[0]];
    dst_chw[plane + i] = table[256 + source[1]];
    dst_chw[2 * plane + i] = table[512 + source[2]];
  }
}

// --- eval: Resize(size) + CenterCrop(size) ----------------------------------------------------

/// Where CLIP's eval transform resizes to and crops from, for a width × height input.
struct ClipEvalGeometry {
  int resized_width = 0;
  int resized_height = 0;
  int crop_left = 0;  // in the resized image
  int crop_top = 0;
};

inline ClipEvalGeometry clip_eval_geometry(int width, int height, int size) {
  require<InputError>(width > 0 && height > 0, "clip_eval_geometry: image size ", width, "x", height, " is empty");
  require<ConfigError>(size > 0, "clip_eval_geometry: crop size must be >= 1, got ", size);
  const bool portrait = width <= height;
  const int short_side = portrait ? width : height;
  const int long_side = portrait ? height : width;
  // int(size * long / short): the product is an exact integer in double, the division is
  // correctly rounded exactly as Python's true division, then truncated like int().
  const double long_exact = static_cast<double>(static_cast<std::int64_t>(size) * long_side) / short_side;
  require<InputError>(long_exact < 2147483647.0, "clip_eval_geometry: a ", width, "x", height,
                      " image resized to shorter side ", size, " is too long");
  const int new_long = static_cast<int>(long_exact);
  ClipEvalGeometry geometry;
  geometry.resized_width = portrait ? size : new_long;
  geometry.resized_height = portrait ? new_long : size;
  // int(round((H − size) / 2.0)); the halving is exact, so only the tie rule matters.
  geometry.crop_left = static_cast<int>(detail::round_half_even((geometry.resized_width - size) / 2.0));
  geometry.crop_top = static_cast<int>(detail::round_half_even((geometry.resized_height - size) / 2.0));
  return geometry;
}

/// CLIP's eval geometry as uint8 (what the fixtures store): Pillow-bicubic resize of the shorter
/// side to `size`, then the centre size × size crop. Only the crop window is resampled
/// (resize_bicubic_window), which gives the same bytes as resizing everything and cropping.
inline Image8 clip_eval_resize_crop(const Image8& image, int size) {
  require<InputError>(!image.empty(), "clip_eval_resize_crop: the image is empty");
  const ClipEvalGeometry g = clip_eval_geometry(image.width, image.height, size);
  const ResizeBox whole{0.0f, 0.0f, static_cast<float>(image.width), static_cast<float>(image.height)};
  return resize_bicubic_window(image, g.resized_width, g.resized_height, whole,
                               CropBox{g.crop_left, g.crop_top, size, size});
}

/// CLIP eval preprocessing of one image into dst_chw: [3, size, size] float32, normalised.
inline void preprocess_into(const Image8& image, float* dst_chw, int size = 224,
                            const Normalization& normalization = clip_normalization) {
  normalize_into(clip_eval_resize_crop(image, size), dst_chw, normalization);
}

/// A batch: image b goes to dst_bchw + b · 3 · size · size ([B, 3, size, size] row-major).
inline void preprocess_batch_into(std::span<const Image8> images, float* dst_bchw, int size = 224,
                                  const Normalization& normalization = clip_normalization) {
  const std::size_t per_image = 3 * static_cast<std::size_t>(size) * static_cast<std::size_t>(size);
  for (std::size_t b = 0; b < images.size(); ++b) {
    preprocess_into(images[b], dst_bchw + b * per_image, size, normalization);
  }
}

// --- training: RandomResizedCrop + RandomHorizontalFlip -----------------------------------------

/// RandomResizedCrop's ranges: area fraction in [scale_min, scale_max], aspect w/h in
/// [ratio_min, ratio_max] (sampled log-uniformly).
struct RandomResizedCropRanges {
  double scale_min = 0.08;
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4.0;
  double ratio_max = 4.0 / 3.0;
};

/// torchvision RandomResizedCrop.get_params, driven by `rng` (draw order as torchvision: area
/// fraction, log aspect, then top, then left).
inline CropBox sample_random_resized_crop(int width, int height, Rng& rng, const RandomResizedCropRanges& ranges = {}) {
  require<InputError>(width > 0 && height > 0, "sample_random_resized_crop: image size ", width, "x", height,
                      " is empty");
  require<ConfigError>(ranges.scale_min > 0 && ranges.scale_min <= ranges.scale_max,
                       "RandomResizedCrop: scale range (", ranges.scale_min, ", ", ranges.scale_max,
                       ") must satisfy 0 < min <= max");
  require<ConfigError>(ranges.ratio_min > 0 && ranges.ratio_min <= ranges.ratio_max,
                       "RandomResizedCrop: ratio range (", ranges.ratio_min, ", ", ranges.ratio_max,
                       ") must satisfy 0 < min <= max");
  const double area = static_cast<double>(width) * static_cast<double>(height);
  const double log_ratio_min = std::log(ranges.ratio_min);
  const double log_ratio_max = std::log(ranges.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(ranges.scale_min, ranges.scale_max);
    const double aspect = std::exp(rng.uniform(log_ratio_min, log_ratio_max));
    const double w = detail::round_half_even(std::sqrt(target_area * aspect));
    const double h = detail::round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      CropBox box;
      box.width = static_cast<int>(w);
      box.height = static_cast<int>(h);
      box.top = static_cast<int>(rng.below(static_cast<std::uint64_t>(height - box.height + 1)));
      box.left = static_cast<int>(rng.below(static_cast<std::uint64_t>(width - box.width + 1)));
      return box;
    }
  }
  // Fallback: the whole image, cut down to the nearest allowed aspect ratio, centred.
  CropBox box;
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  if (in_ratio < ranges.ratio_min) {
    box.width = width;
    box.height = static_cast<int>(detail::round_half_even(box.width / ranges.ratio_min));
  } else if (in_ratio > ranges.ratio_max) {
    box.height = height;
    box.width = static_cast<int>(detail::round_half_even(box.height * ranges.ratio_max));
  } else {
    box.width = width;
    box.height = height;
  }
  box.top = (height - box.height) / 2;  // Python's // on non-negative ints
  box.left = (width - box.width) / 2;
  return box;
}

/// RandomResizedCrop to size × size: sample the box, crop, Pillow-bicubic resize the crop.
inline Image8 random_resized_crop(const Image8& image, int size, Rng& rng, const RandomResizedCropRanges& ranges = {}) {
  require<InputError>(!image.empty(), "random_resized_crop: the image is empty");
  require<ConfigError>(size > 0, "random_resized_crop: size must be >= 1, got ", size);
  const CropBox box = sample_random_resized_crop(image.width, image.height, rng, ranges);
  return resize_bicubic(crop(image, box.left, box.top, box.width, box.height), size, size);
}

/// The training augmentation's settings (CoOp / Skip Tuning defaults).
struct TrainAugmentation {
  int size = 224;
  RandomResizedCropRanges crop_ranges{};
  bool horizontal_flip = true;
  double flip_probability = 0.5;
  Normalization normalization = clip_normalization;
};

/// One augmented training view into dst_chw ([3, size, size] float32). Draws from `rng`:
/// the crop (2 per attempt + 2), then one flip draw when flipping is enabled.
inline void augment_into(const Image8& image, float* dst_chw, Rng& rng, const TrainAugmentation& settings = {}) {
  Image8 view = random_resized_crop(image, settings.size, rng, settings.crop_ranges);
  if (settings.horizontal_flip && rng.bernoulli(settings.flip_probability)) flip_horizontal(view);
  normalize_into(view, dst_chw, settings.normalization);
}

/// A batch of augmented views, image b into dst_bchw + b · 3 · size · size. Image b draws from
/// rng.fork(b), so a view depends only on (rng's key, b) — not on the other images or on how
/// a batch is split across threads. `rng` itself is not advanced: fork it per batch/epoch.
inline void augment_batch_into(std::span<const Image8> images, float* dst_bchw, const Rng& rng,
                               const TrainAugmentation& settings = {}) {
  const std::size_t per_image = 3 * static_cast<std::size_t>(settings.size) * static_cast<std::size_t>(settings.size);
  for (std::size_t b = 0; b < images.size(); ++b) {
    Rng image_rng = rng.fork(b);
    augment_into(images[b], dst_bchw + b * per_image, image_rng, settings);
  }
}

}  // namespace skiptune::io
