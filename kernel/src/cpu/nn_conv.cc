// Conv, FusedConv and ConvTranspose on f32. All ranks run as 3-D windows (1-D/2-D get leading
// unit axes). Conv: depthwise -> direct loop; otherwise the output pixels are cut into tiles
// that the pool shares out, and each tile is unfolded (im2col, skipped for 1x1/stride 1/no
// pad) into a per-thread scratch block, multiplied by one single-threaded GEMM and finished by
// the epilogue while hot. ConvTranspose: GEMM then col2im.
#include <cstring>
#include <tuple>
#include <vector>

#include "act/kernel/parallel.h"
#include "cpu/avx512_lanes.h"
#include "cpu/blas.h"
#include "cpu/conv_depthwise.h"
#include "cpu/conv_depthwise_masked.h"
#include "cpu/conv_direct.h"
#include "cpu/conv_epilogue.h"
#include "cpu/conv_gemm.h"
#include "cpu/conv_narrow.h"
#include "cpu/conv_oc_lanes.h"
#include "cpu/conv_weight_grad.h"
#include "cpu/micro_kernel.h"
#include "cpu/nn_geometry.h"
#include "cpu/nn_internal.h"

namespace act::cpu {

float* scratch_f32(std::int64_t n) {
  return tagged_scratch_f32<struct GeneralScratch>(n);
}

namespace {

using G = WindowGeometry;

std::int64_t prod(const std::vector<std::int64_t>& v) {
  std::int64_t p = 1;
  for (auto x : v) p *= x;
  return p;
}

// Row r = (c, kd, kh, kw) of the im2col matrix, decoded once per convolution: the row is
// unfolded for every image and tile, and decoding it per call (six divisions) cost more than
// copying the 16 pixels of a late-stage map.
struct Tap {
  std::int64_t x_off;   // offset of channel c's plane
  std::int64_t d_off;   // input depth of output depth 0: kd * dilation - pad
  std::int64_t h_off;   // input row of output row 0
  std::int64_t w_off;   // input column of output column 0
  std::int64_t lo, hi;  // output columns whose input column is inside the row
};

std::vector<Tap> make_taps(const G& g, std::int64_t channels) {
  const std::int64_t kd_n = g.kernel[0], kh_n = g.kernel[1], kw_n = g.kernel[2];
  std::vector<Tap> taps;
  taps.reserve(static_cast<std::size_t>(channels * kd_n * kh_n * kw_n));
  for (std::int64_t c = 0; c < channels; ++c) {
    for (std::int64_t kd = 0; kd < kd_n; ++kd) {
      for (std::int64_t kh = 0; kh < kh_n; ++kh) {
        for (std::int64_t kw = 0; kw < kw_n; ++kw) {
          Tap t;
          t.x_off = c * g.in[0] * g.in[1] * g.in[2];
          t.d_off = kd * g.dilation[0] - g.pad_begin[0];
          t.h_off = kh * g.dilation[1] - g.pad_begin[1];
          t.w_off = kw * g.dilation[2] - g.pad_begin[2];
          std::tie(t.lo, t.hi) = valid_range(t.w_off, g.stride[2], g.in[2], g.out[2]);
          taps.push_back(t);
        }
      }
    }
  }
  return taps;
}

// Unfolds one im2col row (tap) of one image, for output pixels [p0, p1). Pixels are walked in
// runs that share an output row; each run reaches the sink as zeros (padding) and one strided
// copy of the valid columns. Sinks decide where pixel q = p - p0 lands: a plain row, or
// conv_gemm's packed panels.
template <typename Sink>
void im2col_row(const G& g, const float* x, const Tap& t, std::int64_t p0, std::int64_t p1,
                Sink& sink) {
  const std::int64_t id_n = g.in[0], ih_n = g.in[1], iw_n = g.in[2];
  const std::int64_t oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t sw = g.stride[2];
  const float* xc = x + t.x_off;
  const std::int64_t woff = t.w_off, lo = t.lo, hi = t.hi;
  // The output coordinates of p0 once; afterwards runs advance them without dividing (a run is
  // a single row of a small late-stage map, so divisions per run were a visible share).
  std::int64_t ow0 = 0, oh = 0, od = 0;
  if (p0 > 0) {
    ow0 = p0 % ow_n;
    oh = (p0 / ow_n) % oh_n;
    od = p0 / (ow_n * oh_n);
  }
  for (std::int64_t p = p0; p < p1;) {
    const std::int64_t run_end = std::min(p1, p - ow0 + ow_n);
    const std::int64_t ow1 = ow0 + (run_end - p);
    const std::int64_t id = od * g.stride[0] + t.d_off;
    const std::int64_t ih = oh * g.stride[1] + t.h_off;
    const std::int64_t q = p - p0 - ow0;  // sink position of column ow is q + ow
    if (id < 0 || id >= id_n || ih < 0 || ih >= ih_n) {
      sink.zeros(q + ow0, ow1 - ow0);
    } else {
      const float* src = xc + (id * ih_n + ih) * iw_n + woff;
      const std::int64_t a = std::clamp(lo, ow0, ow1), b = std::clamp(hi, a, ow1);
      sink.zeros(q + ow0, a - ow0);
      sink.copy(q + a, src + a * sw, b - a, sw);
      sink.zeros(q + b, ow1 - b);
    }
    p = run_end;
    ow0 = 0;
    if (++oh == oh_n) {
      oh = 0;
      ++od;
    }
  }
}

// Sink: a contiguous row.
struct RowSink {
  float* dst;
  void zeros(std::int64_t q, std::int64_t n) {
    if (n > 0) std::memset(dst + q, 0, static_cast<std::size_t>(n) * sizeof(float));
  }
  void copy(std::int64_t q, const float* src, std::int64_t n, std::int64_t stride) {
    if (n <= 0) return;
    if (stride == 1) {
      std::memcpy(dst + q, src, static_cast<std::size_t>(n) * sizeof(float));
    } else {
      for (std::int64_t i = 0; i < n; ++i) dst[q + i] = src[i * stride];
    }
  }
};

// Sink: one row r of conv_gemm's packed B, i.e. kNr-wide chunks `panel_stride` floats apart.
// Runs are at most kNr floats, so plain loops beat memcpy/memset calls.
struct PanelSink {
  float* dst;  // row r of panel 0
  std::int64_t panel_stride;
  float* at(std::int64_t q) const { return dst + (q / kNr) * panel_stride + q % kNr; }
  void zeros(std::int64_t q, std::int64_t n) {
    while (n > 0) {
      const std::int64_t run = std::min(n, kNr - q % kNr);
      float* __restrict d = at(q);
      for (std::int64_t i = 0; i < run; ++i) d[i] = 0.0F;
      q += run;
      n -= run;
    }
  }
  void copy(std::int64_t q, const float* src, std::int64_t n, std::int64_t stride) {
    while (n > 0) {
      const std::int64_t run = std::min(n, kNr - q % kNr);
      float* __restrict d = at(q);
      if (stride == 1) {
        for (std::int64_t i = 0; i < run; ++i) d[i] = src[i];
      } else {
        for (std::int64_t i = 0; i < run; ++i) d[i] = src[i * stride];
      }
      q += run;
      n -= run;
      src += run * stride;
    }
  }
};

// Stride-1 2-D windows whose input is as wide as the output ("same" padding across, any
// dilation and height padding): tap (kh, kw) of output pixel p reads input pixel p + delta,
// delta = (kh * dh - pt) * w + kw * dw - pl, whenever that pixel is inside the image. A
// panel's tap row is then 16 consecutive input floats with the padding lanes masked off, one
// masked load and store per 16 values instead of im2col_row's runs; packing the late-stage
// and gradient-input layers this way was the 12% of a ResNet-18 training step that
// im2col_row took. Taps are at most kMaxShiftTaps (masks live on the stack).
constexpr std::int64_t kMaxShiftTaps = 49;

bool shift_packable(const G& g) {
  return g.in[0] == 1 && g.out[0] == 1 && g.kernel[0] == 1 && g.stride[1] == 1 &&
         g.stride[2] == 1 && g.in[2] == g.out[2] && g.kernel[1] * g.kernel[2] <= kMaxShiftTaps;
}

#if ACT_MICRO_KERNEL_AVX2
// Tap row r of the 16 pixels from q lands at dst + (q - p0) / kNr * chunk_stride +
// r * row_stride: packed panels (row_stride kNr) or an im2col matrix (chunk_stride kNr), which
// gets only the pixels before p1 (`clip`; panels are zero-padded instead).
void pack_shifted(const G& g, std::int64_t channels, const float* x, std::int64_t p0,
                  std::int64_t p1, float* dst, std::int64_t row_stride, std::int64_t chunk_stride,
                  bool clip) {
  const std::int64_t kh_n = g.kernel[1], kw_n = g.kernel[2], ksize = kh_n * kw_n;
  const std::int64_t ih_n = g.in[1], iw_n = g.in[2], ow_n = g.out[2];
  const std::int64_t in_plane = ih_n * iw_n, total = channels * in_plane;
  alignas(32) std::int32_t mask[kMaxShiftTaps][kNr];
  std::int64_t delta[kMaxShiftTaps];
  std::int64_t oh[kNr], ow[kNr];
  for (std::int64_t q0 = p0; q0 < p1; q0 += kNr) {
    for (std::int64_t e = 0; e < kNr; ++e) {
      oh[e] = (q0 + e) / ow_n;
      ow[e] = (q0 + e) % ow_n;
    }
    for (std::int64_t kh = 0; kh < kh_n; ++kh) {
      for (std::int64_t kw = 0; kw < kw_n; ++kw) {
        const std::int64_t t = kh * kw_n + kw;
        const std::int64_t dh = kh * g.dilation[1] - g.pad_begin[1];
        const std::int64_t dw = kw * g.dilation[2] - g.pad_begin[2];
        delta[t] = dh * iw_n + dw;
        for (std::int64_t e = 0; e < kNr; ++e) {
          const std::int64_t ih = oh[e] + dh, iw = ow[e] + dw;
          const bool in = q0 + e < p1 && ih >= 0 && ih < ih_n && iw >= 0 && iw < iw_n;
          mask[t][e] = in ? -1 : 0;
        }
      }
    }
    float* chunk = dst + (q0 - p0) / kNr * chunk_stride;
    const std::int64_t width = clip ? std::min(kNr, p1 - q0) : kNr;
    alignas(32) float part[kNr];
    for (std::int64_t ci = 0; ci < channels; ++ci) {
      for (std::int64_t t = 0; t < ksize; ++t) {
        float* d = chunk + (ci * ksize + t) * row_stride;
        float* out = width == kNr ? d : part;
        const std::int64_t src = ci * in_plane + q0 + delta[t];
        if (src >= 0 && src + kNr <= total) {
          const auto* m = reinterpret_cast<const __m256i*>(mask[t]);
          _mm256_storeu_ps(out, _mm256_maskload_ps(x + src, _mm256_load_si256(m)));
          _mm256_storeu_ps(out + 8, _mm256_maskload_ps(x + src + 8, _mm256_load_si256(m + 1)));
        } else {
          // The first or last channel's window reaches past the plane: no address outside x
          // is formed, lanes that read nothing are zero.
          for (std::int64_t e = 0; e < kNr; ++e) out[e] = mask[t][e] != 0 ? x[src + e] : 0.0F;
        }
        if (out == part) std::memcpy(d, part, static_cast<std::size_t>(width) * sizeof(float));
      }
    }
  }
}
#endif

// The input pixels a strided 1x1 convolution without padding reads: planes [planes][in] to
// [planes][out], pixel (d, h, w) taken from (d sd, h sh, w sw). Stride-2 rows pick the even
// lanes of 32 loaded floats (AVX-512).
void subsample_strided(const G& g, const float* x, std::int64_t planes, std::vector<float>& dst) {
  const std::int64_t in_plane = prod(g.in), out_plane = prod(g.out), ow_n = g.out[2];
  dst.resize(static_cast<std::size_t>(planes * out_plane));
  float* y = dst.data();
  parallel_for(planes, 4, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      for (std::int64_t od = 0; od < g.out[0]; ++od) {
        for (std::int64_t oh = 0; oh < g.out[1]; ++oh) {
          const float* src =
              x + p * in_plane + (od * g.stride[0] * g.in[1] + oh * g.stride[1]) * g.in[2];
          float* out = y + p * out_plane + (od * g.out[1] + oh) * ow_n;
          std::int64_t q = 0;
#if defined(__AVX512F__)
          if (g.stride[2] == 2) {
            for (; q < ow_n; q += 16) {
              const std::int64_t count = std::min<std::int64_t>(16, ow_n - q);
              _mm512_mask_storeu_ps(out + q, lanes_inside(0, count),
                                    stride2_pick(src + 2 * q, count));
            }
          }
#endif
          for (; q < ow_n; ++q) out[q] = src[q * g.stride[2]];
        }
      }
    }
  });
}

