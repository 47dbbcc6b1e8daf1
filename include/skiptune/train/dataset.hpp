// skiptune/train/dataset.hpp — what FineTuner::fit trains on: labelled images (already in the
// model's input layout), one prompt per class, an optional augmentation, and the reference's
// batching (same-class batches when every class has enough shots, random batches otherwise).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/config.hpp"

namespace skiptune {

template <class T>
struct ClipDataset {
  const Tensor<T>* images = nullptr;            // [N, 3, R, R] clean, normalised images
  std::vector<std::int32_t> labels;             // [N] in [0, C)
  const Tensor<std::int32_t>* class_token_ids = nullptr;  // [C, L] one tokenised prompt per class
  /// Optional training augmentation: write a fresh view of image `index` ([3, R, R]) into `out`
  /// using `rng`. Empty: the clean image is used (and LayerSkip's image cache is built once).
  std::function<void(std::size_t index, Rng& rng, T* out)> augment;

  [[nodiscard]] std::size_t size() const noexcept { return labels.size(); }
  [[nodiscard]] std::size_t classes() const noexcept {
    return class_token_ids ? static_cast<std::size_t>(class_token_ids->dim(0)) : 0;
  }

  /// Clear errors before any training starts.
  void validate(const ClipConfig& config) const {
    require<ConfigError>(images != nullptr && class_token_ids != nullptr,
                         "dataset: images and class_token_ids must be set");
    const Index R = config.vision.image_size;
    require<ShapeError>(images->rank() == 4 && images->dim(1) == 3 && images->dim(2) == R && images->dim(3) == R,
                        "dataset: tensor images has shape ", images->shape(), ", expected [N,3,", R, ",", R, "]");
    require<ShapeError>(static_cast<std::size_t>(images->dim(0)) == labels.size(), "dataset: ", images->dim(0),
                        " images but ", labels.size(), " labels");
    require<ConfigError>(!labels.empty(), "dataset: no training images");
    require<ShapeError>(class_token_ids->rank() == 2 && class_token_ids->dim(0) > 0,
                        "dataset: tensor class_token_ids has shape ", class_token_ids->shape(), ", expected [C, L]");
    const std::size_t C = classes();
    std::vector<std::size_t> per_class(C, 0);
    for (std::size_t i = 0; i < labels.size(); ++i) {
      require<InputError>(labels[i] >= 0 && static_cast<std::size_t>(labels[i]) < C, "dataset: label ", labels[i],
                          " of image ", i, " is outside the class list [0, ", C, ")");
      ++per_class[static_cast<std::size_t>(labels[i])];
    }
    for (std::size_t c = 0; c < C; ++c) {
      require<ConfigError>(per_class[c] > 0, "dataset: class ", c,
                           " has no training images (an empty class cannot be learned; drop it from the class list)");
      const std::int32_t* row = class_token_ids->data() + c * class_token_ids->dim(1);
      require<InputError>(std::any_of(row, row + class_token_ids->dim(1), [](std::int32_t id) { return id != 0; }),
                          "dataset: the prompt of class ", c, " is empty (all token ids are 0)");
    }
  }
};

enum class Batching {
  reference,     // same-class batches if every class has >= batch_size images, else random batches
  same_class,    // always same-class batches (classes with fewer images than batch_size contribute none)
  random,        // random batches
};

/// One epoch's batches (indices into the dataset). Leftovers that do not fill a batch are
/// dropped, as the reference's training loader does.
inline std::vector<std::vector<std::size_t>> make_epoch_batches(const std::vector<std::int32_t>& labels,
                                                                 std::size_t classes, std::size_t batch_size,
                                                                 Batching batching, Rng& rng) {
  require<ConfigError>(batch_size > 0, "batch size must be > 0");
  std::vector<std::vector<std::size_t>> by_class(classes);
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[static_cast<std::size_t>(labels[i])].push_back(i);
  bool same_class = batching == Batching::same_class;
  if (batching == Batching::reference)
    same_class = std::all_of(by_class.begin(), by_class.end(), [&](const auto& v) { return v.size() >= batch_size; });

  std::vector<std::vector<std::size_t>> batches;
  if (same_class) {
    for (auto& members : by_class) {
      rng.shuffle(members);
      for (std::size_t start = 0; start + batch_size <= members.size(); start += batch_size)
        batches.emplace_back(members.begin() + static_cast<std::ptrdiff_t>(start),
                             members.begin() + static_cast<std::ptrdiff_t>(start + batch_size));
    }
    rng.shuffle(batches);
  } else {
    std::vector<std::size_t> order(labels.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    rng.shuffle(order);
    for (std::size_t start = 0; start + batch_size <= order.size(); start += batch_size)
      batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                           order.begin() + static_cast<std::ptrdiff_t>(start + batch_size));
  }
  require<ConfigError>(!batches.empty(), "no full batch of ", batch_size, " images can be formed from ",
                       labels.size(), " images");
  return batches;
}

}  // namespace skiptune
