#include "cpu/blas.h"

#include <cblas.h>

#include <algorithm>

#include "act/kernel/parallel.h"
#include "cpu/avx512_lanes.h"

namespace act::cpu {

#if defined(__AVX512F__)
// y[j] = alpha * dot(B[j, :], x) + beta * y[j] for j in [0, n): four rows of B share each load
// of x, and each row is one sequential stream.
void gemv_rows_f32(std::int64_t n, std::int64_t k, float alpha, const float* b, std::int64_t ldb,
                   const float* x, float beta, float* y) {
  const __mmask16 tail = static_cast<__mmask16>((1U << (k % 16)) - 1U);
  const std::int64_t k16 = k - k % 16;
  auto finish = [&](std::int64_t j, __m512 acc) {
    const float dot = alpha * sum_lanes(acc);
    y[j] = beta == 0.0F ? dot : dot + beta * y[j];
  };
  std::int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* r0 = b + j * ldb;
    const float* r1 = r0 + ldb;
    const float* r2 = r1 + ldb;
    const float* r3 = r2 + ldb;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::int64_t i = 0; i < k16; i += 16) {
      const __m512 xv = _mm512_loadu_ps(x + i);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + i), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + i), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + i), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + i), xv, a3);
    }
    if (tail != 0) {
      const __m512 xv = _mm512_maskz_loadu_ps(tail, x + k16);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r0 + k16), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r1 + k16), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r2 + k16), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r3 + k16), xv, a3);
    }
    finish(j, a0);
    finish(j + 1, a1);
    finish(j + 2, a2);
    finish(j + 3, a3);
  }
  for (; j < n; ++j) {
    const float* r = b + j * ldb;
    __m512 acc = _mm512_setzero_ps();
    for (std::int64_t i = 0; i < k16; i += 16) {
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(r + i), _mm512_loadu_ps(x + i), acc);
    }
    if (tail != 0) {
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r + k16),
                            _mm512_maskz_loadu_ps(tail, x + k16), acc);
    }
    finish(j, acc);
  }
}
#endif

void gemm_f32_serial(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                     float alpha, const float* a, std::int64_t lda, const float* b,
                     std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (m == 1) {
    // One row (a classifier head at batch 1): a matrix-vector product. sgemm packs all of B
    // first, which doubled the time of MobileNetV2's 1280 x 1000 head (0.65 against ONNX
    // Runtime's 0.33 ms, a pass bound by reading B once).
    const int incx = trans_a ? static_cast<int>(lda) : 1;
#if defined(__AVX512F__)
    if (trans_b && !trans_a) {  // writes every y[j] and reads it only when beta is nonzero
      gemv_rows_f32(n, k, alpha, b, ldb, a, beta, c);
      return;
    }
#endif
    // sgemm never reads C when beta is 0; sgemv scales y by beta, which leaves a NaN in an
    // uninitialized output as NaN in some OpenBLAS versions.
    if (beta == 0.0F) std::fill(c, c + n, 0.0F);
    if (trans_b) {  // B is n x k
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(k), alpha, b,
                  static_cast<int>(ldb), a, incx, beta, c, 1);
    } else {  // B is k x n
      cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(k), static_cast<int>(n), alpha, b,
                  static_cast<int>(ldb), a, incx, beta, c, 1);
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}

void gemm_f32(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
              float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
              float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  const int threads = num_threads();
  // Below ~1 MFLOP a wake-up costs more than the second core saves.
  if (threads <= 1 || 2.0 * static_cast<double>(m) * n * k < 1e6) {
    gemm_f32_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split the longer side; blocks of 16 keep the micro-kernel's panels whole. Each thread
  // packs its own panels, which costs O(MK + KN) against O(MNK) of work.
  constexpr std::int64_t kAlign = 16;
  if (n >= m) {
    const std::int64_t blocks = (n + kAlign - 1) / kAlign;
    parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
      const std::int64_t j0 = b0 * kAlign, j1 = std::min(n, b1 * kAlign);
      const float* bj = trans_b ? b + j0 * ldb : b + j0;
      gemm_f32_serial(trans_a, trans_b, m, j1 - j0, k, alpha, a, lda, bj, ldb, beta, c + j0, ldc);
    });
  } else {
    const std::int64_t blocks = (m + kAlign - 1) / kAlign;
    parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
      const std::int64_t i0 = b0 * kAlign, i1 = std::min(m, b1 * kAlign);
      const float* ai = trans_a ? a + i0 : a + i0 * lda;
      gemm_f32_serial(trans_a, trans_b, i1 - i0, n, k, alpha, ai, lda, b, ldb, beta, c + i0 * ldc,
                      ldc);
    });
  }
}

void blas_init_single_threaded() {
  openblas_set_num_threads(1);
}

}  // namespace act::cpu
