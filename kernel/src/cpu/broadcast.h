// Numpy-style (multidirectional) broadcasting for CPU kernels.
//
// plan_broadcast() turns the shapes of N inputs into a compact iteration plan: output dims of
// size 1 are dropped and neighbouring dims are merged wherever every input either broadcasts
// along both or along neither. After that, every input's innermost stride is 0 (a repeated
// scalar) or 1 (contiguous), so for_each_run() hands a kernel long runs it can vectorize:
// same-shape inputs become one run, [N,C,H,W] + [C,1,1] becomes runs of H*W with a scalar.
//
// Usage (binary op, parallel over the output):
//   BroadcastPlan p = plan_broadcast({&a.shape(), &b.shape()});
//   parallel_for(p.numel, kGrain, [&](int64_t begin, int64_t end) {
//     for_each_run<2>(p, begin, end, [&](int64_t out, const std::array<int64_t, 2>& in,
//                                        int64_t n) { ... p.inner_vec[k] says stride 1 or 0 ... });
//   });
// Threading: a plan is immutable after construction and may be shared by all workers.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "act/kernel/tensor.h"

namespace act::cpu {

// The broadcast of two shapes; throws act::Error "shapes [2, 3] and [4] do not broadcast".
Shape broadcast_shapes(const Shape& a, const Shape& b);
// The broadcast of several shapes (left to right).
Shape broadcast_shapes(std::initializer_list<const Shape*> shapes);

struct BroadcastPlan {
  Shape out_shape;                                 // the full broadcast shape
  std::int64_t numel = 0;                          // elements of out_shape
  std::vector<std::int64_t> dims;                  // collapsed dims, outermost first; never empty
  std::vector<std::vector<std::int64_t>> strides;  // [input][dim], 0 where broadcast
  std::vector<bool> inner_vec;                     // per input: innermost stride is 1 (else 0)
};

// Plans reading `inputs` at every position of their broadcast shape (Expand passes its target
// shape as an extra input). At most 16 dims survive collapsing; more throws act::Error.
BroadcastPlan plan_broadcast(std::initializer_list<const Shape*> inputs);

// Calls fn(out_offset, in_offsets, count) for maximal runs of the innermost dim within the
// output range [begin, end). In run i, input k's element j is at in_offsets[k] + j*stride,
// stride being 1 if plan.inner_vec[k] else 0.
template <std::size_t N, typename Fn>
void for_each_run(const BroadcastPlan& plan, std::int64_t begin, std::int64_t end, Fn&& fn) {
  const std::size_t rank = plan.dims.size();
  const std::int64_t inner = plan.dims.back();
  // Decompose `begin` into a multi-index over the collapsed dims, outer dims only.
  std::array<std::int64_t, 16> idx{};
  std::array<std::int64_t, N> off{};
  std::int64_t rest = begin / inner;
  std::int64_t pos_in_inner = begin % inner;
  for (std::size_t d = rank - 1; d-- > 0;) {
    idx[d] = rest % plan.dims[d];
    rest /= plan.dims[d];
    for (std::size_t k = 0; k < N; ++k) off[k] += idx[d] * plan.strides[k][d];
  }
  std::int64_t pos = begin;
  while (pos < end) {
    const std::int64_t n = std::min(inner - pos_in_inner, end - pos);
    std::array<std::int64_t, N> at = off;
    for (std::size_t k = 0; k < N; ++k) at[k] += pos_in_inner * plan.strides[k][rank - 1];
    fn(pos, at, n);
    pos += n;
    pos_in_inner = 0;
    // Odometer step over the outer dims.
    for (std::size_t d = rank - 1; d-- > 0;) {
      for (std::size_t k = 0; k < N; ++k) off[k] += plan.strides[k][d];
      if (++idx[d] < plan.dims[d]) break;
      for (std::size_t k = 0; k < N; ++k) off[k] -= idx[d] * plan.strides[k][d];
      idx[d] = 0;
    }
  }
}

}  // namespace act::cpu
