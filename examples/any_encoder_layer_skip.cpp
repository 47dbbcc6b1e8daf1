// any_encoder_layer_skip — LayerSkip on a transformer that is not CLIP. A small BERT-like text
// classifier (examples/sequence_classifier.hpp, written against the Encoder concept only) is
// "pretrained" briefly with full fine-tuning on a synthetic keyword task, then fine-tuned twice
// from the same weights: with full fine-tuning (FT) and with LayerSkip at ω = 2 (blocks 0–1 and
// the stem frozen, their outputs cached once). Prints the loss per epoch, test accuracy before
// and after, the mean step time and the MemoryMeter peak of one step for each.
//   usage: any_encoder_layer_skip [fine-tuning epochs = 6]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "skiptune/policy/full_fine_tune.hpp"
#include "skiptune/policy/layer_skip.hpp"
#include "skiptune/train/encoder_fine_tuner.hpp"

#include "sequence_classifier.hpp"
#include "sequence_classifier_data.hpp"

namespace {

using Model = example::SequenceClassifier<float>;
using Snapshot = std::map<std::string, std::vector<float>>;

Snapshot snapshot(Model& model) {
  Snapshot out;
  skiptune::for_each_parameter(model, [&](const std::string& name, skiptune::Tensor<float>& t, auto) {
    out[name].assign(t.data(), t.data() + t.numel());
  });
  return out;
}

void restore(Model& model, const Snapshot& saved) {
  skiptune::for_each_parameter(model, [&](const std::string& name, skiptune::Tensor<float>& t, auto) {
    std::copy(saved.at(name).begin(), saved.at(name).end(), t.data());
  });
}

/// What one fine-tuning run measured.
struct RunSummary {
  double accuracy = 0;
  double mean_step_ms = 0;
  std::size_t step_peak = 0;                 // the highest MemoryMeter peak of one step
  skiptune::MemoryBreakdown at_step_peak{};  // live bytes by category at that peak
};

/// Drives the tuner epoch by epoch (what fit() does) so that each step can be timed and its
/// memory peak measured: meter.reset_peak() just before the step, meter.peak_total() after.
template <class Tuner>
RunSummary fine_tune(const char* label, Tuner& tuner, Model& model, const skiptune::EncoderDataset<Model>& train,
                     const example::KeywordTask& test, const skiptune::FitOptions& options) {
  auto& meter = model.meter();
  RunSummary summary;
  tuner.prepare(train, options);
  skiptune::Rng batch_rng(options.seed);
  const skiptune::CosineWithConstantWarmup schedule{options.vision_learning_rate, options.epochs,
                                                    options.warmup_epochs, options.warmup_learning_rate};
  double seconds = 0;
  std::size_t steps = 0;
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    tuner.begin_epoch(epoch);  // LayerSkip builds its block-ω cache here (once)
    const auto batches = skiptune::make_epoch_batches(train.labels, train.classes, options.batch_size,
                                                      skiptune::Batching::random, batch_rng);
    const double lr = schedule.lr_at_epoch(epoch);
    double loss_sum = 0;
    for (const auto& batch : batches) {
      meter.reset_peak();
      const auto start = std::chrono::steady_clock::now();
      loss_sum += tuner.train_step(batch, lr);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ++steps;
      if (meter.peak_total() > summary.step_peak) {
        summary.step_peak = meter.peak_total();
        summary.at_step_peak = meter.at_peak();
      }
    }
    std::printf("  %-9s epoch %zu/%zu  lr %.4f  mean loss %.4f\n", label, epoch + 1, options.epochs, lr,
                loss_sum / static_cast<double>(batches.size()));
  }
  summary.mean_step_ms = seconds / static_cast<double>(steps) * 1e3;
  summary.accuracy = example::accuracy(model, test.ids, test.labels);
  return summary;
}

