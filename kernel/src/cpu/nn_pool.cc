// MaxPool (f32, u8, i8), AveragePool and the global pools (f32). Windows run as 3-D; each
// (n, c) plane is independent and planes run in parallel. The inner loops walk output columns
// over precomputed valid ranges so they stay branch-free and vectorize.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "act/kernel/parallel.h"
#include "cpu/avx512_lanes.h"
#include "cpu/nn_geometry.h"
#include "cpu/nn_internal.h"

namespace act::cpu {
namespace {

using G = WindowGeometry;

struct PoolSetup {
  G geom;  // as given (for the output shape)
  G g;     // as 3-D
  std::int64_t planes = 0, in_plane = 0, out_plane = 0;
  Shape out_shape;
};

PoolSetup setup(const char* op, const Attributes& attrs, const Tensor& x) {
  ACT_CHECK(x.rank() >= 3, op, ": input must have rank >= 3 (N, C, spatial...), got ",
            x.describe());
  const auto& kernel = attrs.get_ints("kernel_shape");
  std::vector<std::int64_t> in(x.shape().begin() + 2, x.shape().end());
  PoolSetup s;
  s.geom = resolve_window(op, attrs, in, kernel, true);
  s.g = as_3d(op, s.geom);
  s.planes = x.dim(0) * x.dim(1);
  s.in_plane = s.g.in[0] * s.g.in[1] * s.g.in[2];
  s.out_plane = s.g.out[0] * s.g.out[1] * s.g.out[2];
  s.out_shape = {x.dim(0), x.dim(1)};
  s.out_shape.insert(s.out_shape.end(), s.geom.out.begin(), s.geom.out.end());
  return s;
}

std::vector<std::pair<std::int64_t, std::int64_t>> column_ranges(const G& g) {
  std::vector<std::pair<std::int64_t, std::int64_t>> r(static_cast<std::size_t>(g.kernel[2]));
  for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
    r[static_cast<std::size_t>(kw)] =
        valid_range(kw * g.dilation[2] - g.pad_begin[2], g.stride[2], g.in[2], g.out[2]);
  }
  return r;
}

// yr[ow] = max(yr[ow], src[2 * ow]) for ow in [lo, hi): the stride-2 tap of a max pool row.
// The strided reads kept the compiler's loop scalar (ResNet-18's 3x3 stride-2 max pool took
// 0.66 ms); with AVX-512 32 contiguous floats are loaded and their even lanes picked by one
// permute, masked at the row's end so nothing past src[2 * (hi - 1)] is read.
template <typename T>
void max_stride2(T* __restrict yr, const T* __restrict src, std::int64_t lo, std::int64_t hi) {
  std::int64_t ow = lo;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    for (; ow < hi; ow += 16) {
      const std::int64_t count = std::min<std::int64_t>(16, hi - ow);
      const __mmask16 out = lanes_inside(0, count);
      const __m512 cur = _mm512_maskz_loadu_ps(out, yr + ow);
      const __m512 picked = stride2_pick(src + 2 * ow, count);
      _mm512_mask_storeu_ps(yr + ow, out, _mm512_mask_max_ps(cur, out, cur, picked));
    }
    return;
  }
#endif
  for (; ow < hi; ++ow) yr[ow] = std::max(yr[ow], src[ow * 2]);
}

#if defined(__AVX512F__)
// The 3x3 stride-2 max pool of a 2-D float plane (ResNet's stem pool) with every output vector
// kept in registers: per block of 16 outputs, each of the three input rows is two (four)
// masked loads whose padding lanes read -inf, and the even, odd and next-even columns are
// picked by permutes. Rows in the padding read a row of -inf, so the loop has no branches.
// The row-by-row path above passed over each output row nine times (a load, a max and a
// store per tap): 0.48 ms for ResNet-18's 64-channel 112x112 pool against ONNX Runtime's
// 0.12 ms at one thread.
bool max_3x3_s2_applicable(const G& g) {
  return g.in[0] == 1 && g.out[0] == 1 && g.kernel[0] == 1 && g.kernel[1] == 3 &&
         g.kernel[2] == 3 && g.stride[1] == 2 && g.stride[2] == 2 && g.dilation[1] == 1 &&
         g.dilation[2] == 1;
}

