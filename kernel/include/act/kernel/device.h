// Devices and their allocators.
//
// A Device is a tag (kind + ordinal). Each device kind has one Allocator; tensors remember
// the device their storage lives on. Kernels are looked up per (op, device, dtype), so adding
// a device (CUDA) means adding an allocator and a kernel table, not touching callers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace act {

enum class DeviceKind : std::uint8_t { kCpu, kCuda };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int ordinal = 0;

  static Device cpu() { return {DeviceKind::kCpu, 0}; }
  bool operator==(const Device&) const = default;
  std::string to_string() const;
};

// Allocates raw device memory. Implementations are thread-safe.
class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns at least `bytes` bytes aligned to 64; never null (throws act::Error on failure).
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes) noexcept = 0;
};

// The process-wide allocator for a device. Throws act::Error if the device is unavailable
// (for example CUDA in a binary built without it, or on a machine without a GPU).
Allocator& allocator_for(Device device);

}  // namespace act
