// FNV-1a, 64 bit: the checksum of checkpoint files and the fingerprint that ties a checkpoint
// to its model and config. Not cryptographic; it catches torn files and mix-ups.
#pragma once

#include <cstdint>
#include <string_view>

namespace act::host {

inline constexpr std::uint64_t kFnv1aOffset = 1469598103934665603ULL;

// Continues the hash `h` over `bytes`, so several pieces hash as their concatenation.
inline std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = kFnv1aOffset) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace act::host
