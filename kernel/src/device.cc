#include "act/kernel/device.h"

#include <cstdlib>
#include <new>

#include "act/kernel/error.h"

namespace act {

std::string Device::to_string() const {
  return kind == DeviceKind::kCpu ? std::string("cpu") : "cuda:" + std::to_string(ordinal);
}

namespace {

// 64-byte alignment keeps AVX-512 loads aligned and avoids false sharing between tensors.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t bytes) override {
    const std::size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    ACT_CHECK(p != nullptr, "out of memory allocating ", bytes, " bytes on cpu");
    return p;
  }
  void deallocate(void* ptr, std::size_t /*bytes*/) noexcept override { std::free(ptr); }
};

}  // namespace

Allocator& allocator_for(Device device) {
  static CpuAllocator cpu;
  if (device.kind == DeviceKind::kCpu) return cpu;
  fail("device ", device.to_string(), " is not available in this build (CUDA backend not built)");
}

}  // namespace act
