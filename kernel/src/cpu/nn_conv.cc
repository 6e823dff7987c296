// Conv and ConvTranspose on f32. All ranks run as 3-D windows (1-D/2-D get leading unit axes).
// Conv: depthwise -> direct loop; 1x1/stride 1/no pad -> GEMM on the input as is; otherwise
// im2col into a per-thread scratch buffer + GEMM. ConvTranspose: GEMM then col2im.
#include <cstring>
#include <vector>

#include "cpu/blas.h"
#include "cpu/nn_geometry.h"
#include "cpu/nn_internal.h"
#include "act/kernel/parallel.h"

namespace act::cpu {

float* scratch_f32(std::int64_t n) {
  thread_local std::vector<float> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < n) {
    buffer.clear();
    buffer.shrink_to_fit();
    buffer.resize(static_cast<std::size_t>(n));
  }
  return buffer.data();
}

namespace {

using G = WindowGeometry;

std::int64_t prod(const std::vector<std::int64_t>& v) {
  std::int64_t p = 1;
  for (auto x : v) p *= x;
  return p;
}

// Unfolds channels [0, channels) of one image into col[(c, kd, kh, kw) x (od, oh, ow)].
void im2col(const G& g, const float* x, std::int64_t channels, float* col) {
  const std::int64_t kd_n = g.kernel[0], kh_n = g.kernel[1], kw_n = g.kernel[2];
  const std::int64_t id_n = g.in[0], ih_n = g.in[1], iw_n = g.in[2];
  const std::int64_t od_n = g.out[0], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t sw = g.stride[2];
  const std::int64_t p = od_n * oh_n * ow_n;
  const std::int64_t rows = channels * kd_n * kh_n * kw_n;
  parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(p, 1)),
               [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t kw = r % kw_n;
      const std::int64_t kh = (r / kw_n) % kh_n;
      const std::int64_t kd = (r / (kw_n * kh_n)) % kd_n;
      const std::int64_t c = r / (kw_n * kh_n * kd_n);
      const float* xc = x + c * id_n * ih_n * iw_n;
      float* dst = col + r * p;
      const std::int64_t woff = kw * g.dilation[2] - g.pad_begin[2];
      const auto [lo, hi] = valid_range(woff, sw, iw_n, ow_n);
      for (std::int64_t od = 0; od < od_n; ++od) {
        const std::int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
        for (std::int64_t oh = 0; oh < oh_n; ++oh, dst += ow_n) {
          const std::int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
          if (id < 0 || id >= id_n || ih < 0 || ih >= ih_n) {
            std::memset(dst, 0, static_cast<std::size_t>(ow_n) * sizeof(float));
            continue;
          }
          const float* src = xc + (id * ih_n + ih) * iw_n + woff;
          for (std::int64_t ow = 0; ow < lo; ++ow) dst[ow] = 0.0F;
          if (sw == 1) {
            std::memcpy(dst + lo, src + lo, static_cast<std::size_t>(hi - lo) * sizeof(float));
          } else {
            for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * sw];
          }
          for (std::int64_t ow = hi; ow < ow_n; ++ow) dst[ow] = 0.0F;
        }
      }
    }
  });
}

// Adds col[(m, kd, kh, kw) x (id, ih, iw)] into y[m, od, oh, ow] (y pre-zeroed).
void col2im(const G& g, const float* col, std::int64_t channels, float* y) {
  const std::int64_t kd_n = g.kernel[0], kh_n = g.kernel[1], kw_n = g.kernel[2];
  const std::int64_t id_n = g.in[0], ih_n = g.in[1], iw_n = g.in[2];
  const std::int64_t od_n = g.out[0], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t sw = g.stride[2];
  const std::int64_t p = id_n * ih_n * iw_n;
  const std::int64_t k = kd_n * kh_n * kw_n;
  // Channels own disjoint output planes, so they parallelize without races.
  parallel_for(channels, 1, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t m = c0; m < c1; ++m) {
      float* ym = y + m * od_n * oh_n * ow_n;
      for (std::int64_t kk = 0; kk < k; ++kk) {
        const std::int64_t kw = kk % kw_n, kh = (kk / kw_n) % kh_n, kd = kk / (kw_n * kh_n);
        const float* src = col + (m * k + kk) * p;
        const std::int64_t woff = kw * g.dilation[2] - g.pad_begin[2];
        const auto [lo, hi] = valid_range(woff, sw, ow_n, iw_n);
        for (std::int64_t id = 0; id < id_n; ++id) {
          const std::int64_t od = id * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
          for (std::int64_t ih = 0; ih < ih_n; ++ih) {
            const std::int64_t oh = ih * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
            if (od < 0 || od >= od_n || oh < 0 || oh >= oh_n) continue;
            float* dst = ym + (od * oh_n + oh) * ow_n + woff;
            const float* s = src + (id * ih_n + ih) * iw_n;
            for (std::int64_t iw = lo; iw < hi; ++iw) dst[iw * sw] += s[iw];
          }
        }
      }
    }
  });
}

