// BatchNormalization (both modes) and its training-mode gradient, LayerNormalization,
// InstanceNormalization on f32. Statistics are two-pass (mean, then centered squares) for
// accuracy, except in BatchNormalization's gradient, which takes one pass of sums shifted by an
// estimate of the mean. Rows/planes/channels run in parallel.
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <utility>
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

// Sum of n floats in 32 independent lanes: vectorizes without -ffast-math, and each lane
// adds at most n / 8 terms, so float is accurate enough for one plane (callers add planes in
// double). Four vector chains rather than one: a single chain waits on the add latency, and
// these sums made BatchNormalization's training pass a third slower (benchmarks.md (e)).
float lane_sum(const float* __restrict x, std::int64_t n) {
  float acc[32] = {};
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 32; ++k) acc[k] += x[i + k];
  }
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += x[i + k];
  }
  float s = 0.0F;
  for (; i < n; ++i) s += x[i];
  for (float a : acc) s += a;
  return s;
}

// One plane's sums for BatchNormalization's gradient in a single pass, x shifted by `shift`
// (a value near the channel's mean, so the squares lose nothing to cancellation): sum(x - s),
// sum((x - s)^2), sum(g) and sum(g * (x - s)), where g is dy, or dy masked to where relu_out > 0
// when relu_out is not null. Vector lanes with AVX-512, a plain loop otherwise.
struct ShiftedSums {
  float x = 0, xx = 0, dy = 0, dyx = 0;
};
ShiftedSums shifted_grad_sums(const float* __restrict x, const float* __restrict dy,
                              const float* __restrict relu_out, float shift, std::int64_t n) {
  ShiftedSums r;
  std::int64_t i = 0;
#if defined(__AVX512F__)
  // Explicit vectors: GCC's vectorization of the lane arrays below keeps the sums in memory,
  // and this pass then ran no faster than the two it replaces.
  const __m512 s = _mm512_set1_ps(shift);
  __m512 ax = _mm512_setzero_ps(), axx = ax, ad = ax, adx = ax;
  for (; i + 16 <= n; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), s);
    __m512 g = _mm512_loadu_ps(dy + i);
    if (relu_out != nullptr) {
      const __mmask16 on =
          _mm512_cmp_ps_mask(_mm512_loadu_ps(relu_out + i), _mm512_setzero_ps(), _CMP_GT_OQ);
      g = _mm512_maskz_mov_ps(on, g);
    }
    ax = _mm512_add_ps(ax, d);
    axx = _mm512_fmadd_ps(d, d, axx);
    ad = _mm512_add_ps(ad, g);
    adx = _mm512_fmadd_ps(g, d, adx);
  }
  alignas(64) float lanes[4][16];
  _mm512_store_ps(lanes[0], ax);
  _mm512_store_ps(lanes[1], axx);
  _mm512_store_ps(lanes[2], ad);
  _mm512_store_ps(lanes[3], adx);
#else
  float lanes[4][16] = {};
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) {
      const float d = x[i + k] - shift;
      const float g = relu_out == nullptr || relu_out[i + k] > 0.0F ? dy[i + k] : 0.0F;
      lanes[0][k] += d;
      lanes[1][k] += d * d;
      lanes[2][k] += g;
      lanes[3][k] += g * d;
    }
  }
#endif
  for (int k = 0; k < 16; ++k) {
    r.x += lanes[0][k];
    r.xx += lanes[1][k];
    r.dy += lanes[2][k];
    r.dyx += lanes[3][k];
  }
  for (; i < n; ++i) {
    const float d = x[i] - shift;
    r.x += d;
    r.xx += d * d;
    const float g = relu_out == nullptr || relu_out[i] > 0.0F ? dy[i] : 0.0F;
    r.dy += g;
    r.dyx += g * d;
  }
  return r;
}

// Sum of (x - m)^2, 16 lanes (two chains).
float centered_squares(const float* __restrict x, float m, std::int64_t n) {
  float sq[16] = {};
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) {
      const float d = x[i + k] - m;
      sq[k] += d * d;
    }
  }
  float s = 0.0F;
  for (; i < n; ++i) s += (x[i] - m) * (x[i] - m);
  for (int k = 0; k < 16; ++k) s += sq[k];
  return s;
}

