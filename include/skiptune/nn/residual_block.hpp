// skiptune/nn/residual_block.hpp — OpenAI CLIP's pre-LN residual attention block:
//   x = x + out_proj(attention(in_proj(ln_1(x))))
//   x = x + c_proj(act(c_fc(ln_2(x))))
// in three forms: inference in place (frozen blocks: nothing saved), training forward (saves
// what backward needs), and backward (stops wherever the caller stops calling it).
//
// Memory per block (S sequences × T tokens, width W, MLP width M, H heads), in scalars:
//   saved for backward   input S·T·W, ln stats 4·S·T, qkv 3·S·T·W, probs S·H·T², attention
//                        output S·T·W, mid-residual S·T·W, c_fc pre-activation S·T·M
//   (ln outputs and the activation output are recomputed in backward instead of saved.)
#pragma once

#include <algorithm>
#include <string>
#include <utility>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/nn/activation.hpp"
#include "skiptune/nn/attention.hpp"
#include "skiptune/nn/layer_norm.hpp"
#include "skiptune/nn/linear.hpp"

namespace skiptune::nn {

/// Shape of one block application.
struct BlockShape {
  Index sequences = 0;
  Index tokens = 0;
  Index width = 0;
  Index heads = 0;
  Index mlp_width = 0;
  bool causal = false;
  Activation activation = Activation::quick_gelu;

  [[nodiscard]] Index rows() const noexcept { return sequences * tokens; }
  [[nodiscard]] AttentionShape attention() const noexcept {
    return {sequences, tokens, width, heads, causal};
  }
  /// Scalars saved by block_forward_train (beyond the input it takes over).
  [[nodiscard]] Index saved_scalars() const noexcept {
    const Index n = rows();
    return 4 * n + 3 * n * width + attention().probs_size() + 2 * n * width + n * mlp_width;
  }
  /// Workspace scalars of each pass (one buffer, carved per phase).
  [[nodiscard]] Index inference_workspace_scalars() const noexcept {
    const Index n = rows();
    return n * width + std::max(4 * n * width + attention().probs_size(), n * mlp_width);
  }
  [[nodiscard]] Index train_workspace_scalars() const noexcept { return rows() * (width + mlp_width); }
  [[nodiscard]] Index backward_workspace_scalars() const noexcept {
    const Index n = rows();
    return std::max(2 * n * mlp_width + 2 * n * width, 6 * n * width + attention().probs_size());
  }
};

/// Parameters of one block, OpenAI layout (linear weights [out, in]). The same struct holds
/// the block's gradients.
template <class T>
struct BlockWeights {
  Tensor<T> ln_1_weight, ln_1_bias;              // [W]
  Tensor<T> attn_in_proj_weight;                 // [3W, W] rows: q, k, v
  Tensor<T> attn_in_proj_bias;                   // [3W]
  Tensor<T> attn_out_proj_weight;                // [W, W]
  Tensor<T> attn_out_proj_bias;                  // [W]
  Tensor<T> ln_2_weight, ln_2_bias;              // [W]
  Tensor<T> mlp_c_fc_weight, mlp_c_fc_bias;      // [M, W], [M]
  Tensor<T> mlp_c_proj_weight, mlp_c_proj_bias;  // [W, M], [W]

  BlockWeights() = default;
  BlockWeights(Index width, Index mlp_width, MemoryMeter& meter, MemoryCategory category) {
    const Index W = width, M = mlp_width;
    auto make = [&](Shape s) { return Tensor<T>::zeros(s, meter, category); };
    ln_1_weight = make({W}), ln_1_bias = make({W});
    attn_in_proj_weight = make({3 * W, W}), attn_in_proj_bias = make({3 * W});
    attn_out_proj_weight = make({W, W}), attn_out_proj_bias = make({W});
    ln_2_weight = make({W}), ln_2_bias = make({W});
    mlp_c_fc_weight = make({M, W}), mlp_c_fc_bias = make({M});
    mlp_c_proj_weight = make({W, M}), mlp_c_proj_bias = make({W});
  }

