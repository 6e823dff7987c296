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

// Maps whose output rows are short (at most 8 outputs at stride 1, 7 at stride 2: MobileNetV2's
// 7x7 layers and its 14x14 -> 7x7 one): two output rows per vector, lanes [0, ow) the first and
// [ow, 2 ow) the second, stored with one masked store per pair. One 16-float load from column
// -pw covers all of an input row's taps (tap kw of output column q is lane s q + kw <= 14), and
// one two-source permute per tap picks the first row's lanes from one row's load and the
// second's from the other's. Row by row, the stride-2 layer used 7 of 16 lanes and four loads
// per kernel row: 0.046 -> 0.021 ms (conv_bench, one thread). (A flat run of the plane's pixels
// with a mask per tap, used before for small stride-1 maps, ran no faster at 7x7 and 1.7x
// slower at 14x14 than these pairs and the row kernel.)
struct Pairs {
  __m512i index[3];
  __mmask16 load = 0, both = 0, one = 0;

  static bool applies(const WindowGeometry& g) {
    return g.stride[1] == 2 ? g.out[2] <= 7 : g.out[2] <= 8;
  }

  Pairs() = default;
  explicit Pairs(const WindowGeometry& g) {
    const std::int64_t ow = g.out[2];
    const std::int64_t s = g.stride[1];
    for (int kw = 0; kw < 3; ++kw) {
      alignas(64) std::int32_t lane[16] = {};
      for (std::int64_t j = 0; j < 2 * ow; ++j) {
        lane[j] = static_cast<std::int32_t>(j < ow ? s * j + kw : 16 + s * (j - ow) + kw);
      }
      index[kw] = _mm512_load_si512(lane);
    }
    load = lanes_inside(-g.pad_begin[2], g.in[2]);
    both = static_cast<__mmask16>((1U << (2 * ow)) - 1U);
    one = static_cast<__mmask16>((1U << ow) - 1U);
  }
};

// The activation applied in registers before each store: a clamp to [lo, hi] (Relu: [0, inf),
// Clip: its bounds, none: infinite bounds). Epilogues with a residual input or another
// activation run afterwards through ConvEpilogue::apply instead.
struct Clamp {
  __m512 lo = _mm512_set1_ps(-INFINITY), hi = _mm512_set1_ps(INFINITY);
};

// The three taps (kw = 0, 1, 2) of one kernel row for the 16 outputs of a block that starts at
// `p` (column start of the block's first window).
template <int S>
[[gnu::always_inline]] inline void row_taps(const float* p, const __mmask16* m, __m512 t[3]) {
  if constexpr (S == 1) {
    t[0] = _mm512_maskz_loadu_ps(m[0], p);
    t[1] = _mm512_maskz_loadu_ps(m[1], p + 1);
    t[2] = _mm512_maskz_loadu_ps(m[2], p + 2);
  } else {
    stride2_taps3(p, m, _mm512_setzero_ps(), t);
  }
}

[[gnu::always_inline]] inline void store_lanes(float* dst, __mmask16 m, __m512 v) {
  if (m == 0xFFFF) {
    _mm512_storeu_ps(dst, v);
  } else {
    _mm512_mask_storeu_ps(dst, m, v);
  }
}

