#include "cpu/blas.h"

#include <cblas.h>

#include <algorithm>

#include "act/kernel/parallel.h"

namespace act::cpu {

void gemm_f32_serial(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                     float alpha, const float* a, std::int64_t lda, const float* b,
                     std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (m == 1) {
    // One row (a classifier head at batch 1): a matrix-vector product. sgemm packs all of B
    // first, which doubled the time of MobileNetV2's 1280 x 1000 head (0.65 against ONNX
    // Runtime's 0.33 ms, a pass bound by reading B once).
    const int incx = trans_a ? static_cast<int>(lda) : 1;
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
