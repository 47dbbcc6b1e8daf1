// Helpers shared by the tests that read the PyTorch fixture in tests/fixtures/clip_tiny.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>

#include "skiptune/io/npy.hpp"
#include "skiptune/skiptune.hpp"

namespace skiptune::testing {

inline std::filesystem::path clip_tiny_fixture_dir() {
  return std::filesystem::path(SKIPTUNE_SOURCE_DIR) / "tests" / "fixtures" / "clip_tiny";
}

/// The architecture scripts/make_clip_fixture.py writes (see its config.json).
inline ClipConfig clip_tiny_fixture_config() {
  ClipConfig c;
  c.name = "fixture-tiny";
  c.embed_dim = 24;
  c.vision = VisionConfig{32, 8, 32, 2, 2, 128, nn::Activation::quick_gelu};
  c.text = TextConfig{12, 100, 32, 2, 2, 128, nn::Activation::quick_gelu};
  return c;
}

/// Load every parameter of the fixture (param.<name>.npy, float32) into `model`.
template <class T>
void load_fixture_parameters(Clip<T>& model) {
  model.for_each_parameter([&](const std::string& name, Tensor<T>& p) {
    MemoryMeter scratch;
    auto stored = io::load_npy<float>(clip_tiny_fixture_dir() / ("param." + name + ".npy"), scratch);
    expect_shape(stored, p.shape(), name);
    for (Index i = 0; i < p.numel(); ++i) p[i] = static_cast<T>(stored[i]);
  });
}

/// max|a − b| / max|b| over two equally sized buffers.
template <class A, class B>
double relative_max_error(const A* a, const B* b, Index n) {
  double max_diff = 0, max_ref = 0;
  for (Index i = 0; i < n; ++i) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
  }
  return max_ref == 0 ? max_diff : max_diff / max_ref;
}

}  // namespace skiptune::testing