void max_3x3_s2_plane(const G& g, const float* xp, const float* lowest_row, float* yp) {
  const std::int64_t ih_n = g.in[1], iw_n = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t pt = g.pad_begin[1], pl = g.pad_begin[2];
  const __m512 lowest = _mm512_set1_ps(std::numeric_limits<float>::lowest());
  for (std::int64_t oh = 0; oh < oh_n; ++oh) {
    const float* r[3];
    for (int kh = 0; kh < 3; ++kh) r[kh] = row_or(xp, 2 * oh - pt + kh, ih_n, iw_n, lowest_row);
    for (std::int64_t ow = 0; ow < ow_n; ow += 16) {
      const std::int64_t start = 2 * ow - pl;
      const __mmask16 m[4] = {lanes_inside(start, iw_n), lanes_inside(start + 16, iw_n),
                              lanes_inside(start + 2, iw_n), lanes_inside(start + 18, iw_n)};
      __m512 acc = lowest;
      for (int kh = 0; kh < 3; ++kh) {
        __m512 t[3];
        stride2_taps3(r[kh] + start, m, lowest, t);
        for (int kw = 0; kw < 3; ++kw) acc = _mm512_mask_max_ps(acc, 0xFFFF, acc, t[kw]);
      }
      _mm512_mask_storeu_ps(yp + oh * ow_n + ow, lanes_inside(ow, ow_n), acc);
    }
  }
}
#endif

// Calls body(output_row, input_row, kw ranges) for every valid (kd, kh) tap of every output
// row of one plane; `init(row)` runs first on each output row, `finish(row, od, oh)` after.
template <typename T, typename Init, typename Body, typename Finish>
void for_each_row(const G& g, const T* xp, T* yp, Init init, Body body, Finish finish) {
  for (std::int64_t od = 0; od < g.out[0]; ++od) {
    for (std::int64_t oh = 0; oh < g.out[1]; ++oh) {
      T* yr = yp + (od * g.out[1] + oh) * g.out[2];
      init(yr);
      for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd) {
        const std::int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
        if (id < 0 || id >= g.in[0]) continue;
        for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh) {
          const std::int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
          if (ih < 0 || ih >= g.in[1]) continue;
          body(yr, xp + (id * g.in[1] + ih) * g.in[2]);
        }
      }
      finish(yr, od, oh);
    }
  }
}

template <typename T>
class MaxPoolKernel final : public OpKernel {
 public:
  explicit MaxPoolKernel(const KernelInit& init)
      : attrs_(init.node.attrs), storage_order_(attrs_.get_int("storage_order", 0)) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const PoolSetup s = setup("MaxPool", attrs_, x);
    const G& g = s.g;
    Tensor& y = ctx.allocate(0, x.dtype(), s.out_shape);
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    if (ctx.num_outputs() > 1) {
      with_indices(s, xd, yd, ctx.allocate(1, DType::kI64, s.out_shape).data<std::int64_t>());
      return;
    }
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      if (max_3x3_s2_applicable(g)) {
        // Padding rows read from here; loads touch only the lanes inside [0, iw) of a row.
        const std::vector<float> lowest_row(static_cast<std::size_t>(g.in[2]),
                                            std::numeric_limits<float>::lowest());
        parallel_for(s.planes, 1, [&](std::int64_t p0, std::int64_t p1) {
          for (std::int64_t p = p0; p < p1; ++p) {
            max_3x3_s2_plane(g, xd + p * s.in_plane, lowest_row.data(), yd + p * s.out_plane);
          }
        });
        return;
      }
    }
