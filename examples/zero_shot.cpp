// zero_shot — CLIP zero-shot classification of a folder of images from a real checkpoint.
//
//   zero_shot --weights clip-vit-base-patch16/ --images photos/ --classes "cat,dog,bird"
//   zero_shot --weights ViT-B-16.safetensors --images val/ --classes-file classes.txt
//             --template "a photo of a {}." --vocab bpe_simple_vocab_16e6.txt.gz --batch 32
//
// Each class becomes the prompt `template` with {} replaced by the class name; the prompts are
// tokenized and encoded once. Every PNG / JPEG / BMP in DIR (and in its subfolders, one level
// down) is decoded, CLIP-preprocessed (bicubic resize, centre crop, normalise) and classified;
// the program prints each image's top-5 classes with their softmax probabilities, in sorted path
// order. If DIR has a subfolder per class (folder name = class name, or the name with '_' for
// ' '), images there are labelled by their folder and top-1 / top-5 accuracy is printed at the
// end. Progress goes to stderr. Images that cannot be decoded are reported and skipped (exit
// status 1); wrong arguments exit with status 2.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "skiptune/io/checkpoint.hpp"
#include "skiptune/io/image.hpp"
#include "skiptune/io/tokenizer.hpp"
#include "skiptune/model/encoder.hpp"

namespace {

namespace fs = std::filesystem;
using namespace skiptune;

constexpr const char* usage_text =
    "usage: zero_shot --weights PATH --images DIR (--classes \"a,b,...\" | --classes-file FILE)\n"
    "                 [--template \"a photo of a {}.\"] [--vocab bpe_simple_vocab_16e6.txt.gz]\n"
    "                 [--batch 32] [--top 5] [--vision-heads N] [--text-heads N]\n"
    "  --weights       a .safetensors file, a sharded index (.json) or a directory holding\n"
    "                  model.safetensors (OpenAI/open_clip or Hugging Face names: detected)\n"
    "  --images        a folder of PNG/JPEG/BMP images; one subfolder per class labels them\n"
    "  --classes       comma-separated class names; --classes-file: one per line ('#' comments)\n"
    "  --template      the prompt; {} is replaced by the class name\n"
    "  --vocab         CLIP's BPE merges file (default: $SKIPTUNE_CLIP_VOCAB, then next to the\n"
    "                  weights, then the current directory)\n"
    "  --batch         images per forward pass (default 32)\n"
    "  --top           predictions printed per image (default 5)\n"
    "  --vision-heads, --text-heads   attention heads, for checkpoints whose widths do not follow\n"
    "                  OpenAI's heads = width / 64 and that carry no config.json / skiptune metadata\n";

/// A wrong command line: reported with the usage text, exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Arguments {
  fs::path weights, images, classes_file, vocab;
  std::optional<std::string> classes;
  std::string prompt_template = "a photo of a {}.";
  Index batch = 32;
  Index top = 5;
  std::optional<Index> vision_heads, text_heads;
};

Index positive_integer(const std::string& flag, const std::string& text) {
  Index value = 0;
  std::size_t used = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value <= 0) throw UsageError(flag + " needs a positive integer, got '" + text + "'");
  return value;
}

