// The range of a float array, for calibration and the QAT observers: shared out over the
// kernel's thread pool in chunks, each chunk in sixteen independent lanes the compiler
// vectorizes without fast-math. NaNs are skipped by the comparisons; `finite` tells whether
// there were any non-finite values.
//
// Units: the values' own. Threading: runs its own parallel_for; call it from one thread at a
// time, outside a parallel_for body (nested calls run serially).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>

#include "act/kernel/parallel.h"

namespace act::quant {

struct ValueRange {
  float lo = INFINITY, hi = -INFINITY;  // +inf / -inf for an empty array
  bool finite = true;                   // every value finite
};

namespace detail {
// One chunk. x - x is 0 for finite x and NaN otherwise, so `bad` stays 0 exactly when every
// value is finite.
inline void range_chunk(const float* x, std::int64_t n, float& lo_out, float& hi_out,
                        float& bad_out) {
  constexpr int kLanes = 16;
  float lo[kLanes], hi[kLanes], bad[kLanes];
  for (int j = 0; j < kLanes; ++j) lo[j] = INFINITY, hi[j] = -INFINITY, bad[j] = 0.0F;
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float v = x[i + j];
      lo[j] = v < lo[j] ? v : lo[j];
      hi[j] = v > hi[j] ? v : hi[j];
      bad[j] += v - v;
    }
  }
  for (; i < n; ++i) {
    lo[0] = x[i] < lo[0] ? x[i] : lo[0];
    hi[0] = x[i] > hi[0] ? x[i] : hi[0];
    bad[0] += x[i] - x[i];
  }
  for (int j = 0; j < kLanes; ++j) {
    lo_out = std::min(lo_out, lo[j]);
    hi_out = std::max(hi_out, hi[j]);
    bad_out += bad[j];
  }
}
}  // namespace detail

inline ValueRange value_range(const float* x, std::int64_t n) {
  constexpr std::int64_t kChunk = 16384;
  float lo = INFINITY, hi = -INFINITY, bad = 0.0F;
  std::mutex merge;
  parallel_for(n, kChunk, [&](std::int64_t b0, std::int64_t b1) {
    float clo = INFINITY, chi = -INFINITY, cbad = 0.0F;
    detail::range_chunk(x + b0, b1 - b0, clo, chi, cbad);
    const std::lock_guard<std::mutex> lock(merge);
    lo = std::min(lo, clo);
    hi = std::max(hi, chi);
    bad += cbad;
  });
  return ValueRange{lo, hi, bad == 0.0F};
}

}  // namespace act::quant
