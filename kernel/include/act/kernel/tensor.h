// Tensor: a typed, shaped view of shared contiguous storage.
//
// Ownership: copying a Tensor shares its storage (cheap, like a shared_ptr); clone() makes an
// independent deep copy. Tensors are always contiguous and row-major.
// Threading: a Tensor may be read from many threads; writing while others read is a race.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "act/kernel/device.h"
#include "act/kernel/dtype.h"
#include "act/kernel/error.h"

namespace act {

using Shape = std::vector<std::int64_t>;

// Number of elements of a shape (1 for a scalar, shape {}).
std::int64_t shape_numel(const Shape& shape);
// "[1, 3, 224, 224]"
std::string shape_to_string(const Shape& shape);

// Raw memory on one device. Freed through its allocator when the last Tensor lets go.
class Storage {
 public:
  Storage(Device device, std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Mutable access counts as a write: it bumps version(), so caches derived from the contents
  // (a conv kernel's packed weights) notice in-place updates such as an optimizer step.
  void* data() {
    version_.fetch_add(1, std::memory_order_relaxed);
    return data_;
  }
  const void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  std::uint64_t version() const { return version_.load(std::memory_order_relaxed); }

 private:
  Device device_;
  std::size_t bytes_;
  void* data_;
  std::atomic<std::uint64_t> version_{0};
};

class Tensor {
 public:
  // An empty (undefined) tensor; defined() is false.
  Tensor() = default;
  // Allocates uninitialized storage for `shape` on `device`.
  Tensor(DType dtype, Shape shape, Device device = Device::cpu());

  // Zero-filled tensor.
  static Tensor zeros(DType dtype, Shape shape);
  // Tensor holding a copy of `values` (CPU).
  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  template <typename T>
  static Tensor scalar(T value) {
    return from_vector<T>({}, {value});
  }

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim(int i) const {
    return shape_.at(static_cast<std::size_t>(i < 0 ? i + rank() : i));
  }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t numel() const { return numel_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }

  void* raw_data() { return storage_ ? static_cast<char*>(storage_->data()) : nullptr; }
  // Changes whenever someone takes mutable access to the storage (see Storage::data()).
  std::uint64_t version() const { return storage_ ? storage_->version() : 0; }
  const void* raw_data() const {
    return storage_ ? static_cast<const char*>(std::as_const(*storage_).data()) : nullptr;
  }
  // Typed access; throws act::Error if T does not match dtype().
  template <typename T>
  T* data() {
    check_type<T>();
    return static_cast<T*>(raw_data());
  }
  template <typename T>
  const T* data() const {
    check_type<T>();
    return static_cast<const T*>(raw_data());
  }
  template <typename T>
  std::span<const T> values() const {
    return {data<T>(), static_cast<std::size_t>(numel_)};
  }

  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Independent deep copy.
  Tensor clone() const;
  // Converts to another dtype (values saturate/truncate as ONNX Cast does).
  Tensor cast(DType to) const;
  // Reads element i as double / int64, whatever the dtype (slow; for tests and attributes).
  double get_as_double(std::int64_t i) const;
  std::int64_t get_as_int(std::int64_t i) const;
  // All elements as int64 (for shape-like tensors).
  std::vector<std::int64_t> to_int_vector() const;

  std::string describe() const;  // "f32[1, 3, 224, 224]"

 private:
  template <typename T>
  void check_type() const {
    if constexpr (std::is_same_v<T, std::uint16_t>) {
      ACT_CHECK(dtype_ == DType::kF16, "tensor of ", dtype_name(dtype_), " read as f16");
    } else {
      ACT_CHECK(DTypeOf<T>::value == dtype_, "tensor of ", dtype_name(dtype_), " read as ",
                dtype_name(DTypeOf<T>::value));
    }
  }

  DType dtype_ = DType::kF32;
  Shape shape_;
  std::int64_t numel_ = 0;
  std::shared_ptr<Storage> storage_;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t(DTypeOf<T>::value, std::move(shape));
  ACT_CHECK(static_cast<std::int64_t>(values.size()) == t.numel(), "from_vector: ", values.size(),
            " values for shape ", shape_to_string(t.shape()));
  if constexpr (std::is_same_v<T, bool>) {
    auto* out = t.data<bool>();
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  } else {
    std::copy(values.begin(), values.end(), t.data<T>());
  }
  return t;
}

}  // namespace act
