// skiptune/io/checkpoint.hpp — real CLIP checkpoints in and out: OpenAI/open_clip and Hugging Face
// safetensors files (single or sharded), the architecture read back from the tensor shapes, and
// an atomic writer in either naming.
//
//   skiptune::MemoryMeter meter;
//   auto model = skiptune::io::load_clip<float>("clip-vit-base-patch16/", meter);  // detects all
//   skiptune::io::save_clip(model, "ft.safetensors", skiptune::io::CheckpointNaming::openai);
//
// Two namings of the same weights (docs/checkpoints.md has the full table):
//   * openai      — OpenAI's clip/model.py state_dict, also used by open_clip: the names
//                   Clip::for_each_parameter gives, tensors as they are.
//   * huggingface — transformers' CLIPModel: other names, q/k/v as three [W, W] projections
//                   instead of one packed [3W, W] in_proj, and the two projections stored as
//                   nn.Linear weights, i.e. TRANSPOSED ([E, W] instead of [W, E]).
//
// Loading is all-or-nothing: every tensor's presence, dtype and shape is checked before the first
// byte is copied, so on any error the model keeps its old weights. F32, F16, BF16 (and F64) files
// load into Clip<float> or Clip<double>; F16/BF16 convert exactly.
//
// The head count is the one number a checkpoint's shapes do not hold. OpenAI's rule is
// heads = width / 64 (true for ViT-B/16, B/32, L/14); skiptune's own files record the heads in
// their metadata, a Hugging Face config.json states them, and ClipConfigOptions overrides all.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/memory.hpp"
#include "skiptune/core/tensor.hpp"
#include "skiptune/io/json.hpp"
#include "skiptune/io/safetensors.hpp"
#include "skiptune/model/clip.hpp"
#include "skiptune/model/config.hpp"
#include "skiptune/nn/activation.hpp"

