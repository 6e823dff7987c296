// value_range (plugins/quant/value_range.h): the range and finiteness of float arrays against
// plain loops, over lengths around its vector widths and chunk size, with NaNs and infinities
// at the front, in the middle and in the scalar tail, at one and two threads.
#include "value_range.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "act/kernel/parallel.h"

namespace act::quant {
namespace {

TEST(ValueRange, MatchesPlainLoopsAndSkipsNaNsButReportsThem) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-3.0F, 2.0F);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (std::int64_t n : {0, 1, 15, 31, 32, 33, 100, 16384, 16385, 40000}) {
      for (int poison = 0; poison < 4; ++poison) {
        std::vector<float> x(static_cast<std::size_t>(n));
        for (auto& v : x) v = u(rng);
        // 0: all finite; 1: a NaN first; 2: -inf in the middle; 3: a NaN in the last element.
        if (n > 0 && poison == 1) x[0] = nan;
        if (n > 0 && poison == 2) x[static_cast<std::size_t>(n / 2)] = -inf;
        if (n > 0 && poison == 3) x[static_cast<std::size_t>(n - 1)] = nan;
        float lo = INFINITY, hi = -INFINITY;
        bool finite = true;
        for (float v : x) {
          finite = finite && std::isfinite(v);
          if (std::isnan(v)) continue;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        const ValueRange r = value_range(x.data(), n);
        SCOPED_TRACE("threads " + std::to_string(threads) + " n " + std::to_string(n) + " poison " +
                     std::to_string(poison));
        EXPECT_EQ(r.lo, lo);
        EXPECT_EQ(r.hi, hi);
        EXPECT_EQ(r.finite, finite);
      }
    }
  }
  set_num_threads(saved);
}

}  // namespace
}  // namespace act::quant