// Batch statistics of channel `ch` of x[batch, channels, plane]: mean and biased variance, two
// passes (the channel's data is in L2 for the second). A one-pass version on shifted sums (as
// the gradient uses) measured slower here: 18 -> 20-23 ms for ResNet-18's twenty layers.
struct ChannelMoments {
  double mean = 0.0, var = 0.0;
};
ChannelMoments channel_moments(const float* x, std::int64_t batch, std::int64_t channels,
                               std::int64_t plane, std::int64_t ch) {
  ChannelMoments r;
  const double count = static_cast<double>(batch * plane);
  if (count == 0) return r;
  double sum = 0.0;
  for (std::int64_t b = 0; b < batch; ++b) sum += lane_sum(x + (b * channels + ch) * plane, plane);
  r.mean = sum / count;
  double sq = 0.0;
  for (std::int64_t b = 0; b < batch; ++b) {
    sq += centered_squares(x + (b * channels + ch) * plane, static_cast<float>(r.mean), plane);
  }
  r.var = sq / count;
  return r;
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
    Tensor& y = ctx.allocate(0, DType::kF32, x.shape());
    float* yd = y.data<float>();
    if (!training_) {
      std::vector<float> a(static_cast<std::size_t>(c)), b(static_cast<std::size_t>(c));
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const auto i = static_cast<std::size_t>(ch);
        a[i] = scale[ch] / std::sqrt(var[ch] + epsilon_);
        b[i] = bias[ch] - mean[ch] * a[i];
      }
      scale_shift(xd, a.data(), b.data(), n, c, plane, yd);
      return;
    }
    // Training: each channel's statistics and its normalized output in one task, while the
    // channel's planes are in cache.
    float* run_mean =
        ctx.num_outputs() > 1 ? ctx.allocate(1, DType::kF32, {c}).data<float>() : nullptr;
    float* run_var =
        ctx.num_outputs() > 2 ? ctx.allocate(2, DType::kF32, {c}).data<float>() : nullptr;
    parallel_for(c, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(n * plane, 1)),
                 [&](std::int64_t c0, std::int64_t c1) {
                   for (std::int64_t ch = c0; ch < c1; ++ch) {
                     const ChannelMoments m = channel_moments(xd, n, c, plane, ch);
                     const auto bm = static_cast<float>(m.mean), bv = static_cast<float>(m.var);
                     if (run_mean) run_mean[ch] = mean[ch] * momentum_ + bm * (1.0F - momentum_);
                     if (run_var) run_var[ch] = var[ch] * momentum_ + bv * (1.0F - momentum_);
                     const float a = scale[ch] / std::sqrt(bv + epsilon_);
                     const float b = bias[ch] - bm * a;
                     for (std::int64_t i = 0; i < n; ++i) {
                       const float* __restrict xp = xd + (i * c + ch) * plane;
                       float* __restrict yp = yd + (i * c + ch) * plane;
                       for (std::int64_t k = 0; k < plane; ++k) yp[k] = xp[k] * a + b;
                     }
                   }
                 });
  }

 private:
  float epsilon_;
  float momentum_;
  bool training_;
};

// BatchNormTrainingGrad(dY, X, scale) -> dX, dScale, dB (domain "act"): the gradient of
// training-mode BatchNormalization through its batch statistics. With xhat = (x - mean) *
// invstd over count = batch * plane values per channel:
//   dB = sum(dy), dScale = sum(dy * xhat),
//   dX = scale * invstd * (dy - dB / count - xhat * dScale / count).
// The statistics are recomputed from X (ONNX's training-mode node has no outputs to keep them
// in), in the same pass as the gradient's sums: sums of x - s, its square, dy and dy * (x - s)
// with s the first image's plane mean, a shift close enough to the channel mean that the
// variance loses nothing to cancellation. So one pass over a channel gathers everything and
// a second (its data now in L2) writes dX; four passes and a masked copy before (45 ->
// 24-34 ms per step for ResNet-18's twenty of them, train_bench --profile 1). With a fourth input R
// (the output of a Relu that alone reads the BatchNorm's output; the fusion in
// grad/fuse_backward.cc), dY is masked to where R > 0 in both passes: Relu's gradient folded in,
// never written to memory.
class BatchNormTrainingGradKernel final : public OpKernel {
 public:
  explicit BatchNormTrainingGradKernel(const KernelInit& init)
      : epsilon_(init.node.attrs.get_float("epsilon", 1e-5F)) {}

