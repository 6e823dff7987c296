#include "cpu/conv_depthwise_masked.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "act/kernel/parallel.h"
#include "cpu/avx512_lanes.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define ACT_DW_MASKED 1
#else
#define ACT_DW_MASKED 0
#endif

namespace act::cpu {

bool depthwise_3x3_masked_applicable(const WindowGeometry& g) {
  return ACT_DW_MASKED != 0 && g.in[0] == 1 && g.out[0] == 1 && g.kernel[0] == 1 &&
         g.kernel[1] == 3 && g.kernel[2] == 3 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
         g.stride[1] == g.stride[2] && (g.stride[1] == 1 || g.stride[1] == 2) &&
         g.pad_begin[0] == 0 && g.pad_end[0] == 0;
}

#if ACT_DW_MASKED
namespace {

// Per block of 16 outputs of a row: the masks of the loads it makes (stride 1: one per kw;
// stride 2: [start, +16), [start + 16, +16), [start + 2, +16), [start + 18, +16)) and the
// mask of the outputs it stores. They depend only on the column, so they are computed once.
struct Columns {
  std::int64_t blocks = 0;
  std::vector<__mmask16> load;  // blocks x 4
  std::vector<__mmask16> store;

  Columns(std::int64_t ow_n, std::int64_t iw_n, std::int64_t s, std::int64_t pw) {
    blocks = (ow_n + 15) / 16;
    load.resize(static_cast<std::size_t>(blocks * 4));
    store.resize(static_cast<std::size_t>(blocks));
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t start = s * 16 * b - pw;
      __mmask16* m = load.data() + b * 4;
      if (s == 1) {
        for (int kw = 0; kw < 3; ++kw) m[kw] = lanes_inside(start + kw, iw_n);
      } else {
        m[0] = lanes_inside(start, iw_n);
        m[1] = lanes_inside(start + 16, iw_n);
        m[2] = lanes_inside(start + 2, iw_n);
        m[3] = lanes_inside(start + 18, iw_n);
      }
      store[static_cast<std::size_t>(b)] = lanes_inside(16 * b, ow_n);
    }
  }
};

// Small "same" stride-1 maps (rows under 16 pixels, output as large as the input): the plane
// as one flat run of pixels, 16 at a time whatever their row. Tap (kh, kw) of flat output p is
// flat input p + (kh - ph) * w + (kw - pw), so each tap of each vector is one contiguous masked
// load; the mask drops the lanes whose tap falls in the padding (above, below, or across a row
// end). A 7x7 plane then takes 4 vectors x 9 taps instead of 7 rows x 9 with 7 of 16 lanes
// used: MobileNetV2's 960-channel 7x7 layers ran 2.5x ONNX Runtime's time row by row.
struct Flat {
  std::int64_t vectors = 0;
  std::vector<__mmask16> load;  // vectors x 9
  __mmask16 last = 0;           // store mask of the last vector

  static bool applies(const WindowGeometry& g) {
    return g.stride[1] == 1 && g.out[2] < 16 && g.out[1] == g.in[1] && g.out[2] == g.in[2];
  }

