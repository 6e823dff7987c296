#include <algorithm>
#include <cmath>
#include <limits>

#include "act/kernel/parallel.h"
#include "ops/families.h"
#include "ops/infer_util.h"

namespace act::ops {

namespace {

constexpr std::int64_t kGrain = 32768;

// Per-tensor (scale has one element) or per-axis (scale is 1-D along `axis`) parameters, as
// a [outer, channels, inner] view of x.
struct QuantLayout {
  std::int64_t outer = 1;
  std::int64_t channels = 1;
  std::int64_t inner = 1;
};

QuantLayout quant_layout(const char* op, const Tensor& x, const Tensor& scale, const Tensor* zp,
                         std::int64_t axis_attr) {
  QuantLayout l;
  if (zp != nullptr) {
    ACT_CHECK(zp->shape() == scale.shape(), op, ": zero point ", zp->describe(),
              " does not match scale ", scale.describe());
  }
  if (scale.numel() == 1 && scale.rank() <= 1) {
    l.inner = x.numel();
    return l;
  }
  ACT_CHECK(scale.rank() == 1, op, ": scale must be a scalar or 1-D, got ", scale.describe());
  const std::int64_t axis = normalize_axis(axis_attr, x.rank());
  ACT_CHECK(scale.numel() == x.dim(static_cast<int>(axis)), op, ": ", scale.numel(),
            " scales for axis ", axis, " of ", x.describe());
  for (int i = 0; i < x.rank(); ++i) {
    if (i < axis) l.outer *= x.dim(i);
    if (i > axis) l.inner *= x.dim(i);
  }
  l.channels = scale.numel();
  return l;
}

template <typename Q>
void quantize(KernelContext& ctx, std::int64_t axis) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  ACT_CHECK(scale.dtype() == DType::kF32, "QuantizeLinear: scale must be f32, got ",
            scale.describe());
  const QuantLayout l = quant_layout("QuantizeLinear", x, scale, zp, axis);
  Tensor& y = ctx.allocate(0, DTypeOf<Q>::value, x.shape());
  const float* src = x.data<float>();
  const float* s = scale.data<float>();
  const Q* z = zp != nullptr ? zp->data<Q>() : nullptr;
  Q* dst = y.data<Q>();
  constexpr float lo = std::numeric_limits<Q>::lowest();
  constexpr float hi = std::numeric_limits<Q>::max();
  const std::int64_t rows = l.outer * l.channels;
  parallel_for(rows, std::max<std::int64_t>(1, kGrain / l.inner),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t row = b; row < e; ++row) {
                   const std::int64_t c = row % l.channels;
                   const float sc = s[c];
                   const float zf = z != nullptr ? static_cast<float>(z[c]) : 0.0F;
                   const float* in = src + row * l.inner;
                   Q* out = dst + row * l.inner;
                   // Division (not a reciprocal multiply) so ties land exactly where the reference
                   // puts them; nearbyint rounds half to even in the default rounding mode.
                   for (std::int64_t i = 0; i < l.inner; ++i) {
                     const float v = std::nearbyint(in[i] / sc) + zf;
                     out[i] = static_cast<Q>(std::min(std::max(v, lo), hi));
                   }
                 }
               });
}

template <typename Q>
void dequantize(KernelContext& ctx, std::int64_t axis) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  ACT_CHECK(scale.dtype() == DType::kF32, "DequantizeLinear: scale must be f32, got ",
            scale.describe());
  if (zp != nullptr) {
    ACT_CHECK(zp->dtype() == x.dtype(), "DequantizeLinear: zero point is ", dtype_name(zp->dtype()),
              " but x is ", dtype_name(x.dtype()));
  }
  const QuantLayout l = quant_layout("DequantizeLinear", x, scale, zp, axis);
  Tensor& y = ctx.allocate(0, DType::kF32, x.shape());
  const Q* src = x.data<Q>();
  const float* s = scale.data<float>();
  const Q* z = zp != nullptr ? zp->data<Q>() : nullptr;
  float* dst = y.data<float>();
  const std::int64_t rows = l.outer * l.channels;
  parallel_for(rows, std::max<std::int64_t>(1, kGrain / l.inner),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t row = b; row < e; ++row) {
                   const std::int64_t c = row % l.channels;
                   const float sc = s[c];
                   // int32 inputs (bias) can exceed f32's exact range; subtract in 64-bit first.
                   const std::int64_t zi = z != nullptr ? static_cast<std::int64_t>(z[c]) : 0;
                   const Q* in = src + row * l.inner;
                   float* out = dst + row * l.inner;
                   for (std::int64_t i = 0; i < l.inner; ++i) {
                     out[i] = static_cast<float>(static_cast<std::int64_t>(in[i]) - zi) * sc;
                   }
                 }
               });
}

}  // namespace

void register_quant_cpu(OpRegistry& r) {
  r.add_kernel("QuantizeLinear", "", DeviceKind::kCpu, {DType::kF32}, [](const KernelInit& init) {
    const std::int64_t axis = init.node.attrs.get_int("axis", 1);
    return make_kernel([axis](KernelContext& ctx) {
      // The output type follows the zero point, so dispatch here rather than on x's type.
      const bool to_i8 = ctx.has_input(2) && ctx.input(2).dtype() == DType::kI8;
      if (ctx.has_input(2)) {
        const DType zt = ctx.input(2).dtype();
        ACT_CHECK(zt == DType::kI8 || zt == DType::kU8,
                  "QuantizeLinear: zero point must be u8 or i8, got ", dtype_name(zt));
      }
      if (to_i8) {
        quantize<std::int8_t>(ctx, axis);
      } else {
        quantize<std::uint8_t>(ctx, axis);
      }
    });
  });
  auto add_dq = [&r](DType t, auto tag) {
    using Q = decltype(tag);
    r.add_kernel("DequantizeLinear", "", DeviceKind::kCpu, {t}, [](const KernelInit& init) {
      const std::int64_t axis = init.node.attrs.get_int("axis", 1);
      return make_kernel([axis](KernelContext& ctx) { dequantize<Q>(ctx, axis); });
    });
  };
  add_dq(DType::kI8, std::int8_t{});
  add_dq(DType::kU8, std::uint8_t{});
  add_dq(DType::kI32, std::int32_t{});
}

}  // namespace act::ops