// The im2col matrix of the rows in `taps`, pixels [p0, p1): col[r * ld + (p - p0)].
void im2col_tile(const G& g, const std::vector<Tap>& taps, const float* x, std::int64_t p0,
                 std::int64_t p1, float* col, std::int64_t ld) {
#if ACT_MICRO_KERNEL_AVX2
  if (shift_packable(g)) {
    const auto channels = static_cast<std::int64_t>(taps.size()) / (g.kernel[1] * g.kernel[2]);
    pack_shifted(g, channels, x, p0, p1, col, ld, kNr, true);
    return;
  }
#endif
  for (std::size_t r = 0; r < taps.size(); ++r) {
    RowSink sink{col + static_cast<std::int64_t>(r) * ld};
    im2col_row(g, x, taps[r], p0, p1, sink);
  }
}

#if ACT_MICRO_KERNEL_AVX2
// acc (mg x kdim, row-major) += dY (mg x P) times the transposed im2col of one image's group x,
// on conv_gemm's micro-kernel, for shift-packable windows. Pixels go in blocks whose im2col
// (kdim x w, by pack_shifted) stays in L2; the block is transposed into B panels (16 taps per
// pixel) and dY's pixels into A panels. Serial (one image on the calling thread).
void weight_grad_packed(const G& g, std::int64_t cg, std::int64_t mg, const float* x,
                        const float* dy, float* acc) {
  const std::int64_t out_plane = prod(g.out), kdim = cg * prod(g.kernel);
  const std::int64_t mblocks = (mg + kMr - 1) / kMr, panels = (kdim + kNr - 1) / kNr;
  // 64K floats of im2col per block (112 pixels of a 64-channel 3x3 layer); at least 64 pixels,
  // since shorter blocks (24 pixels of a 256-channel layer) lost more to rewriting dW per
  // block than the smaller footprint saved.
  const std::int64_t w = std::clamp<std::int64_t>(65536 / kdim / 8 * 8, 64, 512);
  float* col = scratch_f32(kdim * w + panels * w * kNr + mblocks * w * kMr);
  float* bp = col + kdim * w;
  float* ap = bp + panels * w * kNr;
  for (std::int64_t p0 = 0; p0 < out_plane; p0 += w) {
    const std::int64_t wb = std::min(w, out_plane - p0);
    pack_shifted(g, cg, x, p0, p0 + wb, col, wb, kNr, true);
    for (std::int64_t j = 0; j < panels; ++j) {
      const float* src = col + j * kNr * wb;
      float* dst = bp + j * wb * kNr;
      const std::int64_t rows = std::min(kNr, kdim - j * kNr);
      std::int64_t q = 0;
      if (rows == kNr) {
        for (; q + 8 <= wb; q += 8) {
          transpose_8x8(src + q, wb, dst + q * kNr, kNr);
          transpose_8x8(src + 8 * wb + q, wb, dst + q * kNr + 8, kNr);
        }
      }
      for (; q < wb; ++q) {
        for (std::int64_t i = 0; i < kNr; ++i) dst[q * kNr + i] = i < rows ? src[i * wb + q] : 0.0F;
      }
    }
    pack_a_into(dy + p0, out_plane, mg, wb, wb * kMr, ap);
    gemm_packed_groups(ap, bp, mg, kdim, 1, wb, 0, mblocks, acc, kdim, 0, true);
  }
}
#endif

