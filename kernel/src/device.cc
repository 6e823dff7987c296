#include "act/kernel/device.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "act/kernel/error.h"

namespace act {

std::string Device::to_string() const {
  return kind == DeviceKind::kCpu ? std::string("cpu") : "cuda:" + std::to_string(ordinal);
}

namespace {

// 64-byte alignment keeps AVX-512 loads aligned and avoids false sharing between tensors.
//
// Blocks of 64 KiB and more are kept on free lists by size when released, because an
// inference loop asks for the same sizes every run: glibc serves such sizes with mmap, so
// without the cache every run page-faulted its activations in afresh (3-5% of ResNet-18's
// time). The cache holds at most kMaxCachedBytes; beyond that, blocks go back to the system.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t bytes) override {
    const std::size_t rounded = round(bytes);
    if (rounded >= kMinCachedBytes) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(rounded);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= rounded;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, rounded);
    ACT_CHECK(p != nullptr, "out of memory allocating ", bytes, " bytes on cpu");
    return p;
  }

  void deallocate(void* ptr, std::size_t bytes) noexcept override {
    const std::size_t rounded = round(bytes);
    if (ptr != nullptr && rounded >= kMinCachedBytes) {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_bytes_ + rounded <= kMaxCachedBytes) {
        try {
          free_[rounded].push_back(ptr);
          cached_bytes_ += rounded;
          return;
        } catch (...) {
          // No memory for the list entry: fall through and release the block.
        }
      }
    }
    std::free(ptr);
  }

 private:
  static constexpr std::size_t kMinCachedBytes = std::size_t{64} << 10;
  static constexpr std::size_t kMaxCachedBytes = std::size_t{1} << 30;

  // Small blocks to 64 bytes; cached ones to 4 KiB pages, so near sizes share a list.
  static std::size_t round(std::size_t bytes) {
    const std::size_t b = bytes == 0 ? 1 : bytes;
    return b >= kMinCachedBytes ? (b + 4095) / 4096 * 4096 : (b + 63) / 64 * 64;
  }

  std::mutex mu_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_bytes_ = 0;
};

}  // namespace

Allocator& allocator_for(Device device) {
  static CpuAllocator cpu;
  if (device.kind == DeviceKind::kCpu) return cpu;
  fail("device ", device.to_string(), " is not available in this build (CUDA backend not built)");
}

}  // namespace act
