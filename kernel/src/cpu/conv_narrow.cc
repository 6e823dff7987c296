#include "cpu/conv_narrow.h"

#include <algorithm>
#include <vector>

#include "act/kernel/parallel.h"
#include "cpu/avx512_lanes.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define ACT_CONV_NARROW 1
#else
#define ACT_CONV_NARROW 0
#endif

namespace act::cpu {

namespace {
constexpr std::int64_t kMaxK = 64;
constexpr std::int64_t kBlock = 16;  // output channels per register block
}  // namespace

bool conv_narrow_applicable(const WindowGeometry& g, std::int64_t group, std::int64_t c,
                            const ConvEpilogue& epi) {
  float lo = 0.0F, hi = 0.0F;
  const std::int64_t s = g.stride[1];
  return ACT_CONV_NARROW != 0 && group == 1 && g.in[0] == 1 && g.out[0] == 1 && g.kernel[0] == 1 &&
         g.pad_begin[0] == 0 && g.pad_end[0] == 0 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
         (s == 1 || s == 2) && g.stride[2] == s && c * g.kernel[1] * g.kernel[2] <= kMaxK &&
         g.out[2] >= kBlock && epi.clamp_bounds(lo, hi);
}

#if ACT_CONV_NARROW
namespace {

struct Layer {
  const WindowGeometry& g;
  std::int64_t c, m, kh_n, kw_n, k;
  const float* packed;  // [ceil(m / 16)][k][16], channels past m zero
  const float* bias;
  __m512 lo, hi;
  // Per block of 16 outputs and kw: the masks of the (one or two) loads of that tap.
  std::vector<__mmask16> masks;
  std::int64_t blocks;

  // Output row oh of channel block cb of one image.
  void row(const float* x, const float* sum, float* y, std::int64_t cb, std::int64_t oh) const {
    const std::int64_t ih_n = g.in[1], iw_n = g.in[2], ow_n = g.out[2];
    const std::int64_t s = g.stride[1], pt = g.pad_begin[1], pl = g.pad_begin[2];
    const std::int64_t in_plane = ih_n * iw_n, out_plane = g.out[1] * ow_n;
    const std::int64_t rows = std::min(kBlock, m - cb * kBlock);
    const float* wb = packed + cb * k * kBlock;
    // The taps this row reads (rows in the padding add nothing and are left out), gathered
    // first so the multiply loop is one flat loop whose accumulators stay in registers.
    const float* at[kMaxK];
    const float* wt[kMaxK];
    std::int64_t col[kMaxK];
    std::int64_t taps = 0;
    for (std::int64_t ci = 0; ci < c; ++ci) {
      for (std::int64_t r = 0; r < kh_n; ++r) {
        const std::int64_t ih = oh * s + r - pt;
        if (ih < 0 || ih >= ih_n) continue;
        for (std::int64_t q = 0; q < kw_n; ++q, ++taps) {
          at[taps] = x + ci * in_plane + ih * iw_n + q - pl;
          wt[taps] = wb + ((ci * kh_n + r) * kw_n + q) * kBlock;
          col[taps] = q;
        }
      }
    }
    // A pointwise row reads one row of every input plane, c streams at once, more than the
    // hardware prefetcher follows: each tap asks for the same block of the next row, which
    // the next task of this thread reads.
    const bool prefetch_next_row = kh_n == 1 && kw_n == 1 && s == 1 && oh + 1 < g.out[1];
    for (std::int64_t bl = 0; bl < blocks; ++bl) {
      __m512 acc[kBlock];
#pragma GCC unroll 16
      for (int i = 0; i < kBlock; ++i) acc[i] = _mm512_setzero_ps();
      const std::int64_t shift = s * kBlock * bl;
      const __mmask16* mb = masks.data() + bl * kw_n * 2;
      for (std::int64_t t = 0; t < taps; ++t) {
        const __mmask16* mk = mb + col[t] * 2;
        __m512 tap;
        if (s == 1) {
          tap = _mm512_maskz_loadu_ps(mk[0], at[t] + shift);
        } else {
          const __m512 a = _mm512_maskz_loadu_ps(mk[0], at[t] + shift);
          const __m512 b = _mm512_maskz_loadu_ps(mk[1], at[t] + shift + 16);
          tap = even_lanes(a, b);
        }
        if (prefetch_next_row) {
          _mm_prefetch(reinterpret_cast<const char*>(at[t] + shift + iw_n), _MM_HINT_T0);
        }
        const float* wk = wt[t];
#pragma GCC unroll 16
        for (int i = 0; i < kBlock; ++i) {
          acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(wk[i]), tap, acc[i]);
        }
      }
      const std::int64_t ow0 = bl * kBlock;
      const __mmask16 keep = lanes_inside(ow0, ow_n);
      // A constant trip count (with the channel check inside) keeps acc in registers: indexed
      // by a run-time count, GCC kept it in memory and stored all 16 after every tap.
#pragma GCC unroll 16
      for (int i = 0; i < kBlock; ++i) {
        if (i >= rows) break;
        const std::int64_t ch = cb * kBlock + i;
        const std::int64_t at = ch * out_plane + oh * ow_n + ow0;
        const __m512 v = finish_lanes(acc[i], bias != nullptr ? bias + ch : nullptr,
                                      sum != nullptr ? sum + at : nullptr, keep, lo, hi);
        _mm512_mask_storeu_ps(y + at, keep, v);
      }
    }
  }
};

}  // namespace