namespace skiptune::io {

// ------------------------------------------------------------------------------------------
// Namings
// ------------------------------------------------------------------------------------------

/// Which tensor names (and layouts) a CLIP checkpoint uses.
enum class CheckpointNaming {
  openai,       ///< OpenAI clip/model.py and open_clip: `visual.conv1.weight`, packed in_proj
  huggingface,  ///< transformers CLIPModel: `vision_model.embeddings.patch_embedding.weight`, q/k/v
};

inline constexpr std::string_view to_string(CheckpointNaming naming) noexcept {
  return naming == CheckpointNaming::openai ? "openai" : "huggingface";
}

/// "openai" / "huggingface" (also "hf", "open_clip") → the naming; nullopt for anything else.
inline std::optional<CheckpointNaming> checkpoint_naming_from_string(std::string_view text) {
  if (text == "openai" || text == "open_clip" || text == "openclip") return CheckpointNaming::openai;
  if (text == "huggingface" || text == "hf" || text == "transformers") return CheckpointNaming::huggingface;
  return std::nullopt;
}

/// A tensor every full CLIP checkpoint of the naming has, and no checkpoint of the other naming.
inline constexpr std::string_view naming_marker(CheckpointNaming naming) noexcept {
  return naming == CheckpointNaming::openai ? "visual.conv1.weight" : "vision_model.embeddings.patch_embedding.weight";
}

/// What detect_naming and infer_clip_config read: tensor names, headers and metadata.
/// SafetensorsFile and ShardedSafetensors qualify (so does a header-only test double).
template <class S>
concept CheckpointHeader = requires(const S& source, std::string_view name) {
  { source.names() } -> std::convertible_to<const std::vector<std::string>&>;
  { source.contains(name) } -> std::convertible_to<bool>;
  { source.info(name) } -> std::convertible_to<const TensorInfo&>;
  { source.metadata() } -> std::convertible_to<const std::map<std::string, std::string>&>;
};

/// A CheckpointHeader whose tensors can also be read (converted to float / double).
template <class S>
concept CheckpointSource = CheckpointHeader<S> && requires(const S& source, std::string_view name, float* f,
                                                           double* d, std::size_t n) {
  source.read_as_float(name, f, n);
  source.read_as_double(name, d, n);
};

namespace detail {

/// How a checkpoint is named in messages: its path, or its shards.
template <class S>
std::string describe_source(const S& source) {
  if constexpr (requires { source.source_name(); }) {
    return skiptune::detail::message("checkpoint '", source.source_name(), "'");
  } else if constexpr (requires { source.shard_files(); }) {
    std::string shards;
    for (const std::string& shard : source.shard_files()) shards += (shards.empty() ? "'" : ", '") + shard + "'";
    return "sharded checkpoint (shards " + shards + ")";
  } else {
    return "checkpoint";
  }
}

inline std::string naming_title(CheckpointNaming naming) {
  return naming == CheckpointNaming::openai ? "OpenAI/open_clip" : "Hugging Face";
}

/// The naming the file's names say, without throwing: nullopt if neither or both markers exist.
template <CheckpointHeader S>
std::optional<CheckpointNaming> naming_of(const S& source) {
  const bool openai = source.contains(naming_marker(CheckpointNaming::openai));
  const bool hf = source.contains(naming_marker(CheckpointNaming::huggingface));
  if (openai == hf) return std::nullopt;
  return openai ? CheckpointNaming::openai : CheckpointNaming::huggingface;
}

}  // namespace detail

/// The naming of a checkpoint, from its tensor names (IoError if it has neither naming's
/// vision patch embedding, or both). Recognises a wrapper prefix such as "module." and says so.
template <CheckpointHeader S>
CheckpointNaming detect_naming(const S& source) {
  if (auto naming = detail::naming_of(source)) return *naming;
  const std::string where = detail::describe_source(source);
  if (source.contains(naming_marker(CheckpointNaming::openai))) {
    throw IoError(skiptune::detail::message(
        where, ": has both OpenAI ('", naming_marker(CheckpointNaming::openai), "') and Hugging Face ('",
        naming_marker(CheckpointNaming::huggingface), "') tensor names; which naming to load is ambiguous, ",
        "pass the CheckpointNaming explicitly"));
  }
  // A training wrapper's prefix ("module." from DistributedDataParallel, "model.", "clip.")?
  for (const std::string& name : source.names()) {
    for (const CheckpointNaming naming : {CheckpointNaming::openai, CheckpointNaming::huggingface}) {
      const std::string_view marker = naming_marker(naming);
      if (name.size() > marker.size() && name.ends_with(marker) && name[name.size() - marker.size() - 1] == '.') {
        throw IoError(skiptune::detail::message(
            where, ": tensor names carry a prefix: found '", name, "' where a ", detail::naming_title(naming),
            " CLIP has '", marker, "'; strip the prefix '", name.substr(0, name.size() - marker.size()),
            "' from every tensor name (e.g. re-save the state_dict without the wrapper)"));
      }
    }
  }
  std::string examples;
  for (std::size_t i = 0; i < source.names().size() && i < 5; ++i) examples += (i ? ", '" : "'") + source.names()[i] + "'";
  throw IoError(skiptune::detail::message(
      where, ": not a CLIP checkpoint skiptune knows: it has neither '", naming_marker(CheckpointNaming::openai),
      "' (OpenAI/open_clip naming) nor '", naming_marker(CheckpointNaming::huggingface),
      "' (Hugging Face CLIPModel naming); its ", source.names().size(), " tensors start with ",
      examples.empty() ? std::string("(none)") : examples,
      ". Text-only or vision-only models (CLIPTextModel, CLIPVisionModel) are not full CLIP checkpoints"));
}

// ------------------------------------------------------------------------------------------
// The name map
// ------------------------------------------------------------------------------------------

/// How a file tensor's elements relate to the parameter elements it fills.
enum class PieceLayout {
  copy,       ///< same row-major order (a whole parameter, or a contiguous run of its rows)
  transpose,  ///< the file holds the parameter's transpose (2-D): HF's projection Linear weights
};

/// One file tensor and the part of one model parameter it holds.
struct CheckpointPiece {
  std::string tensor_name;           ///< name in the file
  std::vector<std::int64_t> shape;   ///< shape in the file
  PieceLayout layout = PieceLayout::copy;
  Index offset = 0;                  ///< first parameter element it fills
  Index count = 0;                   ///< elements it fills
};

namespace detail {

inline std::vector<std::int64_t> extents_of(const Shape& shape) {
  std::vector<std::int64_t> extents;
  for (int i = 0; i < shape.rank(); ++i) extents.push_back(shape[i]);
  return extents;
}

/// Hugging Face name of a name relative to a residual block ("attn.out_proj.weight" → ...).
inline std::string hf_block_name(std::string_view openai_relative, std::string_view full_name) {
  static constexpr std::pair<std::string_view, std::string_view> table[] = {
      {"ln_1.weight", "layer_norm1.weight"},
      {"ln_1.bias", "layer_norm1.bias"},
      {"attn.out_proj.weight", "self_attn.out_proj.weight"},
      {"attn.out_proj.bias", "self_attn.out_proj.bias"},
      {"ln_2.weight", "layer_norm2.weight"},
      {"ln_2.bias", "layer_norm2.bias"},
      {"mlp.c_fc.weight", "mlp.fc1.weight"},
      {"mlp.c_fc.bias", "mlp.fc1.bias"},
      {"mlp.c_proj.weight", "mlp.fc2.weight"},
      {"mlp.c_proj.bias", "mlp.fc2.bias"},
  };
  for (const auto& [openai, hf] : table)
    if (openai == openai_relative) return std::string(hf);
  throw ConfigError(skiptune::detail::message("no Hugging Face name for CLIP parameter '", full_name, "'"));
}

/// Hugging Face names of the non-block parameters; `transposed` marks the projections.
struct HfTopLevelName {
  std::string_view openai, hf;
  bool transposed;
};
inline constexpr HfTopLevelName hf_top_level_names[] = {
    {"logit_scale", "logit_scale", false},
    {"visual.class_embedding", "vision_model.embeddings.class_embedding", false},
    {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight", false},
    {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight", false},
    {"visual.ln_pre.weight", "vision_model.pre_layrnorm.weight", false},  // sic: transformers' spelling
    {"visual.ln_pre.bias", "vision_model.pre_layrnorm.bias", false},
    {"visual.ln_post.weight", "vision_model.post_layernorm.weight", false},
    {"visual.ln_post.bias", "vision_model.post_layernorm.bias", false},
    {"visual.proj", "visual_projection.weight", true},
    {"token_embedding.weight", "text_model.embeddings.token_embedding.weight", false},
    {"positional_embedding", "text_model.embeddings.position_embedding.weight", false},
    {"ln_final.weight", "text_model.final_layer_norm.weight", false},
    {"ln_final.bias", "text_model.final_layer_norm.bias", false},
    {"text_projection", "text_projection.weight", true},
};

inline constexpr std::string_view openai_vision_blocks = "visual.transformer.resblocks.";
inline constexpr std::string_view openai_text_blocks = "transformer.resblocks.";
inline constexpr std::string_view hf_vision_blocks = "vision_model.encoder.layers.";
inline constexpr std::string_view hf_text_blocks = "text_model.encoder.layers.";

}  // namespace detail

/// The file tensors that hold model parameter `openai_name` (shape `shape`) under `naming`.
/// OpenAI: one piece, the same name and layout. Hugging Face: renamed; `attn.in_proj_weight`
/// [3W, W] and `attn.in_proj_bias` [3W] become three pieces (q, k, v: consecutive row thirds);
/// `visual.proj` and `text_projection` [W, E] are stored transposed as [E, W].
inline std::vector<CheckpointPiece> checkpoint_pieces(const std::string& openai_name, const Shape& shape,
                                                      CheckpointNaming naming) {
  const Index numel = shape.numel();
  if (naming == CheckpointNaming::openai) {
    return {CheckpointPiece{openai_name, detail::extents_of(shape), PieceLayout::copy, 0, numel}};
  }
  for (const auto& entry : detail::hf_top_level_names) {
    if (entry.openai != openai_name) continue;
    if (!entry.transposed) return {CheckpointPiece{std::string(entry.hf), detail::extents_of(shape), PieceLayout::copy, 0, numel}};
    require<ShapeError>(shape.rank() == 2, "CLIP parameter ", openai_name, " has shape ", shape, ", expected 2-D");
    return {CheckpointPiece{std::string(entry.hf), {shape[1], shape[0]}, PieceLayout::transpose, 0, numel}};
  }
  // Residual blocks: "<openai prefix>N.<relative>" → "<hf prefix>N.<relative'>".
  for (const auto& [openai_prefix, hf_prefix] :
       {std::pair{detail::openai_vision_blocks, detail::hf_vision_blocks},
        std::pair{detail::openai_text_blocks, detail::hf_text_blocks}}) {
    if (!std::string_view(openai_name).starts_with(openai_prefix)) continue;
    const std::string_view rest = std::string_view(openai_name).substr(openai_prefix.size());
    const std::size_t dot = rest.find('.');
    require<ConfigError>(dot != std::string_view::npos, "no Hugging Face name for CLIP parameter '", openai_name, "'");
    const std::string block = std::string(hf_prefix) + std::string(rest.substr(0, dot + 1));
    const std::string_view relative = rest.substr(dot + 1);
    if (relative == "attn.in_proj_weight" || relative == "attn.in_proj_bias") {
      const bool weight = relative == "attn.in_proj_weight";
      require<ShapeError>(shape.rank() == (weight ? 2 : 1) && shape[0] % 3 == 0, "CLIP parameter ", openai_name,
                          " has shape ", shape, ", expected ", weight ? "[3W, W]" : "[3W]");
      const Index width = shape[0] / 3, per_piece = numel / 3;
      std::vector<CheckpointPiece> pieces;
      for (int i = 0; i < 3; ++i) {
        const std::string name = block + "self_attn." + "qkv"[i] + "_proj." + (weight ? "weight" : "bias");
        pieces.push_back(CheckpointPiece{name, weight ? std::vector<std::int64_t>{width, shape[1]} : std::vector<std::int64_t>{width},
                                         PieceLayout::copy, i * per_piece, per_piece});
      }
      return pieces;
    }
    return {CheckpointPiece{block + detail::hf_block_name(relative, openai_name), detail::extents_of(shape),
                            PieceLayout::copy, 0, numel}};
  }
  throw ConfigError(skiptune::detail::message("no Hugging Face name for CLIP parameter '", openai_name, "'"));
}

/// True for tensors a naming's files may carry that are not parameters and are always skipped:
/// Hugging Face's integer `*.position_ids` buffers; the `input_resolution`, `context_length`
/// and `vocab_size` scalars of OpenAI's released state_dicts (clip.build_model deletes them too).
inline bool is_ignored_checkpoint_tensor(std::string_view name, CheckpointNaming naming) {
  if (naming == CheckpointNaming::huggingface) return name.ends_with("position_ids");
  return name == "input_resolution" || name == "context_length" || name == "vocab_size";
}

/// Every parameter of a CLIP with `config`: OpenAI name and shape, in Clip::for_each_parameter's
/// order, without building the model (so a ViT-L/14 layout costs nothing). Kept equal to the
/// towers' own lists by tests/io/test_checkpoint.cpp.
inline std::vector<std::pair<std::string, Shape>> clip_parameter_shapes(const ClipConfig& config) {
  std::vector<std::pair<std::string, Shape>> out;
  const Index E = config.embed_dim;
  auto blocks = [&](const std::string& prefix, Index layers, Index W, Index M) {
    for (Index i = 0; i < layers; ++i) {
      const std::string p = prefix + std::to_string(i) + ".";
      out.push_back({p + "ln_1.weight", Shape{W}});
      out.push_back({p + "ln_1.bias", Shape{W}});
      out.push_back({p + "attn.in_proj_weight", Shape{3 * W, W}});
      out.push_back({p + "attn.in_proj_bias", Shape{3 * W}});
      out.push_back({p + "attn.out_proj.weight", Shape{W, W}});
      out.push_back({p + "attn.out_proj.bias", Shape{W}});
      out.push_back({p + "ln_2.weight", Shape{W}});
      out.push_back({p + "ln_2.bias", Shape{W}});
      out.push_back({p + "mlp.c_fc.weight", Shape{M, W}});
      out.push_back({p + "mlp.c_fc.bias", Shape{M}});
      out.push_back({p + "mlp.c_proj.weight", Shape{W, M}});
      out.push_back({p + "mlp.c_proj.bias", Shape{W}});
    }
  };
  out.push_back({"logit_scale", Shape{}});
  const auto& v = config.vision;
  out.push_back({"visual.class_embedding", Shape{v.width}});
  out.push_back({"visual.positional_embedding", Shape{v.tokens(), v.width}});
  out.push_back({"visual.conv1.weight", Shape{v.width, 3, v.patch_size, v.patch_size}});
  out.push_back({"visual.ln_pre.weight", Shape{v.width}});
  out.push_back({"visual.ln_pre.bias", Shape{v.width}});
  blocks(std::string(detail::openai_vision_blocks), v.layers, v.width, v.mlp_width);
  out.push_back({"visual.ln_post.weight", Shape{v.width}});
  out.push_back({"visual.ln_post.bias", Shape{v.width}});
  out.push_back({"visual.proj", Shape{v.width, E}});
  const auto& t = config.text;
  out.push_back({"token_embedding.weight", Shape{t.vocab_size, t.width}});
  out.push_back({"positional_embedding", Shape{t.context_length, t.width}});
  blocks(std::string(detail::openai_text_blocks), t.layers, t.width, t.mlp_width);
  out.push_back({"ln_final.weight", Shape{t.width}});
  out.push_back({"ln_final.bias", Shape{t.width}});
  out.push_back({"text_projection", Shape{t.width, E}});
  return out;
}

/// The tensors (name, file shape) a full checkpoint of `config` holds under `naming`.
inline std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected_checkpoint_tensors(
    const ClipConfig& config, CheckpointNaming naming) {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
  for (const auto& [name, shape] : clip_parameter_shapes(config))
    for (CheckpointPiece& piece : checkpoint_pieces(name, shape, naming)) out.emplace_back(std::move(piece.tensor_name), std::move(piece.shape));
  return out;
}

// ------------------------------------------------------------------------------------------
// Configuration from tensor shapes
// ------------------------------------------------------------------------------------------

/// What infer_clip_config cannot read from shapes, or should take from elsewhere.
struct ClipConfigOptions {
  /// Attention heads per tower. Precedence: this > HF config.json > skiptune metadata in the
  /// file > OpenAI's rule heads = width / 64 (ConfigError when width is not a multiple of 64).
  std::optional<Index> vision_heads;
  std::optional<Index> text_heads;
  /// Each tower's MLP activation. Precedence: this > HF config.json's `hidden_act` > skiptune
  /// metadata > QuickGELU (OpenAI's CLIPs, and the HF conversions of them).
  std::optional<nn::Activation> vision_activation;
  std::optional<nn::Activation> text_activation;
  /// A Hugging Face config.json: heads and hidden_act from `vision_config` / `text_config`
  /// (missing keys take CLIPConfig's defaults: 12 / 8 heads, quick_gelu), and every size it
  /// states is checked against the shapes. Empty: none.
  std::filesystem::path hf_config_json;
  /// The config's name; empty: the skiptune metadata's, a preset's ("ViT-B/16"), or a summary.
  std::string name;
};

/// Metadata keys save_clip writes so that a file describes what its shapes cannot.
namespace metadata_keys {
inline constexpr std::string_view name = "skiptune.name";
inline constexpr std::string_view naming = "skiptune.naming";
inline constexpr std::string_view vision_heads = "skiptune.vision_heads";
inline constexpr std::string_view text_heads = "skiptune.text_heads";
inline constexpr std::string_view vision_activation = "skiptune.vision_activation";
inline constexpr std::string_view text_activation = "skiptune.text_activation";
}  // namespace metadata_keys

namespace detail {

inline std::optional<nn::Activation> activation_from_string(std::string_view text) {
  if (text == "quick_gelu") return nn::Activation::quick_gelu;
  if (text == "gelu") return nn::Activation::gelu;
  return std::nullopt;
}

/// One tower's settings from a Hugging Face config.json sub-object (vision_config/text_config).
struct HfTowerConfig {
  Index heads = 0;
  nn::Activation activation = nn::Activation::quick_gelu;
  std::map<std::string, Index> sizes;  // keys present in the file: hidden_size, image_size, ...
};

struct HfClipConfig {
  HfTowerConfig vision, text;
  std::optional<Index> projection_dim;
};

inline std::string read_text_file(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(skiptune::detail::message(what, " '", path.string(), "': cannot open it for reading"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(skiptune::detail::message(what, " '", path.string(), "': read failed"));
  return text;
}

inline HfClipConfig read_hf_clip_config(const std::filesystem::path& path) {
  const std::string file = path.string();
  const JsonValue root = [&] {
    try {
      return parse_json(read_text_file(path, "Hugging Face config.json"));
    } catch (const JsonError& error) {
      throw IoError(skiptune::detail::message("Hugging Face config '", file, "': ", error.what()));
    }
  }();
  require<IoError>(root.is_object(), "Hugging Face config '", file, "': expected a JSON object");
  auto integer = [&](const JsonValue& value, const std::string& key) -> Index {
    std::optional<std::int64_t> number;
    if (value.is_number()) number = value.as_number().as_int64();
    require<IoError>(number.has_value(), "Hugging Face config '", file, "': \"", key, "\" must be an integer");
    return *number;
  };
  HfClipConfig config;
  // CLIPTextConfig / CLIPVisionConfig defaults, which save_pretrained may leave out of the file.
  config.text.heads = 8;
  config.vision.heads = 12;
  for (auto [key, tower] : {std::pair{"vision_config", &config.vision}, std::pair{"text_config", &config.text}}) {
    const JsonValue* sub = root.find(key);
    if (sub == nullptr || sub->is_null()) continue;
    require<IoError>(sub->is_object(), "Hugging Face config '", file, "': \"", key, "\" must be an object");
    for (const auto& [name, value] : sub->as_object()) {
      const std::string where = std::string(key) + "." + name;
      if (name == "num_attention_heads") {
        tower->heads = integer(value, where);
      } else if (name == "hidden_act") {
        require<IoError>(value.is_string(), "Hugging Face config '", file, "': \"", where, "\" must be a string");
        const auto activation = activation_from_string(value.as_string());
        require<ConfigError>(activation.has_value(), "Hugging Face config '", file, "': ", where, " = \"",
                             value.as_string(), "\" is not supported (skiptune has quick_gelu and gelu)");
        tower->activation = *activation;
      } else if (name == "layer_norm_eps") {
        require<IoError>(value.is_number(), "Hugging Face config '", file, "': \"", where, "\" must be a number");
        const double eps = value.as_number().as_double();
        require<ConfigError>(std::abs(eps - 1e-5) <= 1e-12, "Hugging Face config '", file, "': ", where, " = ", eps,
                             ", but skiptune's LayerNorm uses CLIP's eps 1e-5");
      } else if (name == "hidden_size" || name == "intermediate_size" || name == "num_hidden_layers" ||
                 name == "image_size" || name == "patch_size" || name == "max_position_embeddings" ||
                 name == "vocab_size") {
        tower->sizes[name] = integer(value, where);
      }
    }
  }
  if (const JsonValue* projection = root.find("projection_dim"); projection != nullptr && !projection->is_null())
    config.projection_dim = integer(*projection, "projection_dim");
  return config;
}

inline std::optional<Index> metadata_integer(const std::map<std::string, std::string>& metadata, std::string_view key,
                                             const std::string& where) {
  const auto found = metadata.find(std::string(key));
  if (found == metadata.end()) return std::nullopt;
  Index value = 0;
  const std::string& text = found->second;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  require<IoError>(error == std::errc{} && end == text.data() + text.size() && value > 0, where, ": metadata \"", key,
                   "\" = \"", text, "\" is not a positive integer");
  return value;
}

inline std::optional<nn::Activation> metadata_activation(const std::map<std::string, std::string>& metadata,
                                                         std::string_view key, const std::string& where) {
  const auto found = metadata.find(std::string(key));
  if (found == metadata.end()) return std::nullopt;
  const auto activation = activation_from_string(found->second);
  require<IoError>(activation.has_value(), where, ": metadata \"", key, "\" = \"", found->second,
                   "\" is not an activation skiptune knows (quick_gelu, gelu)");
  return activation;
}

/// Tensor `name`'s shape, or IoError saying the configuration cannot be inferred without it.
template <CheckpointHeader S>
const std::vector<std::int64_t>& required_shape(const S& source, const std::string& name, CheckpointNaming naming,
                                                const std::string& where) {
  if (!source.contains(name)) {
    std::string hint;
    if (auto detected = naming_of(source); detected && *detected != naming)
      hint = skiptune::detail::message(" (the file uses ", naming_title(*detected), " names: use CheckpointNaming::",
                                       to_string(*detected), ")");
    throw IoError(skiptune::detail::message(where, ": cannot infer the CLIP configuration from ", naming_title(naming),
                                            " names: tensor '", name, "' is missing", hint));
  }
  return source.info(name).shape;
}

/// Block indices under `prefix` ("...layers.N.xxx"), which must be exactly 0..L-1 (L ≥ 1).
template <CheckpointHeader S>
Index count_blocks(const S& source, std::string_view prefix, const std::string& where) {
  std::set<Index> found;
  for (const std::string& name : source.names()) {
    if (!std::string_view(name).starts_with(prefix)) continue;
    const std::string_view rest = std::string_view(name).substr(prefix.size());
    Index index = -1;
    const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
    if (error == std::errc{} && end != rest.data() + rest.size() && *end == '.' && index >= 0) found.insert(index);
  }
  require<IoError>(!found.empty(), where, ": no residual blocks named '", prefix, "N.*'");
  const Index layers = *found.rbegin() + 1;
  if (static_cast<Index>(found.size()) != layers) {
    Index missing = 0;
    while (found.count(missing)) ++missing;
    throw IoError(skiptune::detail::message(where, ": residual block ", missing, " ('", prefix, missing,
                                            ".*') is missing, but blocks up to ", layers - 1, " exist"));
  }
  return layers;
}

inline std::string shape_string(const std::vector<std::int64_t>& shape) { return detail::shape_text(shape); }

inline Index heads_by_openai_rule(Index width, std::string_view tower, std::string_view option,
                                  const std::string& where) {
  require<ConfigError>(width % 64 == 0, where, ": cannot infer the ", tower, " heads: width ", width,
                       " is not a multiple of 64, so OpenAI's rule heads = width / 64 does not apply; pass ",
                       "ClipConfigOptions::", option, " (or a Hugging Face config.json)");
  return width / 64;
}

inline ClipConfig vit_l14_config() {
  ClipConfig c;
  c.name = "ViT-L/14";
  c.embed_dim = 768;
  c.vision = VisionConfig{224, 14, 1024, 24, 16, 4096, nn::Activation::quick_gelu};
  c.text = TextConfig{77, 49408, 768, 12, 12, 3072, nn::Activation::quick_gelu};
  return c;
}

inline bool same_architecture(const ClipConfig& a, const ClipConfig& b) {
  const auto& av = a.vision;
  const auto& bv = b.vision;
  const auto& at = a.text;
  const auto& bt = b.text;
  return a.embed_dim == b.embed_dim && av.image_size == bv.image_size && av.patch_size == bv.patch_size &&
         av.width == bv.width && av.layers == bv.layers && av.heads == bv.heads && av.mlp_width == bv.mlp_width &&
         av.activation == bv.activation && at.context_length == bt.context_length && at.vocab_size == bt.vocab_size &&
         at.width == bt.width && at.layers == bt.layers && at.heads == bt.heads && at.mlp_width == bt.mlp_width &&
         at.activation == bt.activation;
}

inline std::string architecture_name(const ClipConfig& config) {
  ClipConfig l14_336 = vit_l14_config();
  l14_336.name = "ViT-L/14@336px";
  l14_336.vision.image_size = 336;
  for (const ClipConfig& preset : {ClipConfig::vit_b16(), ClipConfig::vit_b32(), vit_l14_config(), l14_336})
    if (same_architecture(config, preset)) return preset.name;
  return skiptune::detail::message("custom ViT (vision ", config.vision.width, " wide x ", config.vision.layers,
                                   " blocks, patch ", config.vision.patch_size, ", ", config.vision.image_size,
                                   " px; text ", config.text.width, " wide x ", config.text.layers, " blocks)");
}

}  // namespace detail

/// The CLIP architecture of a checkpoint, from its tensor shapes (plus ClipConfigOptions for the
/// heads and the activation; see there):
///   vision: conv1 [W, 3, p, p] → width, patch; positional embedding [(R/p)² + 1, W] → image
///           size R; blocks counted; c_fc / fc1 rows → MLP width;
///   text:   token embedding [V, W] → vocab, width; positional embedding [L, W] → context;
///           blocks counted; c_fc / fc1 rows → MLP width;
///   embed:  visual.proj [W, E] (HF: visual_projection.weight [E, W]), checked against the
///           text projection.
/// Throws IoError for a missing tensor, ShapeError for inconsistent shapes, ConfigError for
/// heads that cannot be decided or a config.json that disagrees with the shapes.
template <CheckpointHeader S>
ClipConfig infer_clip_config(const S& source, CheckpointNaming naming, const ClipConfigOptions& options = {}) {
  const std::string where = detail::describe_source(source);
  const bool openai = naming == CheckpointNaming::openai;
  auto shape_of = [&](const std::string& name) -> const std::vector<std::int64_t>& {
    return detail::required_shape(source, name, naming, where);
  };
  auto bad_shape = [&](const std::string& name, const std::vector<std::int64_t>& shape, std::string_view expected) {
    return ShapeError(skiptune::detail::message(where, ": tensor '", name, "' has shape ", detail::shape_string(shape),
                                                ", expected ", expected));
  };

  ClipConfig config;
  // Vision stem.
  const std::string conv1_name(naming_marker(naming));
  const auto& conv1 = shape_of(conv1_name);
  if (conv1.size() != 4 || conv1[1] != 3 || conv1[2] != conv1[3] || conv1[0] <= 0 || conv1[2] <= 0)
    throw bad_shape(conv1_name, conv1, "[W, 3, p, p]");
  config.vision.width = conv1[0];
  config.vision.patch_size = conv1[2];
  const std::string vision_positional_name =
      openai ? "visual.positional_embedding" : "vision_model.embeddings.position_embedding.weight";
  const auto& vision_positional = shape_of(vision_positional_name);
  if (vision_positional.size() != 2 || vision_positional[1] != config.vision.width || vision_positional[0] < 2)
    throw bad_shape(vision_positional_name, vision_positional,
                    skiptune::detail::message("[(R/p)² + 1, ", config.vision.width, "]"));
  const auto grid = static_cast<Index>(std::llround(std::sqrt(static_cast<double>(vision_positional[0] - 1))));
  if (grid * grid != vision_positional[0] - 1)
    throw bad_shape(vision_positional_name, vision_positional,
                    "[g² + 1, W] for a square grid of g × g patches plus the class token");
  config.vision.image_size = grid * config.vision.patch_size;
  config.vision.layers = detail::count_blocks(source, openai ? detail::openai_vision_blocks : detail::hf_vision_blocks, where);
  const std::string vision_fc = openai ? "visual.transformer.resblocks.0.mlp.c_fc.weight"
                                       : "vision_model.encoder.layers.0.mlp.fc1.weight";
  const auto& vision_fc_shape = shape_of(vision_fc);
  if (vision_fc_shape.size() != 2 || vision_fc_shape[1] != config.vision.width)
    throw bad_shape(vision_fc, vision_fc_shape, skiptune::detail::message("[M, ", config.vision.width, "]"));
  config.vision.mlp_width = vision_fc_shape[0];

  // Joint embedding.
  const std::string vision_projection = openai ? "visual.proj" : "visual_projection.weight";
  const auto& projection = shape_of(vision_projection);
  if (projection.size() != 2 || projection[openai ? 0 : 1] != config.vision.width) {
    const std::string expected = openai ? skiptune::detail::message("[", config.vision.width, ", E]")
                                        : skiptune::detail::message("[E, ", config.vision.width, "]");
    throw bad_shape(vision_projection, projection,
                    expected + (projection.size() == 2 && projection[openai ? 1 : 0] == config.vision.width
                                    ? (openai ? " (it looks transposed: is this a Hugging Face file? use "
                                                "CheckpointNaming::huggingface)"
                                              : " (it looks transposed: is this an OpenAI-layout file? use "
                                                "CheckpointNaming::openai)")
                                    : ""));
  }
  config.embed_dim = projection[openai ? 1 : 0];

  // Text.
  const std::string token_name = openai ? "token_embedding.weight" : "text_model.embeddings.token_embedding.weight";
  const auto& token = shape_of(token_name);
  if (token.size() != 2) throw bad_shape(token_name, token, "[V, W]");
  config.text.vocab_size = token[0];
  config.text.width = token[1];
  const std::string text_positional_name =
      openai ? "positional_embedding" : "text_model.embeddings.position_embedding.weight";
  const auto& text_positional = shape_of(text_positional_name);
  if (text_positional.size() != 2 || text_positional[1] != config.text.width)
    throw bad_shape(text_positional_name, text_positional, skiptune::detail::message("[L, ", config.text.width, "]"));
  config.text.context_length = text_positional[0];
  config.text.layers = detail::count_blocks(source, openai ? detail::openai_text_blocks : detail::hf_text_blocks, where);
  const std::string text_fc = openai ? "transformer.resblocks.0.mlp.c_fc.weight" : "text_model.encoder.layers.0.mlp.fc1.weight";
  const auto& text_fc_shape = shape_of(text_fc);
  if (text_fc_shape.size() != 2 || text_fc_shape[1] != config.text.width)
    throw bad_shape(text_fc, text_fc_shape, skiptune::detail::message("[M, ", config.text.width, "]"));
  config.text.mlp_width = text_fc_shape[0];
  const std::string text_projection = openai ? "text_projection" : "text_projection.weight";
  const auto& text_projection_shape = shape_of(text_projection);
  const std::vector<std::int64_t> expected_text_projection =
      openai ? std::vector<std::int64_t>{config.text.width, config.embed_dim}
             : std::vector<std::int64_t>{config.embed_dim, config.text.width};
  if (text_projection_shape != expected_text_projection)
    throw bad_shape(text_projection, text_projection_shape,
                    detail::shape_string(expected_text_projection) + " (text width × the vision projection's " +
                        "embedding size, " + (openai ? "[W, E]" : "[E, W]") + ")");

  // Heads and activation: what the shapes cannot say.
  const auto& metadata = source.metadata();
  std::optional<detail::HfClipConfig> hf;
  if (!options.hf_config_json.empty()) hf = detail::read_hf_clip_config(options.hf_config_json);
  auto decide_heads = [&](const std::optional<Index>& override_heads, const detail::HfTowerConfig* hf_tower,
                          std::string_view key, Index width, std::string_view tower, std::string_view option) {
    if (override_heads) return *override_heads;
    if (hf_tower != nullptr) return hf_tower->heads;
    if (auto stored = detail::metadata_integer(metadata, key, where)) return *stored;
    return detail::heads_by_openai_rule(width, tower, option, where);
  };
  config.vision.heads = decide_heads(options.vision_heads, hf ? &hf->vision : nullptr, metadata_keys::vision_heads,
                                     config.vision.width, "vision", "vision_heads");
  config.text.heads = decide_heads(options.text_heads, hf ? &hf->text : nullptr, metadata_keys::text_heads,
                                   config.text.width, "text", "text_heads");
  auto decide_activation = [&](const std::optional<nn::Activation>& override_activation,
                               const detail::HfTowerConfig* hf_tower, std::string_view key) {
    if (override_activation) return *override_activation;
    if (hf_tower != nullptr) return hf_tower->activation;
    if (auto stored = detail::metadata_activation(metadata, key, where)) return *stored;
    return nn::Activation::quick_gelu;
  };
  config.vision.activation =
      decide_activation(options.vision_activation, hf ? &hf->vision : nullptr, metadata_keys::vision_activation);
  config.text.activation =
      decide_activation(options.text_activation, hf ? &hf->text : nullptr, metadata_keys::text_activation);

  // A config.json that disagrees with the tensors describes another model: say so now rather
  // than run the wrong architecture.
  if (hf) {
    const std::string json = options.hf_config_json.string();
    auto check = [&](const detail::HfTowerConfig& tower, std::string_view tower_key, const char* key, Index actual) {
      const auto found = tower.sizes.find(key);
      if (found == tower.sizes.end()) return;
      require<ConfigError>(found->second == actual, "Hugging Face config '", json, "' says ", tower_key, ".", key, " = ",
                           found->second, ", but the tensors of ", where, " give ", actual,
                           ": is the config.json from another model?");
    };
    check(hf->vision, "vision_config", "hidden_size", config.vision.width);
    check(hf->vision, "vision_config", "intermediate_size", config.vision.mlp_width);
    check(hf->vision, "vision_config", "num_hidden_layers", config.vision.layers);
    check(hf->vision, "vision_config", "image_size", config.vision.image_size);
    check(hf->vision, "vision_config", "patch_size", config.vision.patch_size);
    check(hf->text, "text_config", "hidden_size", config.text.width);
    check(hf->text, "text_config", "intermediate_size", config.text.mlp_width);
    check(hf->text, "text_config", "num_hidden_layers", config.text.layers);
    check(hf->text, "text_config", "max_position_embeddings", config.text.context_length);
    check(hf->text, "text_config", "vocab_size", config.text.vocab_size);
    require<ConfigError>(!hf->projection_dim || *hf->projection_dim == config.embed_dim, "Hugging Face config '", json,
                         "' says projection_dim = ", hf->projection_dim.value_or(0), ", but the tensors of ", where,
                         " give ", config.embed_dim, ": is the config.json from another model?");
  }

  if (!options.name.empty()) {
    config.name = options.name;
  } else if (auto stored = metadata.find(std::string(metadata_keys::name)); stored != metadata.end() && !stored->second.empty()) {
    config.name = stored->second;
  } else {
    config.name = detail::architecture_name(config);
  }
  try {
    config.validate();
  } catch (const ConfigError& error) {
    throw ConfigError(skiptune::detail::message(where, ": the inferred configuration cannot work: ", error.what()));
  }
  return config;
}

// ------------------------------------------------------------------------------------------
// Loading
// ------------------------------------------------------------------------------------------

struct CheckpointLoadOptions {
  /// Accept (and skip) file tensors the model has no place for. Off by default, because extra
  /// tensors usually mean a different architecture (more blocks) or the wrong naming.
  /// position_ids and OpenAI's metadata scalars are skipped either way.
  bool allow_extra = false;
};

namespace detail {

/// Problems found while checking a checkpoint against a model, reported in one exception.
struct LoadProblems {
  std::vector<std::string> missing, dtype, shape, extra;
  bool any() const { return !missing.empty() || !dtype.empty() || !shape.empty() || !extra.empty(); }
};

inline void append_list(std::string& text, const std::vector<std::string>& items, std::string_view heading) {
  if (items.empty()) return;
  constexpr std::size_t shown = 8;
  text += skiptune::detail::message("\n  ", items.size(), " ", heading, ":");
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) text += "\n    " + items[i];
  if (items.size() > shown) text += skiptune::detail::message("\n    ... and ", items.size() - shown, " more");
}

/// The file accepts the expected shape; a 0-dim scalar may also be stored as [1] (some
/// converters write logit_scale that way).
inline bool shape_accepted(const std::vector<std::int64_t>& actual, const std::vector<std::int64_t>& expected) {
  if (actual == expected) return true;
  return expected.empty() && actual == std::vector<std::int64_t>{1};
}

template <class T, class S>
void read_elements(const S& source, const std::string& name, T* destination, std::size_t count) {
  if constexpr (std::is_same_v<T, float>) {
    source.read_as_float(name, destination, count);
  } else {
    source.read_as_double(name, destination, count);
  }
}

}  // namespace detail

/// Copies every parameter of `model` from `source` under `naming` (the name map of
/// checkpoint_pieces). All-or-nothing: first every tensor is checked — present, a float dtype
/// (F32/F16/BF16/F64), the expected shape — and every file tensor must be used (unless
/// options.allow_extra; `position_ids` and OpenAI's scalar extras are always skipped); any
/// problem throws before anything is copied, so the model keeps its weights. The exception lists
/// every problem of the run: IoError for missing / non-float / unexpected tensors (with a hint
/// when the file uses the other naming), ShapeError for wrong shapes (expected vs actual).
template <class T, class Backend, CheckpointSource S>
void load_clip(Clip<T, Backend>& model, const S& source, CheckpointNaming naming,
               const CheckpointLoadOptions& options = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "load_clip reads checkpoints into Clip<float> or Clip<double>");
  struct Binding {
    Tensor<T>* parameter;
    CheckpointPiece piece;
  };
  std::vector<Binding> bindings;
  model.for_each_parameter([&](const std::string& name, Tensor<T>& parameter) {
    for (CheckpointPiece& piece : checkpoint_pieces(name, parameter.shape(), naming))
      bindings.push_back(Binding{&parameter, std::move(piece)});
  });

  // 1. Check everything.
  const std::string where = detail::describe_source(source);
  detail::LoadProblems problems;
  std::set<std::string, std::less<>> used;
  std::size_t transpose_scratch = 0;
  for (const Binding& binding : bindings) {
    const CheckpointPiece& piece = binding.piece;
    used.insert(piece.tensor_name);
    if (!source.contains(piece.tensor_name)) {
      problems.missing.push_back("'" + piece.tensor_name + "' " + detail::shape_string(piece.shape));
      continue;
    }
    const TensorInfo& info = source.info(piece.tensor_name);
    if (!is_convertible_float(info.dtype)) {
      problems.dtype.push_back(skiptune::detail::message("tensor '", piece.tensor_name, "' has dtype ",
                                                         dtype_name(info.dtype), ", expected F32, F16, BF16 or F64"));
    }
    if (!detail::shape_accepted(info.shape, piece.shape)) {
      std::string hint;
      if (info.shape.size() == 2 && piece.shape.size() == 2 && info.shape[0] == piece.shape[1] &&
          info.shape[1] == piece.shape[0] && info.shape[0] != info.shape[1]) {
        hint = naming == CheckpointNaming::openai
                   ? ": it looks transposed: is this a Hugging Face file? use CheckpointNaming::huggingface"
                   : ": it looks transposed: is this an OpenAI-layout tensor under a Hugging Face name?";
      }
      problems.shape.push_back(skiptune::detail::message("tensor '", piece.tensor_name, "' has shape ",
                                                         detail::shape_string(info.shape), ", expected ",
                                                         detail::shape_string(piece.shape), hint));
    }
    if (piece.layout == PieceLayout::transpose) transpose_scratch = std::max(transpose_scratch, static_cast<std::size_t>(piece.count));
  }
  if (!options.allow_extra) {
    for (const std::string& name : source.names())
      if (!used.contains(name) && !is_ignored_checkpoint_tensor(name, naming)) {
        const TensorInfo& info = source.info(name);
        problems.extra.push_back(skiptune::detail::message("'", name, "' ", detail::shape_string(info.shape), " ",
                                                           dtype_name(info.dtype)));
      }
  }
  if (problems.any()) {
    std::string text = skiptune::detail::message("cannot load ", where, " (", detail::naming_title(naming),
                                                 " names) into CLIP '", model.config().name,
                                                 "'; the model is unchanged.");
    // The likeliest cause first: a file in the other naming fails every tensor at once.
    const auto detected = detail::naming_of(source);
    const bool other_naming = detected && *detected != naming;
    if (other_naming) {
      text += skiptune::detail::message("\n  The file uses ", detail::naming_title(*detected), " names (it has '",
                                        naming_marker(*detected), "'): load it with CheckpointNaming::",
                                        to_string(*detected), ", or let load_clip(path, meter) detect the naming.");
    }
    detail::append_list(text, problems.missing, "missing tensor(s)");
    detail::append_list(text, problems.dtype, "tensor(s) with a non-float dtype");
    detail::append_list(text, problems.shape, "tensor(s) with the wrong shape");
    detail::append_list(text, problems.extra, "unexpected tensor(s) the model has no place for");
    if (!other_naming && (!problems.missing.empty() || !problems.extra.empty() || !problems.shape.empty()))
      text += "\n  The file may hold another architecture: infer_clip_config(file, naming) reads it from the shapes.";
    if (!other_naming && !problems.extra.empty())
      text += "\n  To skip unexpected tensors, pass CheckpointLoadOptions{.allow_extra = true}.";
    if (!problems.missing.empty() || !problems.dtype.empty() || !problems.extra.empty()) throw IoError(text);
    throw ShapeError(text);
  }

  // 2. Copy. Everything that could fail was checked above, and the scratch buffer is allocated
  // before the first parameter changes, so the model is never left half loaded.
  std::vector<T> scratch(transpose_scratch);
  for (const Binding& binding : bindings) {
    const CheckpointPiece& piece = binding.piece;
    T* destination = binding.parameter->data() + piece.offset;
    const auto count = static_cast<std::size_t>(piece.count);
    if (piece.layout == PieceLayout::copy) {
      detail::read_elements(source, piece.tensor_name, destination, count);
      continue;
    }
    // The file holds [cols, rows] = the transpose of the parameter [rows, cols].
    detail::read_elements(source, piece.tensor_name, scratch.data(), count);
    const auto rows = static_cast<std::size_t>(piece.shape[1]), cols = static_cast<std::size_t>(piece.shape[0]);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) destination[r * cols + c] = scratch[c * rows + r];
  }
}

namespace detail {

/// The weights file and the HF config.json that `path` designates (see load_clip(path, ...)).
struct CheckpointLocation {
  std::filesystem::path weights;
  bool sharded = false;
  std::filesystem::path hf_config_json;  // empty if none found
};

inline bool looks_like_hf_clip_config(const std::filesystem::path& path) {
  try {
    const JsonValue root = parse_json(read_text_file(path, "config.json"));
    return root.find("vision_config") != nullptr || root.find("text_config") != nullptr ||
           (root.find("model_type") != nullptr && root.find("model_type")->is_string() &&
            root.find("model_type")->as_string() == "clip");
  } catch (const Error&) {
    return false;  // not ours to judge: an unrelated or broken config.json is simply not used
  }
}

inline CheckpointLocation locate_checkpoint(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  CheckpointLocation location;
  std::error_code error;
  if (fs::is_directory(path, error)) {
    if (fs::exists(path / "model.safetensors.index.json")) {
      location.weights = path / "model.safetensors.index.json";
    } else if (fs::exists(path / "model.safetensors")) {
      location.weights = path / "model.safetensors";
    } else {
      throw IoError(skiptune::detail::message("checkpoint directory '", path.string(),
                                              "' has neither model.safetensors nor model.safetensors.index.json"));
    }
  } else {
    require<IoError>(fs::exists(path, error), "checkpoint '", path.string(), "' does not exist");
    location.weights = path;
  }
  location.sharded = location.weights.filename().string().ends_with(".json");
  const fs::path config = location.weights.parent_path() / "config.json";
  if (fs::is_regular_file(config, error) && looks_like_hf_clip_config(config)) location.hf_config_json = config;
  return location;
}

}  // namespace detail

/// Opens a checkpoint, detects its naming, infers its architecture and loads it into a new
/// Clip<T> whose tensors are counted by `meter`. `path` may be
///   * a .safetensors file,
///   * a sharded checkpoint's index (a file whose name ends in .json, e.g.
///     model.safetensors.index.json), or
///   * a directory holding model.safetensors.index.json or model.safetensors (a Hugging Face
///     snapshot).
/// For Hugging Face names, a CLIP config.json next to the weights is used (heads, hidden_act,
/// consistency checks) unless config_options.hf_config_json names one.
template <class T, class Backend = cpu>
Clip<T, Backend> load_clip(const std::filesystem::path& path, MemoryMeter& meter,
                           ClipConfigOptions config_options = {}, const CheckpointLoadOptions& load_options = {}) {
  const detail::CheckpointLocation location = detail::locate_checkpoint(path);
  auto build = [&](const auto& source) {
    const CheckpointNaming naming = detect_naming(source);
    if (naming == CheckpointNaming::huggingface && config_options.hf_config_json.empty())
      config_options.hf_config_json = location.hf_config_json;
    Clip<T, Backend> model(infer_clip_config(source, naming, config_options), meter);
    load_clip(model, source, naming, load_options);
    return model;
  };
  if (location.sharded) {
    const ShardedSafetensors source = ShardedSafetensors::open(location.weights);
    source.open_all_shards();
    return build(source);
  }
  return build(SafetensorsFile::open(location.weights));
}

// ------------------------------------------------------------------------------------------
// Saving
// ------------------------------------------------------------------------------------------

/// Writes every parameter of `model` to `path` as one safetensors file in `naming`, converted
/// to `dtype` (F32, F16 or BF16; round to nearest even). Atomic (write_safetensors: temporary
/// file, fsync, rename): an existing file at `path` survives any failure. The metadata records
/// what shapes cannot (skiptune.vision_heads / text_heads / *_activation / name / naming) plus
/// "format": "pt", which transformers requires of safetensors files; `metadata` entries are
/// added and win over those defaults. Saving F32 and loading it back is bit-identical for
/// Clip<float>; Clip<double> is rounded to float32 first.
template <class T, class Backend>
void save_clip(const Clip<T, Backend>& model, const std::filesystem::path& path, CheckpointNaming naming,
               Dtype dtype = Dtype::F32, const std::map<std::string, std::string>& metadata = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "save_clip writes Clip<float> or Clip<double>");
  // Clip::for_each_parameter has no const overload; it only visits, and nothing below writes
  // through the references it hands out.
  auto& parameters = const_cast<Clip<T, Backend>&>(model);

