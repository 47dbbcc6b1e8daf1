// skiptune/data/emoji_tensors.hpp — from EmojiBench plans and classes to model inputs: image
// tensors [N, 3, R, R] (with each planned image's view), prompt tokens [C, L], and zero-shot
// top-1 accuracy. Also where the pack lives by default.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/data/emoji_captions.hpp"
#include "skiptune/data/emoji_pack.hpp"
#include "skiptune/data/emoji_views.hpp"
#include "skiptune/io/tokenizer.hpp"
#include "skiptune/model/clip.hpp"
#include "skiptune/train/evaluation.hpp"

namespace skiptune::data {

/// $XDG_CACHE_HOME/skiptune/emojibench, else ~/.cache/skiptune/emojibench (as the builder).
inline std::filesystem::path emojibench_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "skiptune" / "emojibench";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : ".") / ".cache" / "skiptune" / "emojibench";
}

inline std::filesystem::path default_emojibench_pack() { return emojibench_cache_dir() / "emojibench-v1.pack"; }

/// Images of `plan` (each with its view: PlannedImage::augmentation is the test-view index)
/// as a CLIP-normalised tensor [N, 3, side, side].
inline Tensor<float> plan_images(const EmojiPack& pack, std::span<const PlannedImage> plan, MemoryMeter& meter,
                                 MemoryCategory category = MemoryCategory::inputs) {
  const Index side = pack.image_side(), per_image = 3 * side * side;
  Tensor<float> images({static_cast<Index>(plan.size()), 3, side, side}, meter, category);
  for (std::size_t i = 0; i < plan.size(); ++i)
    write_view(pack.pixels(plan[i].image_index), pack.image_side(),
               test_view(plan[i].image_index, plan[i].augmentation), images.data() + static_cast<Index>(i) * per_image);
  return images;
}

/// Tokenised `texts` [rows, context_length] (truncated to the context, end-of-text kept).
inline Tensor<std::int32_t> token_tensor(const io::ClipTokenizer& tokenizer, std::span<const std::string> texts,
                                         Index context_length, MemoryMeter& meter,
                                         MemoryCategory category = MemoryCategory::inputs) {
  const auto batch = tokenizer.tokenize_batch_with_eot(texts, static_cast<std::size_t>(context_length), true);
  Tensor<std::int32_t> ids({static_cast<Index>(texts.size()), context_length}, meter, category);
  std::copy(batch.ids.begin(), batch.ids.end(), ids.data());
  return ids;
}

/// The zero-shot prompts ("an emoji of {name}") of `class_ids`, tokenised.
inline Tensor<std::int32_t> prompt_tokens(const EmojiPack& pack, std::span<const int> class_ids,
                                          const io::ClipTokenizer& tokenizer, Index context_length, MemoryMeter& meter) {
  std::vector<std::string> prompts;
  for (int c : class_ids) prompts.push_back(emoji_prompt(pack.emoji_class(c)));
  return token_tensor(tokenizer, prompts, context_length, meter);
}

/// Labels of `plan` as positions in `class_ids` (every planned class must be listed).
inline std::vector<std::int32_t> plan_labels(std::span<const PlannedImage> plan, std::span<const int> class_ids) {
  std::vector<std::int32_t> labels;
  labels.reserve(plan.size());
  for (const PlannedImage& p : plan) {
    const auto it = std::find(class_ids.begin(), class_ids.end(), p.class_id);
    require<InputError>(it != class_ids.end(), "plan_labels: class ", p.class_id, " is not in the class list");
    labels.push_back(static_cast<std::int32_t>(it - class_ids.begin()));
  }
  return labels;
}

/// Zero-shot top-1 of `model` on the images of `plan`, classifying among `class_ids` only.
template <class Backend>
double zero_shot_accuracy(const Clip<float, Backend>& model, const EmojiPack& pack, std::span<const int> class_ids,
                          std::span<const PlannedImage> plan, const io::ClipTokenizer& tokenizer) {
  auto& meter = model.meter();
  const Tensor<std::int32_t> tokens =
      prompt_tokens(pack, class_ids, tokenizer, model.config().text.context_length, meter);
  const Tensor<float> images = plan_images(pack, plan, meter);
  return evaluate_accuracy(model, images, plan_labels(plan, class_ids), tokens);
}

}  // namespace skiptune::data