#endif
    const auto ranges = column_ranges(g);
    const std::int64_t sw = g.stride[2];
    const std::int64_t ow_n = g.out[2];
    parallel_for(s.planes, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        for_each_row<T>(
            g, xd + p * s.in_plane, yd + p * s.out_plane,
            [&](T* yr) { std::fill(yr, yr + ow_n, std::numeric_limits<T>::lowest()); },
            [&](T* __restrict yr, const T* xr) {
              for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                const T* __restrict src = xr + kw * g.dilation[2] - g.pad_begin[2];
                const auto [lo, hi] = ranges[static_cast<std::size_t>(kw)];
                if (sw == 1) {
                  for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] = std::max(yr[ow], src[ow]);
                } else if (sw == 2) {
                  max_stride2(yr, src, lo, hi);
                } else {
                  for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] = std::max(yr[ow], src[ow * sw]);
                }
              }
            },
            [](T*, std::int64_t, std::int64_t) {});
      }
    });
  }

 private:
  // Indices are flat over the whole input (N, C, spatial); storage_order 1 numbers the spatial
  // axes column-major, as ONNX specifies.
  void with_indices(const PoolSetup& s, const T* xd, T* yd, std::int64_t* idx) const {
    const G& g = s.g;
    parallel_for(s.planes, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        const T* xp = xd + p * s.in_plane;
        std::int64_t o = p * s.out_plane;
        for (std::int64_t od = 0; od < g.out[0]; ++od) {
          for (std::int64_t oh = 0; oh < g.out[1]; ++oh) {
            for (std::int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
              T best = std::numeric_limits<T>::lowest();
              std::int64_t where = -1;
              for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                const std::int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
                if (id < 0 || id >= g.in[0]) continue;
                for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                  const std::int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
                  if (ih < 0 || ih >= g.in[1]) continue;
                  for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                    const std::int64_t iw = ow * g.stride[2] + kw * g.dilation[2] - g.pad_begin[2];
                    if (iw < 0 || iw >= g.in[2]) continue;
                    const T v = xp[(id * g.in[1] + ih) * g.in[2] + iw];
                    if (where < 0 || v > best) {
                      best = v;
                      where = storage_order_ == 0 ? (id * g.in[1] + ih) * g.in[2] + iw
                                                  : id + ih * g.in[0] + iw * g.in[0] * g.in[1];
                    }
                  }
                }
              }
              yd[o] = best;
              idx[o] = where < 0 ? -1 : p * s.in_plane + where;
            }
          }
        }
      }
    });
  }

  Attributes attrs_;
  std::int64_t storage_order_;
};

// Taps per output position along one axis that count toward the average.
std::vector<float> tap_counts(const G& g, int axis, bool include_pad) {
  const auto a = static_cast<std::size_t>(axis);
  std::vector<float> counts(static_cast<std::size_t>(g.out[a]));
  const std::int64_t lo = include_pad ? -g.pad_begin[a] : 0;
  const std::int64_t hi = include_pad ? g.in[a] + g.pad_end[a] : g.in[a];
  for (std::int64_t o = 0; o < g.out[a]; ++o) {
    std::int64_t n = 0;
    for (std::int64_t k = 0; k < g.kernel[a]; ++k) {
      const std::int64_t pos = o * g.stride[a] + k * g.dilation[a] - g.pad_begin[a];
      n += pos >= lo && pos < hi;
    }
    counts[static_cast<std::size_t>(o)] = static_cast<float>(n);
  }
  return counts;
}