// The same pixels straight into conv_gemm's packed B layout ([panel][k][kNr]), the last
// panel zero-padded. Pointwise layers copy the input rows as they are; shift-packable ones
// (above) take masked loads.
void pack_b_tile(const G& g, const std::vector<Tap>& taps, const float* x, std::int64_t p0,
                 std::int64_t p1, bool pointwise, bool shifted, std::int64_t in_plane, float* dst) {
  const auto rows = static_cast<std::int64_t>(taps.size());
#if ACT_MICRO_KERNEL_AVX2
  if (shifted) {
    pack_shifted(g, rows / (g.kernel[1] * g.kernel[2]), x, p0, p1, dst, kNr, rows * kNr, false);
    return;
  }
#else
  (void)shifted;
#endif
  const std::int64_t width = p1 - p0;
  const std::int64_t panels = (width + kNr - 1) / kNr;
  for (std::int64_t r = 0; r < rows; ++r) {
    PanelSink sink{dst + r * kNr, rows * kNr};
    if (pointwise) {
      sink.copy(0, x + r * in_plane + p0, width, 1);
    } else {
      im2col_row(g, x, taps[static_cast<std::size_t>(r)], p0, p1, sink);
    }
    sink.zeros(width, panels * kNr - width);
  }
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

// The MobileNet case (2-D, 3x3, dilation 1, stride 1 or 2). Each plane is first copied into
// a zero-bordered scratch plane, so the output loops have no edge cases; for stride 2 the
// padded rows are also split into even and odd columns, so all nine taps read contiguous
// memory. Every output is then one expression of nine products over contiguous rows, which
// the compiler vectorizes (the edge-checked version ran at 5 GFLOP/s, docs/benchmarks.md).
void depthwise_3x3(const G& g, const float* x, const float* w, const float* bias,
                   std::int64_t batch, std::int64_t channels, float* y, const ConvEpilogue& epi,
                   const float* sum) {
  const std::int64_t ih_n = g.in[1], iw_n = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t s = g.stride[1], ph = g.pad_begin[1], pw = g.pad_begin[2];
  // Padded extent the outputs read: rows [0, (oh-1)*s + 3), columns [0, (ow-1)*s + 3).
  const std::int64_t hp = g.read_extent(1);
  const std::int64_t wp = (g.read_extent(2) + 1) / 2 * 2;  // even, for the stride-2 split
  const std::int64_t half = wp / 2;
  parallel_for(batch * channels, 1, [&](std::int64_t p0, std::int64_t p1) {
    float* pad = scratch_f32(hp * wp * 2);
    float* split = pad + hp * wp;  // stride 2: per row, `half` even then `half` odd columns
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % channels;
      const float* xp = x + plane * ih_n * iw_n;
      std::fill(pad, pad + hp * wp, 0.0F);
      for (std::int64_t r = 0; r < hp; ++r) {
        const std::int64_t ih = r - ph;
        if (ih < 0 || ih >= ih_n) continue;
        const std::int64_t c0 = std::max<std::int64_t>(0, pw);
        const std::int64_t c1 = std::min(wp, iw_n + pw);
        if (c1 > c0) {
          std::memcpy(pad + r * wp + c0, xp + ih * iw_n + (c0 - pw),
                      static_cast<std::size_t>(c1 - c0) * sizeof(float));
        }
      }
      const float* wc = w + c * 9;
      const float b = bias ? bias[c] : 0.0F;
      const float w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5],
                  w6 = wc[6], w7 = wc[7], w8 = wc[8];
      float* yp = y + plane * oh_n * ow_n;
      if (s == 1) {
        for (std::int64_t oh = 0; oh < oh_n; ++oh) {
          const float* __restrict r0 = pad + oh * wp;
          const float* __restrict r1 = r0 + wp;
          const float* __restrict r2 = r1 + wp;
          float* __restrict yr = yp + oh * ow_n;
          for (std::int64_t ow = 0; ow < ow_n; ++ow) {
            yr[ow] = b + w0 * r0[ow] + w1 * r0[ow + 1] + w2 * r0[ow + 2] + w3 * r1[ow] +
                     w4 * r1[ow + 1] + w5 * r1[ow + 2] + w6 * r2[ow] + w7 * r2[ow + 1] +
                     w8 * r2[ow + 2];
          }
        }
      } else {
        for (std::int64_t r = 0; r < hp; ++r) {
          const float* __restrict src = pad + r * wp;
          float* __restrict ev = split + r * wp;
          float* __restrict od = ev + half;
          for (std::int64_t j = 0; j < half; ++j) {
            ev[j] = src[2 * j];
            od[j] = src[2 * j + 1];
          }
        }
        for (std::int64_t oh = 0; oh < oh_n; ++oh) {
          const float* __restrict e0 = split + 2 * oh * wp;
          const float* __restrict e1 = e0 + wp;
          const float* __restrict e2 = e1 + wp;
          const float* __restrict o0 = e0 + half;
          const float* __restrict o1 = e1 + half;
          const float* __restrict o2 = e2 + half;
          float* __restrict yr = yp + oh * ow_n;
          for (std::int64_t ow = 0; ow < ow_n; ++ow) {
            yr[ow] = b + w0 * e0[ow] + w1 * o0[ow] + w2 * e0[ow + 1] + w3 * e1[ow] + w4 * o1[ow] +
                     w5 * e1[ow + 1] + w6 * e2[ow] + w7 * o2[ow] + w8 * e2[ow + 1];
          }
        }
      }
      epi.apply(yp, oh_n * ow_n, 1, oh_n * ow_n, nullptr, sum ? sum + plane * oh_n * ow_n : nullptr,
                oh_n * ow_n);
    }
  });
}

// One output plane per (n, c); the inner loop runs over the valid output columns only, so it
// vectorizes for stride 1 and stays branch-free otherwise.
void depthwise(const G& g, const float* x, const float* w, const float* bias, std::int64_t batch,
               std::int64_t channels, float* y, const ConvEpilogue& epi, const float* sum) {
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
      epi.apply(yp, out_plane, 1, out_plane, nullptr, sum ? sum + plane * out_plane : nullptr,
                out_plane);
    }
  });
}

