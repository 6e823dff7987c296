#include "act/kernel/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

namespace act {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

Storage::Storage(Device device, std::size_t bytes)
    : device_(device), bytes_(bytes), data_(allocator_for(device).allocate(bytes)) {}

Storage::~Storage() {
  allocator_for(device_).deallocate(data_, bytes_);
}

Tensor::Tensor(DType dtype, Shape shape, Device device)
    : dtype_(dtype), shape_(std::move(shape)), numel_(shape_numel(shape_)) {
  for (auto d : shape_) ACT_CHECK(d >= 0, "negative dimension in shape ", shape_to_string(shape_));
  storage_ = std::make_shared<Storage>(device, nbytes());
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  ACT_CHECK(shape_numel(shape) == numel_, "cannot reshape ", describe(), " to ",
            shape_to_string(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t(dtype_, shape_, device());
  std::memcpy(t.raw_data(), raw_data(), nbytes());
  return t;
}

namespace {

template <typename Fn>
decltype(auto) visit_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32:
      return fn(float{});
    case DType::kF64:
      return fn(double{});
    case DType::kI8:
      return fn(std::int8_t{});
    case DType::kU8:
      return fn(std::uint8_t{});
    case DType::kI32:
      return fn(std::int32_t{});
    case DType::kI64:
      return fn(std::int64_t{});
    case DType::kBool:
      return fn(bool{});
    case DType::kF16:
      return fn(std::uint16_t{});
  }
  fail("unknown dtype");
}

template <typename To>
To convert_from_double(double v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != 0.0;
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(v);
  } else {
    // ONNX Cast from float to int truncates; out-of-range is undefined there, we saturate.
    if (std::isnan(v)) return 0;
    const double lo = static_cast<double>(std::numeric_limits<To>::lowest());
    const double hi = static_cast<double>(std::numeric_limits<To>::max());
    return static_cast<To>(std::trunc(std::min(std::max(v, lo), hi)));
  }
}

}  // namespace

double Tensor::get_as_double(std::int64_t i) const {
  ACT_CHECK(i >= 0 && i < numel_, "element ", i, " out of range for ", describe());
  return visit_dtype(dtype_, [&](auto tag) -> double {
    using T = decltype(tag);
    const T v = static_cast<const T*>(raw_data())[i];
    if (dtype_ == DType::kF16) return half_to_float(static_cast<std::uint16_t>(v));
    return static_cast<double>(v);
  });
}

std::int64_t Tensor::get_as_int(std::int64_t i) const {
  ACT_CHECK(i >= 0 && i < numel_, "element ", i, " out of range for ", describe());
  if (dtype_ == DType::kI64) return static_cast<const std::int64_t*>(raw_data())[i];
  return static_cast<std::int64_t>(get_as_double(i));
}

std::vector<std::int64_t> Tensor::to_int_vector() const {
  std::vector<std::int64_t> out(static_cast<std::size_t>(numel_));
  for (std::int64_t i = 0; i < numel_; ++i) out[static_cast<std::size_t>(i)] = get_as_int(i);
  return out;
}

Tensor Tensor::cast(DType to) const {
  if (to == dtype_) return clone();
  Tensor out(to, shape_);
  // Integer-to-integer casts must not go through double precision loss for i64 > 2^53.
  const bool int_to_int = !is_floating(dtype_) && !is_floating(to) && dtype_ != DType::kBool;
  visit_dtype(to, [&](auto tag) {
    using To = decltype(tag);
    auto* dst = static_cast<To*>(out.raw_data());
    for (std::int64_t i = 0; i < numel_; ++i) {
      if (to == DType::kF16) {
        dst[i] = static_cast<To>(float_to_half(static_cast<float>(get_as_double(i))));
      } else if (int_to_int && !std::is_same_v<To, bool>) {
        dst[i] = static_cast<To>(get_as_int(i));
      } else {
        dst[i] = convert_from_double<To>(get_as_double(i));
      }
    }
    return 0;
  });
  return out;
}

std::string Tensor::describe() const {
  return std::string(dtype_name(dtype_)) + shape_to_string(shape_);
}

}  // namespace act
