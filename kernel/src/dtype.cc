#include "act/kernel/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace act {

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16U;
  std::uint32_t exp = (h >> 10U) & 0x1FU;
  std::uint32_t mant = h & 0x3FFU;
  std::uint32_t bits = 0;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal half: normalise into a float
      exp = 127 - 15 + 1;
      while ((mant & 0x400U) == 0) {
        mant <<= 1U;
        --exp;
      }
      mant &= 0x3FFU;
      bits = sign | (exp << 23U) | (mant << 13U);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000U | (mant << 13U);
  } else {
    bits = sign | ((exp + 127 - 15) << 23U) | (mant << 13U);
  }
  return std::bit_cast<float>(bits);
}

std::uint16_t float_to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16U) & 0x8000U;
  const std::uint32_t abs = x & 0x7FFFFFFFU;
  if (abs >= 0x7F800000U) {  // inf or nan
    return static_cast<std::uint16_t>(sign | 0x7C00U | (abs > 0x7F800000U ? 0x200U : 0U));
  }
  if (abs >= 0x477FF000U) {  // rounds to >= 65520: overflow to inf
    return static_cast<std::uint16_t>(sign | 0x7C00U);
  }
  if (abs < 0x38800000U) {  // below the smallest normal half: subnormal or zero
    // Scale so the half subnormal's integer mantissa lands in the low bits; adding 0.5f and
    // letting the FPU round does round-to-nearest-even for us.
    const float scaled = std::bit_cast<float>(abs) * 16777216.0F;  // 2^24
    const auto m = static_cast<std::uint32_t>(std::nearbyint(scaled));
    return static_cast<std::uint16_t>(sign | m);
  }
  // Normal: rebias exponent, round mantissa to 10 bits (nearest even).
  const std::uint32_t rebased = abs - ((127U - 15U) << 23U);
  const std::uint32_t round_bit = 0x1000U;
  const std::uint32_t sticky = rebased & 0x0FFFU;
  std::uint32_t h = rebased >> 13U;
  if ((rebased & round_bit) != 0U && (sticky != 0U || (h & 1U) != 0U)) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

}  // namespace act
