// Small AVX-512 pieces the kernels that work on 16-float vectors of a row share: load masks for
// reading an unpadded row (lanes in the padding masked off: they read as zero and are never
// touched), padding rows read from a stand-in row, the lane picks of stride-2 windows, and the
// clamp / epilogue a vector gets before its store.
//
// Units: elements (floats). Threading: pure.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>

namespace act::cpu {

// Lanes i of a 16-float load at column `start` of a row that lie inside [0, width).
inline __mmask16 lanes_inside(std::int64_t start, std::int64_t width) {
  const std::int64_t lo = std::clamp<std::int64_t>(-start, 0, 16);
  const std::int64_t hi = std::clamp<std::int64_t>(width - start, 0, 16);
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1U << hi) - 1U) & ~((1U << lo) - 1U));
}

// The row a window reads at input row `ih` of a plane xp [ih_n][iw_n]: the plane's row, or
// `stand_in` (a row of the padding value, at least iw_n long) when ih is in the padding.
// Pointing padding rows at such a row instead of skipping them keeps block loops free of
// branches; masked loads then read only the lanes inside [0, iw_n) of either.
inline const float* row_or(const float* xp, std::int64_t ih, std::int64_t ih_n, std::int64_t iw_n,
                           const float* stand_in) {
  return ih >= 0 && ih < ih_n ? xp + ih * iw_n : stand_in;
}

// Lanes 0, 2, ..., 30 of the 32 floats (a, b): a stride-2 window's 16 taps.
[[gnu::always_inline]] inline __m512 even_lanes(__m512 a, __m512 b) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  return _mm512_permutex2var_ps(a, even, b);
}

// src[0], src[2], ..., src[2 (count - 1)] in lanes [0, count) (count <= 16; other lanes zero):
// the stride-2 pick of a row, reading nothing past src[2 (count - 1)].
[[gnu::always_inline]] inline __m512 stride2_pick(const float* src, std::int64_t count) {
  const std::int64_t need = 2 * count - 1;
  return even_lanes(_mm512_maskz_loadu_ps(lanes_inside(0, need), src),
                    _mm512_maskz_loadu_ps(lanes_inside(16, need), src + 16));
}

// The three taps (kw = 0, 1, 2) of a width-3 stride-2 window for the 16 outputs whose first
// window starts at p: columns 2 q, 2 q + 1 and 2 q + 2 from p. m holds the masks of the four
// loads [p, +16), [p + 16, +16), [p + 2, +16), [p + 18, +16); masked-off lanes read `fill`.
[[gnu::always_inline]] inline void stride2_taps3(const float* p, const __mmask16 m[4], __m512 fill,
                                                 __m512 t[3]) {
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const __m512 lo = _mm512_mask_loadu_ps(fill, m[0], p);
  const __m512 hi = _mm512_mask_loadu_ps(fill, m[1], p + 16);
  t[0] = even_lanes(lo, hi);
  t[1] = _mm512_permutex2var_ps(lo, odd, hi);
  t[2] =
      even_lanes(_mm512_mask_loadu_ps(fill, m[2], p + 2), _mm512_mask_loadu_ps(fill, m[3], p + 18));
}

// The sum of v's 16 lanes, pairwise (halves, then quarters, ...). GCC 12's
// _mm512_reduce_add_ps (and _mm512_castps512_ps256) extract into an undefined vector and warn
// about it; the masked extract with an explicit source does not.
[[gnu::always_inline]] inline float sum_lanes(__m512 v) {
  const __m512d d = _mm512_castps_pd(v);
  const __m256 s8 =
      _mm256_add_ps(_mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, d, 0)),
                    _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, d, 1)));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// v clamped to [lo, hi]. The masked forms with every lane set: the plain _mm512_max_ps and
// _mm512_min_ps start from an undefined vector that GCC 12 warns about.
[[gnu::always_inline]] inline __m512 clamp_lanes(__m512 v, __m512 lo, __m512 hi) {
  v = _mm512_mask_max_ps(v, 0xFFFF, v, lo);
  return _mm512_mask_min_ps(v, 0xFFFF, v, hi);
}

// One output channel's vector finished before its store: + *bias (null: none), + the
// residual's lanes `keep` at sum (null: none), clamped to [lo, hi] (ConvEpilogue's Relu, Clip
// or none as bounds).
[[gnu::always_inline]] inline __m512 finish_lanes(__m512 v, const float* bias, const float* sum,
                                                  __mmask16 keep, __m512 lo, __m512 hi) {
  if (bias != nullptr) v = _mm512_add_ps(v, _mm512_set1_ps(*bias));
  if (sum != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(keep, sum));
  return clamp_lanes(v, lo, hi);
}

}  // namespace act::cpu
#endif
