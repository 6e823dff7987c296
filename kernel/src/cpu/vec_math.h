// Branch-free f32 approximations that GCC auto-vectorizes (std::exp does not vectorize without
// -ffast-math, and Exp/Sigmoid/Tanh/Softmax are hot in real models).
//
// Accuracy: fast_expf is within ~2 ulp of std::exp on [-86.6, 88.7]; below that it returns 0
// (true value < 2.5e-38), above it +inf. NaN propagates. fast_tanhf/fast_sigmoidf are within a
// few ulp absolute. Threading: pure functions.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace act::cpu {

inline float fast_expf(float x) {
  constexpr float kHi = 88.7228f;
  constexpr float kLo = -86.64f;
  // Comparisons (not fmin/fmax) so a NaN passes through the clamp and poisons the result.
  float xc = x > kHi ? kHi : x;
  xc = xc < kLo ? kLo : xc;
  // e^x = 2^n * e^r with n = round(x / ln 2): adding 1.5 * 2^23 rounds to an integer held in
  // the low mantissa bits.
  constexpr float kMagic = 12582912.0f;
  const float t = xc * 1.44269504088896341f + kMagic;
  const float n = t - kMagic;
  const std::int32_t ni = std::bit_cast<std::int32_t>(t) - std::bit_cast<std::int32_t>(kMagic);
  // ln 2 split in two so n * ln2_hi is exact.
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  // Taylor to degree 7 on |r| <= ln2/2.
  float p = 1.98412698e-4f;
  p = p * r + 1.38888889e-3f;
  p = p * r + 8.33333333e-3f;
  p = p * r + 4.16666667e-2f;
  p = p * r + 1.66666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^(n-1) * 2 keeps the exponent field in range for n = 128 (x near ln FLT_MAX).
  const float scale = std::bit_cast<float>((ni + 126) << 23);
  float y = p * scale * 2.0f;
  y = x > kHi ? INFINITY : y;
  y = x < kLo ? 0.0f : y;
  return y;
}

inline float fast_sigmoidf(float x) {
  return 1.0f / (1.0f + fast_expf(-x));
}

inline float fast_tanhf(float x) {
  const float ax = std::fabs(x);
  const float e = fast_expf(-2.0f * ax);
  const float big = (1.0f - e) / (1.0f + e);
  // Near 0 the quotient cancels; the odd series is exact enough there.
  const float x2 = ax * ax;
  const float small =
      ax * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.0539682540f)));
  const float t = ax < 0.0625f ? small : big;
  return std::copysign(t, x);
}

}  // namespace act::cpu
