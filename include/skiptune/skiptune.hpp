// skiptune/skiptune.hpp — the umbrella header: everything that needs only Eigen (the core, the
// CPU backend, the ops, CLIP, the Encoder concept, training and memory planning).
// I/O headers (skiptune/io/...) link extra libraries and are included one by one.
#pragma once

#include "skiptune/version.hpp"

#include "skiptune/core/errors.hpp"
#include "skiptune/core/memory.hpp"
#include "skiptune/core/rng.hpp"
#include "skiptune/core/tensor.hpp"

#include "skiptune/backend/backend.hpp"
#include "skiptune/backend/cpu.hpp"

#include "skiptune/nn/activation.hpp"
#include "skiptune/nn/attention.hpp"
#include "skiptune/nn/contrastive_logits.hpp"
#include "skiptune/nn/embedding.hpp"
#include "skiptune/nn/layer_norm.hpp"
#include "skiptune/nn/linear.hpp"
#include "skiptune/nn/pooled_head.hpp"
#include "skiptune/nn/residual_block.hpp"

#include "skiptune/model/clip.hpp"
#include "skiptune/model/config.hpp"
#include "skiptune/model/encoder.hpp"
#include "skiptune/model/text_tower.hpp"
#include "skiptune/model/vision_tower.hpp"

#include "skiptune/policy/prompt_tuning.hpp"

#include "skiptune/train/clip_trainer.hpp"
#include "skiptune/train/sgd.hpp"
