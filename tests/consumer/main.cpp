// Built by tests/consumer/run_consumer_test.cmake against an installed skiptune: the umbrella
// header, an I/O header, one forward pass of a tiny CLIP.
#include <skiptune/io/npy.hpp>
#include <skiptune/skiptune.hpp>

#include <cstdio>

int main() {
  skiptune::MemoryMeter meter;
  skiptune::Clip<float> model(skiptune::ClipConfig::tiny(), meter);
  skiptune::Rng rng(1);
  model.initialize(rng);
  std::printf("skiptune %d.%d.%d: tiny CLIP with %zu parameters\n", skiptune::version_major,
              skiptune::version_minor, skiptune::version_patch, model.parameter_count());
  return model.parameter_count() > 0 ? 0 : 1;
}