void add_bias(float* y, const float* bias, std::int64_t batch, std::int64_t channels,
              std::int64_t plane) {
  parallel_for(batch * channels,
               std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(plane, 1)),
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

// Output pixels per GEMM tile: the tile's im2col block (K x tile floats) should stay in the
// 512 KiB L2 next to the packed weights, and the tile must be wide enough for the GEMM to
// run near peak. Tiles are also the unit the pool splits (statically, in contiguous runs), so
// their count is a multiple of the thread count.
std::int64_t conv_tile_width(std::int64_t budget, std::int64_t out_plane) {
  const std::int64_t threads = num_threads();
  const std::int64_t per_thread =
      std::max<std::int64_t>(1, (out_plane + threads * budget - 1) / (threads * budget));
  const std::int64_t tiles = per_thread * threads;
  const std::int64_t width = (out_plane + tiles - 1) / tiles;
  // Whole micro-kernel panels (16) where that keeps the tile count, and so the balance.
  const std::int64_t rounded = (width + 15) / 16 * 16;
  return (out_plane + rounded - 1) / rounded == tiles ? rounded : width;
}

// The conv_gemm path of a grouped convolution: `packed` holds each group's weights in
// conv_gemm's A layout. Large maps are cut into pixel tiles that the pool shares out, each
// packed straight from the image and multiplied while hot. Small maps (the late stages, where
// one image has fewer pixels than a tile) are packed several images at a time and multiplied
// as one product, so each weight panel is loaded once for all of them instead of once per
// image.
void conv_packed(const G& g, const std::vector<std::vector<float>>& packed, const float* xd,
                 const float* bd, const float* sd, float* yd, std::int64_t n, std::int64_t c,
                 std::int64_t m, std::int64_t group, bool pointwise, const ConvEpilogue& epi) {
  const std::int64_t cg = c / group, mg = m / group;
  const std::int64_t in_plane = prod(g.in), out_plane = prod(g.out);
  const std::int64_t kdim = cg * prod(g.kernel);
  const std::int64_t mblocks = (mg + kMr - 1) / kMr;
  const std::vector<Tap> taps = make_taps(g, cg);
  const bool shifted = !pointwise && shift_packable(g);
  // The packed input block of a tile (K x width floats) should fit the 512 KiB L2.
  const std::int64_t budget = std::clamp<std::int64_t>(98304 / kdim / kNr * kNr, kNr, 512);
  const std::int64_t width = conv_tile_width(budget, out_plane);
  const std::int64_t tiles = (out_plane + width - 1) / width;
  const std::int64_t panels = (out_plane + kNr - 1) / kNr;
  // Small maps: images in chunks of about 256 columns (the product blocks B internally, so a
  // chunk need not fit L2), as long as every thread gets a chunk (batch-1 inference keeps the
  // split by channel blocks below).
  const std::int64_t threads = num_threads();
  std::int64_t per = std::max<std::int64_t>(1, 256 / (panels * kNr));
  per = std::min(per, (n + threads - 1) / threads);
  const std::int64_t chunks = (n + per - 1) / per;
  if (out_plane <= 256 && (mg >= out_plane || tiles < threads) && chunks >= threads) {
    for (std::int64_t gi = 0; gi < group; ++gi) {
      const float* ag = packed[static_cast<std::size_t>(gi)].data();
      parallel_for(chunks, 1, [&](std::int64_t q0, std::int64_t q1) {
        float* packed_b = scratch_f32(per * panels * kdim * kNr);
        for (std::int64_t q = q0; q < q1; ++q) {
          const std::int64_t b0 = q * per, b1 = std::min(n, b0 + per);
          for (std::int64_t b = b0; b < b1; ++b) {
            pack_b_tile(g, taps, xd + (b * c + gi * cg) * in_plane, 0, out_plane, pointwise,
                        shifted, in_plane, packed_b + (b - b0) * panels * kdim * kNr);
          }
          const std::int64_t y0 = (b0 * m + gi * mg) * out_plane;
          gemm_packed_groups(ag, packed_b, mg, out_plane, b1 - b0, kdim, 0, mblocks, yd + y0,
                             out_plane, m * out_plane, false);
          for (std::int64_t b = b0; b < b1; ++b) {
            const std::int64_t yoff = (b * m + gi * mg) * out_plane;
            epi.apply(yd + yoff, out_plane, mg, out_plane, bd ? bd + gi * mg : nullptr,
                      sd ? sd + yoff : nullptr, out_plane);
          }
        }
      });
    }
    return;
  }
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t gi = 0; gi < group; ++gi) {
      const float* xg = xd + (b * c + gi * cg) * in_plane;
      const float* ag = packed[static_cast<std::size_t>(gi)].data();
      const std::int64_t yoff = (b * m + gi * mg) * out_plane;
      float* yg = yd + yoff;
      const float* sg = sd ? sd + yoff : nullptr;
      const float* bg = bd ? bd + gi * mg : nullptr;
      if (tiles < num_threads() || mg >= out_plane) {
        // Small maps with many channels: split by channel blocks, each thread packing the
        // whole (small) map itself. Packing it once, shared out by panels, left each thread
        // reading half its operand from the other core and cost a second pool barrier:
        // MobileNetV2's 7x7 pointwise layers 10-35% slower at two threads, the model 6%.
        parallel_for(mblocks, 1, [&](std::int64_t mb0, std::int64_t mb1) {
          float* packed_b = scratch_f32(panels * kdim * kNr);
          pack_b_tile(g, taps, xg, 0, out_plane, pointwise, shifted, in_plane, packed_b);
          gemm_packed(ag, packed_b, mg, out_plane, kdim, mb0, mb1, yg, out_plane);
          const std::int64_t r0 = mb0 * kMr, r1 = std::min(mg, mb1 * kMr);
          epi.apply(yg + r0 * out_plane, out_plane, r1 - r0, out_plane, bg ? bg + r0 : nullptr,
                    sg ? sg + r0 * out_plane : nullptr, out_plane);
        });
        continue;
      }
      parallel_for(tiles, 1, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t p0 = t * width, p1 = std::min(out_plane, p0 + width);
          const std::int64_t tile_panels = (p1 - p0 + kNr - 1) / kNr;
          float* packed_b = scratch_f32(tile_panels * kdim * kNr);
          pack_b_tile(g, taps, xg, p0, p1, pointwise, shifted, in_plane, packed_b);
          gemm_packed(ag, packed_b, mg, p1 - p0, kdim, 0, mblocks, yg + p0, out_plane);
          epi.apply(yg + p0, out_plane, mg, p1 - p0, bg, sg ? sg + p0 : nullptr, out_plane);
        }
      });
    }
  }
}

// Conv (ONNX) and FusedConv (domain "act": Conv plus an optional residual input 3 and an
// activation, see conv_epilogue.h). One kernel serves both: plain Conv has an empty epilogue.
class ConvKernel final : public OpKernel {
 public:
  ConvKernel(const KernelInit& init, bool fused)
      : attrs_(init.node.attrs),
        group_(attrs_.get_int("group", 1)),
        op_(fused ? "FusedConv" : "Conv"),
        epilogue_(fused ? ConvEpilogue::from_attributes(attrs_) : ConvEpilogue{}) {
    ACT_CHECK(group_ >= 1, op_, ": group ", group_, " is invalid");
  }

