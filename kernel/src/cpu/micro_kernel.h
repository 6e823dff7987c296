// The 6x16 AVX2 register block that conv_gemm (packed panels) and conv_direct (taps read in
// place) both multiply with. Internal to the CPU kernels.
//
// Units: floats. A is a packed micro-panel, kMr (6) values per K step; row p of B is the 16
// floats at b_row(p); C is a 6x16 block with leading dimension ldc. Threading: pure function.
#pragma once

#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ACT_MICRO_KERNEL_AVX2 1
#else
#define ACT_MICRO_KERNEL_AVX2 0
#endif

namespace act::cpu {

#if ACT_MICRO_KERNEL_AVX2
// acc[6][16] over kc steps; twelve accumulators, two B vectors and one broadcast fill 15 of the
// 16 ymm registers. `add` selects C += acc (later K blocks) over C = acc. BRow maps the step p
// to the address of B's row p; it is inlined, so a packed panel and a tap table cost the same.
// Where AVX-512 is compiled in, the same block is six zmm rows: the same FMA throughput on
// this machine (AMD, 512-bit ops in two halves), but half the loads and instructions per
// step, which measured 3-11% less CPU time per ResNet-18 training step (benchmarks.md (e)).
template <class BRow>
[[gnu::always_inline]] inline void micro_6x16(std::int64_t kc, const float* __restrict a,
                                              BRow b_row, float* __restrict c, std::int64_t ldc,
                                              bool add) {
#if defined(__AVX512F__)
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps();
  __m512 c3 = _mm512_setzero_ps(), c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps();
  for (std::int64_t p = 0; p < kc; ++p) {
    const __m512 b = _mm512_loadu_ps(b_row(p));
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), b, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), b, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), b, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), b, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4]), b, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5]), b, c5);
    a += 6;
  }
  auto store = [&](float* row, __m512 v) {
    if (add) v = _mm512_add_ps(v, _mm512_loadu_ps(row));
    _mm512_storeu_ps(row, v);
  };
  store(c, c0);
  store(c + ldc, c1);
  store(c + 2 * ldc, c2);
  store(c + 3 * ldc, c3);
  store(c + 4 * ldc, c4);
  store(c + 5 * ldc, c5);
#else
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (std::int64_t p = 0; p < kc; ++p) {
    const float* bp = b_row(p);
    const __m256 b0 = _mm256_loadu_ps(bp);
    const __m256 b1 = _mm256_loadu_ps(bp + 8);
    __m256 av = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
    a += 6;
  }
  auto store = [&](float* row, __m256 lo, __m256 hi) {
    if (add) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, lo);
    _mm256_storeu_ps(row + 8, hi);
  };
  store(c, c00, c01);
  store(c + ldc, c10, c11);
  store(c + 2 * ldc, c20, c21);
  store(c + 3 * ldc, c30, c31);
  store(c + 4 * ldc, c40, c41);
  store(c + 5 * ldc, c50, c51);
#endif
}
#endif

#if defined(__AVX512F__)
// The first `Rows` (1..6) rows of micro_6x16's block, from the same packed A (six values per
// K step), each finished by store(row, acc) instead of written: the caller adds its epilogue
// while the block is in registers, and a last row block shorter than six rows costs only its
// own rows instead of six rows' multiplies and a copy through a scratch tile.
template <int Rows, class BRow, class Store>
[[gnu::always_inline]] inline void micro_rows_x16(std::int64_t kc, const float* __restrict a,
                                                  BRow b_row, Store store) {
  static_assert(Rows >= 1 && Rows <= 6);
  __m512 acc[Rows];
#pragma GCC unroll 6
  for (int r = 0; r < Rows; ++r) acc[r] = _mm512_setzero_ps();
  for (std::int64_t p = 0; p < kc; ++p) {
    const __m512 b = _mm512_loadu_ps(b_row(p));
#pragma GCC unroll 6
    for (int r = 0; r < Rows; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b, acc[r]);
    a += 6;
  }
#pragma GCC unroll 6
  for (int r = 0; r < Rows; ++r) store(r, acc[r]);
}
#endif

#if ACT_MICRO_KERNEL_AVX2
// Rows r0..r0+7 (row stride ld) of columns q..q+7 of `col`, transposed: dst[e * dst_stride +
// i] = col[(r0 + i) * ld + q + e].
[[gnu::always_inline]] inline void transpose_8x8(const float* col, std::int64_t ld, float* dst,
                                                 std::int64_t dst_stride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(col + i * ld);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  // r[0..3] hold columns 0, 1, 2, 3 of rows 0-3 (low half) and columns 4-7 (high half); r[4..7]
  // the same for rows 4-7.
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}
#endif

}  // namespace act::cpu
