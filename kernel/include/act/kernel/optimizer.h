// Optimizers and learning-rate schedules for the training loop.
//
// Update rules follow the published algorithms in the form PyTorch and Paddle document them
// (the frameworks ACT's users come from), so a config ported from either trains the same:
//   SGD:       p -= lr * (g + wd * p)
//   Momentum:  v = mu * v + (g + wd * p);  p -= lr * v            (Nesterov: lr * (g' + mu * v))
//   Adam:      m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
//              p -= lr * m_hat / (sqrt(v_hat) + eps), g' = g + wd * p (L2 decay, "coupled")
//   AdamW:     p *= 1 - lr * wd, then Adam without the L2 term ("decoupled")
// Gradient clipping by global norm happens before any of them (clip_by_global_norm).
//
// Units: learning rates and decays are plain factors; steps count optimizer updates from 0.
// Ownership: an Optimizer keeps its own state tensors (momenta), keyed by parameter name; the
// parameters and gradients are the caller's. Parameters are updated in place, which bumps
// their storage version (tensor.h), so kernels that cache derived data notice.
// Threading: one step() at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "act/kernel/tensor.h"

namespace act {

struct OptimizerConfig {
  enum class Kind { kSgd, kMomentum, kAdam, kAdamW };
  Kind kind = Kind::kSgd;
  double momentum = 0.9;                              // Momentum
  bool nesterov = false;                              // Momentum
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // Adam, AdamW
  double weight_decay = 0.0;  // L2 for SGD/Momentum/Adam, decoupled for AdamW
};

// One named parameter and its gradient (same shape, f32).
struct ParamGrad {
  std::string name;
  Tensor param;  // updated in place
  Tensor grad;
};

class Optimizer {
 public:
  explicit Optimizer(OptimizerConfig config);
  // Applies one update with learning rate `lr`. Throws act::Error naming a parameter whose
  // gradient is missing, mis-shaped or not f32.
  void step(std::vector<ParamGrad>& params, double lr);
  std::int64_t steps() const { return steps_; }

  // State for checkpoints: every state tensor by "<param>/<slot>" plus the step count.
  std::map<std::string, Tensor> state() const;
  void load_state(const std::map<std::string, Tensor>& state, std::int64_t steps);

 private:
  Tensor& slot(const std::string& param, const char* which, const Shape& shape);

  OptimizerConfig config_;
  std::map<std::string, Tensor> state_;
  std::int64_t steps_ = 0;
};

// Scales every gradient by min(1, max_norm / ||all gradients||_2); returns the norm before
// clipping. A non-finite norm is returned as is and nothing is scaled (the caller stops).
double clip_by_global_norm(std::vector<ParamGrad>& params, double max_norm);

// Learning rate as a function of the step. Implementations are immutable and thread-safe.
class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double at(std::int64_t step) const = 0;
};

// Paddle's PiecewiseDecay: values[i] until boundaries[i] (exclusive); values has one more
// element than boundaries.
std::unique_ptr<LrSchedule> piecewise_decay(std::vector<std::int64_t> boundaries,
                                            std::vector<double> values);
// Cosine from `lr` down to `eta_min` over `t_max` steps (constant eta_min afterwards).
std::unique_ptr<LrSchedule> cosine_decay(double lr, std::int64_t t_max, double eta_min = 0.0);
// lr * gamma^step.
std::unique_ptr<LrSchedule> exponential_decay(double lr, double gamma);
// Linear from start_lr to end_lr over warmup_steps, then `after` (shifted by warmup_steps).
std::unique_ptr<LrSchedule> linear_warmup(std::unique_ptr<LrSchedule> after,
                                          std::int64_t warmup_steps, double start_lr,
                                          double end_lr);
std::unique_ptr<LrSchedule> constant_lr(double lr);

}  // namespace act
