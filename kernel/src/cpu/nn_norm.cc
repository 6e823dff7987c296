// BatchNormalization, LayerNormalization, InstanceNormalization on f32. Statistics are
// two-pass (mean, then centered squares) for accuracy; rows/planes run in parallel.
#include <cmath>
#include <vector>

#include "act/kernel/parallel.h"
#include "cpu/nn_internal.h"

namespace act::cpu {
namespace {

const float* per_channel(const char* op, const char* what, const KernelContext& ctx, int i,
                         std::int64_t channels) {
  const Tensor& t = ctx.input(i);
  ACT_CHECK(t.dtype() == DType::kF32 && t.numel() == channels && t.rank() <= 1, op, ": ", what,
            " must be f32[", channels, "], got ", t.describe());
  return t.data<float>();
}

// Mean and biased variance of n floats.
std::pair<float, float> moments(const float* x, std::int64_t n) {
  float sum = 0.0F;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = n > 0 ? sum / static_cast<float>(n) : 0.0F;
  float sq = 0.0F;
  for (std::int64_t i = 0; i < n; ++i) sq += (x[i] - mean) * (x[i] - mean);
  return {mean, n > 0 ? sq / static_cast<float>(n) : 0.0F};
}

// y = x * a[c] + b[c] over [batch, channels, plane].
void scale_shift(const float* x, const float* a, const float* b, std::int64_t batch,
                 std::int64_t channels, std::int64_t plane, float* y) {
  parallel_for(batch * channels,
               std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(plane, 1)),
               [&](std::int64_t p0, std::int64_t p1) {
                 for (std::int64_t p = p0; p < p1; ++p) {
                   const float ac = a[p % channels], bc = b[p % channels];
                   const float* __restrict xp = x + p * plane;
                   float* __restrict yp = y + p * plane;
                   for (std::int64_t i = 0; i < plane; ++i) yp[i] = xp[i] * ac + bc;
                 }
               });
}

class BatchNormKernel final : public OpKernel {
 public:
  explicit BatchNormKernel(const KernelInit& init)
      : epsilon_(init.node.attrs.get_float("epsilon", 1e-5F)),
        momentum_(init.node.attrs.get_float("momentum", 0.9F)),
        training_(init.node.attrs.get_int("training_mode", 0) != 0) {}

  void compute(KernelContext& ctx) override {
    const char* op = "BatchNormalization";
    const Tensor& x = ctx.input(0);
    ACT_CHECK(x.rank() >= 2, op, ": input must have rank >= 2 (N, C, ...), got ", x.describe());
    const std::int64_t n = x.dim(0), c = x.dim(1),
                       plane = x.numel() / std::max<std::int64_t>(1, n * c);
    const float* scale = per_channel(op, "scale", ctx, 1, c);
    const float* bias = per_channel(op, "B", ctx, 2, c);
    const float* mean = per_channel(op, "input_mean", ctx, 3, c);
    const float* var = per_channel(op, "input_var", ctx, 4, c);
    ACT_CHECK(training_ || ctx.num_outputs() <= 1, op,
              ": running_mean/running_var outputs need training_mode=1");
    const float* xd = x.data<float>();
    std::vector<float> use_mean(mean, mean + c), use_var(var, var + c);
    if (training_) {
      // Batch statistics over (N, spatial) per channel.
      for (std::int64_t ch = 0; ch < c; ++ch) {
        double sum = 0.0, sq = 0.0;
        for (std::int64_t b = 0; b < n; ++b) {
          const float* p = xd + (b * c + ch) * plane;
          for (std::int64_t i = 0; i < plane; ++i) sum += p[i];
        }
        const double cnt = static_cast<double>(n * plane);
        const double mu = cnt > 0 ? sum / cnt : 0.0;
        for (std::int64_t b = 0; b < n; ++b) {
          const float* p = xd + (b * c + ch) * plane;
          for (std::int64_t i = 0; i < plane; ++i) sq += (p[i] - mu) * (p[i] - mu);
        }
        use_mean[static_cast<std::size_t>(ch)] = static_cast<float>(mu);
        use_var[static_cast<std::size_t>(ch)] = static_cast<float>(cnt > 0 ? sq / cnt : 0.0);
      }
      for (int o = 1; o <= 2 && o < ctx.num_outputs(); ++o) {
        const float* running = o == 1 ? mean : var;
        const auto& current = o == 1 ? use_mean : use_var;
        float* out = ctx.allocate(o, DType::kF32, {c}).data<float>();
        for (std::int64_t ch = 0; ch < c; ++ch) {
          out[ch] =
              running[ch] * momentum_ + current[static_cast<std::size_t>(ch)] * (1.0F - momentum_);
        }
      }
    }
    std::vector<float> a(static_cast<std::size_t>(c)), b(static_cast<std::size_t>(c));
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const auto i = static_cast<std::size_t>(ch);
      a[i] = scale[ch] / std::sqrt(use_var[i] + epsilon_);
      b[i] = bias[ch] - use_mean[i] * a[i];
    }
    Tensor& y = ctx.allocate(0, DType::kF32, x.shape());
    scale_shift(xd, a.data(), b.data(), n, c, plane, y.data<float>());
  }

 private:
  float epsilon_;
  float momentum_;
  bool training_;
};