Arguments parse_arguments(int argc, char** argv) {
  Arguments args;
  std::set<std::string> seen;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    }
    std::optional<std::string> value;
    if (const auto equals = flag.find('='); flag.starts_with("--") && equals != std::string::npos) {
      value = flag.substr(equals + 1);
      flag = flag.substr(0, equals);
    }
    static const std::set<std::string> known = {"--weights", "--images",  "--classes",      "--classes-file", "--template",
                                                "--vocab",   "--batch",   "--top",          "--vision-heads", "--text-heads"};
    if (!known.contains(flag)) throw UsageError("unknown argument '" + flag + "'");
    if (!seen.insert(flag).second) throw UsageError(flag + " is given twice");
    if (!value) {
      if (i + 1 >= argc) throw UsageError(flag + " needs a value");
      value = argv[++i];
    }
    if (flag == "--weights") args.weights = *value;
    else if (flag == "--images") args.images = *value;
    else if (flag == "--classes") args.classes = *value;
    else if (flag == "--classes-file") args.classes_file = *value;
    else if (flag == "--template") args.prompt_template = *value;
    else if (flag == "--vocab") args.vocab = *value;
    else if (flag == "--batch") args.batch = positive_integer(flag, *value);
    else if (flag == "--top") args.top = positive_integer(flag, *value);
    else if (flag == "--vision-heads") args.vision_heads = positive_integer(flag, *value);
    else if (flag == "--text-heads") args.text_heads = positive_integer(flag, *value);
  }
  if (args.weights.empty()) throw UsageError("--weights is required");
  if (args.images.empty()) throw UsageError("--images is required");
  if (args.classes && !args.classes_file.empty()) throw UsageError("give either --classes or --classes-file, not both");
  if (!args.classes && args.classes_file.empty()) throw UsageError("--classes or --classes-file is required");
  if (args.prompt_template.find("{}") == std::string::npos)
    throw UsageError("--template '" + args.prompt_template + "' has no {} where the class name goes");
  return args;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

std::vector<std::string> read_classes(const Arguments& args) {
  std::vector<std::string> classes;
  if (args.classes) {
    std::size_t position = 0;
    for (std::size_t start = 0;; ++position) {
      const std::size_t comma = args.classes->find(',', start);
      const std::string name = trim(std::string_view(*args.classes).substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (name.empty()) throw UsageError("--classes has an empty class name at position " + std::to_string(position + 1));
      classes.push_back(name);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    std::ifstream in(args.classes_file);
    if (!in) throw IoError("cannot open the classes file '" + args.classes_file.string() + "'");
    for (std::string line; std::getline(in, line);) {
      const std::string name = trim(line);
      if (!name.empty() && name.front() != '#') classes.push_back(name);
    }
    if (in.bad()) throw IoError("cannot read the classes file '" + args.classes_file.string() + "'");
    if (classes.empty()) throw UsageError("the classes file '" + args.classes_file.string() + "' lists no classes");
  }
  std::set<std::string> unique;
  for (const std::string& name : classes)
    if (!unique.insert(name).second) throw UsageError("class '" + name + "' is listed twice");
  return classes;
}

std::string fill_template(const std::string& prompt_template, const std::string& class_name) {
  std::string prompt;
  for (std::size_t pos = 0;;) {
    const std::size_t hole = prompt_template.find("{}", pos);
    prompt.append(prompt_template, pos, hole == std::string::npos ? std::string::npos : hole - pos);
    if (hole == std::string::npos) return prompt;
    prompt += class_name;
    pos = hole + 2;
  }
}

fs::path find_vocab(const Arguments& args) {
  if (!args.vocab.empty()) {
    if (!fs::is_regular_file(args.vocab)) throw IoError("--vocab '" + args.vocab.string() + "' is not a file");
    return args.vocab;
  }
  const std::string name = "bpe_simple_vocab_16e6.txt.gz";
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("SKIPTUNE_CLIP_VOCAB"); env != nullptr && *env != '\0') candidates.emplace_back(env);
  candidates.push_back((fs::is_directory(args.weights) ? args.weights : args.weights.parent_path()) / name);
  candidates.push_back(fs::current_path() / name);
  std::string tried;
  std::set<fs::path> seen;
  for (const fs::path& candidate : candidates) {
    if (fs::is_regular_file(candidate)) return candidate;
    if (seen.insert(fs::weakly_canonical(candidate)).second) tried += "\n  " + candidate.string();
  }
  throw IoError("cannot find CLIP's vocabulary file " + name + "; tried:" + tried +
                "\npass --vocab PATH (it ships with OpenAI's CLIP and open_clip)");
}

bool is_image_file(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp";
}

struct ImageItem {
  fs::path path;
  std::string shown;  // path relative to DIR
  int label = -1;     // class index from the folder, -1 if unlabelled
};

/// The class a folder name stands for: the exact name, or the name with '_' read as ' '.
int class_of_folder(const std::string& folder, const std::vector<std::string>& classes) {
  std::string spaced = folder;
  std::replace(spaced.begin(), spaced.end(), '_', ' ');
  for (const std::string& candidate : {folder, spaced})
    for (std::size_t c = 0; c < classes.size(); ++c)
      if (classes[c] == candidate) return static_cast<int>(c);
  return -1;
}

std::vector<ImageItem> list_images(const fs::path& directory, const std::vector<std::string>& classes,
                                   std::size_t& skipped_files) {
  if (!fs::is_directory(directory)) throw IoError("--images '" + directory.string() + "' is not a directory");
  std::vector<ImageItem> items;
  std::vector<std::string> unknown_folders;
  std::vector<fs::directory_entry> entries(fs::directory_iterator(directory), fs::directory_iterator{});
  std::sort(entries.begin(), entries.end());
  for (const fs::directory_entry& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with('.')) continue;  // hidden files and folders (.DS_Store, .cache)
    if (entry.is_directory()) {
      const int label = class_of_folder(name, classes);
      if (label < 0) {
        unknown_folders.push_back(name);
        continue;
      }
      std::vector<fs::directory_entry> files(fs::directory_iterator(entry.path()), fs::directory_iterator{});
      std::sort(files.begin(), files.end());
      for (const fs::directory_entry& file : files) {
        if (!file.is_regular_file()) continue;
        if (!is_image_file(file.path())) {
          ++skipped_files;
          continue;
        }
        items.push_back({file.path(), name + "/" + file.path().filename().string(), label});
      }
    } else if (entry.is_regular_file()) {
      if (!is_image_file(entry.path())) {
        ++skipped_files;
        continue;
      }
      items.push_back({entry.path(), name, -1});
    }
  }
  if (!unknown_folders.empty()) {
    std::string list;
    for (std::size_t i = 0; i < unknown_folders.size() && i < 10; ++i) list += (i ? ", '" : "'") + unknown_folders[i] + "'";
    if (unknown_folders.size() > 10) list += ", ...";
    throw UsageError("--images '" + directory.string() + "' has " + std::to_string(unknown_folders.size()) +
                     " subfolder(s) that match no class: " + list +
                     ". Subfolders label their images, so each must be named after a class of the class list "
                     "(exactly, or with '_' for spaces)");
  }
  if (items.empty()) throw IoError("--images '" + directory.string() + "' holds no PNG, JPEG or BMP images");
  return items;
}

