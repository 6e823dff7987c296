// Small AVX-512 pieces the kernels that work on 16-float vectors of a row share: load masks for
// reading an unpadded row (lanes in the padding masked off: they read as zero and are never
// touched), the even-lane pick of stride-2 windows, and the clamp / epilogue a vector gets
// before its store.
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

// Lanes 0, 2, ..., 30 of the 32 floats (a, b): a stride-2 window's 16 taps.
[[gnu::always_inline]] inline __m512 even_lanes(__m512 a, __m512 b) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  return _mm512_permutex2var_ps(a, even, b);
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
