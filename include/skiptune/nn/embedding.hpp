// skiptune/nn/embedding.hpp — the two stems' input ops: ViT patch embedding (a convolution with
// kernel = stride = patch, no bias, done as one matmul over flattened patches) with class token
// and positional embedding, and text token + positional embedding.
#pragma once

#include <cstdint>

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune::nn {

/// Patch geometry of a square image.
struct PatchShape {
  Index batch = 0;
  Index image_size = 0;  // R (height = width)
  Index patch_size = 0;  // p
  [[nodiscard]] Index grid() const noexcept { return image_size / patch_size; }
  [[nodiscard]] Index patches() const noexcept { return grid() * grid(); }          // P
  [[nodiscard]] Index patch_scalars() const noexcept { return 3 * patch_size * patch_size; }  // 3·p·p
  [[nodiscard]] Index tokens() const noexcept { return patches() + 1; }             // P + 1 (class token)
};

/// im2col: images [B, 3, R, R] → patches [B·P, 3·p·p], each row in (channel, row, col) order,
/// patches in raster order — the flattening that makes conv1 (kernel = stride) one matmul.
template <class T>
inline void extract_patches(cpu, T* patches, const T* images, const PatchShape& s) {
  const Index R = s.image_size, p = s.patch_size, g = s.grid(), K = s.patch_scalars();
#pragma omp parallel for schedule(static) if (s.batch * s.patches() * K > skiptune::detail::parallel_grain)
  for (Index bp = 0; bp < s.batch * s.patches(); ++bp) {
    const Index b = bp / s.patches(), patch = bp % s.patches();
    const Index py = patch / g, px = patch % g;
    T* row = patches + bp * K;
    for (Index c = 0; c < 3; ++c)
      for (Index y = 0; y < p; ++y) {
        const T* src = images + ((b * 3 + c) * R + py * p + y) * R + px * p;
        for (Index x = 0; x < p; ++x) *row++ = src[x];
      }
  }
}

/// tokens [B·(P+1), W]: row 0 of each image = class_embedding + pos[0]; row 1+i = patch_i ·
/// conv1ᵀ + pos[1+i]. conv1 is [W, 3, p, p] = [W, 3·p·p].
template <class T>
inline void patch_embedding_forward(cpu, T* tokens, const T* patches, const T* conv1_weight,
                                    const T* class_embedding, const T* positional_embedding, const PatchShape& s,
                                    Index width) {
  const Index P = s.patches(), K = s.patch_scalars(), Tk = s.tokens(), W = width;
  ConstMatrixMap<T> conv(conv1_weight, W, K);
  ConstMatrixMap<T> pos(positional_embedding, Tk, W);
  for (Index b = 0; b < s.batch; ++b) {
    MatrixMap<T> x(tokens + b * Tk * W, Tk, W);
    x.row(0) = ConstVectorMap<T>(class_embedding, W) + pos.row(0);
    x.bottomRows(P).noalias() = ConstMatrixMap<T>(patches + b * P * K, P, K) * conv.transpose();
    x.bottomRows(P) += pos.bottomRows(P);
  }
}

/// Gradients of patch_embedding_forward; all three accumulate and may be null.
template <class T>
inline void patch_embedding_backward(cpu, T* d_conv1_weight, T* d_class_embedding, T* d_positional_embedding,
                                     const T* d_tokens, const T* patches, const PatchShape& s, Index width) {
  const Index P = s.patches(), K = s.patch_scalars(), Tk = s.tokens(), W = width;
  for (Index b = 0; b < s.batch; ++b) {
    ConstMatrixMap<T> dx(d_tokens + b * Tk * W, Tk, W);
    if (d_class_embedding != nullptr) VectorMap<T>(d_class_embedding, W) += dx.row(0);
    if (d_positional_embedding != nullptr) MatrixMap<T>(d_positional_embedding, Tk, W) += dx;
    if (d_conv1_weight != nullptr)
      MatrixMap<T>(d_conv1_weight, W, K).noalias() +=
          dx.bottomRows(P).transpose() * ConstMatrixMap<T>(patches + b * P * K, P, K);
  }
}

/// x [S·T, W] = token_embedding[ids[s, t]] + positional_embedding[t] for t < T, where ids is
/// [S, context] (only the first T = `tokens` positions are used).
template <class T>
inline void token_embedding_forward(cpu, T* x, const std::int32_t* ids, const T* token_embedding,
                                    const T* positional_embedding, Index sequences, Index context, Index tokens,
                                    Index width) {
#pragma omp parallel for schedule(static) if (sequences * tokens * width > skiptune::detail::parallel_grain)
  for (Index s = 0; s < sequences; ++s)
    for (Index t = 0; t < tokens; ++t) {
      const T* e = token_embedding + static_cast<Index>(ids[s * context + t]) * width;
      const T* pos = positional_embedding + t * width;
      T* out = x + (s * tokens + t) * width;
      for (Index c = 0; c < width; ++c) out[c] = e[c] + pos[c];
    }
}

/// Gradients of token_embedding_forward (scatter-add, in sequence order); both accumulate and
/// may be null.
template <class T>
inline void token_embedding_backward(cpu, T* d_token_embedding, T* d_positional_embedding, const T* d_x,
                                     const std::int32_t* ids, Index sequences, Index context, Index tokens,
                                     Index width) {
  for (Index s = 0; s < sequences; ++s)
    for (Index t = 0; t < tokens; ++t) {
      const T* dx = d_x + (s * tokens + t) * width;
      if (d_token_embedding != nullptr) {
        T* de = d_token_embedding + static_cast<Index>(ids[s * context + t]) * width;
        for (Index c = 0; c < width; ++c) de[c] += dx[c];
      }
      if (d_positional_embedding != nullptr) {
        T* dp = d_positional_embedding + t * width;
        for (Index c = 0; c < width; ++c) dp[c] += dx[c];
      }
    }
}

}  // namespace skiptune::nn