  void compute(KernelContext& ctx) override {
    const char* op = op_.c_str();
    const ConvArgs a = conv_args(op, ctx, group_);
    const Tensor& x = *a.x;
    const Tensor& w = *a.w;
    const std::int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0);
    ACT_CHECK(w.dim(1) * group_ == c, op, ": input has ", c, " channels, weight expects ",
              w.dim(1) * group_, " (group ", group_, ")");
    ACT_CHECK(m % group_ == 0, op, ": ", m, " output channels do not split into ", group_,
              " groups");
    if (a.b) {
      ACT_CHECK(a.b->rank() == 1 && a.b->dim(0) == m && a.b->dtype() == DType::kF32, op,
                ": bias must be f32[", m, "], got ", a.b->describe());
    }
    const auto kernel = kernel_dims(op, attrs_, w);
    std::vector<std::int64_t> in(x.shape().begin() + 2, x.shape().end());
    const G geom = resolve_window(op, attrs_, in, kernel, false);
    G g = as_3d(op, geom);
    Shape out_shape{n, m};
    out_shape.insert(out_shape.end(), geom.out.begin(), geom.out.end());
    const Tensor* sum_t = ctx.has_input(3) ? &ctx.input(3) : nullptr;
    if (sum_t != nullptr) {
      ACT_CHECK(sum_t->dtype() == DType::kF32 && sum_t->shape() == out_shape, op,
                ": residual input must be f32", shape_to_string(out_shape), ", got ",
                sum_t->describe());
    }
    Tensor& y = ctx.allocate(0, DType::kF32, out_shape);

    const float* xd = x.data<float>();
    const float* wd = w.data<float>();
    const float* bd = a.b ? a.b->data<float>() : nullptr;
    const float* sd = sum_t ? sum_t->data<float>() : nullptr;
    float* yd = y.data<float>();
    const std::int64_t cg = c / group_, mg = m / group_;
    const std::int64_t out_plane = prod(g.out), ksize = prod(g.kernel);
    std::int64_t in_plane = prod(g.in);
    if (y.numel() == 0) return;
    if (x.numel() == 0 || cg == 0) {
      std::fill(yd, yd + y.numel(), 0.0F);
      parallel_for(n * m, 1, [&](std::int64_t p0, std::int64_t p1) {
        for (std::int64_t p = p0; p < p1; ++p) {
          epilogue_.apply(yd + p * out_plane, out_plane, 1, out_plane, bd ? bd + p % m : nullptr,
                          sd ? sd + p * out_plane : nullptr, out_plane);
        }
      });
      return;
    }