// One plane, in blocks of 16 outputs of a row. Masked-off lanes are never read, so addresses
// before the row (the left padding) or past the plane are not touched. Each output vector keeps
// three accumulators (one per kernel row) so its nine FMAs are not one dependency chain.
// Stride 1 takes two output rows per pass, which read four input rows instead of six; with the
// padding rows read from zeros instead of branched around, MobileNetV2's 144-channel 56x56
// layer went from 0.21 to 0.12 ms (conv_bench, one thread). Stride 2 goes one row at a time:
// two rows per pass (five input rows) ran no faster warm and slower with cold caches.
template <int S>
void plane_3x3(const WindowGeometry& g, const Columns& cols, const float* xp, const float* zero,
               const float* wc, float bias, const Clamp& clamp, float* yp) {
  const std::int64_t ih_n = g.in[1], iw_n = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t ph = g.pad_begin[1], pw = g.pad_begin[2], blocks = cols.blocks;
  const __mmask16* load = cols.load.data();
  const __mmask16* store = cols.store.data();
  const __m512 lo = clamp.lo, hi = clamp.hi;
  __m512 k[9];
  for (int i = 0; i < 9; ++i) k[i] = _mm512_set1_ps(wc[i]);
  const __m512 b = _mm512_set1_ps(bias);
  std::int64_t oh = 0;
  for (; S == 1 && oh + 2 <= oh_n; oh += 2) {
    const float* r[4];  // the input rows under the two output rows
    for (int i = 0; i < 4; ++i) r[i] = row_or(xp, oh - ph + i, ih_n, iw_n, zero);
    float* ya = yp + oh * ow_n;
    float* yb = ya + ow_n;
    for (std::int64_t bl = 0; bl < blocks; ++bl) {
      const __mmask16* m = load + bl * 4;
      const std::int64_t start = 16 * bl - pw;
      __m512 a[3] = {b, _mm512_setzero_ps(), _mm512_setzero_ps()};
      __m512 c[3] = {b, _mm512_setzero_ps(), _mm512_setzero_ps()};
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        __m512 t[3];
        row_taps<1>(r[i] + start, m, t);
        if (i < 3) {  // kernel row i of the first output row
          for (int kw = 0; kw < 3; ++kw) a[i] = _mm512_fmadd_ps(k[3 * i + kw], t[kw], a[i]);
        }
        if (i > 0) {  // kernel row i - 1 of the second
          const int kh = i - 1;
          for (int kw = 0; kw < 3; ++kw) c[kh] = _mm512_fmadd_ps(k[3 * kh + kw], t[kw], c[kh]);
        }
      }
      const __mmask16 sm = store[bl];
      store_lanes(ya + 16 * bl, sm,
                  clamp_lanes(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), a[2]), lo, hi));
      store_lanes(yb + 16 * bl, sm,
                  clamp_lanes(_mm512_add_ps(_mm512_add_ps(c[0], c[1]), c[2]), lo, hi));
    }
  }
  for (; oh < oh_n; ++oh) {
    const float* r[3];
    for (int i = 0; i < 3; ++i) r[i] = row_or(xp, oh * S - ph + i, ih_n, iw_n, zero);
    float* ya = yp + oh * ow_n;
    for (std::int64_t bl = 0; bl < blocks; ++bl) {
      const __mmask16* m = load + bl * 4;
      const std::int64_t start = S * 16 * bl - pw;
      __m512 a[3] = {b, _mm512_setzero_ps(), _mm512_setzero_ps()};
      for (int i = 0; i < 3; ++i) {
        __m512 t[3];
        row_taps<S>(r[i] + start, m, t);
        for (int kw = 0; kw < 3; ++kw) a[i] = _mm512_fmadd_ps(k[3 * i + kw], t[kw], a[i]);
      }
      store_lanes(ya + 16 * bl, store[bl],
                  clamp_lanes(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), a[2]), lo, hi));
    }
  }
}

void plane_pairs(const WindowGeometry& g, const Pairs& pairs, const float* xp, const float* zero,
                 const float* wc, float bias, const Clamp& clamp, float* yp) {
  const std::int64_t ih_n = g.in[1], iw_n = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t ph = g.pad_begin[1], pw = g.pad_begin[2], s = g.stride[1];
  __m512 k[9];
  for (int i = 0; i < 9; ++i) k[i] = _mm512_set1_ps(wc[i]);
  const __m512 b = _mm512_set1_ps(bias);
  for (std::int64_t oh = 0; oh < oh_n; oh += 2) {
    const bool second = oh + 1 < oh_n;
    __m512 acc[3] = {b, _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int kh = 0; kh < 3; ++kh) {
      const std::int64_t ih = s * oh - ph + kh;
      const float* ra = row_or(xp, ih, ih_n, iw_n, zero) - pw;
      const float* rb = second ? row_or(xp, ih + s, ih_n, iw_n, zero) - pw : zero - pw;
      const __m512 la = _mm512_maskz_loadu_ps(pairs.load, ra);
      const __m512 lb = _mm512_maskz_loadu_ps(pairs.load, rb);
      for (int kw = 0; kw < 3; ++kw) {
        acc[kh] = _mm512_fmadd_ps(k[3 * kh + kw], _mm512_permutex2var_ps(la, pairs.index[kw], lb),
                                  acc[kh]);
      }
    }
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), acc[2]);
    _mm512_mask_storeu_ps(yp + oh * ow_n, second ? pairs.both : pairs.one,
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
  const bool paired = Pairs::applies(g);
  const Pairs pairs = paired ? Pairs(g) : Pairs{};
  // Padding rows read from here. Loads touch only the lanes inside [0, iw) of a row, so a row's
  // worth of zeros is enough.
  const std::vector<float> zeros(static_cast<std::size_t>(g.in[2]), 0.0F);
  const float* zero = zeros.data();
  parallel_for(batch * channels, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % channels;
      float* yp = y + plane * out_plane;
      const float bc = bias != nullptr ? bias[c] : 0.0F;
      if (paired) {
        plane_pairs(g, pairs, x + plane * in_plane, zero, w + c * 9, bc, clamp, yp);
      } else if (g.stride[1] == 1) {
        plane_3x3<1>(g, cols, x + plane * in_plane, zero, w + c * 9, bc, clamp, yp);
      } else {
        plane_3x3<2>(g, cols, x + plane * in_plane, zero, w + c * 9, bc, clamp, yp);
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
