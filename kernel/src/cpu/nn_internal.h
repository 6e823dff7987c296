// Internals shared by the CPU kernels of the nn family (cpu/nn_*.cc).
//
// Threading: the helpers are pure; scratch_f32 returns a buffer owned by the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "act/kernel/op_registry.h"

namespace act::cpu {

// Sub-tables, called from register_nn_cpu (cpu/nn.cc).
void register_conv_cpu(OpRegistry& r);  // Conv, ConvTranspose
void register_gemm_cpu(OpRegistry& r);  // Gemm, MatMul
void register_norm_cpu(
    OpRegistry& r);  // BatchNormalization, LayerNormalization, InstanceNormalization
void register_pool_cpu(OpRegistry& r);  // MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool

// Indices i in [0, count) with 0 <= i * stride + offset < limit, as a half-open range.
// Lets window loops run branch-free (and vectorize) over the valid part only.
inline std::pair<std::int64_t, std::int64_t> valid_range(std::int64_t offset, std::int64_t stride,
                                                         std::int64_t limit, std::int64_t count) {
  std::int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  std::int64_t hi = limit - offset > 0 ? (limit - offset + stride - 1) / stride : 0;
  lo = std::min(lo, count);
  hi = std::clamp(hi, lo, count);
  return {lo, hi};
}

// A per-thread float buffer of at least `n` elements, reused across calls so im2col and
// friends do not allocate per run. Valid until the same thread asks again.
float* scratch_f32(std::int64_t n);

// The same with a buffer of its own per Tag, for data that must outlive the caller's other
// scratch_f32 requests (an input copy that every parallel_for chunk reads, while the chunks
// that run on the calling thread take scratch_f32 for their tiles).
template <class Tag>
float* tagged_scratch_f32(std::int64_t n) {
  thread_local std::vector<float> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < n) {
    buffer.clear();
    buffer.shrink_to_fit();
    buffer.resize(static_cast<std::size_t>(n));
  }
  return buffer.data();
}

}  // namespace act::cpu