    if (group_ == c && m == c) {
      const bool is_3x3 = g.kernel == std::vector<std::int64_t>{1, 3, 3} && g.in[0] == 1 &&
                          g.dilation == std::vector<std::int64_t>{1, 1, 1} &&
                          g.stride[1] == g.stride[2] && (g.stride[1] == 1 || g.stride[1] == 2);
      if (depthwise_3x3_masked_applicable(g)) {
        depthwise_3x3_masked(g, xd, wd, bd, n, c, yd, epilogue_, sd);
      } else if (is_3x3 && depthwise_3x3_s2_applicable(g)) {
        depthwise_3x3_s2(g, xd, wd, bd, n, c, yd, epilogue_, sd);
      } else if (is_3x3) {
        depthwise_3x3(g, xd, wd, bd, n, c, yd, epilogue_, sd);
      } else {
        depthwise(g, xd, wd, bd, n, c, yd, epilogue_, sd);
      }
      return;
    }
    const std::vector<std::int64_t> zeros(3, 0);
    if (ksize == 1 && prod(g.stride) > 1 && g.pad_begin == zeros && g.pad_end == zeros) {
      // A strided 1x1 (a ResNet shortcut) reads one input pixel in four: it is the pointwise
      // layer of the subsampled input, which is copied first (a quarter of the input, one
      // pass) and then runs on the pointwise paths. Read in place, the stride-2 paths copied or
      // streamed the whole input: ResNet-18's 64->128 shortcut took 0.30 ms against ONNX
      // Runtime's 0.13 at one thread.
      subsample_strided(g, xd, n * c, subsampled_);
      xd = subsampled_.data();
      g.in = g.out;
      g.stride = {1, 1, 1};
      in_plane = out_plane;
    }
    const bool pointwise =
        ksize == 1 && prod(g.stride) == 1 && g.pad_begin == zeros && g.pad_end == zeros;
    const std::int64_t kdim = cg * ksize;
    // A first layer on an image (K of at most 64) multiplies straight from the input
    // (conv_narrow.h), and so do the lightest pointwise layers (at most 2048 multiply-adds per
    // output pixel: MobileNetV2's 32->16 and 16->96 at 112x112, where streaming the rows
    // matters more than the multiplies; the model 3% faster at one thread). Heavier pointwise
    // layers with few input channels measured faster on conv_direct and conv_oc_lanes (the
    // model 9% slower with all of them here).
    constexpr std::int64_t kNarrowPointwiseMacs = 2048;
    if ((!pointwise || c * m <= kNarrowPointwiseMacs) &&
        conv_narrow_applicable(g, group_, c, epilogue_)) {
      ensure_packed(w, m, kdim, Layout::kNarrow);
      conv_narrow(g, xd, packed_[0].data(), bd, sd, yd, n, c, m, epilogue_);
      return;
    }
    if (conv_gemm_available()) {
      compute_packed(g, w, xd, bd, sd, yd, n, c, m, pointwise);
      return;
    }
    const std::int64_t width = conv_tile_width(
        pointwise ? 1024 : std::clamp<std::int64_t>(65536 / kdim, 64, 512), out_plane);
    const std::int64_t tiles = (out_plane + width - 1) / width;
    const std::vector<Tap> taps = make_taps(g, cg);
    for (std::int64_t b = 0; b < n; ++b) {
      for (std::int64_t gi = 0; gi < group_; ++gi) {
        const float* xg = xd + (b * c + gi * cg) * in_plane;
        const float* wg = wd + gi * mg * kdim;
        const std::int64_t yoff = (b * m + gi * mg) * out_plane;
        float* yg = yd + yoff;
        const float* sg = sd ? sd + yoff : nullptr;
        const float* bg = bd ? bd + gi * mg : nullptr;
        if (tiles < num_threads() || mg >= out_plane) {
          // Small maps with many channels (the late stages): the weights outweigh the pixels,
          // so unfold once (in parallel) and split the GEMM by output channels; each thread
          // then streams only its share of the weights.
          const float* rhs = xg;
          if (!pointwise) {
            float* col = scratch_f32(kdim * out_plane);
            parallel_for(out_plane, 16, [&](std::int64_t p0, std::int64_t p1) {
              im2col_tile(g, taps, xg, p0, p1, col + p0, out_plane);
            });
            rhs = col;
          }
          gemm_f32(false, false, mg, out_plane, kdim, 1.0F, wg, kdim, rhs, out_plane, 0.0F, yg,
                   out_plane);
          parallel_for(mg, 8, [&](std::int64_t r0, std::int64_t r1) {
            epilogue_.apply(yg + r0 * out_plane, out_plane, r1 - r0, out_plane,
                            bg ? bg + r0 : nullptr, sg ? sg + r0 * out_plane : nullptr, out_plane);
          });
          continue;
        }
        // Each tile: unfold its pixels into this thread's scratch, one GEMM into the output,
        // then the epilogue while the block is still in cache.
        parallel_for(tiles, 1, [&](std::int64_t t0, std::int64_t t1) {
          for (std::int64_t t = t0; t < t1; ++t) {
            const std::int64_t p0 = t * width, p1 = std::min(out_plane, p0 + width);
            const float* rhs = xg + p0;
            std::int64_t ldb = in_plane;
            if (!pointwise) {
              float* col = scratch_f32(kdim * (p1 - p0));
              im2col_tile(g, taps, xg, p0, p1, col, p1 - p0);
              rhs = col;
              ldb = p1 - p0;
            }
            gemm_f32_serial(false, false, mg, p1 - p0, kdim, 1.0F, wg, kdim, rhs, ldb, 0.0F,
                            yg + p0, out_plane);
            epilogue_.apply(yg + p0, out_plane, mg, p1 - p0, bg, sg ? sg + p0 : nullptr, out_plane);
          }
        });
      }
    }
  }

 private:
  // The layouts the weights are cached in: conv_gemm's A panels, conv_oc_lanes' channel
  // vectors, conv_narrow's 16-channel blocks.
  enum class Layout { kGemm, kOcLanes, kNarrow };

  // The weights in `layout` for every group (m output channels of kdim inputs each), packed
  // again only when they change: the cache is keyed on the weight's storage (which the kernel
  // keeps a reference to, so the address cannot be reused) and its version, so both a weight
  // fed at run time and an in-place update of an initializer (an optimizer step) are repacked.
  void ensure_packed(const Tensor& w, std::int64_t m, std::int64_t kdim, Layout layout) {
    const float* wd = w.data<float>();
    if (packed_source_ == wd && packed_version_ == w.version() && packed_layout_ == layout &&
        packed_.size() == static_cast<std::size_t>(group_) && packed_m_ == m && packed_k_ == kdim) {
      return;
    }
    const std::int64_t mg = m / group_;
    packed_.resize(static_cast<std::size_t>(group_));
    for (std::int64_t gi = 0; gi < group_; ++gi) {
      const float* wg = wd + gi * mg * kdim;
      std::vector<float>& dst = packed_[static_cast<std::size_t>(gi)];
      switch (layout) {
        case Layout::kGemm:
          dst = pack_a(wg, mg, kdim);
          break;
        case Layout::kOcLanes:
          pack_oc_lanes(wg, mg, kdim, dst);  // storage reused across training steps
          break;
        case Layout::kNarrow:
          dst = pack_narrow(wg, mg, kdim);
          break;
      }
    }
    packed_layout_ = layout;
    packed_source_ = wd;
    packed_weight_ = w;  // pins the storage, so its address cannot be reused while cached
    packed_version_ = w.version();
    packed_m_ = m;
    packed_k_ = kdim;
  }

  // The conv_gemm path (and conv_oc_lanes, conv_direct), on weights packed by ensure_packed.
  void compute_packed(const G& g, const Tensor& w, const float* xd, const float* bd,
                      const float* sd, float* yd, std::int64_t n, std::int64_t c, std::int64_t m,
                      bool pointwise) {
    const std::int64_t kdim = c / group_ * prod(g.kernel);
    // Output channels as lanes where that path applies (conv_oc_lanes.h); the weights are then
    // cached in its layout instead of conv_gemm's.
    const auto runs = pointwise_as_runs(g, m, num_threads());
    const G& gl = runs ? *runs : g;
    const bool lanes = conv_oc_lanes_applicable(gl, group_, c);
    ensure_packed(w, m, kdim, lanes ? Layout::kOcLanes : Layout::kGemm);
    // Layers conv_oc_lanes takes (AVX-512, stride 1 or 2, rows of 7+ pixels, K >= 64) go there.
    // Other stride-1 2-D layers read the input in place (conv_direct.h), except those conv_packed
    // packs by masked loads (shift_packable: "same" width, e.g. every padded 3x3 of a
    // ResNet), whose contiguous, aligned panels ran 1.3-1.6x faster than conv_direct's tap
    // rows (docs/benchmarks.md (e), third pass). Also measured slower on conv_direct: strided
    // layers (the phase copy costs more than im2col saves), pointwise layers on small maps,
    // and batches of small maps, where conv_packed shares each weight pass between images.
    if (lanes) {
      conv_oc_lanes(gl, packed_[0], xd, bd, sd, yd, n, c, m, epilogue_);
      return;
    }
    const std::int64_t out_plane = prod(g.out);
    const bool direct = conv_direct_applicable(g) && g.stride[1] == 1 && g.stride[2] == 1 &&
                        (pointwise || !shift_packable(g)) && (n == 1 || out_plane > 256) &&
                        (!pointwise || out_plane > 256);
    if (direct && conv_direct(g, packed_, xd, bd, sd, yd, n, c, m, group_, epilogue_)) return;
    // A batch of at least one image per thread: each thread runs a contiguous share of the
    // images alone (conv_packed's own parallel loops run serially when nested), one pool
    // barrier per layer instead of one per image, as the backward convolutions do.
    const std::int64_t parts = num_threads();
    if (parts > 1 && n >= parts) {
      const std::int64_t x_image = c * prod(g.in), y_image = m * out_plane;
      parallel_for(parts, 1, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t p = t0; p < t1; ++p) {
          const std::int64_t b0 = p * n / parts, b1 = (p + 1) * n / parts;
          conv_packed(g, packed_, xd + b0 * x_image, bd,
                      sd != nullptr ? sd + b0 * y_image : nullptr, yd + b0 * y_image, b1 - b0, c, m,
                      group_, pointwise, epilogue_);
        }
      });
      return;
    }
    conv_packed(g, packed_, xd, bd, sd, yd, n, c, m, group_, pointwise, epilogue_);
  }

  Attributes attrs_;
  std::int64_t group_;
  std::string op_;
  ConvEpilogue epilogue_;
  std::vector<std::vector<float>> packed_;  // per group, in packed_layout_
  const float* packed_source_ = nullptr;
  Tensor packed_weight_;
  std::uint64_t packed_version_ = 0;
  std::int64_t packed_m_ = 0, packed_k_ = 0;
  Layout packed_layout_ = Layout::kGemm;
  std::vector<float> subsampled_;  // a strided 1x1's input pixels, kept between runs
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
    ACT_CHECK(w.dim(0) == c, "ConvTranspose: input has ", c, " channels, weight expects ",
              w.dim(0));
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