std::string format_duration(double seconds) {
  char text[32];
  if (seconds < 60) std::snprintf(text, sizeof text, "%.0fs", seconds);
  else if (seconds < 3600) std::snprintf(text, sizeof text, "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
  else std::snprintf(text, sizeof text, "%dh%02dm", int(seconds) / 3600, int(seconds) / 60 % 60);
  return text;
}

/// Text features of all prompts [C, E], encoded in chunks so thousands of classes stay small.
Tensor<float> encode_prompts(const Clip<float>& model, const std::vector<std::int32_t>& ids, Index prompts) {
  const Index context = model.config().text.context_length, embed = model.config().embed_dim;
  constexpr Index chunk = 256;
  Tensor<float> features({prompts, embed}, model.meter(), MemoryCategory::activations);
  for (Index start = 0; start < prompts; start += chunk) {
    const Index count = std::min(chunk, prompts - start);
    Tensor<std::int32_t> part({count, context}, model.meter(), MemoryCategory::inputs);
    std::copy_n(ids.data() + start * context, count * context, part.data());
    const Tensor<float> encoded = encode(model.text, part);
    std::copy_n(encoded.data(), count * embed, features.data() + start * embed);
  }
  return features;
}

int run(const Arguments& args) {
  using clock = std::chrono::steady_clock;
  const std::vector<std::string> classes = read_classes(args);
  std::size_t skipped_files = 0;
  const std::vector<ImageItem> items = list_images(args.images, classes, skipped_files);
  const io::ClipTokenizer tokenizer(find_vocab(args));

  // The model.
  const auto load_start = clock::now();
  MemoryMeter meter;
  io::ClipConfigOptions options;
  options.vision_heads = args.vision_heads;
  options.text_heads = args.text_heads;
  const Clip<float> model = [&] {
    try {
      return io::load_clip<float>(args.weights, meter, options);
    } catch (const ConfigError& error) {
      // The library names its option; say what it is called on this command line.
      const std::string text = error.what();
      if (text.find("_heads") == std::string::npos) throw;
      throw ConfigError(text + "\n(on the command line: --vision-heads N --text-heads N)");
    }
  }();
  const ClipConfig& config = model.config();
  std::fprintf(stderr, "[zero_shot] %s: %s, %.0f MB of weights, loaded in %.2f s\n", args.weights.string().c_str(),
               config.name.c_str(), double(meter.current_total()) / 1e6,
               std::chrono::duration<double>(clock::now() - load_start).count());
  if (static_cast<Index>(tokenizer.vocab_size()) != config.text.vocab_size) {
    throw ConfigError("the tokenizer '" + tokenizer.source() + "' has " + std::to_string(tokenizer.vocab_size()) +
                      " tokens but the checkpoint's text tower has " + std::to_string(config.text.vocab_size) +
                      ": is --vocab CLIP's bpe_simple_vocab_16e6.txt.gz, and the checkpoint a CLIP with its "
                      "tokenizer?");
  }

  // Prompts → text features, once.
  std::vector<std::string> prompts;
  for (const std::string& name : classes) prompts.push_back(fill_template(args.prompt_template, name));
  const auto ids = tokenizer.tokenize_batch(prompts, static_cast<std::size_t>(config.text.context_length));
  const Index C = static_cast<Index>(classes.size());
  const Tensor<float> text_features = encode_prompts(model, ids, C);
  std::fprintf(stderr, "[zero_shot] %lld classes, prompt \"%s\"; %zu images%s\n", static_cast<long long>(C),
               args.prompt_template.c_str(), items.size(),
               skipped_files ? (" (" + std::to_string(skipped_files) + " non-image files skipped)").c_str() : "");

  // Images, a batch at a time.
  const int R = static_cast<int>(config.vision.image_size);
  const Index per_image = 3 * Index(R) * R;
  const Index top = std::min<Index>(args.top, C);
  const Index accuracy_k = std::min<Index>(5, C);       // top-5 accuracy (fewer classes: all of them)
  const Index ranked = std::max(top, accuracy_k);       // how much of each row must be sorted
  const bool interactive = ::isatty(STDERR_FILENO) != 0;
  std::size_t labelled = 0, top1_correct = 0, topk_correct = 0, failed = 0, done = 0;
  const auto start = clock::now();
  auto last_report = start;
  for (std::size_t first = 0; first < items.size(); first += static_cast<std::size_t>(args.batch)) {
    const std::size_t count = std::min(items.size() - first, static_cast<std::size_t>(args.batch));
    std::vector<std::string> errors(count);
    Tensor<float> pixels({Index(count), 3, R, R}, meter, MemoryCategory::inputs);
    // Decoding and resizing dominate for small models; images are independent.
#pragma omp parallel for schedule(dynamic)
    for (std::size_t b = 0; b < count; ++b) {
      try {
        io::preprocess_into(io::load_image(items[first + b].path), pixels.data() + Index(b) * per_image, R);
      } catch (const std::exception& error) {
        errors[b] = error.what();
      }
    }
    // Decoded images only; a failed one is reported and left out.
    std::vector<std::size_t> good;
    for (std::size_t b = 0; b < count; ++b) {
      if (errors[b].empty()) {
        good.push_back(b);
      } else {
        ++failed;
        std::fprintf(stderr, "%s[zero_shot] skipped %s: %s\n", interactive ? "\r\033[K" : "", items[first + b].shown.c_str(),
                     errors[b].c_str());
      }
    }
    if (!good.empty()) {
      Tensor<float> batch({Index(good.size()), 3, R, R}, meter, MemoryCategory::inputs);
      for (std::size_t g = 0; g < good.size(); ++g)
        std::copy_n(pixels.data() + Index(good[g]) * per_image, per_image, batch.data() + Index(g) * per_image);
      const Tensor<float> image_features = encode(model.visual, batch);
      const Tensor<float> logits = model.logits_from_features(image_features, text_features);
      for (std::size_t g = 0; g < good.size(); ++g) {
        const ImageItem& item = items[first + good[g]];
        const float* row = logits.data() + Index(g) * C;
        // Softmax over classes, as CLIP reports probabilities; in double so large logits are safe.
        const double largest = *std::max_element(row, row + C);
        std::vector<double> probability(static_cast<std::size_t>(C));
        double sum = 0;
        for (Index c = 0; c < C; ++c) sum += probability[c] = std::exp(double(row[c]) - largest);
        std::vector<Index> order(static_cast<std::size_t>(C));
        for (Index c = 0; c < C; ++c) order[c] = c;
        std::partial_sort(order.begin(), order.begin() + ranked, order.end(),
                          [&](Index a, Index b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
        std::string line = item.shown;
        if (item.label >= 0) line += "  [" + classes[item.label] + "]";
        for (Index k = 0; k < top; ++k) {
          char text[64];
          std::snprintf(text, sizeof text, " %.1f%%", 100.0 * probability[order[k]] / sum);
          line += "  " + std::to_string(k + 1) + ". " + classes[order[k]] + text;
        }
        if (interactive) std::fputs("\r\033[K", stderr);
        std::printf("%s\n", line.c_str());
        if (item.label >= 0) {
          ++labelled;
          top1_correct += order[0] == item.label ? 1 : 0;
          topk_correct += std::count(order.begin(), order.begin() + accuracy_k, Index(item.label));
        }
      }
      std::fflush(stdout);
    }
    done += count;
    const auto now = clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const bool last = done == items.size();
    if (items.size() > static_cast<std::size_t>(args.batch) &&
        (last || std::chrono::duration<double>(now - last_report).count() >= (interactive ? 0.2 : 10.0))) {
      last_report = now;
      const double rate = double(done) / std::max(elapsed, 1e-9);
      std::fprintf(stderr, "%s[zero_shot] %zu/%zu images (%.0f%%), %.1f images/s, %s %s%s",
                   interactive ? "\r\033[K" : "", done, items.size(), 100.0 * double(done) / double(items.size()), rate,
                   last ? "took" : "ETA", format_duration(last ? elapsed : double(items.size() - done) / rate).c_str(),
                   interactive && !last ? "" : "\n");
    }
  }

  if (labelled > 0) {
    std::printf("\naccuracy over %zu labelled images: top-1 %.2f%% (%zu), top-%lld %.2f%% (%zu)\n", labelled,
                100.0 * double(top1_correct) / double(labelled), top1_correct, static_cast<long long>(accuracy_k),
                100.0 * double(topk_correct) / double(labelled), topk_correct);
    const std::size_t unlabelled = items.size() - labelled - failed;
    if (unlabelled > 0)
      std::printf("(%zu image(s) directly in %s have no class folder and are not counted)\n", unlabelled,
                  args.images.string().c_str());
  }
  if (failed > 0) {
    std::fprintf(stderr, "[zero_shot] %zu of %zu images could not be read and were skipped%s\n", failed, items.size(),
                 labelled > 0 ? " (not counted in the accuracy)" : "");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_arguments(argc, argv));
  } catch (const UsageError& error) {
    std::fprintf(stderr, "zero_shot: %s\n(zero_shot --help lists the options)\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "zero_shot: error: %s\n", error.what());
    return 1;
  }
}
