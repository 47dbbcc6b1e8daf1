// skiptune/model/config.hpp — CLIP architecture configurations: ViT-B/16, ViT-B/32 and a tiny
// preset for tests and CPU demos. Heads = width / 64 in OpenAI's models; presets set it
// explicitly so small models can have small heads.
#pragma once

#include <cstdint>
#include <string>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/nn/activation.hpp"

namespace skiptune {

struct VisionConfig {
  Index image_size = 224;
  Index patch_size = 16;
  Index width = 768;
  Index layers = 12;
  Index heads = 12;
  Index mlp_width = 3072;
  nn::Activation activation = nn::Activation::quick_gelu;

  [[nodiscard]] Index grid() const noexcept { return image_size / patch_size; }
  [[nodiscard]] Index tokens() const noexcept { return grid() * grid() + 1; }
};

struct TextConfig {
  Index context_length = 77;
  Index vocab_size = 49408;
  Index width = 512;
  Index layers = 12;
  Index heads = 8;
  Index mlp_width = 2048;
  nn::Activation activation = nn::Activation::quick_gelu;
};

struct ClipConfig {
  std::string name = "ViT-B/16";
  Index embed_dim = 512;
  VisionConfig vision{};
  TextConfig text{};

  /// OpenAI ViT-B/16: 149,620,737 parameters.
  static ClipConfig vit_b16() { return ClipConfig{}; }

  /// OpenAI ViT-B/32: 151,277,313 parameters.
  static ClipConfig vit_b32() {
    ClipConfig c;
    c.name = "ViT-B/32";
    c.vision.patch_size = 32;
    return c;
  }

  /// A small CLIP for tests and CPU demos: 32 px images in 8 px patches (17 tokens), width 64,
  /// 4 blocks per tower, 16-token context over a 1000-symbol vocabulary.
  static ClipConfig tiny() {
    ClipConfig c;
    c.name = "tiny";
    c.embed_dim = 64;
    c.vision = VisionConfig{32, 8, 64, 4, 4, 256, nn::Activation::quick_gelu};
    c.text = TextConfig{16, 1000, 64, 4, 4, 256, nn::Activation::quick_gelu};
    return c;
  }

  /// Throws ConfigError naming the first field that cannot work.
  void validate() const {
    auto positive = [&](Index v, const char* field) {
      require<ConfigError>(v > 0, "config ", name, ": ", field, " must be > 0, got ", v);
    };
    positive(embed_dim, "embed_dim");
    positive(vision.image_size, "vision.image_size");
    positive(vision.patch_size, "vision.patch_size");
    positive(vision.width, "vision.width");
    positive(vision.layers, "vision.layers");
    positive(vision.heads, "vision.heads");
    positive(vision.mlp_width, "vision.mlp_width");
    positive(text.context_length, "text.context_length");
    positive(text.vocab_size, "text.vocab_size");
    positive(text.width, "text.width");
    positive(text.layers, "text.layers");
    positive(text.heads, "text.heads");
    positive(text.mlp_width, "text.mlp_width");
    require<ConfigError>(vision.image_size % vision.patch_size == 0, "config ", name, ": vision.image_size ",
                         vision.image_size, " is not divisible by vision.patch_size ", vision.patch_size);
    require<ConfigError>(vision.width % vision.heads == 0, "config ", name, ": vision.width ", vision.width,
                         " is not divisible by vision.heads ", vision.heads);
    require<ConfigError>(text.width % text.heads == 0, "config ", name, ": text.width ", text.width,
                         " is not divisible by text.heads ", text.heads);
  }
};

}  // namespace skiptune