// Conv gradients (domain "act"), attributes as the forward Conv. ConvGradInput(dY, W, X) -> dX,
// ConvGradWeight(dY, X, W) -> dW; X and W are read for their shapes (and X's values for the
// weight gradient).
//
// dX with stride 1 is itself a convolution: dY convolved with the weights transposed (input
// and output channels swapped) and flipped, padded by dilation * (k - 1) - pad; it runs on the
// forward path (conv_packed), so no im2col matrix is built and nothing is scattered back.
// Packing dY costs the same whatever the number of input channels (the product's rows), so
// narrow layers (the Fashion-MNIST CNN's 16 and 32 channels, depthwise) measured faster the
// old way, which other strides take too: per image, W^T dY folded back with col2im.
//
// dW: per image, dY times the transposed im2col of X, accumulated by the BLAS; with several
// threads, images are shared out (weight_by_images). Shift-packable windows (every padded
// stride-1 3x3 of a ResNet) run the product on conv_gemm's micro-kernel instead
// (weight_grad_packed): im2col by masked loads in L2-sized pixel blocks, transposed 8x8 in
// registers into B panels; OpenBLAS ran the 64-channel 32x32 layers at ~55 GFLOP/s (the
// 2.4 MB unfolded image lives in L3). An earlier micro-kernel version that unfolded X
// straight into B through im2col_row's sink measured no faster.
// The flipped, transposed weights of one group, A'[ci][mi * ksize + kk] = W[mi][ci][ksize - 1 -
// kk] (wg: the group's first weight row, [mg][cg][ksize]), in blocks of `width` input channels:
// [ceil(cg / width)][mg * ksize][width], channels past cg zero. ConvGradInput's operand, in
// conv_gemm's A layout (width kMr) or conv_oc_lanes' (width kOcLanes).
// Written into `a`, whose storage is reused when the size is unchanged: training repacks on
// every step, and a fresh multi-megabyte vector per call paid its page faults every time.
void pack_flipped(const float* wg, std::int64_t mg, std::int64_t cg, std::int64_t ksize,
                  std::int64_t width, std::vector<float>& a) {
  const std::int64_t k = mg * ksize, blocks = (cg + width - 1) / width;
  a.resize(static_cast<std::size_t>(blocks * k * width));
  parallel_for(blocks, 1, [&](std::int64_t cb0, std::int64_t cb1) {
    for (std::int64_t cb = cb0; cb < cb1; ++cb) {
      const std::int64_t rows = std::min(width, cg - cb * width);
      float* dst = a.data() + cb * k * width;
      for (std::int64_t mi = 0; mi < mg; ++mi) {
        const float* wm = wg + (mi * cg + cb * width) * ksize;
        for (std::int64_t kk = 0; kk < ksize; ++kk) {
          float* d = dst + (mi * ksize + kk) * width;
          for (std::int64_t r = 0; r < rows; ++r) d[r] = wm[r * ksize + ksize - 1 - kk];
          for (std::int64_t r = rows; r < width; ++r) d[r] = 0.0F;
        }
      }
    }
  });
}

class ConvGradKernel final : public OpKernel {
 public:
  static constexpr std::int64_t kMinFlippedChannels = 48;  // input channels per group

  ConvGradKernel(const KernelInit& init, bool weight)
      : attrs_(init.node.attrs), group_(attrs_.get_int("group", 1)), weight_(weight) {}