void print_memory(const char* label, const RunSummary& s) {
  using skiptune::MemoryCategory;
  using skiptune::format_bytes;
  const auto& b = s.at_step_peak;
  std::printf("  %-9s step peak %10s = weights %s + gradients %s + optimizer %s + activations %s + workspace %s"
              " + cache %s + inputs %s\n",
              label, format_bytes(s.step_peak).c_str(), format_bytes(b[MemoryCategory::weights]).c_str(),
              format_bytes(b[MemoryCategory::gradients]).c_str(),
              format_bytes(b[MemoryCategory::optimizer_state]).c_str(),
              format_bytes(b[MemoryCategory::activations]).c_str(), format_bytes(b[MemoryCategory::workspace]).c_str(),
              format_bytes(b[MemoryCategory::cache]).c_str(), format_bytes(b[MemoryCategory::inputs]).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace skiptune;
  const long epochs = argc > 1 ? std::atol(argv[1]) : 6;
  if (epochs <= 0) {
    std::fprintf(stderr, "usage: %s [fine-tuning epochs > 0]\n", argv[0]);
    return 2;
  }
  try {
    example::SequenceClassifierConfig config;  // vocab 200, context 16, width 64, 4 blocks, 4 heads, 6 classes
    MemoryMeter meter;
    Model model(config, meter);
    Rng rng(2025);
    model.initialize(rng);

    example::KeywordTaskOptions task;
    task.tokens = config.context_length;
    task.vocab_size = config.vocab_size;
    task.classes = config.classes;
    Rng data_rng = rng.fork(1);
    task.examples = 384;
    const auto pretraining = example::make_keyword_task(task, meter, data_rng);
    task.examples = 192;
    const auto training = example::make_keyword_task(task, meter, data_rng);
    task.examples = 384;
    const auto test = example::make_keyword_task(task, meter, data_rng);

    std::printf("SequenceClassifier: vocab %lld, width %lld, %lld blocks, %lld heads, %lld classes\n",
                static_cast<long long>(config.vocab_size), static_cast<long long>(config.width),
                static_cast<long long>(config.layers), static_cast<long long>(config.heads),
                static_cast<long long>(config.classes));
    std::printf("accuracy at initialisation: %.3f (chance %.3f)\n", example::accuracy(model, test.ids, test.labels),
                1.0 / static_cast<double>(config.classes));

    // 1. "Pretraining": a short full fine-tuning (blocks + head; the stem stays frozen, as FT's).
    FitOptions pre;
    pre.epochs = 2;
    pre.batch_size = 16;
    pre.vision_learning_rate = 0.05;  // the encoder tuner's single learning rate
    pre.warmup_epochs = 0;
    pre.seed = 7;
    const EncoderDataset<Model> pretraining_data{&pretraining.ids, pretraining.labels,
                                                 static_cast<std::size_t>(config.classes)};
    std::vector<double> pre_losses;
    {
      FineTuner<EncoderClassifier<Model>, FullFineTune> pretrainer(EncoderClassifier<Model>{&model}, FullFineTune{});
      pre_losses = pretrainer.fit(pretraining_data, pre);
    }  // its gradients and optimizer state are freed here: they must not count in the steps below
    for (std::size_t e = 0; e < pre_losses.size(); ++e)
      std::printf("  pretrain  epoch %zu/%zu  mean loss %.4f\n", e + 1, pre_losses.size(), pre_losses[e]);
    const Snapshot pretrained = snapshot(model);
    const double accuracy_before = example::accuracy(model, test.ids, test.labels);
    std::printf("accuracy after pretraining (before fine-tuning): %.3f\n", accuracy_before);

    // 2. Fine-tuning from the same weights: FT, then LayerSkip at ω = 2.
    FitOptions fine;
    fine.epochs = static_cast<std::size_t>(epochs);
    fine.batch_size = 16;
    fine.vision_learning_rate = 0.02;
    fine.warmup_epochs = 0;
    fine.seed = 11;
    const EncoderDataset<Model> training_data{&training.ids, training.labels, static_cast<std::size_t>(config.classes)};

    std::printf("fine-tuning, FT (blocks 0-3 + head):\n");
    RunSummary ft;
    {
      FineTuner<EncoderClassifier<Model>, FullFineTune> tuner(EncoderClassifier<Model>{&model}, FullFineTune{});
      ft = fine_tune("FT", tuner, model, training_data, test, fine);
    }  // the tuner's gradients, optimizer state and cache are freed here
    restore(model, pretrained);
    std::printf("fine-tuning, LayerSkip ω = 2 (stem and blocks 0-1 frozen and cached; blocks 2-3 + head):\n");
    RunSummary ls;
    {
      FineTuner<EncoderClassifier<Model>, LayerSkip> tuner(EncoderClassifier<Model>{&model}, LayerSkip{2});
      ls = fine_tune("LayerSkip", tuner, model, training_data, test, fine);
    }

    std::printf("\naccuracy: before %.3f | after FT %.3f | after LayerSkip %.3f\n", accuracy_before, ft.accuracy,
                ls.accuracy);
    std::printf("mean step: FT %.3f ms | LayerSkip %.3f ms (x%.2f)\n", ft.mean_step_ms, ls.mean_step_ms,
                ls.mean_step_ms / ft.mean_step_ms);
    std::printf("memory (MemoryMeter, measured around one step):\n");
    print_memory("FT", ft);
    print_memory("LayerSkip", ls);
    const auto beyond_weights = [](const RunSummary& s) {
      return s.step_peak - s.at_step_peak[MemoryCategory::weights] - s.at_step_peak[MemoryCategory::inputs];
    };
    std::printf("  step peak without weights and inputs: FT %s | LayerSkip %s (x%.2f)\n",
                format_bytes(beyond_weights(ft)).c_str(), format_bytes(beyond_weights(ls)).c_str(),
                static_cast<double>(beyond_weights(ls)) / static_cast<double>(beyond_weights(ft)));
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
