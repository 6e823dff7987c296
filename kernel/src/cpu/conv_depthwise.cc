#include "cpu/conv_depthwise.h"

#include <algorithm>
#include <cstring>

#include "act/kernel/parallel.h"
#include "cpu/nn_internal.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ACT_DW_S2 1
#else
#define ACT_DW_S2 0
#endif

namespace act::cpu {

namespace {

#if ACT_DW_S2
// Columns p, p + 2, ..., p + 14 (even) and p + 1, ..., p + 15 (odd) of a row.
inline void split(const float* p, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(p);
  const __m256 b = _mm256_loadu_ps(p + 8);
  // Within each 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6; the 64-bit permute restores order.
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}
#endif

}  // namespace

bool depthwise_3x3_s2_applicable(const WindowGeometry& g) {
  return ACT_DW_S2 != 0 && g.in[0] == 1 && g.kernel[0] == 1 && g.kernel[1] == 3 &&
         g.kernel[2] == 3 && g.stride[1] == 2 && g.stride[2] == 2 && g.dilation[1] == 1 &&
         g.dilation[2] == 1 && g.pad_begin[0] == 0 && g.pad_end[0] == 0;
}

void depthwise_3x3_s2(const WindowGeometry& g, const float* x, const float* w, const float* bias,
                      std::int64_t batch, std::int64_t channels, float* y, const ConvEpilogue& epi,
                      const float* sum) {
#if ACT_DW_S2
  const std::int64_t ih_n = g.in[1], iw_n = g.in[2], oh_n = g.out[1], ow_n = g.out[2];
  const std::int64_t ph = g.pad_begin[1], pw = g.pad_begin[2];
  const std::int64_t blocks = (ow_n + 7) / 8;
  // Padded plane: rows 2 * oh + {0, 1, 2}; a block of 8 outputs at ow0 reads columns
  // [2 * ow0, 2 * ow0 + 18), so rows are 16 * blocks + 2 wide (zero past the input).
  const std::int64_t hp = g.read_extent(1);
  const std::int64_t wp = 16 * blocks + 2;
  const std::int64_t c0 = std::min(pw, wp), c1 = std::clamp(iw_n + pw, c0, wp);
  const std::int64_t out_plane = oh_n * ow_n;
  parallel_for(batch * channels, 1, [&](std::int64_t p0, std::int64_t p1) {
    float* pad = scratch_f32(hp * wp + 8 * blocks);
    float* row_out = pad + hp * wp;
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % channels;
      const float* xp = x + plane * ih_n * iw_n;
      for (std::int64_t r = 0; r < hp; ++r) {
        float* dst = pad + r * wp;
        const std::int64_t ih = r - ph;
        if (ih < 0 || ih >= ih_n) {
          std::fill(dst, dst + wp, 0.0F);
          continue;
        }
        std::fill(dst, dst + c0, 0.0F);
        if (c1 > c0) {
          std::memcpy(dst + c0, xp + ih * iw_n + (c0 - pw),
                      static_cast<std::size_t>(c1 - c0) * sizeof(float));
        }
        std::fill(dst + c1, dst + wp, 0.0F);
      }
      const float* wc = w + c * 9;
      __m256 k[9];
      for (int i = 0; i < 9; ++i) k[i] = _mm256_set1_ps(wc[i]);
      const __m256 b = _mm256_set1_ps(bias != nullptr ? bias[c] : 0.0F);
      float* yp = y + plane * out_plane;
      for (std::int64_t oh = 0; oh < oh_n; ++oh) {
        const float* r0 = pad + 2 * oh * wp;
        for (std::int64_t bl = 0; bl < blocks; ++bl) {
          __m256 acc = b;
          const float* rr = r0 + 16 * bl;
          for (int kh = 0; kh < 3; ++kh, rr += wp) {
            __m256 e0, o0, e2, o2;
            split(rr, e0, o0);
            split(rr + 2, e2, o2);
            acc = _mm256_fmadd_ps(k[3 * kh], e0, acc);
            acc = _mm256_fmadd_ps(k[3 * kh + 1], o0, acc);
            acc = _mm256_fmadd_ps(k[3 * kh + 2], e2, acc);
          }
          _mm256_storeu_ps(row_out + 8 * bl, acc);
        }
        std::memcpy(yp + oh * ow_n, row_out, static_cast<std::size_t>(ow_n) * sizeof(float));
      }
      epi.apply(yp, out_plane, 1, out_plane, nullptr,
                sum != nullptr ? sum + plane * out_plane : nullptr, out_plane);
    }
  });
#else
  (void)g, (void)x, (void)w, (void)bias, (void)batch, (void)channels, (void)y, (void)epi, (void)sum;
#endif
}

}  // namespace act::cpu
