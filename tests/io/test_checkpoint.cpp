// Tests for skiptune/io/checkpoint.hpp: the OpenAI ↔ Hugging Face name map, configuration
// inference (B/16, B/32, L/14 headers and small random models), save → load in both namings and
// in F32 / F16 / BF16, bit-identical round trips, sharded checkpoints, a HF config.json, the
// committed PyTorch fixture, and bad files that must leave the model untouched.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "../fixture_util.hpp"
#include "skiptune/io/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace skiptune;
using namespace skiptune::io;
using skiptune::testing::clip_tiny_fixture_config;
using skiptune::testing::clip_tiny_fixture_dir;
using skiptune::testing::relative_max_error;

namespace {

/// A fresh directory under the system temp dir, removed (recursively) at scope exit.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("skiptune_test_checkpoint_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

/// A small CLIP whose sizes are all different from each other (so a mix-up of two of them in
/// the inference shows), with widths that are not multiples of 64 and an MLP ratio that is not 4.
ClipConfig odd_config() {
  ClipConfig c;
  c.name = "odd";
  c.embed_dim = 24;
  c.vision = VisionConfig{24, 8, 32, 2, 2, 80, nn::Activation::quick_gelu};
  c.text = TextConfig{10, 60, 48, 3, 3, 112, nn::Activation::gelu};
  return c;
}

/// OpenAI's initialisation plus noise on every parameter, so LayerNorm affines and biases are
/// non-trivial (a swapped q/k/v bias must change the output).
template <class T>
void randomize(Clip<T>& model, std::uint64_t seed) {
  Rng rng(seed);
  model.initialize(rng);
  model.for_each_parameter([&](const std::string&, Tensor<T>& p) {
    for (Index i = 0; i < p.numel(); ++i) p[i] += static_cast<T>(rng.normal(0.0, 0.05));
  });
}

struct Inputs {
  MemoryMeter meter;
  Tensor<float> images;
  Tensor<std::int32_t> tokens;
};

/// Random images and prompts (start id, words, end id = the largest id, padding) for `config`.
std::unique_ptr<Inputs> make_inputs(const ClipConfig& config, std::uint64_t seed) {
  auto inputs = std::make_unique<Inputs>();
  Rng rng(seed);
  const Index R = config.vision.image_size, L = config.text.context_length, V = config.text.vocab_size;
  inputs->images = Tensor<float>({3, 3, R, R}, inputs->meter, MemoryCategory::inputs);
  for (Index i = 0; i < inputs->images.numel(); ++i) inputs->images[i] = static_cast<float>(rng.normal(0.0, 1.0));
  const Index prompts = 4;
  inputs->tokens = Tensor<std::int32_t>::zeros({prompts, L}, inputs->meter, MemoryCategory::inputs);
  for (Index c = 0; c < prompts; ++c) {
    const Index eot = 2 + static_cast<Index>(rng.below(static_cast<std::uint64_t>(L - 2)));
    inputs->tokens[c * L] = static_cast<std::int32_t>(V - 2);
    for (Index t = 1; t < eot; ++t) inputs->tokens[c * L + t] = static_cast<std::int32_t>(1 + rng.below(static_cast<std::uint64_t>(V - 3)));
    inputs->tokens[c * L + eot] = static_cast<std::int32_t>(V - 1);
  }
  return inputs;
}

std::vector<float> logits_of(const Clip<float>& model, const Inputs& inputs) {
  const Tensor<float> logits = model.logits(inputs.images, inputs.tokens);
  return std::vector<float>(logits.data(), logits.data() + logits.numel());
}

/// Every parameter's values, in for_each_parameter order.
template <class T>
std::vector<std::vector<T>> snapshot(Clip<T>& model) {
  std::vector<std::vector<T>> values;
  model.for_each_parameter([&](const std::string&, Tensor<T>& p) { values.emplace_back(p.data(), p.data() + p.numel()); });
  return values;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

template <class T>
bool same_bits(const std::vector<std::vector<T>>& a, const std::vector<std::vector<T>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same_bits(a[i], b[i])) return false;
  return true;
}

void check_same_architecture(const ClipConfig& actual, const ClipConfig& expected) {
  INFO("inferred " << actual.name << ", expected " << expected.name);
  CHECK(actual.embed_dim == expected.embed_dim);
  CHECK(actual.vision.image_size == expected.vision.image_size);
  CHECK(actual.vision.patch_size == expected.vision.patch_size);
  CHECK(actual.vision.width == expected.vision.width);
  CHECK(actual.vision.layers == expected.vision.layers);
  CHECK(actual.vision.heads == expected.vision.heads);
  CHECK(actual.vision.mlp_width == expected.vision.mlp_width);
  CHECK(actual.vision.activation == expected.vision.activation);
  CHECK(actual.text.context_length == expected.text.context_length);
  CHECK(actual.text.vocab_size == expected.text.vocab_size);
  CHECK(actual.text.width == expected.text.width);
  CHECK(actual.text.layers == expected.text.layers);
  CHECK(actual.text.heads == expected.text.heads);
  CHECK(actual.text.mlp_width == expected.text.mlp_width);
  CHECK(actual.text.activation == expected.text.activation);
}

/// Headers only (no data): what infer_clip_config needs, for full-size layouts at no cost.
struct HeaderOnlyCheckpoint {
  std::vector<std::string> tensor_names;
  std::map<std::string, TensorInfo, std::less<>> infos;
  std::map<std::string, std::string> meta;

