#include "act/kernel/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "act/kernel/error.h"
#include "act/kernel/parallel.h"

namespace act {

namespace {
constexpr std::int64_t kGrain = 32768;  // floats per task: below this a wake-up costs more
}  // namespace

Optimizer::Optimizer(OptimizerConfig config) : config_(config) {
  ACT_CHECK(config_.weight_decay >= 0.0, "optimizer: weight_decay must be >= 0, got ",
            config_.weight_decay);
}

Tensor& Optimizer::slot(const std::string& param, const char* which, const Shape& shape) {
  const std::string key = param + "/" + which;
  auto it = state_.find(key);
  if (it == state_.end() || it->second.shape() != shape) {
    Tensor t(DType::kF32, shape);
    std::fill(t.data<float>(), t.data<float>() + t.numel(), 0.0F);
    it = state_.insert_or_assign(key, t).first;
  }
  return it->second;
}

void Optimizer::step(std::vector<ParamGrad>& params, double lr) {
  const auto& c = config_;
  ++steps_;
  // Adam's bias corrections use the 1-based step count.
  const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(steps_));
  const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(steps_));
  for (auto& pg : params) {
    ACT_CHECK(pg.param.dtype() == DType::kF32, "optimizer: parameter '", pg.name, "' is ",
              dtype_name(pg.param.dtype()), ", only f32 parameters are trained");
    ACT_CHECK(
        pg.grad.defined() && pg.grad.dtype() == DType::kF32 && pg.grad.shape() == pg.param.shape(),
        "optimizer: gradient of '", pg.name, "' is ",
        pg.grad.defined() ? pg.grad.describe() : std::string("missing"), ", expected ",
        pg.param.describe());
    float* pd = pg.param.data<float>();
    const float* gd = std::as_const(pg.grad).data<float>();
    const std::int64_t n = pg.param.numel();
    const auto flr = static_cast<float>(lr);
    const auto wd = static_cast<float>(c.weight_decay);
    // Element-wise, so chunks of a parameter go to the pool (the largest ResNet-18 weights are
    // 2.4 M floats; the update streams three or four such arrays).
    switch (c.kind) {
      case OptimizerConfig::Kind::kSgd:
        parallel_for(n, kGrain, [pd, gd, flr, wd](std::int64_t i0, std::int64_t i1) {
          float* __restrict p = pd;
          const float* __restrict g = gd;
          for (std::int64_t i = i0; i < i1; ++i) p[i] -= flr * (g[i] + wd * p[i]);
        });
        break;
      case OptimizerConfig::Kind::kMomentum: {
        float* vd = slot(pg.name, "velocity", pg.param.shape()).data<float>();
        const auto mu = static_cast<float>(c.momentum);
        const bool nesterov = c.nesterov;
        parallel_for(n, kGrain, [=](std::int64_t i0, std::int64_t i1) {
          float* __restrict p = pd;
          float* __restrict v = vd;
          const float* __restrict g = gd;
          for (std::int64_t i = i0; i < i1; ++i) {
            const float gi = g[i] + wd * p[i];
            v[i] = mu * v[i] + gi;
            p[i] -= flr * (nesterov ? gi + mu * v[i] : v[i]);
          }
        });
        break;
      }
      case OptimizerConfig::Kind::kAdam:
      case OptimizerConfig::Kind::kAdamW: {
        float* md = slot(pg.name, "m", pg.param.shape()).data<float>();
        float* vd = slot(pg.name, "v", pg.param.shape()).data<float>();
        const bool decoupled = c.kind == OptimizerConfig::Kind::kAdamW;
        const auto b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
        const auto eps = static_cast<float>(c.epsilon);
        const auto c1 = static_cast<float>(bc1), c2 = static_cast<float>(bc2);
        parallel_for(n, kGrain, [=](std::int64_t i0, std::int64_t i1) {
          float* __restrict p = pd;
          float* __restrict m = md;
          float* __restrict v = vd;
          const float* __restrict g = gd;
          for (std::int64_t i = i0; i < i1; ++i) {
            if (decoupled) p[i] *= 1.0F - flr * wd;
            const float gi = decoupled ? g[i] : g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1.0F - b1) * gi;
            v[i] = b2 * v[i] + (1.0F - b2) * gi * gi;
            p[i] -= flr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
          }
        });
        break;
      }
    }
  }
}

std::map<std::string, Tensor> Optimizer::state() const {
  std::map<std::string, Tensor> out;
  for (const auto& [k, t] : state_) out[k] = t.clone();
  return out;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& state, std::int64_t steps) {
  state_.clear();
  for (const auto& [k, t] : state) state_[k] = t.clone();
  steps_ = steps;
}