  Flat() = default;
  explicit Flat(const WindowGeometry& g) {
    const std::int64_t h = g.out[1], w = g.out[2], ph = g.pad_begin[1], pw = g.pad_begin[2];
    const std::int64_t n = h * w;
    vectors = (n + 15) / 16;
    load.assign(static_cast<std::size_t>(vectors * 9), 0);
    for (std::int64_t v = 0; v < vectors; ++v) {
      for (int tap = 0; tap < 9; ++tap) {
        const std::int64_t dr = tap / 3 - ph, dc = tap % 3 - pw;
        unsigned bits = 0;
        for (int lane = 0; lane < 16; ++lane) {
          const std::int64_t p = v * 16 + lane, r = p / w + dr, c = p % w + dc;
          if (p < n && r >= 0 && r < h && c >= 0 && c < w) bits |= 1U << lane;
        }
        load[static_cast<std::size_t>(v * 9 + tap)] = static_cast<__mmask16>(bits);
      }
    }
    const std::int64_t tail = n - (vectors - 1) * 16;
    last = static_cast<__mmask16>((1U << tail) - 1U);
  }
};

// One plane. Masked-off lanes are never read, so addresses before the row (the left
// padding) or past the plane are not touched.
// The activation applied in registers before each store: a clamp to [lo, hi] (Relu: [0, inf),
// Clip: its bounds, none: infinite bounds). Epilogues with a residual input or another
// activation run afterwards through ConvEpilogue::apply instead.
struct Clamp {
  __m512 lo = _mm512_set1_ps(-INFINITY), hi = _mm512_set1_ps(INFINITY);
};

// One plane, three accumulators (one per kernel row) so a row's nine FMAs are not one chain.
void plane_3x3(const WindowGeometry& g, const Columns& cols, const float* xp, const float* wc,
               float bias, const Clamp& clamp, float* yp) {
  const std::int64_t ih_n = g.in[1], iw_n = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t s = g.stride[1], ph = g.pad_begin[1], pw = g.pad_begin[2];
  __m512 k[9];
  for (int i = 0; i < 9; ++i) k[i] = _mm512_set1_ps(wc[i]);
  const __m512 b = _mm512_set1_ps(bias);
  // Two-source permutes: even columns 0, 2, ..., 30 and odd 1, 3, ..., 31 of (lo, hi).
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (std::int64_t oh = 0; oh < oh_n; ++oh) {
    float* yr = yp + oh * ow_n;
    for (std::int64_t bl = 0; bl < cols.blocks; ++bl) {
      const __mmask16* m = cols.load.data() + bl * 4;
      const std::int64_t start = s * 16 * bl - pw;
      __m512 acc[3] = {b, _mm512_setzero_ps(), _mm512_setzero_ps()};
      for (int kh = 0; kh < 3; ++kh) {
        const std::int64_t ih = oh * s + kh - ph;
        if (ih < 0 || ih >= ih_n) continue;
        const float* row = xp + ih * iw_n + start;
        __m512& a = acc[kh];
        if (s == 1) {
          a = _mm512_fmadd_ps(k[3 * kh], _mm512_maskz_loadu_ps(m[0], row), a);
          a = _mm512_fmadd_ps(k[3 * kh + 1], _mm512_maskz_loadu_ps(m[1], row + 1), a);
          a = _mm512_fmadd_ps(k[3 * kh + 2], _mm512_maskz_loadu_ps(m[2], row + 2), a);
        } else {
          const __m512 lo = _mm512_maskz_loadu_ps(m[0], row);
          const __m512 hi = _mm512_maskz_loadu_ps(m[1], row + 16);
          const __m512 lo2 = _mm512_maskz_loadu_ps(m[2], row + 2);
          const __m512 hi2 = _mm512_maskz_loadu_ps(m[3], row + 18);
          a = _mm512_fmadd_ps(k[3 * kh], _mm512_permutex2var_ps(lo, even, hi), a);
          a = _mm512_fmadd_ps(k[3 * kh + 1], _mm512_permutex2var_ps(lo, odd, hi), a);
          a = _mm512_fmadd_ps(k[3 * kh + 2], _mm512_permutex2var_ps(lo2, even, hi2), a);
        }
      }
      const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), acc[2]);
      _mm512_mask_storeu_ps(yr + 16 * bl, cols.store[static_cast<std::size_t>(bl)],
                            clamp_lanes(sum, clamp.lo, clamp.hi));
    }
  }
}

void plane_flat(const WindowGeometry& g, const Flat& flat, const float* xp, const float* wc,
                float bias, const Clamp& clamp, float* yp) {
  const std::int64_t w = g.in[2], ph = g.pad_begin[1], pw = g.pad_begin[2];
  std::int64_t off[9];
  __m512 k[9];
  for (int i = 0; i < 9; ++i) {
    k[i] = _mm512_set1_ps(wc[i]);
    off[i] = (i / 3 - ph) * w + (i % 3 - pw);
  }
  const __m512 b = _mm512_set1_ps(bias);
  const __mmask16 all = 0xFFFF;
  for (std::int64_t v = 0; v < flat.vectors; ++v) {
    const __mmask16* m = flat.load.data() + v * 9;
    const float* base = xp + v * 16;
    __m512 acc[3] = {b, _mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 9
    for (int i = 0; i < 9; ++i) {
      acc[i / 3] = _mm512_fmadd_ps(k[i], _mm512_maskz_loadu_ps(m[i], base + off[i]), acc[i / 3]);
    }
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), acc[2]);
    _mm512_mask_storeu_ps(yp + v * 16, v + 1 == flat.vectors ? flat.last : all,
                          clamp_lanes(sum, clamp.lo, clamp.hi));
  }
}

}  // namespace

void depthwise_3x3_masked(const WindowGeometry& g, const float* x, const float* w,
                          const float* bias, std::int64_t batch, std::int64_t channels, float* y,
                          const ConvEpilogue& epi, const float* sum) {
  const Columns cols(g.out[2], g.in[2], g.stride[1], g.pad_begin[2]);
  const std::int64_t in_plane = g.in[1] * g.in[2], out_plane = g.out[1] * g.out[2];
  // Relu and Clip without a residual input go into the store; anything else afterwards.
  Clamp clamp;
  float lo = 0.0F, hi = 0.0F;
  const bool in_registers = sum == nullptr && epi.clamp_bounds(lo, hi);
  if (in_registers) clamp = Clamp{_mm512_set1_ps(lo), _mm512_set1_ps(hi)};
  const bool flat = Flat::applies(g);
  const Flat shape = flat ? Flat(g) : Flat{};
  parallel_for(batch * channels, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % channels;
      float* yp = y + plane * out_plane;
      const float bc = bias != nullptr ? bias[c] : 0.0F;
      if (flat) {
        plane_flat(g, shape, x + plane * in_plane, w + c * 9, bc, clamp, yp);
      } else {
        plane_3x3(g, cols, x + plane * in_plane, w + c * 9, bc, clamp, yp);
      }
      if (!in_registers) {
        epi.apply(yp, out_plane, 1, out_plane, nullptr,
                  sum != nullptr ? sum + plane * out_plane : nullptr, out_plane);
      }
    }
  });
}
#else
void depthwise_3x3_masked(const WindowGeometry&, const float*, const float*, const float*,
                          std::int64_t, std::int64_t, float*, const ConvEpilogue&, const float*) {}
#endif

}  // namespace act::cpu