  HeaderOnlyCheckpoint(const ClipConfig& config, CheckpointNaming naming) {
    for (auto& [name, shape] : expected_checkpoint_tensors(config, naming)) add(name, shape, Dtype::F32);
  }
  void add(const std::string& name, std::vector<std::int64_t> shape, Dtype dtype) {
    TensorInfo info;
    info.name = name;
    info.dtype = dtype;
    info.shape = std::move(shape);
    tensor_names.push_back(name);
    infos[name] = std::move(info);
  }
  const std::vector<std::string>& names() const { return tensor_names; }
  bool contains(std::string_view name) const { return infos.find(name) != infos.end(); }
  const TensorInfo& info(std::string_view name) const { return infos.find(name)->second; }
  const std::map<std::string, std::string>& metadata() const { return meta; }
};
static_assert(CheckpointHeader<HeaderOnlyCheckpoint>);
static_assert(CheckpointSource<SafetensorsFile> && CheckpointSource<ShardedSafetensors>);

/// A safetensors tensor as raw bytes of any dtype, for hand-made (bad) files.
struct RawTensor {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

std::vector<RawTensor> read_raw(const fs::path& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::vector<RawTensor> tensors;
  for (const TensorInfo& info : file.tensors()) {
    const auto bytes = file.raw_bytes(info.name);
    tensors.push_back({info.name, info.dtype, info.shape, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size())});
  }
  return tensors;
}

void write_raw(const fs::path& path, const std::vector<RawTensor>& tensors, const std::map<std::string, std::string>& metadata = {}) {
  JsonWriter header;
  header.begin_object();
  if (!metadata.empty()) {
    header.key("__metadata__").begin_object();
    for (const auto& [key, value] : metadata) header.key(key).string(value);
    header.end_object();
  }
  std::uint64_t offset = 0;
  std::string data;
  for (const RawTensor& t : tensors) {
    header.key(t.name).begin_object();
    header.key("dtype").string(dtype_name(t.dtype));
    header.key("shape").begin_array();
    for (const std::int64_t extent : t.shape) header.integer(extent);
    header.end_array();
    header.key("data_offsets").begin_array().integer(offset).integer(offset + t.bytes.size()).end_array();
    header.end_object();
    offset += t.bytes.size();
    data += t.bytes;
  }
  header.end_object();
  std::string text = header.take();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  const std::uint64_t length = text.size();
  std::memcpy(bytes.data(), &length, 8);
  write_text(path, bytes + text + data);
}

RawTensor& find_raw(std::vector<RawTensor>& tensors, const std::string& name) {
  for (RawTensor& t : tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  throw;
}

float round_through(float value, Dtype dtype) {
  if (dtype == Dtype::F16) return half_bits_to_float(float_to_half_bits(value));
  if (dtype == Dtype::BF16) return bfloat16_bits_to_float(float_to_bfloat16_bits(value));
  return value;
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no exception)";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The name map and configuration inference (no files).

TEST_CASE("clip_parameter_shapes lists the model's parameters in order", "[checkpoint]") {
  for (const ClipConfig& config : {ClipConfig::tiny(), odd_config(), clip_tiny_fixture_config()}) {
    MemoryMeter meter;
    Clip<float> model(config, meter);
    const auto expected = clip_parameter_shapes(config);
    std::size_t i = 0;
    model.for_each_parameter([&](const std::string& name, Tensor<float>& p) {
      REQUIRE(i < expected.size());
      CHECK(expected[i].first == name);
      CHECK(expected[i].second == p.shape());
      ++i;
    });
    CHECK(i == expected.size());
  }
}

TEST_CASE("the Hugging Face name map", "[checkpoint]") {
  const auto hf = CheckpointNaming::huggingface;
  auto proj = checkpoint_pieces("visual.proj", Shape{768, 512}, hf);
  REQUIRE(proj.size() == 1);
  CHECK(proj[0].tensor_name == "visual_projection.weight");
  CHECK(proj[0].shape == std::vector<std::int64_t>{512, 768});
  CHECK(proj[0].layout == PieceLayout::transpose);
  auto text_projection = checkpoint_pieces("text_projection", Shape{512, 512}, hf);
  CHECK(text_projection[0].tensor_name == "text_projection.weight");
  CHECK(text_projection[0].layout == PieceLayout::transpose);

  auto qkv = checkpoint_pieces("visual.transformer.resblocks.11.attn.in_proj_weight", Shape{3 * 768, 768}, hf);
  REQUIRE(qkv.size() == 3);
  CHECK(qkv[0].tensor_name == "vision_model.encoder.layers.11.self_attn.q_proj.weight");
  CHECK(qkv[1].tensor_name == "vision_model.encoder.layers.11.self_attn.k_proj.weight");
  CHECK(qkv[2].tensor_name == "vision_model.encoder.layers.11.self_attn.v_proj.weight");
  CHECK(qkv[1].offset == 768 * 768);
  CHECK(qkv[2].count == 768 * 768);
  CHECK(qkv[2].shape == std::vector<std::int64_t>{768, 768});
  auto bias = checkpoint_pieces("transformer.resblocks.0.attn.in_proj_bias", Shape{3 * 512}, hf);
  REQUIRE(bias.size() == 3);
  CHECK(bias[2].tensor_name == "text_model.encoder.layers.0.self_attn.v_proj.bias");
  CHECK(bias[2].offset == 1024);

  CHECK(checkpoint_pieces("visual.ln_pre.weight", Shape{768}, hf)[0].tensor_name == "vision_model.pre_layrnorm.weight");
  CHECK(checkpoint_pieces("transformer.resblocks.3.mlp.c_proj.bias", Shape{512}, hf)[0].tensor_name ==
        "text_model.encoder.layers.3.mlp.fc2.bias");
  CHECK(checkpoint_pieces("positional_embedding", Shape{77, 512}, hf)[0].tensor_name ==
        "text_model.embeddings.position_embedding.weight");
  CHECK(checkpoint_pieces("visual.positional_embedding", Shape{197, 768}, hf)[0].tensor_name ==
        "vision_model.embeddings.position_embedding.weight");
  CHECK(checkpoint_pieces("logit_scale", Shape{}, hf)[0].tensor_name == "logit_scale");
  CHECK_THROWS_AS(checkpoint_pieces("visual.nonsense", Shape{3}, hf), ConfigError);

  // CLIP.md: 302 tensors in OpenAI's ViT-B/16 file, 398 in Hugging Face's; 149,620,737 parameters.
  CHECK(expected_checkpoint_tensors(ClipConfig::vit_b16(), CheckpointNaming::openai).size() == 302);
  CHECK(expected_checkpoint_tensors(ClipConfig::vit_b16(), hf).size() == 398);
  auto parameters = [](const ClipConfig& config) {
    Index total = 0;
    for (const auto& [name, shape] : clip_parameter_shapes(config)) total += shape.numel();
    return total;
  };
  CHECK(parameters(ClipConfig::vit_b16()) == 149'620'737);
  CHECK(parameters(ClipConfig::vit_b32()) == 151'277'313);
}

TEST_CASE("configuration inference for ViT-B/16, B/32 and L/14 layouts", "[checkpoint]") {
  ClipConfig l14 = ClipConfig::vit_b16();
  l14.embed_dim = 768;
  l14.vision = VisionConfig{224, 14, 1024, 24, 16, 4096, nn::Activation::quick_gelu};
  l14.text = TextConfig{77, 49408, 768, 12, 12, 3072, nn::Activation::quick_gelu};
  for (const auto& [config, name] : {std::pair{ClipConfig::vit_b16(), "ViT-B/16"}, std::pair{ClipConfig::vit_b32(), "ViT-B/32"},
                                     std::pair{l14, "ViT-L/14"}}) {
    for (const CheckpointNaming naming : {CheckpointNaming::openai, CheckpointNaming::huggingface}) {
      HeaderOnlyCheckpoint header(config, naming);
      if (naming == CheckpointNaming::huggingface) {
        header.add("text_model.embeddings.position_ids", {1, 77}, Dtype::I64);
        header.add("vision_model.embeddings.position_ids", {1, config.vision.tokens()}, Dtype::I64);
      }
      CHECK(detect_naming(header) == naming);
      const ClipConfig inferred = infer_clip_config(header, naming);
      check_same_architecture(inferred, config);
      CHECK(inferred.name == name);
    }
  }
}

TEST_CASE("heads: override > metadata > width / 64; activation from options or metadata", "[checkpoint]") {
  HeaderOnlyCheckpoint header(odd_config(), CheckpointNaming::openai);
  // Widths 32 and 48 are not multiples of 64: OpenAI's rule does not apply and the message says
  // which option decides it.
  const std::string message = message_of([&] { (void)infer_clip_config(header, CheckpointNaming::openai); });
  CHECK(message.find("vision_heads") != std::string::npos);
  CHECK_THROWS_AS(infer_clip_config(header, CheckpointNaming::openai), ConfigError);

  ClipConfigOptions options;
  options.vision_heads = 2;
  options.text_heads = 3;
  options.vision_activation = nn::Activation::gelu;
  ClipConfig inferred = infer_clip_config(header, CheckpointNaming::openai, options);
  CHECK(inferred.vision.heads == 2);
  CHECK(inferred.text.heads == 3);
  CHECK(inferred.vision.activation == nn::Activation::gelu);
  CHECK(inferred.text.activation == nn::Activation::quick_gelu);

  header.meta[std::string(metadata_keys::vision_heads)] = "4";
  header.meta[std::string(metadata_keys::text_heads)] = "6";
  header.meta[std::string(metadata_keys::text_activation)] = "gelu";
  inferred = infer_clip_config(header, CheckpointNaming::openai);
  CHECK(inferred.vision.heads == 4);
  CHECK(inferred.text.heads == 6);
  CHECK(inferred.vision.activation == nn::Activation::quick_gelu);
  CHECK(inferred.text.activation == nn::Activation::gelu);
  CHECK(infer_clip_config(header, CheckpointNaming::openai, options).vision.heads == 2);  // options win
  CHECK(infer_clip_config(header, CheckpointNaming::openai, options).vision.activation == nn::Activation::gelu);

  header.meta[std::string(metadata_keys::text_heads)] = "six";
  CHECK_THROWS_AS(infer_clip_config(header, CheckpointNaming::openai), IoError);
  header.meta[std::string(metadata_keys::text_heads)] = "5";  // 48 is not divisible by 5
  CHECK_THROWS_AS(infer_clip_config(header, CheckpointNaming::openai), ConfigError);
}

TEST_CASE("inference and naming detection reject what is not a CLIP checkpoint", "[checkpoint]") {
  ClipConfigOptions heads;
  heads.vision_heads = 2;
  heads.text_heads = 3;
  {
    HeaderOnlyCheckpoint header(odd_config(), CheckpointNaming::openai);
    header.infos["visual.positional_embedding"].shape = {11, 32};  // 10 patches: not a square grid
    CHECK_THROWS_AS(infer_clip_config(header, CheckpointNaming::openai, heads), ShapeError);
  }
  {
    HeaderOnlyCheckpoint header(odd_config(), CheckpointNaming::openai);
    header.infos["visual.proj"].shape = {24, 32};  // transposed, as a careless HF conversion leaves it
    const std::string message = message_of([&] { (void)infer_clip_config(header, CheckpointNaming::openai, heads); });
    CHECK(message.find("visual.proj") != std::string::npos);
    CHECK(message.find("[24, 32]") != std::string::npos);
    CHECK(message.find("transposed") != std::string::npos);
  }
  {
    HeaderOnlyCheckpoint header(odd_config(), CheckpointNaming::openai);
    std::erase(header.tensor_names, "transformer.resblocks.1.ln_1.weight");
    for (auto it = header.tensor_names.begin(); it != header.tensor_names.end();)
      it = it->starts_with("transformer.resblocks.1.") ? header.tensor_names.erase(it) : it + 1;
    const std::string message = message_of([&] { (void)infer_clip_config(header, CheckpointNaming::openai, heads); });
    CHECK(message.find("block 1") != std::string::npos);
  }
  {
    HeaderOnlyCheckpoint header(odd_config(), CheckpointNaming::huggingface);
    const std::string message = message_of([&] { (void)infer_clip_config(header, CheckpointNaming::openai, heads); });
    CHECK(message.find("CheckpointNaming::huggingface") != std::string::npos);
  }
  {
    HeaderOnlyCheckpoint header(ClipConfig(), CheckpointNaming::openai);
    HeaderOnlyCheckpoint wrapped = header;
    wrapped.tensor_names.clear();
    wrapped.infos.clear();
    for (const std::string& name : header.names()) wrapped.add("module." + name, header.info(name).shape, Dtype::F32);
    const std::string message = message_of([&] { (void)detect_naming(wrapped); });
    CHECK(message.find("prefix 'module.'") != std::string::npos);
  }
  {
    HeaderOnlyCheckpoint header(odd_config(), CheckpointNaming::openai);
    header.tensor_names.clear();
    header.infos.clear();
    header.add("bert.embeddings.word_embeddings.weight", {10, 4}, Dtype::F32);
    const std::string message = message_of([&] { (void)detect_naming(header); });
    CHECK(message.find("bert.embeddings.word_embeddings.weight") != std::string::npos);
    CHECK(message.find("not a CLIP checkpoint") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// Files: save → load.

TEST_CASE("save and load in both namings and F32 / F16 / BF16 give the same model", "[checkpoint]") {
  ScratchDir dir;
  const ClipConfig config = odd_config();
  MemoryMeter meter;
  Clip<float> original(config, meter);
  randomize(original, 7);
  const auto inputs = make_inputs(config, 8);
  const std::vector<float> reference_logits = logits_of(original, *inputs);

  for (const CheckpointNaming naming : {CheckpointNaming::openai, CheckpointNaming::huggingface}) {
    for (const Dtype dtype : {Dtype::F32, Dtype::F16, Dtype::BF16}) {
      INFO("naming " << to_string(naming) << ", dtype " << dtype_name(dtype));
      const fs::path path = dir / (std::string(to_string(naming)) + "_" + std::string(dtype_name(dtype)) + ".safetensors");
      save_clip(original, path, naming, dtype);
      CHECK(SafetensorsFile::open(path).size() == expected_checkpoint_tensors(config, naming).size());

      MemoryMeter load_meter;
      Clip<float> loaded = load_clip<float>(path, load_meter);  // naming and config from the file
      check_same_architecture(loaded.config(), config);
      CHECK(loaded.config().name == "odd");

      // The reference: the original with every weight rounded the way the file stores it.
      Clip<float> rounded(config, load_meter);
      auto original_values = snapshot(original);
      std::size_t k = 0;
      rounded.for_each_parameter([&](const std::string&, Tensor<float>& p) {
        for (Index i = 0; i < p.numel(); ++i) p[i] = round_through(original_values[k][static_cast<std::size_t>(i)], dtype);
        ++k;
      });
      CHECK(same_bits(snapshot(loaded), snapshot(rounded)));
      const std::vector<float> logits = logits_of(loaded, *inputs);
      CHECK(same_bits(logits, logits_of(rounded, *inputs)));
      if (dtype == Dtype::F32) CHECK(same_bits(logits, reference_logits));
    }
  }
}

TEST_CASE("load → save → load is bit-identical, file bytes included", "[checkpoint]") {
  ScratchDir dir;
  const ClipConfig config = odd_config();
  MemoryMeter meter;
  Clip<float> original(config, meter);
  randomize(original, 11);
  for (const CheckpointNaming naming : {CheckpointNaming::openai, CheckpointNaming::huggingface}) {
    INFO("naming " << to_string(naming));
    const fs::path first = dir / "first.safetensors", second = dir / "second.safetensors";
    save_clip(original, first, naming);
    Clip<float> once = load_clip<float>(first, meter);
    save_clip(once, second, naming);
    Clip<float> twice = load_clip<float>(second, meter);
    CHECK(same_bits(snapshot(once), snapshot(original)));
    CHECK(same_bits(snapshot(twice), snapshot(original)));
    CHECK(read_file(first) == read_file(second));
  }
  // Across namings too: OpenAI → model → HF → model.
  save_clip(original, dir / "a.safetensors", CheckpointNaming::openai);
  Clip<float> from_openai = load_clip<float>(dir / "a.safetensors", meter);
  save_clip(from_openai, dir / "b.safetensors", CheckpointNaming::huggingface);
  Clip<float> from_hf = load_clip<float>(dir / "b.safetensors", meter);
  CHECK(same_bits(snapshot(from_hf), snapshot(original)));

  // Clip<double>: F32 on disk, so the values come back as their float32 roundings.
  Clip<double> wide(config, meter);
  load_clip(wide, SafetensorsFile::open(dir / "a.safetensors"), CheckpointNaming::openai);
  save_clip(wide, dir / "c.safetensors", CheckpointNaming::openai);
  CHECK(read_file(dir / "c.safetensors") == read_file(dir / "a.safetensors"));

  // Metadata: skiptune's keys, transformers' "format", and the caller's own entries.
  save_clip(original, dir / "d.safetensors", CheckpointNaming::openai, Dtype::F32, {{"note", "epoch 3"}});
  const auto metadata = SafetensorsFile::open(dir / "d.safetensors").metadata();
  CHECK(metadata.at("format") == "pt");
  CHECK(metadata.at("note") == "epoch 3");
  CHECK(metadata.at(std::string(metadata_keys::vision_heads)) == "2");
  CHECK(metadata.at(std::string(metadata_keys::text_activation)) == "gelu");
}

TEST_CASE("sharded checkpoints and a Hugging Face config.json", "[checkpoint]") {
  ScratchDir dir;
  const ClipConfig config = odd_config();
  MemoryMeter meter;
  Clip<float> original(config, meter);
  randomize(original, 21);
  const auto inputs = make_inputs(config, 22);
  const auto reference_logits = logits_of(original, *inputs);

  // A HF snapshot as transformers writes it: no skiptune metadata, I64 position_ids, two shards
  // and an index, plus config.json stating heads and activations.
  const fs::path whole = dir / "whole.safetensors";
  save_clip(original, whole, CheckpointNaming::huggingface);
  std::vector<RawTensor> tensors = read_raw(whole);
  std::string ids(8 * 10, '\0');
  tensors.push_back({"text_model.embeddings.position_ids", Dtype::I64, {1, 10}, ids});
  const std::size_t half = tensors.size() / 2;
  const fs::path snapshot_dir = dir / "snapshot";
  fs::create_directories(snapshot_dir);
  write_raw(snapshot_dir / "model-00001-of-00002.safetensors", {tensors.begin(), tensors.begin() + static_cast<std::ptrdiff_t>(half)},
            {{"format", "pt"}});
  write_raw(snapshot_dir / "model-00002-of-00002.safetensors", {tensors.begin() + static_cast<std::ptrdiff_t>(half), tensors.end()},
            {{"format", "pt"}});
  JsonWriter index;
  index.begin_object().key("metadata").begin_object().key("total_size").integer(12345).end_object();
  index.key("weight_map").begin_object();
  for (std::size_t i = 0; i < tensors.size(); ++i)
    index.key(tensors[i].name).string(i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
  index.end_object().end_object();
  write_text(snapshot_dir / "model.safetensors.index.json", index.take());

  // Without config.json the heads cannot be known (widths 32 / 48).
  CHECK_THROWS_AS(load_clip<float>(snapshot_dir, meter), ConfigError);

  write_text(snapshot_dir / "config.json", R"({
    "model_type": "clip", "projection_dim": 24,
    "text_config": {"hidden_size": 48, "num_attention_heads": 3, "hidden_act": "gelu", "num_hidden_layers": 3,
                    "max_position_embeddings": 10, "vocab_size": 60, "layer_norm_eps": 1e-05},
    "vision_config": {"hidden_size": 32, "num_attention_heads": 2, "image_size": 24, "patch_size": 8}
  })");
  Clip<float> loaded = load_clip<float>(snapshot_dir, meter);
  check_same_architecture(loaded.config(), config);
  CHECK(same_bits(logits_of(loaded, *inputs), reference_logits));
  // The same through the index file, with explicit options instead of a config.json.
  fs::remove(snapshot_dir / "config.json");
  ClipConfigOptions options;
  options.vision_heads = 2;
  options.text_heads = 3;
  options.text_activation = nn::Activation::gelu;
  Clip<float> via_index = load_clip<float>(snapshot_dir / "model.safetensors.index.json", meter, options);
  check_same_architecture(via_index.config(), config);
  CHECK(same_bits(snapshot(via_index), snapshot(original)));

  // A config.json from another model is refused, naming the key.
  write_text(snapshot_dir / "config.json", R"({"text_config": {"hidden_size": 512}, "vision_config": {}})");
  const std::string message = message_of([&] { (void)load_clip<float>(snapshot_dir, meter); });
  CHECK(message.find("text_config.hidden_size") != std::string::npos);
  write_text(snapshot_dir / "config.json", R"({"text_config": {"hidden_act": "gelu_new"}})");
  CHECK_THROWS_AS(load_clip<float>(snapshot_dir, meter), ConfigError);
}

// ---------------------------------------------------------------------------------------------
// The committed PyTorch fixture.

TEST_CASE("the PyTorch fixture's model.safetensors loads through the checkpoint path", "[checkpoint][pytorch]") {
  const fs::path path = clip_tiny_fixture_dir() / "model.safetensors";
  const SafetensorsFile file = SafetensorsFile::open(path);
  REQUIRE(detect_naming(file) == CheckpointNaming::openai);

  // Widths 32: heads = width / 64 cannot hold (the fixture has 2 heads per tower), so the heads
  // are passed explicitly, and without them the inference says which option is missing.
  CHECK_THROWS_AS(infer_clip_config(file, CheckpointNaming::openai), ConfigError);
  ClipConfigOptions options;
  options.vision_heads = 2;
  options.text_heads = 2;
  const ClipConfig config = infer_clip_config(file, CheckpointNaming::openai, options);
  check_same_architecture(config, clip_tiny_fixture_config());
  CHECK(config.vision.width == 32);
  CHECK(config.vision.patch_size == 8);
  CHECK(config.vision.image_size == 32);
  CHECK(config.vision.layers == 2);
  CHECK(config.text.context_length == 12);
  CHECK(config.text.vocab_size == 100);
  CHECK(config.text.width == 32);
  CHECK(config.embed_dim == 24);

  MemoryMeter meter;
  const auto ref_logits = load_npy<double>(clip_tiny_fixture_dir() / "output.logits.npy", meter);
  {
    Clip<float> model = load_clip<float>(path, meter, options);
    const auto images = load_npy_as<float, float>(clip_tiny_fixture_dir() / "input.images.npy", meter);
    const auto tokens = load_npy<std::int32_t>(clip_tiny_fixture_dir() / "input.tokens.npy", meter);
    const auto logits = model.logits(images, tokens);
    REQUIRE(logits.numel() == ref_logits.numel());
    const double error = relative_max_error(logits.data(), ref_logits.data(), ref_logits.numel());
    INFO("float32 logits max|d|/max|ref| = " << error);
    CHECK(error <= 1e-5);
  }
  {
    Clip<double> model = load_clip<double>(path, meter, options);
    const auto images = load_npy_as<double, float>(clip_tiny_fixture_dir() / "input.images.npy", meter);
    const auto tokens = load_npy<std::int32_t>(clip_tiny_fixture_dir() / "input.tokens.npy", meter);
    const auto logits = model.logits(images, tokens);
    const double error = relative_max_error(logits.data(), ref_logits.data(), ref_logits.numel());
    INFO("float64 logits max|d|/max|ref| = " << error);
    CHECK(error <= 1e-12);
  }
}

namespace {

/// The fixture converted to Hugging Face naming by this test's own code, written the way
/// transformers' convert_clip_original_pytorch_to_hf.py does it (rename; in_proj chunked into
/// q, k, v along rows; projections transposed) — independent of checkpoint_pieces, so a mistake
/// made the same way in saving and loading cannot hide.
std::vector<RawTensor> convert_fixture_to_hf(const std::vector<RawTensor>& openai) {
  auto replace_prefix = [](std::string name) {
    static const std::pair<std::string, std::string> prefixes[] = {
        {"visual.transformer.resblocks.", "vision_model.encoder.layers."},
        {"transformer.resblocks.", "text_model.encoder.layers."},
    };
    for (const auto& [from, to] : prefixes)
      if (name.starts_with(from)) return to + name.substr(from.size());
    static const std::map<std::string, std::string> top_level = {
        {"logit_scale", "logit_scale"},
        {"visual.class_embedding", "vision_model.embeddings.class_embedding"},
        {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"},
        {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"},
        {"visual.ln_pre.weight", "vision_model.pre_layrnorm.weight"},
        {"visual.ln_pre.bias", "vision_model.pre_layrnorm.bias"},
        {"visual.ln_post.weight", "vision_model.post_layernorm.weight"},
        {"visual.ln_post.bias", "vision_model.post_layernorm.bias"},
        {"visual.proj", "visual_projection.weight"},
        {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
        {"positional_embedding", "text_model.embeddings.position_embedding.weight"},
        {"ln_final.weight", "text_model.final_layer_norm.weight"},
        {"ln_final.bias", "text_model.final_layer_norm.bias"},
        {"text_projection", "text_projection.weight"},
    };
    return top_level.at(name);
  };
  auto replace_all = [](std::string name, const std::string& from, const std::string& to) {
    if (const auto at = name.find(from); at != std::string::npos) name.replace(at, from.size(), to);
    return name;
  };
  std::vector<RawTensor> hf;
  for (const RawTensor& t : openai) {
    REQUIRE(t.dtype == Dtype::F32);
    std::string name = replace_prefix(t.name);
    for (const auto& [from, to] : {std::pair{".ln_1.", ".layer_norm1."}, std::pair{".ln_2.", ".layer_norm2."},
                                   std::pair{".attn.out_proj.", ".self_attn.out_proj."}, std::pair{".mlp.c_fc.", ".mlp.fc1."},
                                   std::pair{".mlp.c_proj.", ".mlp.fc2."}})
      name = replace_all(name, from, to);
    if (name.ends_with(".attn.in_proj_weight") || name.ends_with(".attn.in_proj_bias")) {
      const bool weight = name.ends_with("weight");
      const std::string block = name.substr(0, name.find(".attn.in_proj_"));
      const std::size_t third = t.bytes.size() / 3;
      for (int i = 0; i < 3; ++i) {
        std::vector<std::int64_t> shape = t.shape;
        shape[0] /= 3;
        hf.push_back({block + ".self_attn." + "qkv"[i] + "_proj." + (weight ? "weight" : "bias"), Dtype::F32, shape,
                      t.bytes.substr(i * third, third)});
      }
      continue;
    }
    if (t.name == "visual.proj" || t.name == "text_projection") {
      const auto rows = static_cast<std::size_t>(t.shape[0]), cols = static_cast<std::size_t>(t.shape[1]);
      std::string transposed(t.bytes.size(), '\0');
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) std::memcpy(&transposed[(c * rows + r) * 4], &t.bytes[(r * cols + c) * 4], 4);
      hf.push_back({name, Dtype::F32, {t.shape[1], t.shape[0]}, transposed});
      continue;
    }
    hf.push_back({name, Dtype::F32, t.shape, t.bytes});
  }
  hf.push_back({"text_model.embeddings.position_ids", Dtype::I64, {1, 12}, std::string(8 * 12, '\0')});
  return hf;
}

}  // namespace

TEST_CASE("the fixture converted to Hugging Face names independently matches PyTorch", "[checkpoint][pytorch]") {
  ScratchDir dir;
  const fs::path hf_path = dir / "fixture_hf.safetensors";
  write_raw(hf_path, convert_fixture_to_hf(read_raw(clip_tiny_fixture_dir() / "model.safetensors")), {{"format", "pt"}});
  CHECK(SafetensorsFile::open(hf_path).size() == expected_checkpoint_tensors(clip_tiny_fixture_config(), CheckpointNaming::huggingface).size() + 1);

  ClipConfigOptions options;
  options.vision_heads = 2;
  options.text_heads = 2;
  MemoryMeter meter;
  Clip<float> model = load_clip<float>(hf_path, meter, options);
  check_same_architecture(model.config(), clip_tiny_fixture_config());
  const auto images = load_npy_as<float, float>(clip_tiny_fixture_dir() / "input.images.npy", meter);
  const auto tokens = load_npy<std::int32_t>(clip_tiny_fixture_dir() / "input.tokens.npy", meter);
  const auto ref_logits = load_npy<double>(clip_tiny_fixture_dir() / "output.logits.npy", meter);
  const auto logits = model.logits(images, tokens);
  CHECK(relative_max_error(logits.data(), ref_logits.data(), ref_logits.numel()) <= 1e-5);

  // And it is the same model, bit for bit, as the OpenAI-named original.
  Clip<float> original = load_clip<float>(clip_tiny_fixture_dir() / "model.safetensors", meter, options);
  CHECK(same_bits(snapshot(model), snapshot(original)));
  // save_clip's HF file equals the independent conversion tensor by tensor.
  save_clip(original, dir / "saved_hf.safetensors", CheckpointNaming::huggingface);
  const SafetensorsFile saved = SafetensorsFile::open(dir / "saved_hf.safetensors");
  const SafetensorsFile converted = SafetensorsFile::open(hf_path);
  for (const std::string& name : saved.names()) {
    INFO(name);
    REQUIRE(converted.contains(name));
    CHECK(saved.info(name).shape == converted.info(name).shape);
    const auto a = saved.raw_bytes(name), b = converted.raw_bytes(name);
    CHECK((a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0));
  }
}

// ---------------------------------------------------------------------------------------------
// Bad files: a clear error, and the model keeps its weights.

TEST_CASE("bad checkpoints are refused and leave the model untouched", "[checkpoint]") {
  ScratchDir dir;
  const ClipConfig config = odd_config();
  MemoryMeter meter;
  Clip<float> source_model(config, meter);
  randomize(source_model, 31);
  const fs::path good = dir / "good.safetensors", good_hf = dir / "good_hf.safetensors";
  save_clip(source_model, good, CheckpointNaming::openai);
  save_clip(source_model, good_hf, CheckpointNaming::huggingface);

  Clip<float> model(config, meter);
  randomize(model, 32);
  const auto before = snapshot(model);

  // Loads `path` into `model` expecting exception E; returns the message.
  auto refused = [&](const fs::path& path, CheckpointNaming naming, auto expected_type, CheckpointLoadOptions options = {}) {
    using E = decltype(expected_type);
    std::string message;
    try {
      load_clip(model, SafetensorsFile::open(path), naming, options);
      FAIL("no exception for " << path.filename().string());
    } catch (const E& error) {
      message = error.what();
    }
    CHECK(same_bits(snapshot(model), before));
    return message;
  };

  SECTION("a tensor with the wrong shape") {
    auto tensors = read_raw(good);
    RawTensor& bias = find_raw(tensors, "transformer.resblocks.1.mlp.c_fc.bias");
    bias.shape = {111};
    bias.bytes.resize(111 * 4);
    write_raw(dir / "bad.safetensors", tensors);
    const std::string message = refused(dir / "bad.safetensors", CheckpointNaming::openai, ShapeError(""));
    INFO(message);
    CHECK(message.find("transformer.resblocks.1.mlp.c_fc.bias") != std::string::npos);
    CHECK(message.find("has shape [111], expected [112]") != std::string::npos);
    CHECK(message.find("unchanged") != std::string::npos);
  }
  SECTION("visual.proj stored transposed under the OpenAI name") {
    auto tensors = read_raw(good);
    find_raw(tensors, "visual.proj").shape = {24, 32};
    write_raw(dir / "bad.safetensors", tensors);
    const std::string message = refused(dir / "bad.safetensors", CheckpointNaming::openai, ShapeError(""));
    CHECK(message.find("tensor 'visual.proj' has shape [24, 32], expected [32, 24]") != std::string::npos);
    CHECK(message.find("is this a Hugging Face file?") != std::string::npos);
  }
  SECTION("a missing tensor") {
    auto tensors = read_raw(good);
    std::erase_if(tensors, [](const RawTensor& t) { return t.name == "visual.ln_post.bias"; });
    write_raw(dir / "bad.safetensors", tensors);
    const std::string message = refused(dir / "bad.safetensors", CheckpointNaming::openai, IoError(""));
    CHECK(message.find("missing") != std::string::npos);
    CHECK(message.find("'visual.ln_post.bias' [32]") != std::string::npos);
  }
  SECTION("a Hugging Face file read with the OpenAI map, and the other way round") {
    std::string message = refused(good_hf, CheckpointNaming::openai, IoError(""));
    CHECK(message.find("CheckpointNaming::huggingface") != std::string::npos);
    message = refused(good, CheckpointNaming::huggingface, IoError(""));
    CHECK(message.find("CheckpointNaming::openai") != std::string::npos);
  }
  SECTION("an integer tensor where a float is expected") {
    auto tensors = read_raw(good);
    RawTensor& scale = find_raw(tensors, "logit_scale");
    scale.dtype = Dtype::I64;
    scale.bytes.assign(8, '\0');
    write_raw(dir / "bad.safetensors", tensors);
    const std::string message = refused(dir / "bad.safetensors", CheckpointNaming::openai, IoError(""));
    CHECK(message.find("tensor 'logit_scale' has dtype I64, expected F32, F16, BF16 or F64") != std::string::npos);
  }
  SECTION("an unexpected extra tensor, unless allowed; position_ids are always skipped") {
    auto tensors = read_raw(good);
    tensors.push_back({"visual.transformer.resblocks.2.ln_1.weight", Dtype::F32, {32}, std::string(32 * 4, '\0')});
    write_raw(dir / "extra.safetensors", tensors);
    const std::string message = refused(dir / "extra.safetensors", CheckpointNaming::openai, IoError(""));
    CHECK(message.find("visual.transformer.resblocks.2.ln_1.weight") != std::string::npos);
    CHECK(message.find("allow_extra") != std::string::npos);
    load_clip(model, SafetensorsFile::open(dir / "extra.safetensors"), CheckpointNaming::openai,
              CheckpointLoadOptions{.allow_extra = true});
    CHECK(same_bits(snapshot(model), snapshot(source_model)));

    auto hf = read_raw(good_hf);
    hf.push_back({"vision_model.embeddings.position_ids", Dtype::I64, {1, 10}, std::string(80, '\0')});
    write_raw(dir / "hf_ids.safetensors", hf);
    randomize(model, 33);
    load_clip(model, SafetensorsFile::open(dir / "hf_ids.safetensors"), CheckpointNaming::huggingface);
    CHECK(same_bits(snapshot(model), snapshot(source_model)));
  }
  SECTION("a model of another size") {
    ClipConfig bigger = config;
    bigger.vision.layers = 3;
    Clip<float> other(bigger, meter);
    const std::string message = message_of([&] {
      load_clip(other, SafetensorsFile::open(good), CheckpointNaming::openai);
    });
    CHECK(message.find("'visual.transformer.resblocks.2.attn.in_proj_weight' [96, 32]") != std::string::npos);
    CHECK(message.find("infer_clip_config") != std::string::npos);
  }
  SECTION("saving over a file keeps it intact when the save is refused") {
    const std::string bytes = read_file(good);
    CHECK_THROWS_AS(save_clip(model, good, CheckpointNaming::openai, Dtype::I64), InputError);
    CHECK(read_file(good) == bytes);
  }
}