  std::vector<CheckpointPiece> pieces;
  std::vector<const T*> sources;
  parameters.for_each_parameter([&](const std::string& name, Tensor<T>& parameter) {
    for (CheckpointPiece& piece : checkpoint_pieces(name, parameter.shape(), naming)) {
      sources.push_back(parameter.data() + piece.offset);
      pieces.push_back(std::move(piece));
    }
  });

  // float32 pieces in the file's layout: the model's own memory where it already is that,
  // converted / transposed copies otherwise.
  std::vector<std::vector<float>> copies;
  copies.reserve(pieces.size());
  std::vector<FloatTensorView> views;
  views.reserve(pieces.size());
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const CheckpointPiece& piece = pieces[i];
    const T* source = sources[i];
    const float* data = nullptr;
    if (piece.layout == PieceLayout::copy && std::is_same_v<T, float>) {
      data = reinterpret_cast<const float*>(source);
    } else {
      std::vector<float>& copy = copies.emplace_back(static_cast<std::size_t>(piece.count));
      if (piece.layout == PieceLayout::copy) {
        for (std::size_t k = 0; k < copy.size(); ++k) copy[k] = static_cast<float>(source[k]);
      } else {
        // Parameter [rows, cols] → file [cols, rows].
        const auto rows = static_cast<std::size_t>(piece.shape[1]), cols = static_cast<std::size_t>(piece.shape[0]);
        for (std::size_t r = 0; r < rows; ++r)
          for (std::size_t c = 0; c < cols; ++c) copy[c * rows + r] = static_cast<float>(source[r * cols + c]);
      }
      data = copy.data();
    }
    views.push_back(FloatTensorView{piece.tensor_name, piece.shape, data});
  }

  const ClipConfig& config = model.config();
  std::map<std::string, std::string> header{
      {"format", "pt"},
      {std::string(metadata_keys::name), config.name},
      {std::string(metadata_keys::naming), std::string(to_string(naming))},
      {std::string(metadata_keys::vision_heads), std::to_string(config.vision.heads)},
      {std::string(metadata_keys::text_heads), std::to_string(config.text.heads)},
      {std::string(metadata_keys::vision_activation), std::string(nn::to_string(config.vision.activation))},
      {std::string(metadata_keys::text_activation), std::string(nn::to_string(config.text.activation))},
  };
  for (const auto& [key, value] : metadata) header[key] = value;
  write_safetensors(path, std::span<const FloatTensorView>(views), header, dtype);
}

}  // namespace skiptune::io
