// skiptune/data/emoji_sampler.hpp — class-balanced sampling of EmojiBench pretraining pairs.
//
// People & Body has ~300 classes with five skin tones each, and the big families draw 1,870
// classes while FxEmoji draws 611: sampling images uniformly would weight classes by how many
// renderings they happen to have. So a batch is B *distinct* classes drawn uniformly (which
// also keeps a class from being its own negative in the InfoNCE loss), and for each class one
// artwork family uniformly among those it may be pretrained with (EmojiPack::
// usable_for_pretraining: for task classes only the PRETRAIN families), then one of that
// family's renderings uniformly. Each batch comes from an Rng seeded by (seed, step), so a run
// resumed at step s draws exactly the batches an uninterrupted run would.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/data/emoji_pack.hpp"

namespace skiptune::data {

struct PretrainingPick {
  std::size_t image_index = 0;
  int class_id = 0;
};

class EmojiPretrainingSampler {
 public:
  explicit EmojiPretrainingSampler(const EmojiPack& pack) : pack_(&pack), by_class_(pack.classes().size()) {
    for (std::size_t i = 0; i < pack.image_count(); ++i) {
      if (!pack.usable_for_pretraining(i)) continue;
      const ImageRecord& r = pack.record(i);
      auto& families = by_class_[static_cast<std::size_t>(r.class_id)];
      if (families.empty() || families.back().family_id != r.family_id) families.push_back({r.family_id, {}});
      families.back().images.push_back(i);  // records are sorted by (class, family, variant)
    }
    for (std::size_t c = 0; c < by_class_.size(); ++c)
      if (!by_class_[c].empty()) classes_.push_back(static_cast<int>(c));
    require<InputError>(!classes_.empty(), "EmojiBench pack has no image usable for pretraining");
  }

  /// Classes that have at least one pretraining image.
  [[nodiscard]] const std::vector<int>& classes() const noexcept { return classes_; }

  /// The pretraining families of `class_id` (empty when it has none).
  [[nodiscard]] std::vector<int> families_of(int class_id) const {
    std::vector<int> out;
    for (const auto& f : by_class_.at(static_cast<std::size_t>(class_id))) out.push_back(f.family_id);
    return out;
  }

  /// Batch `step` of `batch_size` distinct classes (batch_size ≤ classes().size()).
  [[nodiscard]] std::vector<PretrainingPick> batch(std::uint64_t seed, std::uint64_t step, std::size_t batch_size) const {
    require<ConfigError>(batch_size > 0 && batch_size <= classes_.size(), "pretraining batch of ", batch_size,
                         " distinct classes, but the pack has ", classes_.size(), " classes with pretraining images");
    Rng rng(seed, 0x5A3D'0000ull + step);
    std::vector<int> order = classes_;
    std::vector<PretrainingPick> picks;
    picks.reserve(batch_size);
    for (std::size_t k = 0; k < batch_size; ++k) {  // partial Fisher–Yates: distinct classes
      const std::size_t j = k + static_cast<std::size_t>(rng.below(order.size() - k));
      std::swap(order[k], order[j]);
      const auto& families = by_class_[static_cast<std::size_t>(order[k])];
      const auto& family = families[static_cast<std::size_t>(rng.below(families.size()))];
      picks.push_back({family.images[static_cast<std::size_t>(rng.below(family.images.size()))], order[k]});
    }
    return picks;
  }

 private:
  struct FamilyImages {
    int family_id = 0;
    std::vector<std::size_t> images;
  };
  const EmojiPack* pack_;
  std::vector<std::vector<FamilyImages>> by_class_;
  std::vector<int> classes_;
};

}  // namespace skiptune::data
