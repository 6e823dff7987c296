// Internals shared by the CPU kernels of the nn family (cpu/nn_*.cc).
//
// Threading: the helpers are pure; scratch_f32 returns a buffer owned by the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

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

}  // namespace act::cpu