class AveragePoolKernel final : public OpKernel {
 public:
  explicit AveragePoolKernel(const KernelInit& init)
      : attrs_(init.node.attrs), include_pad_(attrs_.get_int("count_include_pad", 0) != 0) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const PoolSetup s = setup("AveragePool", attrs_, x);
    const G& g = s.g;
    Tensor& y = ctx.allocate(0, DType::kF32, s.out_shape);
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const auto ranges = column_ranges(g);
    // The window is a box, so its tap count is the product of per-axis counts.
    const auto cd = tap_counts(g, 0, include_pad_), ch = tap_counts(g, 1, include_pad_),
               cw = tap_counts(g, 2, include_pad_);
    const std::int64_t sw = g.stride[2];
    const std::int64_t ow_n = g.out[2];
    parallel_for(s.planes, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        for_each_row<float>(
            g, xd + p * s.in_plane, yd + p * s.out_plane,
            [&](float* yr) { std::fill(yr, yr + ow_n, 0.0F); },
            [&](float* __restrict yr, const float* xr) {
              for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                const float* __restrict src = xr + kw * g.dilation[2] - g.pad_begin[2];
                const auto [lo, hi] = ranges[static_cast<std::size_t>(kw)];
                if (sw == 1) {
                  for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] += src[ow];
                } else {
                  for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] += src[ow * sw];
                }
              }
            },
            [&](float* __restrict yr, std::int64_t od, std::int64_t oh) {
              const float dh = cd[static_cast<std::size_t>(od)] * ch[static_cast<std::size_t>(oh)];
              for (std::int64_t ow = 0; ow < ow_n; ++ow) {
                const float n = dh * cw[static_cast<std::size_t>(ow)];
                yr[ow] = n > 0.0F ? yr[ow] / n : 0.0F;
              }
            });
      }
    });
  }

 private:
  Attributes attrs_;
  bool include_pad_;
};

template <bool kMax>
void global_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ACT_CHECK(x.rank() >= 3, kMax ? "GlobalMaxPool" : "GlobalAveragePool",
            ": input must have rank >= 3 (N, C, spatial...), got ", x.describe());
  Shape out = x.shape();
  for (std::size_t i = 2; i < out.size(); ++i) out[i] = 1;
  Tensor& y = ctx.allocate(0, DType::kF32, out);
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t plane = planes > 0 ? x.numel() / planes : 0;
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  parallel_for(planes, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(plane, 1)),
               [&](std::int64_t p0, std::int64_t p1) {
                 for (std::int64_t p = p0; p < p1; ++p) {
                   const float* xp = xd + p * plane;
                   if constexpr (kMax) {
                     float m = -std::numeric_limits<float>::infinity();
                     for (std::int64_t i = 0; i < plane; ++i) m = std::max(m, xp[i]);
                     yd[p] = m;
                   } else {
                     float sum = 0.0F;
                     for (std::int64_t i = 0; i < plane; ++i) sum += xp[i];
                     yd[p] = plane > 0 ? sum / static_cast<float>(plane) : 0.0F;
                   }
                 }
               });
}