// The MobileNet case (2-D, 3x3, dilation 1): each output is written once with all nine taps
// in registers, instead of nine read-modify-write passes over the row. Rows above/below the
// input read a zero row, so only the left/right edge columns need bounds checks.
void depthwise_3x3(const G& g, const float* x, const float* w, const float* bias,
                   std::int64_t batch, std::int64_t channels, float* y) {
  const std::int64_t ih_n = g.in[1], iw_n = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t sh = g.stride[1], sw = g.stride[2], ph = g.pad_begin[1], pw = g.pad_begin[2];
  const std::vector<float> zeros(static_cast<std::size_t>(iw_n), 0.0F);
  // Columns whose three taps all fall inside the row.
  const auto [lo, hi] = valid_range(-pw, sw, iw_n - 2, ow_n);
  parallel_for(batch * channels, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % channels;
      const float* xp = x + plane * ih_n * iw_n;
      const float* wc = w + c * 9;
      const float b = bias ? bias[c] : 0.0F;
      const float w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5],
                  w6 = wc[6], w7 = wc[7], w8 = wc[8];
      for (std::int64_t oh = 0; oh < oh_n; ++oh) {
        const float* rows[3];
        for (std::int64_t kh = 0; kh < 3; ++kh) {
          const std::int64_t ih = oh * sh + kh - ph;
          rows[kh] = ih >= 0 && ih < ih_n ? xp + ih * iw_n : zeros.data();
        }
        float* __restrict yr = y + plane * oh_n * ow_n + oh * ow_n;
        auto edge = [&](std::int64_t ow) {
          float acc = b;
          for (std::int64_t kh = 0; kh < 3; ++kh) {
            for (std::int64_t kw = 0; kw < 3; ++kw) {
              const std::int64_t iw = ow * sw + kw - pw;
              if (iw >= 0 && iw < iw_n) acc += wc[kh * 3 + kw] * rows[kh][iw];
            }
          }
          yr[ow] = acc;
        };
        for (std::int64_t ow = 0; ow < lo; ++ow) edge(ow);
        const float* __restrict r0 = rows[0] - pw;
        const float* __restrict r1 = rows[1] - pw;
        const float* __restrict r2 = rows[2] - pw;
        if (sw == 1) {
          for (std::int64_t ow = lo; ow < hi; ++ow) {
            yr[ow] = b + w0 * r0[ow] + w1 * r0[ow + 1] + w2 * r0[ow + 2] + w3 * r1[ow] +
                     w4 * r1[ow + 1] + w5 * r1[ow + 2] + w6 * r2[ow] + w7 * r2[ow + 1] +
                     w8 * r2[ow + 2];
          }
        } else {
          for (std::int64_t ow = lo; ow < hi; ++ow) {
            const std::int64_t i = ow * sw;
            yr[ow] = b + w0 * r0[i] + w1 * r0[i + 1] + w2 * r0[i + 2] + w3 * r1[i] +
                     w4 * r1[i + 1] + w5 * r1[i + 2] + w6 * r2[i] + w7 * r2[i + 1] + w8 * r2[i + 2];
          }
        }
        for (std::int64_t ow = std::max(hi, lo); ow < ow_n; ++ow) edge(ow);
      }
    }
  });
}

// One output plane per (n, c); the inner loop runs over the valid output columns only, so it
// vectorizes for stride 1 and stays branch-free otherwise.
void depthwise(const G& g, const float* x, const float* w, const float* bias, std::int64_t batch,
               std::int64_t channels, float* y) {
  const std::int64_t kd_n = g.kernel[0], kh_n = g.kernel[1], kw_n = g.kernel[2];
  const std::int64_t id_n = g.in[0], ih_n = g.in[1], iw_n = g.in[2];
  const std::int64_t od_n = g.out[0], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t sw = g.stride[2];
  const std::int64_t in_plane = id_n * ih_n * iw_n, out_plane = od_n * oh_n * ow_n;
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges(static_cast<std::size_t>(kw_n));
  for (std::int64_t kw = 0; kw < kw_n; ++kw) {
    ranges[static_cast<std::size_t>(kw)] =
        valid_range(kw * g.dilation[2] - g.pad_begin[2], sw, iw_n, ow_n);
  }
  parallel_for(batch * channels, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % channels;
      const float* xp = x + plane * in_plane;
      const float* wc = w + c * kd_n * kh_n * kw_n;
      const float b = bias ? bias[c] : 0.0F;
      float* yp = y + plane * out_plane;
      for (std::int64_t od = 0; od < od_n; ++od) {
        for (std::int64_t oh = 0; oh < oh_n; ++oh) {
          float* __restrict yr = yp + (od * oh_n + oh) * ow_n;
          for (std::int64_t ow = 0; ow < ow_n; ++ow) yr[ow] = b;
          for (std::int64_t kd = 0; kd < kd_n; ++kd) {
            const std::int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
            if (id < 0 || id >= id_n) continue;
            for (std::int64_t kh = 0; kh < kh_n; ++kh) {
              const std::int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
              if (ih < 0 || ih >= ih_n) continue;
              const float* xr = xp + (id * ih_n + ih) * iw_n;
              const float* wr = wc + (kd * kh_n + kh) * kw_n;
              for (std::int64_t kw = 0; kw < kw_n; ++kw) {
                const float wv = wr[kw];
                const float* __restrict src = xr + kw * g.dilation[2] - g.pad_begin[2];
                const auto [lo, hi] = ranges[static_cast<std::size_t>(kw)];
                if (sw == 1) {
                  for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * src[ow];
                } else {
                  for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * src[ow * sw];
                }
              }
            }
          }
        }
      }
    }
  });
}

