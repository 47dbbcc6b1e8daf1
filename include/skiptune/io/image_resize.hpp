// skiptune/io/image_resize.hpp — Pillow-exact bicubic resizing of 8-bit RGB images
// (`PIL.Image.resize(size, Image.BICUBIC, box)`), the resize behind CLIP's preprocessing.
//
// The algorithm, as Pillow documents and implements it (written here from that description):
//   - separable: a horizontal pass into an 8-bit temporary image, then a vertical pass; a pass is
//     skipped when its axis keeps its size and the box spans the whole axis;
//   - the horizontal pass only produces the rows the vertical pass will read;
//   - Keys cubic kernel with a = −0.5, support 2; when downscaling by s > 1 the kernel is
//     stretched by s (support 2s) — that is the antialiasing;
//   - output pixel i samples the source around centre = box0 + (i + 0.5)·scale; taps run over
//     [int(centre − support + 0.5), int(centre + support + 0.5)) clamped to the image, their
//     weights are normalised to sum to 1 (so edges renormalise instead of replicating pixels);
//   - 8-bit fixed point: each weight becomes int(±0.5 + w·2^22) (round half away from zero), the
//     sum Σ pixel·weight starts at 2^21 (rounding), and the result is (sum >> 22) clipped to
//     [0, 255]. The same rounding is applied after BOTH passes (8-bit intermediate image).
//   - weights are computed in double precision with every operation rounded separately (no fused
//     multiply-add), which is what Pillow's x86-64 build computes; see detail::no_fma.
// Measured against Pillow 9.4 on the fixtures: bit-identical (docs/images.md).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/io/image8.hpp"

namespace skiptune::io {

/// Pillow's `box` argument of resize: the source region to resample, in (fractional) source
/// pixel coordinates. Pillow stores it as C floats, so it is float here too.
struct ResizeBox {
  float left = 0, top = 0, right = 0, bottom = 0;
};

namespace detail {

/// Pillow's fixed-point precision for 8-bit images: 32 bits − 8 for the value − 2 for overflow
/// and the sign (bicubic weights can be negative and sum above 1 locally).
inline constexpr int resample_precision_bits = 22;

/// Rounds `value` to double right here: the store through volatile keeps the compiler from
/// contracting a product with a following add into a fused multiply-add (GCC contracts by default
/// in GNU mode and -march=native has FMA), which would change the last bit of some weights
/// relative to Pillow's non-FMA x86-64 build and occasionally flip a fixed-point rounding.
inline double no_fma(double value) noexcept {
  volatile double rounded = value;
  return rounded;
}

/// Keys' cubic convolution kernel with a = −0.5 (Pillow's BICUBIC), support [−2, 2].
/// Evaluated in the same operation order as Pillow: ((a+2)x − (a+3))x² + 1 and ((x−5)x + 8)x − 4)·a.
inline double bicubic_kernel(double x) noexcept {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) {
    const double inner = no_fma((a + 2.0) * x) - (a + 3.0);
    return no_fma(inner * x * x) + 1;
  }
  if (x < 2.0) {
    double value = no_fma((x - 5) * x) + 8;
    value = no_fma(value * x) - 4;
    return no_fma(value * a);
  }
  return 0.0;
}
inline constexpr double bicubic_support = 2.0;

/// The fixed-point weights of one resampling pass along one axis.
/// Output sample i reads `tap_count[i]` input samples from `first_tap[i]` on, with weights
/// weights[i * max_taps + t] (scaled by 2^22).
struct ResampleWeights {
  int max_taps = 0;
  std::vector<int> first_tap;        // [out_size]
  std::vector<int> tap_count;        // [out_size]
  std::vector<std::int32_t> weights; // [out_size, max_taps]
};

/// Weights for resampling the source interval [in_begin, in_end) of an axis of `in_size`
/// samples onto `out_size` samples (Pillow's precompute_coeffs + normalize_coeffs_8bpc).
inline ResampleWeights bicubic_weights(int in_size, float in_begin, float in_end, int out_size) {
  // (in_end − in_begin) is a float subtraction in Pillow too; only then widened to double.
  const double scale = static_cast<double>(in_end - in_begin) / out_size;
  const double filter_scale = std::max(scale, 1.0);  // > 1 only when downscaling: antialiasing
  const double support = no_fma(bicubic_support * filter_scale);
  const double inverse_filter_scale = 1.0 / filter_scale;

  ResampleWeights result;
  result.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  result.first_tap.resize(static_cast<std::size_t>(out_size));
  result.tap_count.resize(static_cast<std::size_t>(out_size));
  result.weights.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(result.max_taps), 0);