// MaxPoolGrad (domain "act"): inputs (dY, X), attributes as the forward MaxPool. Each output
// gradient goes to the first maximum of its window, as the forward pass picks it.
void max_pool_grad(KernelContext& ctx, const Attributes& attrs) {
  const Tensor& dy = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const PoolSetup s = setup("MaxPoolGrad", attrs, x);
  ACT_CHECK(dy.shape() == s.out_shape, "MaxPoolGrad: gradient ", dy.describe(),
            " does not match the pooled shape ", shape_to_string(s.out_shape));
  Tensor& dx = ctx.allocate(0, DType::kF32, x.shape());
  float* dxd = dx.data<float>();
  std::fill(dxd, dxd + dx.numel(), 0.0F);
  const G& g = s.g;
  const float* xd = x.data<float>();
  const float* dyd = dy.data<float>();
  // 2x2 windows with stride 2 that lie inside the input (the usual CNN pool): the four taps
  // of each window directly, in the order the general search takes them. The general loop
  // below (tap lists, a branch per tap) took a quarter of a Fashion-MNIST CNN training step.
  const bool pool2 = g.in[0] == 1 && g.out[0] == 1 && g.kernel[1] == 2 && g.kernel[2] == 2 &&
                     g.stride[1] == 2 && g.stride[2] == 2 && g.dilation[1] == 1 &&
                     g.dilation[2] == 1 && g.pad_begin[1] == 0 && g.pad_begin[2] == 0 &&
                     2 * g.out[1] <= g.in[1] && 2 * g.out[2] <= g.in[2];
  if (pool2) {
    const std::int64_t iw_n = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
    parallel_for(s.planes, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        const float* xp = xd + p * s.in_plane;
        float* dxp = dxd + p * s.in_plane;
        const float* dyp = dyd + p * s.out_plane;
        for (std::int64_t oh = 0; oh < oh_n; ++oh) {
          const float* r0 = xp + 2 * oh * iw_n;
          const float* r1 = r0 + iw_n;
          float* d0 = dxp + 2 * oh * iw_n;
          float* d1 = d0 + iw_n;
          for (std::int64_t ow = 0; ow < ow_n; ++ow) {
            const std::int64_t j = 2 * ow;
            // Strict > keeps the first maximum (and a leading NaN), as the search below does.
            float best = r0[j];
            int at = 0;
            if (r0[j + 1] > best) best = r0[j + 1], at = 1;
            if (r1[j] > best) best = r1[j], at = 2;
            if (r1[j + 1] > best) at = 3;
            (at < 2 ? d0 : d1)[j + (at & 1)] = dyp[oh * ow_n + ow];
          }
        }
      }
    });
    return;
  }
  // Valid window taps per output row/column, computed once: the search below then runs
  // branch-light over in-bounds taps only.
  auto taps = [](std::int64_t out_n, std::int64_t in_n, std::int64_t k, std::int64_t stride,
                 std::int64_t dil, std::int64_t pad) {
    std::vector<std::vector<std::int64_t>> t(static_cast<std::size_t>(out_n));
    for (std::int64_t o = 0; o < out_n; ++o) {
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int64_t i = o * stride + j * dil - pad;
        if (i >= 0 && i < in_n) t[static_cast<std::size_t>(o)].push_back(i);
      }
    }
    return t;
  };
  const auto td = taps(g.out[0], g.in[0], g.kernel[0], g.stride[0], g.dilation[0], g.pad_begin[0]);
  const auto th = taps(g.out[1], g.in[1], g.kernel[1], g.stride[1], g.dilation[1], g.pad_begin[1]);
  const auto tw = taps(g.out[2], g.in[2], g.kernel[2], g.stride[2], g.dilation[2], g.pad_begin[2]);
  parallel_for(s.planes, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* xp = xd + p * s.in_plane;
      float* dxp = dxd + p * s.in_plane;
      const float* dyp = dyd + p * s.out_plane;
      for (std::size_t od = 0; od < td.size(); ++od) {
        for (std::size_t oh = 0; oh < th.size(); ++oh) {
          for (std::size_t ow = 0; ow < tw.size(); ++ow) {
            std::int64_t best = -1;
            float best_v = 0.0F;
            for (const std::int64_t id : td[od]) {
              for (const std::int64_t ih : th[oh]) {
                const float* row = xp + (id * g.in[1] + ih) * g.in[2];
                for (const std::int64_t iw : tw[ow]) {
                  if (best < 0 || row[iw] > best_v) {
                    best = (id * g.in[1] + ih) * g.in[2] + iw;
                    best_v = row[iw];
                  }
                }
              }
            }
            if (best >= 0) dxp[best] += *dyp;
            ++dyp;
          }
        }
      }
    }
  });
}

}  // namespace

void register_pool_cpu(OpRegistry& r) {
  r.add_kernel("MaxPoolGrad", "act", DeviceKind::kCpu, {DType::kF32}, [](const KernelInit& i) {
    return make_kernel([attrs = i.node.attrs](KernelContext& ctx) { max_pool_grad(ctx, attrs); });
  });
  r.add_kernel("MaxPool", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& i) { return std::make_unique<MaxPoolKernel<float>>(i); });
  r.add_kernel("MaxPool", "", DeviceKind::kCpu, {DType::kU8}, [](const KernelInit& i) {
    return std::make_unique<MaxPoolKernel<std::uint8_t>>(i);
  });
  r.add_kernel("MaxPool", "", DeviceKind::kCpu, {DType::kI8},
               [](const KernelInit& i) { return std::make_unique<MaxPoolKernel<std::int8_t>>(i); });
  r.add_kernel("AveragePool", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& i) { return std::make_unique<AveragePoolKernel>(i); });
  r.add_kernel("GlobalAveragePool", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit&) { return make_kernel(global_pool<false>); });
  r.add_kernel("GlobalMaxPool", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit&) { return make_kernel(global_pool<true>); });
}

}  // namespace act::cpu
