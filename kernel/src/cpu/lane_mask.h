// Load masks for kernels that read rows of an unpadded input with 16-lane AVX-512 loads, the
// lanes that would fall in the padding masked off (they read as zero and are never touched).
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

}  // namespace act::cpu
#endif
