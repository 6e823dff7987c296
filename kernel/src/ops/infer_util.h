// Small helpers shared by op schemas' inference functions.
//
// All of them work on partial information: an input that is missing or has no shape leaves
// the output's shape unknown (has_shape = false) rather than failing; a contradiction between
// known dims (2 vs 3 in a broadcast) throws act::Error naming the shapes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "act/kernel/op_registry.h"

namespace act::ops {

// Output `out` gets input `in`'s dtype and shape (whatever of them is known).
void infer_same_as_input(InferContext& ctx, std::size_t in = 0, std::size_t out = 0);

// Broadcasts known/unknown dims numpy-style. Unknown rank of any input gives nullopt.
std::optional<std::vector<Dim>> broadcast_dims(std::initializer_list<const ValueInfo*> inputs);

// Output 0 gets the broadcast shape of the given inputs and dtype `dtype`, or, without one,
// the dtype of input `dtype_from`.
void infer_broadcast(InferContext& ctx, std::initializer_list<std::size_t> inputs,
                     std::optional<DType> dtype, std::size_t dtype_from = 0);

// Maps axis in [-rank, rank) to [0, rank); throws act::Error naming `what` otherwise.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank, const char* what = "axis");

// Sets only the dtype of output `out` (shape unknown).
void infer_dtype_only(InferContext& ctx, DType dtype, std::size_t out = 0);

}  // namespace act::ops
