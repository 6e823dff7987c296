#include "cpu/conv_gemm.h"

#include <algorithm>
#include <cstring>

#include "cpu/micro_kernel.h"

#define ACT_CONV_GEMM ACT_MICRO_KERNEL_AVX2

namespace act::cpu {

namespace {

// K is walked in blocks so a micro-panel of A (kMr x kKc) stays in L1 while the B panels of
// the block stream from L2.
constexpr std::int64_t kKc = 256;
// B panels per block: kNb * kKc * kNr floats (256 KiB) of B stay in L2 while every row block
// of A passes over them.
constexpr std::int64_t kNb = 16;
static_assert(kMr == 6 && kNr == 16, "micro_6x16 (micro_kernel.h) computes 6x16 blocks");
}  // namespace

bool conv_gemm_available() {
  return ACT_CONV_GEMM != 0;
}

std::vector<float> pack_a(const float* a, std::int64_t m, std::int64_t k) {
  const std::int64_t blocks = (m + kMr - 1) / kMr;
  std::vector<float> out(static_cast<std::size_t>(blocks * k * kMr));
  pack_a_into(a, k, m, k, k * kMr, out.data());
  return out;
}

void pack_a_into(const float* a, std::int64_t lda, std::int64_t m, std::int64_t k,
                 std::int64_t panel_stride, float* dst) {
  const std::int64_t blocks = (m + kMr - 1) / kMr;
  for (std::int64_t mb = 0; mb < blocks; ++mb) {
    const std::int64_t r0 = mb * kMr;
    float* d = dst + mb * panel_stride;
    std::int64_t p = 0;
#if ACT_CONV_GEMM
    // Eight readable rows (the block's six and two that are dropped): 8x8 register transposes.
    if (r0 + 8 <= m) {
      alignas(32) float tmp[64];
      for (; p + 8 <= k; p += 8) {
        transpose_8x8(a + r0 * lda + p, lda, tmp, 8);
        for (std::int64_t e = 0; e < 8; ++e) {
          std::memcpy(d + (p + e) * kMr, tmp + e * 8, kMr * sizeof(float));
        }
      }
    }
#endif
    for (; p < k; ++p) {
      for (std::int64_t r = 0; r < kMr; ++r) {
        d[p * kMr + r] = r0 + r < m ? a[(r0 + r) * lda + p] : 0.0F;
      }
    }
  }
}

void gemm_packed(const float* a_packed, const float* b_packed, std::int64_t m, std::int64_t n,
                 std::int64_t k, std::int64_t mb0, std::int64_t mb1, float* c, std::int64_t ldc) {
  gemm_packed_groups(a_packed, b_packed, m, n, 1, k, mb0, mb1, c, ldc, 0, false);
}

void gemm_packed_groups(const float* a_packed, const float* b_packed, std::int64_t m,
                        std::int64_t n, std::int64_t groups, std::int64_t k, std::int64_t mb0,
                        std::int64_t mb1, float* c, std::int64_t ldc, std::int64_t group_stride,
                        bool accumulate) {
#if ACT_CONV_GEMM
  const std::int64_t per_group = (n + kNr - 1) / kNr;
  const std::int64_t panels = per_group * groups;
  alignas(32) float edge[kMr * kNr];
  for (std::int64_t pc = 0; pc < k; pc += kKc) {
    const std::int64_t kc = std::min(kKc, k - pc);
    const bool add = accumulate || pc > 0;
    // Panels in blocks of kNb, so the B block a row of A panels sweeps stays in L2.
    for (std::int64_t jb = 0; jb < panels; jb += kNb) {
      const std::int64_t jend = std::min(panels, jb + kNb);
      for (std::int64_t mb = mb0; mb < mb1; ++mb) {
        const float* a = a_packed + mb * k * kMr + pc * kMr;
        const std::int64_t rows = std::min(kMr, m - mb * kMr);
        // The next row block's micro-panel for this K block lies k * kMr floats on: a short
        // stream the hardware prefetcher does not pick up in time when the weights come from
        // memory (small maps, where each weight is used only a few dozen times). Prefetching
        // it while this block runs: MobileNetV2's 7x7 pointwise layers 5-10% faster cold,
        // the whole model 2-7% at one thread (latency_bench, alternated).
        if (mb + 1 < mb1 && jb == 0) {
          const char* next = reinterpret_cast<const char*>(a + k * kMr);
          for (std::int64_t off = 0; off < kc * kMr * std::int64_t{sizeof(float)}; off += 64) {
            _mm_prefetch(next + off, _MM_HINT_T0);
          }
        }
        for (std::int64_t j = jb; j < jend; ++j) {
          const std::int64_t gi = j / per_group, jj = j % per_group;
          const float* b = b_packed + j * k * kNr + pc * kNr;
          const auto b_row = [b](std::int64_t p) { return b + p * kNr; };
          const std::int64_t cols = std::min(kNr, n - jj * kNr);
          float* cblock = c + gi * group_stride + mb * kMr * ldc + jj * kNr;
          if (rows == kMr && cols == kNr) {
            micro_6x16(kc, a, b_row, cblock, ldc, add);
            continue;
          }
          // Partial block: compute the whole 6x16 into a scratch tile, keep the valid part.
          micro_6x16(kc, a, b_row, edge, kNr, false);
          for (std::int64_t r = 0; r < rows; ++r) {
            float* dst = cblock + r * ldc;
            const float* src = edge + r * kNr;
            if (add) {
              for (std::int64_t q = 0; q < cols; ++q) dst[q] += src[q];
            } else {
              std::memcpy(dst, src, static_cast<std::size_t>(cols) * sizeof(float));
            }
          }
        }
      }
    }
  }
#else
  (void)a_packed, (void)b_packed, (void)m, (void)n, (void)groups, (void)k, (void)mb0, (void)mb1,
      (void)c, (void)ldc, (void)group_stride, (void)accumulate;
#endif
}

}  // namespace act::cpu