  std::vector<double> real_weights(static_cast<std::size_t>(result.max_taps));
  for (int out = 0; out < out_size; ++out) {
    const double center = static_cast<double>(in_begin) + no_fma((out + 0.5) * scale);
    // "+ 0.5" then truncation: Pillow's rounding of the tap range (centre is ≥ 0, so truncation
    // is floor; a negative start truncates towards 0 and is clamped anyway).
    const int first = std::max(static_cast<int>(center - support + 0.5), 0);
    const int last = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int count = last - first;
    double sum = 0.0;
    for (int t = 0; t < count; ++t) {
      const double weight = bicubic_kernel((t + first - center + 0.5) * inverse_filter_scale);
      real_weights[static_cast<std::size_t>(t)] = weight;
      sum += weight;
    }
    std::int32_t* fixed = &result.weights[static_cast<std::size_t>(out) * static_cast<std::size_t>(result.max_taps)];
    for (int t = 0; t < count; ++t) {
      const double normalised = sum != 0.0 ? real_weights[static_cast<std::size_t>(t)] / sum
                                           : real_weights[static_cast<std::size_t>(t)];
      // Round half away from zero, then truncate: int(±0.5 + w·2^22). The product is exact
      // (power of two), so contraction cannot matter here.
      const double scaled = normalised * static_cast<double>(1 << resample_precision_bits);
      fixed[t] = static_cast<std::int32_t>(normalised < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    result.first_tap[static_cast<std::size_t>(out)] = first;
    result.tap_count[static_cast<std::size_t>(out)] = count;
  }
  return result;
}

/// Fixed-point accumulator → 8-bit: arithmetic shift, then clip to [0, 255] (Pillow's clip8).
inline std::uint8_t clip8(std::int32_t accumulator) noexcept {
  const std::int32_t value = accumulator >> resample_precision_bits;  // C++20: arithmetic shift
  return static_cast<std::uint8_t>(value < 0 ? 0 : (value > 255 ? 255 : value));
}

/// The accumulator start value: half an output step, so the final shift rounds to nearest.
inline constexpr std::int32_t rounding_bias = std::int32_t{1} << (resample_precision_bits - 1);

// The int32 accumulators cannot overflow: |Σ weights| stays below ~1.3·2^22 for this kernel,
// so |Σ 255·weight| < 2^31 — the same headroom argument as Pillow's "2 extra bits".

/// Horizontal pass: rows [first_row, first_row + row_count) of `in`, resampled to the width of
/// `weights` → a row_count-row image.
inline Image8 resample_horizontal(const Image8& in, int first_row, int row_count, const ResampleWeights& weights) {
  const int out_width = static_cast<int>(weights.first_tap.size());
  Image8 out(out_width, row_count);
  for (int y = 0; y < row_count; ++y) {
    const std::uint8_t* source_row = in.row(first_row + y);
    std::uint8_t* target = out.row(y);
    for (int x = 0; x < out_width; ++x) {
      const auto column = static_cast<std::size_t>(x);
      const std::int32_t* w = &weights.weights[column * static_cast<std::size_t>(weights.max_taps)];
      const std::uint8_t* source = source_row + static_cast<std::size_t>(weights.first_tap[column]) * 3;
      std::int32_t r = rounding_bias, g = rounding_bias, b = rounding_bias;
      const int count = weights.tap_count[column];
      for (int t = 0; t < count; ++t, source += 3) {
        r += source[0] * w[t];
        g += source[1] * w[t];
        b += source[2] * w[t];
      }
      target[3 * x + 0] = clip8(r);
      target[3 * x + 1] = clip8(g);
      target[3 * x + 2] = clip8(b);
    }
  }
  return out;
}

/// Vertical pass: output row y = Σ_t weight[y][t] · in.row(first_tap[y] − row_offset + t).
/// (Accumulated a whole row at a time; integer sums do not depend on the order.)
inline Image8 resample_vertical(const Image8& in, int row_offset, const ResampleWeights& weights) {
  const int out_height = static_cast<int>(weights.first_tap.size());
  Image8 out(in.width, out_height);
  const std::size_t row_bytes = in.row_bytes();
  std::vector<std::int32_t> accumulator(row_bytes);
  for (int y = 0; y < out_height; ++y) {
    std::fill(accumulator.begin(), accumulator.end(), rounding_bias);
    const std::int32_t* w = &weights.weights[static_cast<std::size_t>(y) * static_cast<std::size_t>(weights.max_taps)];
    const int first = weights.first_tap[static_cast<std::size_t>(y)] - row_offset;
    const int count = weights.tap_count[static_cast<std::size_t>(y)];
    for (int t = 0; t < count; ++t) {
      const std::uint8_t* source = in.row(first + t);
      const std::int32_t weight = w[t];
      for (std::size_t i = 0; i < row_bytes; ++i) accumulator[i] += source[i] * weight;
    }
    std::uint8_t* target = out.row(y);
    for (std::size_t i = 0; i < row_bytes; ++i) target[i] = clip8(accumulator[i]);
  }
  return out;
}

/// The rows or columns [begin, begin + count) of a pass's weights.
inline ResampleWeights slice_weights(const ResampleWeights& all, int begin, int count) {
  ResampleWeights part;
  part.max_taps = all.max_taps;
  part.first_tap.assign(all.first_tap.begin() + begin, all.first_tap.begin() + begin + count);
  part.tap_count.assign(all.tap_count.begin() + begin, all.tap_count.begin() + begin + count);
  const auto taps = static_cast<std::ptrdiff_t>(all.max_taps);
  part.weights.assign(all.weights.begin() + begin * taps, all.weights.begin() + (begin + count) * taps);
  return part;
}

}  // namespace detail

/// The `window` (in output pixels) of Pillow's `image.resize((out_width, out_height),
/// Image.BICUBIC, box=box)` — bit-identical to resizing everything and cropping, because each
/// output pixel depends only on its own row's and column's weights, but only the window is
/// computed (CLIP's resize-then-centre-crop of a 4:1 panorama resamples ¼ of the columns).
/// The box must lie inside the image and have a positive size (Pillow accepts an empty box; a
/// resize of nothing is refused here).
inline Image8 resize_bicubic_window(const Image8& image, int out_width, int out_height, const ResizeBox& box,
                                    const CropBox& window) {
  require<InputError>(!image.empty(), "resize_bicubic: the input image is empty");
  require<InputError>(out_width > 0 && out_height > 0, "resize_bicubic: output size ", out_width, "x", out_height,
                      " is not valid (both sides must be >= 1)");
  require<InputError>(box.left >= 0 && box.top >= 0 && box.right <= static_cast<float>(image.width) &&
                          box.bottom <= static_cast<float>(image.height) && box.right > box.left &&
                          box.bottom > box.top,
                      "resize_bicubic: box (", box.left, ", ", box.top, ", ", box.right, ", ", box.bottom,
                      ") must be non-empty and inside the ", image.width, "x", image.height, " image");
  require<InputError>(window.width > 0 && window.height > 0 && window.left >= 0 && window.top >= 0 &&
                          window.left <= out_width - window.width && window.top <= out_height - window.height,
                      "resize_bicubic: output window (left ", window.left, ", top ", window.top, ", width ",
                      window.width, ", height ", window.height, ") is not inside the ", out_width, "x", out_height,
                      " output");

  // Pillow: an integer box of exactly the output size is a plain crop.
  if (box.left == std::trunc(box.left) && box.top == std::trunc(box.top) &&
      box.right - box.left == static_cast<float>(out_width) && box.bottom - box.top == static_cast<float>(out_height)) {
    return crop(image, static_cast<int>(box.left) + window.left, static_cast<int>(box.top) + window.top, window.width,
                window.height);
  }

  // Pillow skips a pass when the axis keeps its size and the box starts at 0 and ends at the
  // OUTPUT size (which, the size being unchanged, is the full axis).
  const bool need_horizontal =
      out_width != image.width || box.left != 0 || box.right != static_cast<float>(out_width);
  const bool need_vertical =
      out_height != image.height || box.top != 0 || box.bottom != static_cast<float>(out_height);
  if (!need_horizontal && !need_vertical) return crop(image, window.left, window.top, window.width, window.height);

  const detail::ResampleWeights vertical = detail::slice_weights(
      detail::bicubic_weights(image.height, box.top, box.bottom, out_height), window.top, window.height);
  // Source rows the vertical pass reads: the horizontal pass produces only those.
  const int first_row = vertical.first_tap.front();
  const int end_row = vertical.first_tap.back() + vertical.tap_count.back();

  if (!need_horizontal) {
    // Columns unchanged: the vertical pass reads the window's columns of the rows it needs.
    if (window.left == 0 && window.width == image.width) return detail::resample_vertical(image, 0, vertical);
    const Image8 columns = crop(image, window.left, first_row, window.width, end_row - first_row);
    return detail::resample_vertical(columns, first_row, vertical);
  }
  const detail::ResampleWeights horizontal = detail::slice_weights(
      detail::bicubic_weights(image.width, box.left, box.right, out_width), window.left, window.width);
  // Rows unchanged (Pillow then runs the horizontal pass alone): just the window's rows.
  if (!need_vertical) return detail::resample_horizontal(image, window.top, window.height, horizontal);
  const Image8 rows = detail::resample_horizontal(image, first_row, end_row - first_row, horizontal);
  return detail::resample_vertical(rows, first_row, vertical);
}

/// Pillow's `image.resize((out_width, out_height), Image.BICUBIC, box=box)` for an RGB image.
inline Image8 resize_bicubic(const Image8& image, int out_width, int out_height, const ResizeBox& box) {
  return resize_bicubic_window(image, out_width, out_height, box, CropBox{0, 0, out_width, out_height});
}

/// Pillow's `image.resize((out_width, out_height), Image.BICUBIC)`: the whole image.
inline Image8 resize_bicubic(const Image8& image, int out_width, int out_height) {
  return resize_bicubic(image, out_width, out_height,
                        ResizeBox{0.0f, 0.0f, static_cast<float>(image.width), static_cast<float>(image.height)});
}

}  // namespace skiptune::io
