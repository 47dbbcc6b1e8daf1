// examples/sequence_classifier_data.hpp — a seeded synthetic text-classification task the
// SequenceClassifier can visibly learn, and the accuracy of a classifier on it.
//
// The task: class c is "keyword id c + 1 appears somewhere in the sequence". Each sequence has a
// random length in [min_length, T], is filled with random filler ids from [C + 1, V), carries
// exactly one keyword at a random position, and is padded with id 0 after its last token. A model
// must find one informative token among many uninformative ones at an arbitrary position — a
// mean-pooled transformer can learn that, a constant predictor stays at 1/C accuracy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/model/encoder.hpp"

#include "sequence_classifier.hpp"

namespace example {

struct KeywordTaskOptions {
  Index examples = 256;
  Index tokens = 16;      // T: row length of the ids (≤ the classifier's context_length)
  Index min_length = 6;   // shortest sequence, keyword included
  Index vocab_size = 200; // V
  Index classes = 6;      // C keywords: ids 1..C
};

/// Token ids [N, T] and labels [N] (balanced: example i has class i mod C).
struct KeywordTask {
  Tensor<std::int32_t> ids;
  std::vector<std::int32_t> labels;
};

inline KeywordTask make_keyword_task(const KeywordTaskOptions& o, MemoryMeter& meter, skiptune::Rng& rng) {
  using skiptune::require;
  require<skiptune::ConfigError>(o.examples > 0 && o.tokens > 0 && o.min_length >= 1 && o.min_length <= o.tokens,
                                 "KeywordTaskOptions: need examples > 0 and 1 <= min_length <= tokens");
  require<skiptune::ConfigError>(o.vocab_size > o.classes + 1, "KeywordTaskOptions: the vocabulary (", o.vocab_size,
                                 ") must hold padding, ", o.classes, " keywords and at least one filler id");
  KeywordTask task;
  task.ids = Tensor<std::int32_t>::zeros({o.examples, o.tokens}, meter, MemoryCategory::inputs);
  const auto filler_ids = static_cast<std::uint64_t>(o.vocab_size - o.classes - 1);
  for (Index i = 0; i < o.examples; ++i) {
    const auto label = static_cast<std::int32_t>(i % o.classes);
    const Index length = o.min_length + static_cast<Index>(rng.below(static_cast<std::uint64_t>(o.tokens - o.min_length + 1)));
    const Index keyword_at = static_cast<Index>(rng.below(static_cast<std::uint64_t>(length)));
    std::int32_t* row = task.ids.data() + i * o.tokens;
    for (Index t = 0; t < length; ++t)
      row[t] = t == keyword_at ? label + 1 : static_cast<std::int32_t>(o.classes + 1 + static_cast<Index>(rng.below(filler_ids)));
    task.labels.push_back(label);
  }
  return task;
}

/// Fraction of examples whose argmax logit is the label (inference: nothing saved, no gradients).
template <skiptune::Encoder E>
double accuracy(const E& classifier, const Tensor<std::int32_t>& ids, const std::vector<std::int32_t>& labels) {
  const Tensor<typename E::scalar_type> logits = skiptune::encode(classifier, ids);  // [N, C]
  const Index N = logits.dim(0), C = logits.dim(1);
  std::size_t correct = 0;
  for (Index n = 0; n < N; ++n) {
    const auto* row = logits.data() + n * C;
    correct += static_cast<std::int32_t>(std::max_element(row, row + C) - row) == labels[static_cast<std::size_t>(n)];
  }
  return static_cast<double>(correct) / static_cast<double>(N);
}

}  // namespace example
