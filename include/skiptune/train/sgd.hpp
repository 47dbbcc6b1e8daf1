// skiptune/train/sgd.hpp — SGD with momentum and (coupled, L2) weight decay, as torch.optim.SGD
// (dampening 0, no Nesterov): g = grad + wd·p; v = μ·v + g; p -= lr·v. The momentum buffer
// starts at zero, which equals PyTorch's "v = g on the first step".
#pragma once

#include "skiptune/backend/cpu.hpp"
#include "skiptune/core/errors.hpp"
#include "skiptune/core/tensor.hpp"

namespace skiptune {

struct SgdOptions {
  double learning_rate = 1e-5;
  double momentum = 0.9;
  double weight_decay = 5e-4;

  void validate() const {
    require<ConfigError>(learning_rate >= 0, "SGD learning rate must be >= 0, got ", learning_rate);
    require<ConfigError>(momentum >= 0 && momentum < 1, "SGD momentum must be in [0, 1), got ", momentum);
    require<ConfigError>(weight_decay >= 0, "SGD weight decay must be >= 0, got ", weight_decay);
  }
};

/// One SGD update of `parameter` from `gradient`, using `velocity` (same shape; may be empty
/// when momentum is 0).
template <class T>
inline void sgd_update(cpu, Tensor<T>& parameter, const Tensor<T>& gradient, Tensor<T>& velocity,
                       const SgdOptions& options, double learning_rate) {
  const Index n = parameter.numel();
  T* p = parameter.data();
  const T* g = gradient.data();
  T* v = velocity.empty() ? nullptr : velocity.data();
  const T lr = static_cast<T>(learning_rate), mu = static_cast<T>(options.momentum),
          wd = static_cast<T>(options.weight_decay);
#pragma omp parallel for schedule(static) if (n > skiptune::detail::parallel_grain)
  for (Index i = 0; i < n; ++i) {
    T step = g[i] + wd * p[i];
    if (v != nullptr) step = v[i] = mu * v[i] + step;
    p[i] -= lr * step;
  }
}

}  // namespace skiptune
