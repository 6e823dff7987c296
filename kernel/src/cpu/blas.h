// The one place the kernel talks to a BLAS library (OpenBLAS through CBLAS).
//
// Units: row-major matrices; leading dimensions in elements.
// Threading: OpenBLAS is pinned to one thread; gemm_f32 splits large products across ACT's own
// pool (parallel.h) so that one pool serves every kernel. Two pools (ours and OpenBLAS's)
// hand the cores back and forth on every layer, which cost up to 2x on MobileNet-sized GEMMs
// (docs/benchmarks.md). gemm_f32_serial runs on the calling thread and is safe to call from
// several pool threads at once.
#pragma once

#include <cstdint>

namespace act::cpu {

// C = alpha * op(A) * op(B) + beta * C, op = transpose if the flag is set. M x N result.
// Parallel over the pool when the product is large enough to pay for it.
void gemm_f32(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
              float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
              float beta, float* c, std::int64_t ldc);

// Same contract, on the calling thread only.
void gemm_f32_serial(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                     float alpha, const float* a, std::int64_t lda, const float* b,
                     std::int64_t ldb, float beta, float* c, std::int64_t ldc);

// Called once by the pool at start-up: pins OpenBLAS to one thread.
void blas_init_single_threaded();

}  // namespace act::cpu
