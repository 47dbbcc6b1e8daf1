// skiptune/model/flop_count.hpp — analytic FLOP count of a CLIP training step (multiply-add =
// 2 FLOPs), for GFLOP/s counters in benchmarks. Counts the matrix products (linear layers,
// attention scores and mixing, patch embedding, projections); elementwise work is ignored.
// A trained block costs its forward plus a backward of twice that (input and weight gradients;
// the lowest trained block above a frozen stem skips its input gradient); a frozen block costs
// one forward.
#pragma once

#include "skiptune/model/config.hpp"
#include "skiptune/model/memory_plan.hpp"

namespace skiptune {

namespace detail {
/// Forward FLOPs of one block application over S sequences of T tokens.
inline double block_forward_flops(double S, double T, double W, double M) {
  const double n = S * T;
  return 2.0 * n * (3 * W * W + W * W + 2 * W * M)  // in_proj, out_proj, c_fc, c_proj
         + 4.0 * S * T * T * W;                     // q·kᵀ and probs·v over all heads
}
}  // namespace detail

inline double clip_step_flops(const ClipConfig& config, const StepShape& step, const ClipTrainableParts& parts) {
  const auto& vc = config.vision;
  const auto& tc = config.text;
  auto tower = [](double S, double T, double W, double M, double layers, const TrainableParts& p) {
    const double fwd = detail::block_forward_flops(S, T, W, M);
    const double omega = static_cast<double>(p.first_trained_block);
    double flops = omega * fwd + (layers - omega) * 3.0 * fwd;
    // The lowest trained block above a frozen stem needs no input gradient: about one GEMM in three fewer.
    if (!p.stem && omega < layers) flops -= fwd - 4.0 * S * T * T * W;
    return flops;
  };
  const double B = double(step.batch), C = double(step.classes), E = double(config.embed_dim);
  const double P = double(vc.grid() * vc.grid()), K = 3.0 * double(vc.patch_size * vc.patch_size);
  double flops = 0;
  flops += tower(B, double(vc.tokens()), double(vc.width), double(vc.mlp_width), double(vc.layers), parts.vision);
  flops += tower(C, double(step.text_tokens), double(tc.width), double(tc.mlp_width), double(tc.layers), parts.text);
  flops += 2.0 * B * P * K * double(vc.width) * (parts.vision.stem ? 2.0 : 1.0);  // patch embedding
  flops += 3.0 * 2.0 * (B * double(vc.width) + C * double(tc.width)) * E;          // head projections
  flops += 3.0 * 2.0 * B * C * E;                                                  // logits
  return flops;
}

}  // namespace skiptune