std::vector<float> pack_narrow(const float* w, std::int64_t m, std::int64_t k) {
  const std::int64_t cblocks = (m + kBlock - 1) / kBlock;
  std::vector<float> packed(static_cast<std::size_t>(cblocks * k * kBlock), 0.0F);
  for (std::int64_t ch = 0; ch < m; ++ch) {
    for (std::int64_t t = 0; t < k; ++t) {
      packed[static_cast<std::size_t>(((ch / kBlock) * k + t) * kBlock + ch % kBlock)] =
          w[ch * k + t];
    }
  }
  return packed;
}

void conv_narrow(const WindowGeometry& g, const float* x, const float* packed, const float* bias,
                 const float* sum, float* y, std::int64_t n, std::int64_t c, std::int64_t m,
                 const ConvEpilogue& epi) {
  const std::int64_t kh_n = g.kernel[1], kw_n = g.kernel[2], k = c * kh_n * kw_n;
  const std::int64_t cblocks = (m + kBlock - 1) / kBlock;
  float lo = 0.0F, hi = 0.0F;
  epi.clamp_bounds(lo, hi);
  Layer L{g,
          c,
          m,
          kh_n,
          kw_n,
          k,
          packed,
          bias,
          _mm512_set1_ps(lo),
          _mm512_set1_ps(hi),
          {},
          (g.out[2] + kBlock - 1) / kBlock};
  const std::int64_t s = g.stride[1], pl = g.pad_begin[2], iw_n = g.in[2];
  L.masks.resize(static_cast<std::size_t>(L.blocks * kw_n * 2));
  for (std::int64_t bl = 0; bl < L.blocks; ++bl) {
    for (std::int64_t q = 0; q < kw_n; ++q) {
      const std::int64_t start = s * kBlock * bl - pl + q;
      __mmask16* mk = L.masks.data() + (bl * kw_n + q) * 2;
      // Stride 2 loads 32 floats, of which the even ones are the 16 outputs' taps.
      mk[0] = lanes_inside(start, iw_n);
      mk[1] = s == 1 ? __mmask16{0} : lanes_inside(start + 16, iw_n);
    }
  }
  const std::int64_t oh_n = g.out[1];
  const std::int64_t x_image = c * g.in[1] * g.in[2], y_image = m * oh_n * g.out[2];
  const std::int64_t per_image = cblocks * oh_n;
  parallel_for(n * per_image, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t b = i / per_image, cb = (i % per_image) / oh_n, oh = i % oh_n;
      L.row(x + b * x_image, sum != nullptr ? sum + b * y_image : nullptr, y + b * y_image, cb, oh);
    }
  });
}
#else
std::vector<float> pack_narrow(const float*, std::int64_t, std::int64_t) {
  return {};
}
void conv_narrow(const WindowGeometry&, const float*, const float*, const float*, const float*,
                 float*, std::int64_t, std::int64_t, std::int64_t, const ConvEpilogue&) {}
#endif

}  // namespace act::cpu
