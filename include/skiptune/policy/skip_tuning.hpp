// skiptune/policy/skip_tuning.hpp — Skip Tuning = LayerSkip + ClassSkip, and the ready-made
// FineTuner aliases for the paper's four methods.
#pragma once

#include "skiptune/policy/class_skip.hpp"
#include "skiptune/policy/full_fine_tune.hpp"
#include "skiptune/policy/layer_skip.hpp"
#include "skiptune/policy/token_drop.hpp"

namespace skiptune {

template <class Model, class... Policies>
class FineTuner;

/// The paper's methods as FineTuner types over a model.
template <class Model> using FullFineTuning = FineTuner<Model, FullFineTune>;
template <class Model> using LayerSkipTuning = FineTuner<Model, FullFineTune, LayerSkip>;
template <class Model> using ClassSkipTuning = FineTuner<Model, FullFineTune, ClassSkip>;
template <class Model> using SkipTuning = FineTuner<Model, FullFineTune, LayerSkip, ClassSkip>;

}  // namespace skiptune
