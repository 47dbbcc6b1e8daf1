// skiptune/train/evaluation.hpp — evaluation of the full, unskipped model, exactly as at
// inference: every image from pixels, every class prompt, argmax of the logits. Plus the
// base-to-new summary (harmonic mean).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/clip.hpp"
#include "skiptune/model/encoder.hpp"

namespace skiptune {

/// Predicted class of each image [N] (argmax over all C prompts), computed in chunks.
template <class T, class Backend>
std::vector<std::int32_t> predict_classes(const Clip<T, Backend>& model, const Tensor<T>& images,
                                          const Tensor<std::int32_t>& class_token_ids, Index chunk = 64) {
  auto& meter = model.meter();
  const Tensor<T> text_features = encode(model.text, class_token_ids);
  const Index N = images.dim(0), per_image = images.numel() / std::max<Index>(N, 1);
  std::vector<std::int32_t> predictions(static_cast<std::size_t>(N));
  for (Index start = 0; start < N; start += chunk) {
    const Index count = std::min(chunk, N - start);
    Tensor<T> batch({count, images.dim(1), images.dim(2), images.dim(3)}, meter, MemoryCategory::inputs);
    std::copy_n(images.data() + start * per_image, count * per_image, batch.data());
    const Tensor<T> image_features = encode(model.visual, batch);
    const Tensor<T> logits = model.logits_from_features(image_features, text_features);
    for (Index b = 0; b < count; ++b) {
      const T* row = logits.data() + b * logits.dim(1);
      predictions[static_cast<std::size_t>(start + b)] =
          static_cast<std::int32_t>(std::max_element(row, row + logits.dim(1)) - row);
    }
  }
  return predictions;
}

/// Top-1 accuracy in [0, 1].
template <class T, class Backend>
double evaluate_accuracy(const Clip<T, Backend>& model, const Tensor<T>& images, const std::vector<std::int32_t>& labels,
                         const Tensor<std::int32_t>& class_token_ids, Index chunk = 64) {
  require<ShapeError>(static_cast<std::size_t>(images.dim(0)) == labels.size(), "evaluate_accuracy: ",
                      images.dim(0), " images but ", labels.size(), " labels");
  require<ConfigError>(!labels.empty(), "evaluate_accuracy: no images");
  const auto predicted = predict_classes(model, images, class_token_ids, chunk);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i] ? 1 : 0;
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

/// Harmonic mean of base and new accuracy (0 when either is 0).
inline double harmonic_mean(double base, double novel) {
  return base + novel > 0 ? 2.0 * base * novel / (base + novel) : 0.0;
}

}  // namespace skiptune