  void compute(KernelContext& ctx) override {
    const char* op = "BatchNormTrainingGrad";
    const Tensor& dy = ctx.input(0);
    const Tensor& x = ctx.input(1);
    ACT_CHECK(x.rank() >= 2 && dy.shape() == x.shape() && dy.dtype() == DType::kF32, op,
              ": gradient ", dy.describe(), " and input ", x.describe(), " differ");
    const std::int64_t n = x.dim(0), c = x.dim(1),
                       plane = x.numel() / std::max<std::int64_t>(1, n * c);
    const float* scale = per_channel(op, "scale", ctx, 2, c);
    float* dx = ctx.allocate(0, DType::kF32, x.shape()).data<float>();
    float* dscale =
        ctx.num_outputs() > 1 ? ctx.allocate(1, DType::kF32, {c}).data<float>() : nullptr;
    float* dbias =
        ctx.num_outputs() > 2 ? ctx.allocate(2, DType::kF32, {c}).data<float>() : nullptr;
    const float* xd = x.data<float>();
    const float* g = dy.data<float>();
    const float* relu_out = nullptr;
    if (ctx.has_input(3)) {
      const Tensor& r = ctx.input(3);
      ACT_CHECK(r.shape() == x.shape() && r.dtype() == DType::kF32, op, ": Relu output ",
                r.describe(), " and input ", x.describe(), " differ");
      relu_out = r.data<float>();
    }
    const double count = static_cast<double>(n * plane);
    parallel_for(c, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(n * plane, 1)),
                 [&](std::int64_t c0, std::int64_t c1) {
                   for (std::int64_t ch = c0; ch < c1; ++ch) {
                     if (count == 0) {
                       if (dbias) dbias[ch] = 0.0F;
                       if (dscale) dscale[ch] = 0.0F;
                       continue;
                     }
                     // The first image's plane mean as the shift: one plane, 1/n of a pass.
                     const float shift =
                         lane_sum(xd + ch * plane, plane) / static_cast<float>(plane);
                     double sx = 0, sxx = 0, sd = 0, sdx = 0;
                     for (std::int64_t i = 0; i < n; ++i) {
                       const std::int64_t off = (i * c + ch) * plane;
                       const ShiftedSums p = shifted_grad_sums(
                           xd + off, g + off, relu_out ? relu_out + off : nullptr, shift, plane);
                       sx += p.x;
                       sxx += p.xx;
                       sd += p.dy;
                       sdx += p.dyx;
                     }
                     const double dmean = sx / count;  // mean - shift
                     const double mean = shift + dmean;
                     const double var = std::max(0.0, sxx / count - dmean * dmean);
                     const double sum_dy_xc = sdx - dmean * sd;
                     const double invstd = 1.0 / std::sqrt(var + epsilon_);
                     if (dbias) dbias[ch] = static_cast<float>(sd);
                     if (dscale) dscale[ch] = static_cast<float>(sum_dy_xc * invstd);
                     // dX = k1 * dy + k2 * x + k0, the affine form of the formula above.
                     const double k1 = scale[ch] * invstd;
                     const double k2 = -k1 * invstd * invstd * sum_dy_xc / count;
                     const double k0 = -k1 * sd / count - k2 * mean;
                     const auto f1 = static_cast<float>(k1), f2 = static_cast<float>(k2),
                                f0 = static_cast<float>(k0);
                     for (std::int64_t i = 0; i < n; ++i) {
                       const std::int64_t off = (i * c + ch) * plane;
                       const float* __restrict gp = g + off;
                       const float* __restrict xp = xd + off;
                       float* __restrict dp = dx + off;
                       if (relu_out == nullptr) {
                         for (std::int64_t k = 0; k < plane; ++k)
                           dp[k] = f1 * gp[k] + f2 * xp[k] + f0;
                       } else {
                         const float* __restrict rp = relu_out + off;
                         for (std::int64_t k = 0; k < plane; ++k)
                           dp[k] = f1 * (rp[k] > 0.0F ? gp[k] : 0.0F) + f2 * xp[k] + f0;
                       }
                     }
                   }
                 });
  }

 private:
  float epsilon_;
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
  r.add_kernel("BatchNormTrainingGrad", "act", DeviceKind::kCpu, {DType::kF32},
               factory<BatchNormTrainingGradKernel>());
  r.add_kernel("LayerNormalization", "", DeviceKind::kCpu, {DType::kF32},
               factory<LayerNormKernel>());
  r.add_kernel("InstanceNormalization", "", DeviceKind::kCpu, {DType::kF32},
               factory<InstanceNormKernel>());
}

}  // namespace act::cpu