void add_bias(float* y, const float* bias, std::int64_t batch, std::int64_t channels,
              std::int64_t plane) {
  parallel_for(batch * channels, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(plane, 1)),
               [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float b = bias[p % channels];
      float* yp = y + p * plane;
      for (std::int64_t i = 0; i < plane; ++i) yp[i] += b;
    }
  });
}

struct ConvArgs {
  const Tensor* x;
  const Tensor* w;
  const Tensor* b;
  std::int64_t group;
};

ConvArgs conv_args(const char* op, KernelContext& ctx, std::int64_t group) {
  ConvArgs a{&ctx.input(0), &ctx.input(1), ctx.has_input(2) ? &ctx.input(2) : nullptr, group};
  ACT_CHECK(a.x->rank() >= 3, op, ": input must have rank >= 3 (N, C, spatial...), got ",
            a.x->describe());
  ACT_CHECK(a.w->rank() == a.x->rank(), op, ": weight ", a.w->describe(), " and input ",
            a.x->describe(), " differ in rank");
  ACT_CHECK(a.w->dtype() == DType::kF32, op, ": weight must be f32, got ", a.w->describe());
  return a;
}

std::vector<std::int64_t> kernel_dims(const char* op, const Attributes& attrs, const Tensor& w) {
  std::vector<std::int64_t> k(w.shape().begin() + 2, w.shape().end());
  auto attr = attrs.get_ints("kernel_shape", {});
  ACT_CHECK(attr.empty() || attr == k, op, ": kernel_shape ", shape_to_string(attr),
            " does not match weight ", w.describe());
  return k;
}

class ConvKernel final : public OpKernel {
 public:
  explicit ConvKernel(const KernelInit& init)
      : attrs_(init.node.attrs), group_(attrs_.get_int("group", 1)) {
    ACT_CHECK(group_ >= 1, "Conv: group ", group_, " is invalid");
  }

  void compute(KernelContext& ctx) override {
    const ConvArgs a = conv_args("Conv", ctx, group_);
    const Tensor& x = *a.x;
    const Tensor& w = *a.w;
    const std::int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0);
    ACT_CHECK(w.dim(1) * group_ == c, "Conv: input has ", c, " channels, weight expects ",
              w.dim(1) * group_, " (group ", group_, ")");
    ACT_CHECK(m % group_ == 0, "Conv: ", m, " output channels do not split into ", group_, " groups");
    if (a.b) {
      ACT_CHECK(a.b->rank() == 1 && a.b->dim(0) == m && a.b->dtype() == DType::kF32,
                "Conv: bias must be f32[", m, "], got ", a.b->describe());
    }
    const auto kernel = kernel_dims("Conv", attrs_, w);
    std::vector<std::int64_t> in(x.shape().begin() + 2, x.shape().end());
    const G geom = resolve_window("Conv", attrs_, in, kernel, false);
    const G g = as_3d("Conv", geom);
    Shape out_shape{n, m};
    out_shape.insert(out_shape.end(), geom.out.begin(), geom.out.end());
    Tensor& y = ctx.allocate(0, DType::kF32, out_shape);

    const float* xd = x.data<float>();
    const float* wd = w.data<float>();
    const float* bd = a.b ? a.b->data<float>() : nullptr;
    float* yd = y.data<float>();
    const std::int64_t cg = c / group_, mg = m / group_;
    const std::int64_t in_plane = prod(g.in), out_plane = prod(g.out), ksize = prod(g.kernel);
    if (y.numel() == 0) return;
    if (x.numel() == 0 || cg == 0) {
      std::fill(yd, yd + y.numel(), 0.0F);
      if (bd) add_bias(yd, bd, n, m, out_plane);
      return;
    }