// Expands `t` (unidirectionally broadcastable to `target`) into a dense buffer of target's size.
std::vector<float> broadcast_to(const char* op, const char* what, const Tensor& t,
                                const Shape& target) {
  ACT_CHECK(t.dtype() == DType::kF32, op, ": ", what, " must be f32, got ", t.describe());
  ACT_CHECK(t.rank() <= static_cast<int>(target.size()), op, ": ", what, " ", t.describe(),
            " does not broadcast to ", shape_to_string(target));
  const std::size_t lead = target.size() - static_cast<std::size_t>(t.rank());
  std::vector<std::int64_t> strides(target.size(), 0);
  std::int64_t acc = 1;
  for (std::size_t i = target.size(); i-- > lead;) {
    const std::int64_t d = t.shape()[i - lead];
    ACT_CHECK(d == target[i] || d == 1, op, ": ", what, " ", t.describe(),
              " does not broadcast to ", shape_to_string(target));
    strides[i] = d == 1 ? 0 : acc;
    acc *= d;
  }
  const std::int64_t total = shape_numel(target);
  std::vector<float> out(static_cast<std::size_t>(total));
  const float* src = t.data<float>();
  for (std::int64_t j = 0; j < total; ++j) {
    std::int64_t rem = j, off = 0;
    for (std::size_t i = target.size(); i-- > 0;) {
      off += (rem % target[i]) * strides[i];
      rem /= target[i];
    }
    out[static_cast<std::size_t>(j)] = src[off];
  }
  return out;
}

class LayerNormKernel final : public OpKernel {
 public:
  explicit LayerNormKernel(const KernelInit& init)
      : axis_(init.node.attrs.get_int("axis", -1)),
        epsilon_(init.node.attrs.get_float("epsilon", 1e-5F)) {}

  void compute(KernelContext& ctx) override {
    const char* op = "LayerNormalization";
    const Tensor& x = ctx.input(0);
    const auto rank = static_cast<std::int64_t>(x.rank());
    ACT_CHECK(axis_ >= -rank && axis_ < rank, op, ": axis ", axis_, " is out of range for ",
              x.describe());
    const std::int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    const Shape inner_shape(x.shape().begin() + axis, x.shape().end());
    const std::int64_t inner = shape_numel(inner_shape);
    const std::int64_t outer = inner > 0 ? x.numel() / inner : 0;
    const std::vector<float> scale = broadcast_to(op, "Scale", ctx.input(1), inner_shape);
    const std::vector<float> bias = ctx.has_input(2)
                                        ? broadcast_to(op, "B", ctx.input(2), inner_shape)
                                        : std::vector<float>(static_cast<std::size_t>(inner), 0.0F);
    Tensor& y = ctx.allocate(0, DType::kF32, x.shape());
    Shape stat_shape(x.shape().begin(), x.shape().begin() + axis);
    stat_shape.resize(static_cast<std::size_t>(rank), 1);
    float* mean_out =
        ctx.num_outputs() > 1 ? ctx.allocate(1, DType::kF32, stat_shape).data<float>() : nullptr;
    float* inv_out =
        ctx.num_outputs() > 2 ? ctx.allocate(2, DType::kF32, stat_shape).data<float>() : nullptr;
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    parallel_for(outer, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(inner, 1)),
                 [&](std::int64_t r0, std::int64_t r1) {
                   for (std::int64_t r = r0; r < r1; ++r) {
                     const float* __restrict xr = xd + r * inner;
                     float* __restrict yr = yd + r * inner;
                     const auto [mean, var] = moments(xr, inner);
                     const float inv = 1.0F / std::sqrt(var + epsilon_);
                     for (std::int64_t i = 0; i < inner; ++i) {
                       yr[i] = (xr[i] - mean) * inv * scale[static_cast<std::size_t>(i)] +
                               bias[static_cast<std::size_t>(i)];
                     }
                     if (mean_out) mean_out[r] = mean;
                     if (inv_out) inv_out[r] = inv;
                   }
                 });
  }

 private:
  std::int64_t axis_;
  float epsilon_;
};

class InstanceNormKernel final : public OpKernel {
 public:
  explicit InstanceNormKernel(const KernelInit& init)
      : epsilon_(init.node.attrs.get_float("epsilon", 1e-5F)) {}

  void compute(KernelContext& ctx) override {
    const char* op = "InstanceNormalization";
    const Tensor& x = ctx.input(0);
    ACT_CHECK(x.rank() >= 3, op, ": input must have rank >= 3 (N, C, spatial...), got ",
              x.describe());
    const std::int64_t n = x.dim(0), c = x.dim(1),
                       plane = x.numel() / std::max<std::int64_t>(1, n * c);
    const float* scale = per_channel(op, "scale", ctx, 1, c);
    const float* bias = per_channel(op, "B", ctx, 2, c);
    Tensor& y = ctx.allocate(0, DType::kF32, x.shape());
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    parallel_for(n * c, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        const float* __restrict xp = xd + p * plane;
        float* __restrict yp = yd + p * plane;
        const auto [mean, var] = moments(xp, plane);
        const float a = scale[p % c] / std::sqrt(var + epsilon_);
        const float b = bias[p % c] - mean * a;
        for (std::int64_t i = 0; i < plane; ++i) yp[i] = xp[i] * a + b;
      }
    });
  }

 private:
  float epsilon_;
};

template <typename K>
KernelFactory factory() {
  return [](const KernelInit& init) { return std::make_unique<K>(init); };
}

}  // namespace

void register_norm_cpu(OpRegistry& r) {
  r.add_kernel("BatchNormalization", "", DeviceKind::kCpu, {DType::kF32},
               factory<BatchNormKernel>());
  r.add_kernel("LayerNormalization", "", DeviceKind::kCpu, {DType::kF32},
               factory<LayerNormKernel>());
  r.add_kernel("InstanceNormalization", "", DeviceKind::kCpu, {DType::kF32},
               factory<InstanceNormKernel>());
}

}  // namespace act::cpu
