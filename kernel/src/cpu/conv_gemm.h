// ACT's own FP32 GEMM for convolutions: C[M x N] = A[M x K] * B[K x N] with A the layer's
// weights (packed once, when the kernel first sees them) and B the unfolded input, which the
// convolution writes straight into the micro-kernel's panel layout. With a BLAS the input is
// copied twice before any multiply (im2col, then the library's own packing: 22% of ResNet-18's
// time); here it is copied once, and the weights are never repacked.
//
// Layouts (floats): packed A is [ceil(M / kMr)][K][kMr], rows past M zero; packed B is
// [ceil(N / kNr)][K][kNr], columns past N zero. C is row-major with leading dimension ldc.
// Threading: all functions are pure; callers split work by panels or row blocks.
// Requires AVX2 and FMA at compile time; conv_gemm_available() is false otherwise and callers
// use the BLAS path.
#pragma once

#include <cstdint>
#include <vector>

namespace act::cpu {

inline constexpr std::int64_t kMr = 6;   // rows of C per micro-kernel call
inline constexpr std::int64_t kNr = 16;  // columns of C per micro-kernel call (two AVX vectors)

bool conv_gemm_available();

// A (row-major M x K, leading dimension K) in the packed layout above.
std::vector<float> pack_a(const float* a, std::int64_t m, std::int64_t k);

// The same into `dst`, for A with leading dimension lda, row block mb starting at
// dst + mb * panel_stride (K * kMr for a whole matrix; larger when several column ranges of
// a wider packed A are filled one by one). Rows past m are zero.
void pack_a_into(const float* a, std::int64_t lda, std::int64_t m, std::int64_t k,
                 std::int64_t panel_stride, float* dst);

// C[rows of blocks mb0..mb1) x n] = packed A * packed B, overwriting C. n may end mid-panel.
void gemm_packed(const float* a_packed, const float* b_packed, std::int64_t m, std::int64_t n,
                 std::int64_t k, std::int64_t mb0, std::int64_t mb1, float* c, std::int64_t ldc);

// The same for `groups` column blocks sharing A (the images of a batch): packed B holds, one
// after the other, `groups` blocks of ceil(n / kNr) panels, and block g writes n columns at
// c + g * group_stride. One A panel then serves every group while it is in L1. `accumulate`
// adds to C instead of overwriting it.
void gemm_packed_groups(const float* a_packed, const float* b_packed, std::int64_t m,
                        std::int64_t n, std::int64_t groups, std::int64_t k, std::int64_t mb0,
                        std::int64_t mb1, float* c, std::int64_t ldc, std::int64_t group_stride,
                        bool accumulate);

}  // namespace act::cpu
