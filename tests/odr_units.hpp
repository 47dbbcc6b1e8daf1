// Everything a user may include, for the two-translation-unit ODR test.
#pragma once
#include "skiptune/skiptune.hpp"
#include "skiptune/model/flop_count.hpp"
#include "skiptune/model/memory_plan.hpp"
#include "skiptune/testing/gradient_check.hpp"
#include "skiptune/testing/synthetic_batch.hpp"
#include "skiptune/io/npy.hpp"

double odr_unit_a_logit();
double odr_unit_b_logit();
