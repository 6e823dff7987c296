// The one place the kernel talks to a BLAS library (OpenBLAS through CBLAS).
//
// Units: row-major matrices; leading dimensions in elements. Threading: may be called from one
// thread at a time; the library parallelizes internally with blas_set_num_threads threads.
#pragma once

#include <cstdint>

namespace act::cpu {

// C = alpha * op(A) * op(B) + beta * C, op = transpose if the flag is set. M x N result.
void gemm_f32(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
              float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
              float beta, float* c, std::int64_t ldc);

void blas_set_num_threads(int n);

}  // namespace act::cpu
