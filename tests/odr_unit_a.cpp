// ODR check, unit A: includes everything and instantiates the model; linked with unit B.
#include "odr_units.hpp"

double odr_unit_a_logit() {
  skiptune::MemoryMeter meter;
  skiptune::Clip<float> model(skiptune::ClipConfig::tiny(), meter);
  skiptune::Rng rng(5);
  model.initialize(rng);
  auto batch = skiptune::testing::make_synthetic_batch<float>(model.config(), 1, 2, meter, rng, 6);
  return model.logits(batch.images, batch.token_ids)[0];
}
