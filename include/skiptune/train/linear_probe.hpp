// skiptune/train/linear_probe.hpp — a linear probe on frozen CLIP image features: multinomial
// logistic regression W [C, E] over L2-normalised features, initialised from the zero-shot
// classifier (the normalised text features of the class prompts times exp(logit_scale)) and
// pulled back towards it by an L2 penalty, so with few shots it starts at zero-shot accuracy
// instead of chance (the "zero-shot initialised" probe of later CLIP adaptation papers; CoOp's
// own probe starts from zero and cannot do better than chance at one shot).
//
//   loss(W) = mean_i CE(W x_i, y_i) + (anchor / 2) · ||W − W₀||²
// minimised full-batch with Adam for `iterations` steps (the features are computed once; no
// CLIP parameter changes, nothing but W and its two Adam moments is allocated).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune {

struct LinearProbeOptions {
  std::size_t iterations = 300;
  double learning_rate = 1e-2;
  double anchor = 1e-3;  ///< L2 pull towards the initial (zero-shot) weights
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;

  void validate() const {
    require<ConfigError>(iterations > 0 && learning_rate > 0 && anchor >= 0,
                         "LinearProbeOptions: need iterations > 0, learning_rate > 0, anchor >= 0");
  }
};

struct LinearProbeResult {
  std::vector<double> loss;  ///< per iteration (before its update)
};

/// Fit W in place. features [N, E] (rows L2-normalised), labels [N] in [0, C), weights [C, E]
/// holding the initial classifier (kept as the anchor).
template <class T>
LinearProbeResult fit_linear_probe(const Tensor<T>& features, const std::vector<std::int32_t>& labels,
                                   Tensor<T>& weights, const LinearProbeOptions& options = {}) {
  options.validate();
  require<ShapeError>(features.rank() == 2 && weights.rank() == 2 && features.dim(1) == weights.dim(1) &&
                          static_cast<std::size_t>(features.dim(0)) == labels.size() && !labels.empty(),
                      "fit_linear_probe: features ", features.shape(), ", weights ", weights.shape(), " and ",
                      labels.size(), " labels do not fit together (expected [N, E], [C, E], N labels)");
  const Index N = features.dim(0), E = features.dim(1), C = weights.dim(0);
  for (std::int32_t y : labels)
    require<InputError>(y >= 0 && y < C, "fit_linear_probe: label ", y, " outside [0, ", C, ")");
  const std::vector<double> anchor_weights(weights.data(), weights.data() + weights.numel());
  std::vector<double> w(anchor_weights), m(w.size(), 0.0), v(w.size(), 0.0), grad(w.size()), logits(static_cast<std::size_t>(C));
  LinearProbeResult result;
  for (std::size_t it = 1; it <= options.iterations; ++it) {
    std::fill(grad.begin(), grad.end(), 0.0);
    double loss = 0;
    for (Index i = 0; i < N; ++i) {
      const T* x = features.data() + i * E;
      double top = -1e300;
      for (Index c = 0; c < C; ++c) {
        double s = 0;
        for (Index e = 0; e < E; ++e) s += w[static_cast<std::size_t>(c * E + e)] * x[e];
        logits[static_cast<std::size_t>(c)] = s;
        top = std::max(top, s);
      }
      double z = 0;
      for (double& s : logits) z += std::exp(s - top);
      const auto y = static_cast<std::size_t>(labels[static_cast<std::size_t>(i)]);
      loss += -(logits[y] - top - std::log(z));
      for (Index c = 0; c < C; ++c) {
        const double p = std::exp(logits[static_cast<std::size_t>(c)] - top) / z - (static_cast<std::size_t>(c) == y ? 1 : 0);
        for (Index e = 0; e < E; ++e) grad[static_cast<std::size_t>(c * E + e)] += p * x[e] / static_cast<double>(N);
      }
    }
    loss /= static_cast<double>(N);
    double penalty = 0;
    for (std::size_t k = 0; k < w.size(); ++k) {
      const double d = w[k] - anchor_weights[k];
      penalty += d * d;
      grad[k] += options.anchor * d;
    }
    loss += 0.5 * options.anchor * penalty;
    require<NumericError>(std::isfinite(loss), "linear probe: loss is ", loss, " at iteration ", it);
    result.loss.push_back(loss);
    const double c1 = 1 - std::pow(options.beta1, static_cast<double>(it));
    const double c2 = 1 - std::pow(options.beta2, static_cast<double>(it));
    for (std::size_t k = 0; k < w.size(); ++k) {
      m[k] = options.beta1 * m[k] + (1 - options.beta1) * grad[k];
      v[k] = options.beta2 * v[k] + (1 - options.beta2) * grad[k] * grad[k];
      w[k] -= options.learning_rate * (m[k] / c1) / (std::sqrt(v[k] / c2) + options.epsilon);
    }
  }
  std::transform(w.begin(), w.end(), weights.data(), [](double x) { return static_cast<T>(x); });
  return result;
}

/// argmax_c (W x_i) for each row of features [N, E].
template <class T>
std::vector<std::int32_t> linear_probe_predict(const Tensor<T>& features, const Tensor<T>& weights) {
  require<ShapeError>(features.rank() == 2 && weights.rank() == 2 && features.dim(1) == weights.dim(1),
                      "linear_probe_predict: features ", features.shape(), " and weights ", weights.shape());
  const Index N = features.dim(0), E = features.dim(1), C = weights.dim(0);
  std::vector<std::int32_t> out(static_cast<std::size_t>(N));
  for (Index i = 0; i < N; ++i) {
    double best = -1e300;
    for (Index c = 0; c < C; ++c) {
      double s = 0;
      for (Index e = 0; e < E; ++e) s += static_cast<double>(weights.data()[c * E + e]) * features.data()[i * E + e];
      if (s > best) {
        best = s;
        out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(c);
      }
    }
  }
  return out;
}

}  // namespace skiptune
