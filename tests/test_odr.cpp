// ODR check, unit B (with the test): two translation units that include every header link
// into one program, and the same inline code gives the same answer in both.
#include <catch2/catch.hpp>

#include "odr_units.hpp"

double odr_unit_b_logit() {
  skiptune::MemoryMeter meter;
  skiptune::Clip<float> model(skiptune::ClipConfig::tiny(), meter);
  skiptune::Rng rng(5);
  model.initialize(rng);
  auto batch = skiptune::testing::make_synthetic_batch<float>(model.config(), 1, 2, meter, rng, 6);
  return model.logits(batch.images, batch.token_ids)[0];
}

TEST_CASE("two translation units including every header link and agree", "[odr]") {
  CHECK(odr_unit_a_logit() == odr_unit_b_logit());
}