  void compute(KernelContext& ctx) override {
    const char* op = weight_ ? "ConvGradWeight" : "ConvGradInput";
    const Tensor& dy = ctx.input(0);
    const Tensor& x = weight_ ? ctx.input(1) : ctx.input(2);
    const Tensor& w = weight_ ? ctx.input(2) : ctx.input(1);
    const std::int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0);
    const auto kernel = kernel_dims(op, attrs_, w);
    std::vector<std::int64_t> in(x.shape().begin() + 2, x.shape().end());
    const G g = as_3d(op, resolve_window(op, attrs_, in, kernel, false));
    const std::int64_t cg = c / group_, mg = m / group_;
    const std::int64_t in_plane = prod(g.in), out_plane = prod(g.out);
    const std::int64_t kdim = cg * prod(g.kernel);
    ACT_CHECK(dy.numel() == n * m * out_plane, op, ": gradient ", dy.describe(),
              " does not match the convolution's output");
    const float* dyd = dy.data<float>();
    if (weight_) {
      Tensor& dw = ctx.allocate(0, DType::kF32, w.shape());
      float* dwd = dw.data<float>();
      std::fill(dwd, dwd + dw.numel(), 0.0F);
      const std::vector<Tap> taps = make_taps(g, cg);
#if ACT_MICRO_KERNEL_AVX2
      if (num_threads() > 1 && group_ == 1 && !weight_grad_taps_applicable(g, cg) &&
          weight_packed(g) && mg >= 4 * kMr * num_threads()) {
        // Small maps: each thread takes a share of dW's rows (whole row blocks) over every
        // image, so it streams only its share of dW and there is no sum of partial dWs
        // afterwards. Shares of the images, each with a whole partial dW, measured 2% slower
        // for ResNet-18's ConvGradWeight at two threads (the 512-channel 4x4 layers scale
        // 1.6x).
        const float* xd = x.data<float>();
        const std::int64_t parts = num_threads(), row_blocks = (mg + kMr - 1) / kMr;
        parallel_for(parts, 1, [&](std::int64_t t0, std::int64_t t1) {
          for (std::int64_t t = t0; t < t1; ++t) {
            const std::int64_t r0 = std::min(mg, t * row_blocks / parts * kMr);
            const std::int64_t r1 = std::min(mg, (t + 1) * row_blocks / parts * kMr);
            for (std::int64_t b = 0; b < n && r1 > r0; ++b) {
              weight_grad_packed(g, cg, r1 - r0, xd + b * c * in_plane,
                                 dyd + (b * m + r0) * out_plane, dwd + r0 * kdim);
            }
          }
        });
        return;
      }
#endif
      if (num_threads() > 1 && n >= num_threads()) {
        weight_by_images(g, taps, x.data<float>(), dyd, dwd, dw.numel(), n, c, m);
        return;
      }
      if (num_threads() == 1 && weight_grad_taps_applicable(g, cg)) {
        for (std::int64_t gi = 0; gi < group_; ++gi) {
          weight_grad_taps(g, cg, mg, x.data<float>() + gi * cg * in_plane, c * in_plane,
                           dyd + gi * mg * out_plane, m * out_plane, n, dwd + gi * mg * kdim);
        }
        return;
      }
#if ACT_MICRO_KERNEL_AVX2
      if (num_threads() == 1 && weight_packed(g)) {
        for (std::int64_t b = 0; b < n; ++b) {
          for (std::int64_t gi = 0; gi < group_; ++gi) {
            weight_grad_packed(g, cg, mg, x.data<float>() + (b * c + gi * cg) * in_plane,
                               dyd + (b * m + gi * mg) * out_plane, dwd + gi * mg * kdim);
          }
        }
        return;
      }
#endif
      float* col = scratch_f32(kdim * out_plane);
      for (std::int64_t b = 0; b < n; ++b) {
        for (std::int64_t gi = 0; gi < group_; ++gi) {
          const float* xg = x.data<float>() + (b * c + gi * cg) * in_plane;
          parallel_for(out_plane, 64, [&](std::int64_t p0, std::int64_t p1) {
            im2col_tile(g, taps, xg, p0, p1, col + p0, out_plane);
          });
          gemm_f32(false, true, mg, kdim, out_plane, 1.0F, dyd + (b * m + gi * mg) * out_plane,
                   out_plane, col, out_plane, 1.0F, dwd + gi * mg * kdim, kdim);
        }
      }
      return;
    }
    Tensor& dx = ctx.allocate(0, DType::kF32, x.shape());
    float* dxd = dx.data<float>();
    if (conv_gemm_available() && input_as_conv(g, w, dyd, dxd, n, c, m)) return;
    if (conv_grad_input_phases_applicable(g, group_, m)) {
      // Strided layers, phase by phase (conv_oc_lanes.h): 1.4-1.7x the GEMM + col2im path.
      pack_grad_input_phases(g, w.data<float>(), m, c, phases_);
      conv_grad_input_phases(g, phases_, dyd, dxd, n, c, m);
      return;
    }
    std::fill(dxd, dxd + dx.numel(), 0.0F);
    float* col = scratch_f32(kdim * out_plane);
    // col2im scatters from the transposed geometry: "input" = conv output, "output" = input.
    G t = g;
    std::swap(t.in, t.out);
    for (std::int64_t b = 0; b < n; ++b) {
      for (std::int64_t gi = 0; gi < group_; ++gi) {
        gemm_f32(true, false, kdim, out_plane, mg, 1.0F, w.data<float>() + gi * mg * kdim, kdim,
                 dyd + (b * m + gi * mg) * out_plane, out_plane, 0.0F, col, out_plane);
        col2im(t, col, cg, dxd + (b * c + gi * cg) * in_plane);
      }
    }
  }

 private:
  // dX as the convolution of dY with the flipped, transposed weights; false (nothing written)
  // unless every stride is 1 and the padding fits inside the flipped window.
  bool input_as_conv(const G& g, const Tensor& w, const float* dyd, float* dxd, std::int64_t n,
                     std::int64_t c, std::int64_t m) {
    if (c / group_ < kMinFlippedChannels) return false;
    G t = g;
    std::swap(t.in, t.out);
    for (std::size_t i = 0; i < 3; ++i) {
      if (g.stride[i] != 1) return false;
      const std::int64_t reach = g.dilation[i] * (g.kernel[i] - 1);
      t.pad_begin[i] = reach - g.pad_begin[i];
      t.pad_end[i] = reach - g.pad_end[i];
      if (t.pad_begin[i] < 0 || t.pad_end[i] < 0) return false;
    }
    const std::int64_t cg = c / group_, mg = m / group_, ksize = prod(g.kernel);
    const float* wd = w.data<float>();
    const auto runs = pointwise_as_runs(t, c, num_threads());
    const G& tl = runs ? *runs : t;
    if (group_ == 1 && conv_oc_lanes_applicable(tl, 1, m)) {
      // Input channels as the lanes (conv_oc_lanes.h), the same block the forward pass runs.
      pack_flipped(wd, m, c, ksize, kOcLanes, flipped_lanes_);
      conv_oc_lanes(tl, flipped_lanes_, dyd, nullptr, nullptr, dxd, n, m, c, ConvEpilogue{});
      return true;
    }
    flipped_.resize(static_cast<std::size_t>(group_));
    for (std::int64_t gi = 0; gi < group_; ++gi) {
      pack_flipped(wd + gi * mg * cg * ksize, mg, cg, ksize, kMr,
                   flipped_[static_cast<std::size_t>(gi)]);
    }
    const bool pointwise = ksize == 1 && t.pad_begin == std::vector<std::int64_t>(3, 0) &&
                           t.pad_end == std::vector<std::int64_t>(3, 0);
    // With several threads each takes a contiguous share of the images and runs the
    // convolution alone (conv_packed's own parallel loops run serially when nested): one pool
    // barrier per layer instead of one per image and group.
    const std::int64_t parts = num_threads();
    if (parts > 1 && n >= parts) {
      const std::int64_t dy_image = m * prod(g.out), dx_image = c * prod(g.in);
      parallel_for(parts, 1, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t p = t0; p < t1; ++p) {
          const std::int64_t b0 = p * n / parts, b1 = (p + 1) * n / parts;
          conv_packed(t, flipped_, dyd + b0 * dy_image, nullptr, nullptr, dxd + b0 * dx_image,
                      b1 - b0, m, c, group_, pointwise, ConvEpilogue{});
        }
      });
      return true;
    }
    conv_packed(t, flipped_, dyd, nullptr, nullptr, dxd, n, m, c, group_, pointwise,
                ConvEpilogue{});
    return true;
  }

  // ConvGradWeight on conv_gemm's micro-kernel (weight_grad_packed) instead of im2col + BLAS.
  static bool weight_packed(const G& g) {
    return conv_gemm_available() && shift_packable(g);
  }

  // dW with several threads: each takes a contiguous share of the images and accumulates its
  // own partial dW on one thread (unfold, then a serial GEMM), and the partials are added at
  // the end. Splitting every image's product instead put two pool barriers per image (1,280
  // per ResNet-18 step), and on a shared machine each barrier waits for the slowest thread.
  void weight_by_images(const G& g, const std::vector<Tap>& taps, const float* xd, const float* dyd,
                        float* dwd, std::int64_t numel, std::int64_t n, std::int64_t c,
                        std::int64_t m) {
    const std::int64_t cg = c / group_, mg = m / group_;
    const std::int64_t in_plane = prod(g.in), out_plane = prod(g.out);
    const std::int64_t kdim = cg * prod(g.kernel);
    const std::int64_t parts = num_threads();
    partials_.resize(static_cast<std::size_t>((parts - 1) * numel));
    parallel_for(parts, 1, [&](std::int64_t t0, std::int64_t t1) {
      for (std::int64_t t = t0; t < t1; ++t) {
        float* acc = t == 0 ? dwd : partials_.data() + (t - 1) * numel;
        std::fill(acc, acc + numel, 0.0F);
        const std::int64_t b0 = t * n / parts, b1 = (t + 1) * n / parts;
        if (weight_grad_taps_applicable(g, cg)) {
          for (std::int64_t gi = 0; gi < group_; ++gi) {
            weight_grad_taps(g, cg, mg, xd + (b0 * c + gi * cg) * in_plane, c * in_plane,
                             dyd + (b0 * m + gi * mg) * out_plane, m * out_plane, b1 - b0,
                             acc + gi * mg * kdim);
          }
          continue;
        }
        float* col = scratch_f32(kdim * out_plane);
        for (std::int64_t b = b0; b < b1; ++b) {
          for (std::int64_t gi = 0; gi < group_; ++gi) {
#if ACT_MICRO_KERNEL_AVX2
            if (weight_packed(g)) {
              weight_grad_packed(g, cg, mg, xd + (b * c + gi * cg) * in_plane,
                                 dyd + (b * m + gi * mg) * out_plane, acc + gi * mg * kdim);
              continue;
            }
#endif
            im2col_tile(g, taps, xd + (b * c + gi * cg) * in_plane, 0, out_plane, col, out_plane);
            gemm_f32_serial(false, true, mg, kdim, out_plane, 1.0F,
                            dyd + (b * m + gi * mg) * out_plane, out_plane, col, out_plane, 1.0F,
                            acc + gi * mg * kdim, kdim);
          }
        }
      }
    });
    parallel_for(numel, 16384, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t t = 1; t < parts; ++t) {
        const float* __restrict src = partials_.data() + (t - 1) * numel;
        float* __restrict dst = dwd;
        for (std::int64_t i = i0; i < i1; ++i) dst[i] += src[i];
      }
    });
  }

  Attributes attrs_;
  std::int64_t group_;
  bool weight_;
  std::vector<std::vector<float>> flipped_;  // ConvGradInput: per group, conv_gemm A layout
  std::vector<float> flipped_lanes_;         // ConvGradInput on conv_oc_lanes: its layout
  std::vector<std::vector<float>> phases_;   // strided ConvGradInput, per phase
  std::vector<float> partials_;              // ConvGradWeight: dW of threads 1.. (weight_by_images)
};

}  // namespace

void register_conv_cpu(OpRegistry& r) {
  r.add_kernel("ConvGradInput", "act", DeviceKind::kCpu, {DType::kF32}, [](const KernelInit& init) {
    return std::make_unique<ConvGradKernel>(init, false);
  });
  r.add_kernel("ConvGradWeight", "act", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& init) { return std::make_unique<ConvGradKernel>(init, true); });
  r.add_kernel("Conv", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& init) { return std::make_unique<ConvKernel>(init, false); });
  r.add_kernel("FusedConv", "act", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& init) { return std::make_unique<ConvKernel>(init, true); });
  r.add_kernel("ConvTranspose", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& init) { return std::make_unique<ConvTransposeKernel>(init); });
}

}  // namespace act::cpu
