// skiptune/core/memory.hpp — exact byte accounting. Every buffer of a training step (weights,
// gradients, optimizer state, saved activations, workspace, caches, inputs) is allocated through
// a MemoryMeter, which counts the requested bytes by category and keeps the peak. The memory
// planner (model/memory_plan.hpp) predicts these same numbers before a step runs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>

namespace skiptune {

enum class MemoryCategory : int {
  weights = 0,      // model parameters
  gradients,        // parameter gradients (trainable parameters only)
  optimizer_state,  // momentum / Adam moments (trainable parameters only)
  activations,      // tensors saved in forward for backward
  workspace,        // transient buffers of one op or block
  cache,            // LayerSkip feature caches
  inputs,           // pixels and token ids handed to a step
};
inline constexpr std::size_t memory_category_count = 7;

inline constexpr std::string_view to_string(MemoryCategory category) noexcept {
  constexpr std::array<std::string_view, memory_category_count> names{
      "weights", "gradients", "optimizer_state", "activations", "workspace", "cache", "inputs"};
  return names[static_cast<std::size_t>(category)];
}

/// Bytes per category. Used for "current", "peak" and the planner's predictions alike.
struct MemoryBreakdown {
  std::array<std::size_t, memory_category_count> bytes{};

  std::size_t& operator[](MemoryCategory category) noexcept {
    return bytes[static_cast<std::size_t>(category)];
  }
  std::size_t operator[](MemoryCategory category) const noexcept {
    return bytes[static_cast<std::size_t>(category)];
  }
  [[nodiscard]] std::size_t total() const noexcept {
    std::size_t sum = 0;
    for (auto b : bytes) sum += b;
    return sum;
  }
  friend bool operator==(const MemoryBreakdown&, const MemoryBreakdown&) = default;
};

/// Counts live bytes by category and the peak of their total. Not thread-safe by design:
/// buffers are allocated by the thread that drives a step; worker threads only compute.
class MemoryMeter {
 public:
  MemoryMeter() = default;
  MemoryMeter(const MemoryMeter&) = delete;
  MemoryMeter& operator=(const MemoryMeter&) = delete;

  /// Allocate `bytes` (64-byte aligned) and count them under `category`.
  void* allocate(std::size_t bytes, MemoryCategory category) {
    void* pointer = nullptr;
    if (bytes > 0) {
      const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
      pointer = std::aligned_alloc(alignment, rounded);
      if (pointer == nullptr) throw std::bad_alloc();
    }
    current_[category] += bytes;
    const std::size_t total = current_.total();
    if (total > peak_total_) {
      peak_total_ = total;
      at_peak_ = current_;
    }
    for (std::size_t c = 0; c < memory_category_count; ++c)
      if (current_.bytes[c] > category_peaks_.bytes[c]) category_peaks_.bytes[c] = current_.bytes[c];
    ++allocation_count_;
    return pointer;
  }

  void deallocate(void* pointer, std::size_t bytes, MemoryCategory category) noexcept {
    std::free(pointer);
    current_[category] -= bytes;
  }

  /// Start a new measurement: the peak becomes what is live now.
  void reset_peak() noexcept {
    peak_total_ = current_.total();
    at_peak_ = current_;
    category_peaks_ = current_;
    allocation_count_ = 0;
  }

  [[nodiscard]] const MemoryBreakdown& current() const noexcept { return current_; }
  [[nodiscard]] std::size_t current_total() const noexcept { return current_.total(); }
  /// The highest total of live bytes since the last reset_peak().
  [[nodiscard]] std::size_t peak_total() const noexcept { return peak_total_; }
  /// Live bytes by category at the moment the total peaked.
  [[nodiscard]] const MemoryBreakdown& at_peak() const noexcept { return at_peak_; }
  /// Each category's own highest value since the last reset (may come from different moments).
  [[nodiscard]] const MemoryBreakdown& category_peaks() const noexcept { return category_peaks_; }
  [[nodiscard]] std::size_t allocation_count() const noexcept { return allocation_count_; }

  static constexpr std::size_t alignment = 64;

 private:
  MemoryBreakdown current_{};
  MemoryBreakdown at_peak_{};
  MemoryBreakdown category_peaks_{};
  std::size_t peak_total_ = 0;
  std::size_t allocation_count_ = 0;
};

/// Human-readable bytes ("1.25 GiB").
inline std::string format_bytes(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.2f %s", value, units[unit]);
  return text;
}

}  // namespace skiptune