    if (group_ == c && m == c) {
      const bool is_3x3 = g.kernel == std::vector<std::int64_t>{1, 3, 3} && g.in[0] == 1 &&
                          g.dilation == std::vector<std::int64_t>{1, 1, 1} && g.in[2] >= 3;
      if (is_3x3) {
        depthwise_3x3(g, xd, wd, bd, n, c, yd);
      } else {
        depthwise(g, xd, wd, bd, n, c, yd);
      }
      return;
    }
    const std::vector<std::int64_t> zeros(3, 0);
    const bool pointwise =
        ksize == 1 && prod(g.stride) == 1 && g.pad_begin == zeros && g.pad_end == zeros;
    const std::int64_t kdim = cg * ksize;
    float* col = pointwise ? nullptr : scratch_f32(kdim * out_plane);
    for (std::int64_t b = 0; b < n; ++b) {
      for (std::int64_t gi = 0; gi < group_; ++gi) {
        const float* xg = xd + (b * c + gi * cg) * in_plane;
        const float* wg = wd + gi * mg * kdim;
        float* yg = yd + (b * m + gi * mg) * out_plane;
        const float* rhs = xg;
        if (!pointwise) {
          im2col(g, xg, cg, col);
          rhs = col;
        }
        gemm_f32(false, false, mg, out_plane, kdim, 1.0F, wg, kdim, rhs, out_plane, 0.0F, yg,
                 out_plane);
      }
    }
    if (bd) add_bias(yd, bd, n, m, out_plane);
  }

 private:
  Attributes attrs_;
  std::int64_t group_;
};

class ConvTransposeKernel final : public OpKernel {
 public:
  explicit ConvTransposeKernel(const KernelInit& init)
      : attrs_(init.node.attrs), group_(attrs_.get_int("group", 1)) {
    ACT_CHECK(group_ >= 1, "ConvTranspose: group ", group_, " is invalid");
  }

  void compute(KernelContext& ctx) override {
    const ConvArgs a = conv_args("ConvTranspose", ctx, group_);
    const Tensor& x = *a.x;
    const Tensor& w = *a.w;
    const std::int64_t n = x.dim(0), c = x.dim(1), m = w.dim(1) * group_;
    ACT_CHECK(w.dim(0) == c, "ConvTranspose: input has ", c, " channels, weight expects ", w.dim(0));
    ACT_CHECK(c % group_ == 0, "ConvTranspose: ", c, " input channels do not split into ", group_,
              " groups");
    if (a.b) {
      ACT_CHECK(a.b->rank() == 1 && a.b->dim(0) == m && a.b->dtype() == DType::kF32,
                "ConvTranspose: bias must be f32[", m, "], got ", a.b->describe());
    }
    const auto kernel = kernel_dims("ConvTranspose", attrs_, w);
    std::vector<std::int64_t> in(x.shape().begin() + 2, x.shape().end());
    const G geom = resolve_transposed_window("ConvTranspose", attrs_, in, kernel);
    const G g = as_3d("ConvTranspose", geom);
    Shape out_shape{n, m};
    out_shape.insert(out_shape.end(), geom.out.begin(), geom.out.end());
    Tensor& y = ctx.allocate(0, DType::kF32, out_shape);
    float* yd = y.data<float>();
    std::fill(yd, yd + y.numel(), 0.0F);

    const float* xd = x.data<float>();
    const float* wd = w.data<float>();
    const std::int64_t cg = c / group_, mg = m / group_;
    const std::int64_t in_plane = prod(g.in), out_plane = prod(g.out), ksize = prod(g.kernel);
    const std::int64_t rows = mg * ksize;
    if (y.numel() != 0 && x.numel() != 0) {
      float* col = scratch_f32(rows * in_plane);
      for (std::int64_t b = 0; b < n; ++b) {
        for (std::int64_t gi = 0; gi < group_; ++gi) {
          const float* xg = xd + (b * c + gi * cg) * in_plane;
          const float* wg = wd + gi * cg * rows;
          gemm_f32(true, false, rows, in_plane, cg, 1.0F, wg, rows, xg, in_plane, 0.0F, col,
                   in_plane);
          col2im(g, col, mg, yd + (b * m + gi * mg) * out_plane);
        }
      }
    }
    if (a.b && y.numel() != 0) add_bias(yd, a.b->data<float>(), n, m, out_plane);
  }

 private:
  Attributes attrs_;
  std::int64_t group_;
};

}  // namespace

void register_conv_cpu(OpRegistry& r) {
  r.add_kernel("Conv", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& init) { return std::make_unique<ConvKernel>(init); });
  r.add_kernel("ConvTranspose", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& init) { return std::make_unique<ConvTransposeKernel>(init); });
}

}  // namespace act::cpu