  /// Visit (name relative to the block prefix, tensor) in OpenAI checkpoint order.
  template <class Self, class F>
  static void for_each_impl(Self& self, F&& f) {
    f("ln_1.weight", self.ln_1_weight);
    f("ln_1.bias", self.ln_1_bias);
    f("attn.in_proj_weight", self.attn_in_proj_weight);
    f("attn.in_proj_bias", self.attn_in_proj_bias);
    f("attn.out_proj.weight", self.attn_out_proj_weight);
    f("attn.out_proj.bias", self.attn_out_proj_bias);
    f("ln_2.weight", self.ln_2_weight);
    f("ln_2.bias", self.ln_2_bias);
    f("mlp.c_fc.weight", self.mlp_c_fc_weight);
    f("mlp.c_fc.bias", self.mlp_c_fc_bias);
    f("mlp.c_proj.weight", self.mlp_c_proj_weight);
    f("mlp.c_proj.bias", self.mlp_c_proj_bias);
  }
  template <class F>
  void for_each(F&& f) {
    for_each_impl(*this, std::forward<F>(f));
  }
  template <class F>
  void for_each(F&& f) const {
    for_each_impl(*this, std::forward<F>(f));
  }
};

/// What block_forward_train keeps for block_backward (category: activations).
template <class T>
struct BlockRecord {
  Tensor<T> input;               // [S·T, W] the block's input (owned: it is needed by ln_1 backward)
  Tensor<T> ln_1_mean, ln_1_rstd;  // [S·T]
  Tensor<T> qkv;                 // [S·T, 3W]
  Tensor<T> probs;               // [S, H, T, T]
  Tensor<T> attention_output;    // [S·T, W] before out_proj
  Tensor<T> mid;                 // [S·T, W] residual after the attention branch
  Tensor<T> ln_2_mean, ln_2_rstd;  // [S·T]
  Tensor<T> mlp_pre_activation;  // [S·T, M]
};

/// Inference: x [S·T, W] is updated in place; nothing is saved (frozen blocks, caches, eval).
template <class T>
inline void block_forward_inference(cpu backend, const BlockWeights<T>& w, Tensor<T>& x, const BlockShape& shape,
                                    MemoryMeter& meter) {
  const Index n = shape.rows(), W = shape.width, M = shape.mlp_width;
  expect_shape(x, Shape{n, W}, "block input");
  Tensor<T> workspace({shape.inference_workspace_scalars()}, meter, MemoryCategory::workspace);
  T* ln_out = workspace.data();           // [n, W]; later reused for branch outputs
  T* qkv = ln_out + n * W;                // [n, 3W]
  T* attention_output = qkv + 3 * n * W;  // [n, W]
  T* probs = attention_output + n * W;    // [S, H, T, T]
  T* hidden = ln_out + n * W;             // [n, M] (reuses qkv.. once attention is done)

  layer_norm_forward(backend, ln_out, (T*)nullptr, (T*)nullptr, x.data(), w.ln_1_weight.data(),
                     w.ln_1_bias.data(), n, W);
  linear_forward(backend, qkv, ln_out, w.attn_in_proj_weight.data(), w.attn_in_proj_bias.data(), n, W, 3 * W);
  attention_forward(backend, attention_output, probs, qkv, shape.attention());
  linear_forward(backend, ln_out, attention_output, w.attn_out_proj_weight.data(), w.attn_out_proj_bias.data(),
                 n, W, W);
  x.matrix() += ConstMatrixMap<T>(ln_out, n, W);

  layer_norm_forward(backend, ln_out, (T*)nullptr, (T*)nullptr, x.data(), w.ln_2_weight.data(),
                     w.ln_2_bias.data(), n, W);
  linear_forward(backend, hidden, ln_out, w.mlp_c_fc_weight.data(), w.mlp_c_fc_bias.data(), n, W, M);
  activation_forward(backend, shape.activation, hidden, hidden, n * M);
  linear_forward(backend, ln_out, hidden, w.mlp_c_proj_weight.data(), w.mlp_c_proj_bias.data(), n, M, W);
  x.matrix() += ConstMatrixMap<T>(ln_out, n, W);
}

/// Training forward: takes over `input` [S·T, W] (it becomes part of the record) and returns
/// the block output [S·T, W] (category: activations).
template <class T>
inline Tensor<T> block_forward_train(cpu backend, const BlockWeights<T>& w, Tensor<T>&& input,
                                     BlockRecord<T>& record, const BlockShape& shape, MemoryMeter& meter) {
  const Index n = shape.rows(), W = shape.width, M = shape.mlp_width;
  expect_shape(input, Shape{n, W}, "block input");
  constexpr auto saved = MemoryCategory::activations;
  record.input = std::move(input);
  record.ln_1_mean = Tensor<T>({n}, meter, saved);
  record.ln_1_rstd = Tensor<T>({n}, meter, saved);
  record.qkv = Tensor<T>({n, 3 * W}, meter, saved);
  record.probs = Tensor<T>({shape.sequences, shape.heads, shape.tokens, shape.tokens}, meter, saved);
  record.attention_output = Tensor<T>({n, W}, meter, saved);
  record.mid = Tensor<T>({n, W}, meter, saved);
  record.ln_2_mean = Tensor<T>({n}, meter, saved);
  record.ln_2_rstd = Tensor<T>({n}, meter, saved);
  record.mlp_pre_activation = Tensor<T>({n, M}, meter, saved);

  Tensor<T> workspace({shape.train_workspace_scalars()}, meter, MemoryCategory::workspace);
  T* ln_out = workspace.data();  // [n, W]
  T* hidden = ln_out + n * W;    // [n, M]

  layer_norm_forward(backend, ln_out, record.ln_1_mean.data(), record.ln_1_rstd.data(), record.input.data(),
                     w.ln_1_weight.data(), w.ln_1_bias.data(), n, W);
  linear_forward(backend, record.qkv.data(), ln_out, w.attn_in_proj_weight.data(), w.attn_in_proj_bias.data(),
                 n, W, 3 * W);
  attention_forward(backend, record.attention_output.data(), record.probs.data(), record.qkv.data(),
                    shape.attention());
  linear_forward(backend, record.mid.data(), record.attention_output.data(), w.attn_out_proj_weight.data(),
                 w.attn_out_proj_bias.data(), n, W, W);
  record.mid.matrix() += record.input.matrix();

  layer_norm_forward(backend, ln_out, record.ln_2_mean.data(), record.ln_2_rstd.data(), record.mid.data(),
                     w.ln_2_weight.data(), w.ln_2_bias.data(), n, W);
  linear_forward(backend, record.mlp_pre_activation.data(), ln_out, w.mlp_c_fc_weight.data(),
                 w.mlp_c_fc_bias.data(), n, W, M);
  activation_forward(backend, shape.activation, hidden, record.mlp_pre_activation.data(), n * M);
  Tensor<T> output({n, W}, meter, MemoryCategory::activations);
  linear_forward(backend, output.data(), hidden, w.mlp_c_proj_weight.data(), w.mlp_c_proj_bias.data(), n, M, W);
  output.matrix() += record.mid.matrix();
  return output;
}

/// Backward through one block. `d_residual` [S·T, W] holds ∂L/∂output on entry and ∂L/∂input
/// on return (the residual stream accumulates in place). Parameter gradients accumulate into
/// `grads`. With `need_input_gradient = false` (the lowest trained block above a frozen
/// stem) the final accumulation into d_residual is skipped. The record is consumed.
template <class T>
inline void block_backward(cpu backend, const BlockWeights<T>& w, BlockWeights<T>& grads, Tensor<T>& d_residual,
                           BlockRecord<T>&& record, const BlockShape& shape, MemoryMeter& meter,
                           bool need_input_gradient = true) {
  const Index n = shape.rows(), W = shape.width, M = shape.mlp_width;
  expect_shape(d_residual, Shape{n, W}, "block output gradient");
  BlockRecord<T> rec = std::move(record);  // freed when this function returns
  Tensor<T> workspace({shape.backward_workspace_scalars()}, meter, MemoryCategory::workspace);
  T* dy = d_residual.data();

  {  // MLP branch: out = mid + c_proj(act(c_fc(ln_2(mid))))
    T* hidden = workspace.data();  // [n, M]
    T* d_hidden = hidden + n * M;  // [n, M]
    T* ln_out = d_hidden + n * M;  // [n, W]
    T* d_ln = ln_out + n * W;      // [n, W]
    activation_forward(backend, shape.activation, hidden, rec.mlp_pre_activation.data(), n * M);
    linear_backward(backend, d_hidden, grads.mlp_c_proj_weight.data(), grads.mlp_c_proj_bias.data(), dy, hidden,
                    w.mlp_c_proj_weight.data(), n, M, W);
    activation_backward(backend, shape.activation, d_hidden, d_hidden, rec.mlp_pre_activation.data(), n * M);
    layer_norm_apply(backend, ln_out, rec.mid.data(), rec.ln_2_mean.data(), rec.ln_2_rstd.data(),
                     w.ln_2_weight.data(), w.ln_2_bias.data(), n, W);
    linear_backward(backend, d_ln, grads.mlp_c_fc_weight.data(), grads.mlp_c_fc_bias.data(), d_hidden, ln_out,
                    w.mlp_c_fc_weight.data(), n, W, M);
    layer_norm_backward(backend, dy, grads.ln_2_weight.data(), grads.ln_2_bias.data(), d_ln, rec.mid.data(),
                        rec.ln_2_mean.data(), rec.ln_2_rstd.data(), w.ln_2_weight.data(), n, W);
  }
  {  // attention branch: mid = input + out_proj(attention(in_proj(ln_1(input))))
    T* d_attention_output = workspace.data();  // [n, W]
    T* d_qkv = d_attention_output + n * W;     // [n, 3W]
    T* ln_out = d_qkv + 3 * n * W;             // [n, W]
    T* d_ln = ln_out + n * W;                  // [n, W]
    T* d_probs = d_ln + n * W;                 // [S, H, T, T]
    linear_backward(backend, d_attention_output, grads.attn_out_proj_weight.data(), grads.attn_out_proj_bias.data(),
                    dy, rec.attention_output.data(), w.attn_out_proj_weight.data(), n, W, W);
    attention_backward(backend, d_qkv, d_probs, d_attention_output, rec.probs.data(), rec.qkv.data(),
                       shape.attention());
    layer_norm_apply(backend, ln_out, rec.input.data(), rec.ln_1_mean.data(), rec.ln_1_rstd.data(),
                     w.ln_1_weight.data(), w.ln_1_bias.data(), n, W);
    linear_backward(backend, d_ln, grads.attn_in_proj_weight.data(), grads.attn_in_proj_bias.data(), d_qkv, ln_out,
                    w.attn_in_proj_weight.data(), n, W, 3 * W);
    layer_norm_backward(backend, need_input_gradient ? dy : (T*)nullptr, grads.ln_1_weight.data(),
                        grads.ln_1_bias.data(), d_ln, rec.input.data(), rec.ln_1_mean.data(), rec.ln_1_rstd.data(),
                        w.ln_1_weight.data(), n, W);
  }
}

}  // namespace skiptune::nn
