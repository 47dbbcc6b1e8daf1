// skiptune_bench_io — how fast a ViT-B/16 checkpoint loads compared with just reading its bytes.
//
//   CheckpointLoad/b16        load_clip<float> of an F32 OpenAI-named file into an existing model
//   CheckpointLoad/b16_hf     the same weights in Hugging Face naming (q/k/v split, projections
//                             transposed)
//   CheckpointLoad/b16_bf16   OpenAI naming stored as BF16 (half the bytes, converted on load)
//   FileRead/b16              open + read() of the F32 file into a buffer, + close: the floor
//
// Each file is written once (random weights) to the temp directory and deleted at exit; it was
// just written, so the page cache is warm and all four measure memory traffic and per-tensor
// overhead, not the disk. bytes_per_second counts the bytes of the F32 model (598 MB) for every
// benchmark, so the rates compare directly: "load vs disk read" is CheckpointLoad/b16 against
// FileRead/b16. A summary line with the ratios (fastest run of each) is printed at the end.
// The machine is shared and noisy: use --benchmark_min_time=2 --benchmark_repetitions=3.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "skiptune/io/checkpoint.hpp"

namespace {

using namespace skiptune;
namespace fs = std::filesystem;

/// The B/16 model the files are written from and loaded into, and the files themselves.
struct Fixture {
  MemoryMeter meter;
  std::unique_ptr<Clip<float>> model;
  fs::path directory;
  std::map<std::string, fs::path> files;  // "b16", "b16_hf", "b16_bf16"
  double model_bytes = 0;

  Fixture() {
    directory = fs::temp_directory_path() / ("skiptune_bench_io_" + std::to_string(::getpid()));
    fs::create_directories(directory);
    model = std::make_unique<Clip<float>>(ClipConfig::vit_b16(), meter);
    // Cheap pseudo-random weights (a full OpenAI initialisation would take seconds): the bytes
    // only need to be non-trivial, not well-scaled.
    std::uint32_t state = 12345;
    model->for_each_parameter([&](const std::string&, Tensor<float>& p) {
      for (Index i = 0; i < p.numel(); ++i) {
        state = state * 1664525u + 1013904223u;
        p[i] = static_cast<float>(static_cast<std::int32_t>(state)) * 0x1.0p-36f;
      }
      model_bytes += static_cast<double>(p.bytes());
    });
    files["b16"] = directory / "b16.safetensors";
    files["b16_hf"] = directory / "b16_hf.safetensors";
    files["b16_bf16"] = directory / "b16_bf16.safetensors";
    io::save_clip(*model, files["b16"], io::CheckpointNaming::openai);
    io::save_clip(*model, files["b16_hf"], io::CheckpointNaming::huggingface);
    io::save_clip(*model, files["b16_bf16"], io::CheckpointNaming::openai, io::Dtype::BF16);
  }
  ~Fixture() {
    std::error_code ignored;
    fs::remove_all(directory, ignored);
  }
};

Fixture& fixture() {
  static Fixture instance;  // destroyed at exit, which removes the files
  return instance;
}

std::map<std::string, double>& seconds_per_run() {
  static std::map<std::string, double> table;
  return table;
}

/// Reports the rate, and keeps the fastest per-iteration wall time over all runs (repetitions
/// included) for the summary: on a shared machine the minimum is the least noisy estimate.
void record(benchmark::State& state, const std::string& key, std::chrono::steady_clock::time_point start) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (state.iterations() > 0) {
    const double per_iteration = seconds / static_cast<double>(state.iterations());
    auto [entry, inserted] = seconds_per_run().emplace(key, per_iteration);
    if (!inserted) entry->second = std::min(entry->second, per_iteration);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fixture().model_bytes));
  state.counters["file_bytes"] = static_cast<double>(fs::file_size(fixture().files.at(key == "read" ? "b16" : key)));
}

void checkpoint_load(benchmark::State& state, const std::string& key, io::CheckpointNaming naming) {
  Fixture& f = fixture();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const io::SafetensorsFile file = io::SafetensorsFile::open(f.files.at(key));
    io::load_clip(*f.model, file, naming);
    benchmark::ClobberMemory();
  }
  record(state, key, start);
}

void file_read(benchmark::State& state) {
  Fixture& f = fixture();
  const fs::path& path = f.files.at("b16");
  const auto size = static_cast<std::size_t>(fs::file_size(path));
  std::vector<char> buffer(size);  // allocated and touched once, like the model's tensors
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError("cannot open the checkpoint");
      return;
    }
    std::size_t done = 0;
    while (done < size) {
      const ::ssize_t got = ::read(fd, buffer.data() + done, size - done);
      if (got <= 0) break;
      done += static_cast<std::size_t>(got);
    }
    ::close(fd);
    if (done != size) {
      state.SkipWithError("short read");
      return;
    }
    benchmark::DoNotOptimize(buffer.data());
    benchmark::ClobberMemory();
  }
  record(state, "read", start);
}

void print_ratios() {
  const auto& table = seconds_per_run();
  const auto read = table.find("read");
  if (read == table.end() || read->second <= 0) return;
  std::printf("\nfastest load / fastest plain read() of the F32 file (%.1f ms):", read->second * 1e3);
  for (const char* key : {"b16", "b16_hf", "b16_bf16"})
    if (const auto found = table.find(key); found != table.end()) std::printf("  %s %.2fx", key, found->second / read->second);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("CheckpointLoad/b16", [](benchmark::State& s) { checkpoint_load(s, "b16", io::CheckpointNaming::openai); })
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("CheckpointLoad/b16_hf", [](benchmark::State& s) { checkpoint_load(s, "b16_hf", io::CheckpointNaming::huggingface); })
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("CheckpointLoad/b16_bf16", [](benchmark::State& s) { checkpoint_load(s, "b16_bf16", io::CheckpointNaming::openai); })
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("FileRead/b16", file_read)->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_ratios();
  return 0;
}