double clip_by_global_norm(std::vector<ParamGrad>& params, double max_norm) {
  double sq = 0.0;
  for (const auto& pg : params) {
    const float* g = std::as_const(pg.grad).data<float>();
    for (std::int64_t i = 0; i < pg.grad.numel(); ++i) sq += static_cast<double>(g[i]) * g[i];
  }
  const double norm = std::sqrt(sq);
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  const auto scale = static_cast<float>(max_norm / norm);
  for (auto& pg : params) {
    float* g = pg.grad.data<float>();
    for (std::int64_t i = 0; i < pg.grad.numel(); ++i) g[i] *= scale;
  }
  return norm;
}

namespace {

class Piecewise final : public LrSchedule {
 public:
  Piecewise(std::vector<std::int64_t> b, std::vector<double> v)
      : boundaries_(std::move(b)), values_(std::move(v)) {
    ACT_CHECK(values_.size() == boundaries_.size() + 1, "PiecewiseDecay: ", values_.size(),
              " values need ", values_.size() - 1, " boundaries, got ", boundaries_.size());
    ACT_CHECK(std::is_sorted(boundaries_.begin(), boundaries_.end()),
              "PiecewiseDecay: boundaries must be increasing");
  }
  double at(std::int64_t step) const override {
    const auto it = std::upper_bound(boundaries_.begin(), boundaries_.end(), step);
    return values_[static_cast<std::size_t>(it - boundaries_.begin())];
  }

 private:
  std::vector<std::int64_t> boundaries_;
  std::vector<double> values_;
};

class Cosine final : public LrSchedule {
 public:
  Cosine(double lr, std::int64_t t_max, double eta_min)
      : lr_(lr), t_max_(t_max), eta_min_(eta_min) {
    ACT_CHECK(t_max > 0, "CosineAnnealingDecay: T_max must be positive, got ", t_max);
  }
  double at(std::int64_t step) const override {
    const double t = static_cast<double>(std::min(step, t_max_)) / static_cast<double>(t_max_);
    return eta_min_ + (lr_ - eta_min_) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
  }

 private:
  double lr_;
  std::int64_t t_max_;
  double eta_min_;
};

class Exponential final : public LrSchedule {
 public:
  Exponential(double lr, double gamma) : lr_(lr), gamma_(gamma) {}
  double at(std::int64_t step) const override {
    return lr_ * std::pow(gamma_, static_cast<double>(step));
  }

 private:
  double lr_, gamma_;
};

class Warmup final : public LrSchedule {
 public:
  Warmup(std::unique_ptr<LrSchedule> after, std::int64_t steps, double start, double end)
      : after_(std::move(after)), steps_(steps), start_(start), end_(end) {
    ACT_CHECK(steps >= 0, "LinearWarmup: warmup_steps must be >= 0, got ", steps);
  }
  double at(std::int64_t step) const override {
    if (step < steps_) {
      return start_ + (end_ - start_) * static_cast<double>(step) / static_cast<double>(steps_);
    }
    return after_ ? after_->at(step - steps_) : end_;
  }

 private:
  std::unique_ptr<LrSchedule> after_;
  std::int64_t steps_;
  double start_, end_;
};

class Constant final : public LrSchedule {
 public:
  explicit Constant(double lr) : lr_(lr) {}
  double at(std::int64_t) const override { return lr_; }

 private:
  double lr_;
};

}  // namespace

std::unique_ptr<LrSchedule> piecewise_decay(std::vector<std::int64_t> boundaries,
                                            std::vector<double> values) {
  return std::make_unique<Piecewise>(std::move(boundaries), std::move(values));
}
std::unique_ptr<LrSchedule> cosine_decay(double lr, std::int64_t t_max, double eta_min) {
  return std::make_unique<Cosine>(lr, t_max, eta_min);
}
std::unique_ptr<LrSchedule> exponential_decay(double lr, double gamma) {
  return std::make_unique<Exponential>(lr, gamma);
}
std::unique_ptr<LrSchedule> linear_warmup(std::unique_ptr<LrSchedule> after,
                                          std::int64_t warmup_steps, double start_lr,
                                          double end_lr) {
  return std::make_unique<Warmup>(std::move(after), warmup_steps, start_lr, end_lr);
}
std::unique_ptr<LrSchedule> constant_lr(double lr) {
  return std::make_unique<Constant>(lr);
}

}  // namespace act
