// Element types a Tensor can hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace act {

// The element types of ONNX that ACT executes. Values are our own, not ONNX's enum
// (host/onnx translates). Storage is little-endian, densely packed; kBool is one byte per
// element (0 or 1), kF16 is IEEE binary16.
enum class DType : std::uint8_t { kF32, kF16, kI8, kU8, kI32, kI64, kBool, kF64 };

inline constexpr int kNumDTypes = 8;

// Bytes per element.
constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kI8:
      return 1;
    case DType::kU8:
      return 1;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kBool:
      return 1;
    case DType::kF64:
      return 8;
  }
  return 0;
}

// Lower-case name as printed to users ("f32", "i64", ...).
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kI8:
      return "i8";
    case DType::kU8:
      return "u8";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
    case DType::kBool:
      return "bool";
    case DType::kF64:
      return "f64";
  }
  return "?";
}

constexpr bool is_floating(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kF64;
}

// Maps a C++ element type to its DType (compile time).
template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kF32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kF64;
};
template <>
struct DTypeOf<std::int8_t> {
  static constexpr DType value = DType::kI8;
};
template <>
struct DTypeOf<std::uint8_t> {
  static constexpr DType value = DType::kU8;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType value = DType::kI32;
};
template <>
struct DTypeOf<std::int64_t> {
  static constexpr DType value = DType::kI64;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::kBool;
};

// IEEE half <-> float conversion (round to nearest even).
float half_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);

}  // namespace act
