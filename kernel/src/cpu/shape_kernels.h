// Shared pieces of the shape family (Reshape, Transpose, Slice, Pad, Resize, ...).
//
// The shape arithmetic here is used both by the schemas' inference (ops/shape.cc) and by the
// CPU kernels, so an inferred shape and a computed one can never disagree. All functions throw
// act::Error naming the op and the offending values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "act/kernel/op_registry.h"
#include "act/kernel/tensor.h"

namespace act::ops::shape {

// Maps axis in [-rank, rank) to [0, rank).
std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank, const char* op);
// Normalizes every axis and rejects duplicates.
std::vector<std::int64_t> normalize_axes(const std::vector<std::int64_t>& axes, std::int64_t rank,
                                         const char* op);

// ONNX TensorProto::DataType number -> DType; throws naming `op` for types ACT lacks.
DType dtype_from_onnx(std::int64_t onnx_type, const char* op);

// Reshape's target shape: 0 copies the input dim (unless allowzero), one -1 is inferred.
Shape reshape_output(const Shape& in, const std::vector<std::int64_t>& spec, bool allowzero);
// The default permutation (reversed axes) when `perm` is empty; validates a given one.
std::vector<std::int64_t> transpose_perm(const std::vector<std::int64_t>& perm, std::int64_t rank);
// Squeeze without axes removes every 1; with axes each must be 1.
Shape squeeze_output(const Shape& in, const std::vector<std::int64_t>& axes, bool has_axes);
Shape unsqueeze_output(const Shape& in, const std::vector<std::int64_t>& axes);

// Split sizes along an axis of length `dim`: explicit `split`, else `num_outputs` (opset 18,
// last chunk smaller) or `outputs` equal parts.
std::vector<std::int64_t> split_sizes(std::int64_t dim, const std::vector<std::int64_t>& split,
                                      bool has_split, int outputs, std::int64_t num_outputs);

// Per-dimension slice: element i of the output is element start + i * step of the input.
struct SliceDim {
  std::int64_t start = 0;
  std::int64_t step = 1;
  std::int64_t count = 0;
};
std::vector<SliceDim> slice_dims(const Shape& in, const std::vector<std::int64_t>& starts,
                                 const std::vector<std::int64_t>& ends,
                                 const std::vector<std::int64_t>& axes, bool has_axes,
                                 const std::vector<std::int64_t>& steps, bool has_steps);

// Pads as [begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}] for all dims, from the pads
// input (2 * len(axes) values) and optional axes (opset 18).
std::vector<std::int64_t> full_pads(const std::vector<std::int64_t>& pads,
                                    const std::vector<std::int64_t>& axes, bool has_axes,
                                    std::int64_t rank);
Shape pad_output(const Shape& in, const std::vector<std::int64_t>& pads);

// Resize's output sizes and per-axis scales. `scales`/`sizes` cover `axes` (all dims when
// axes are absent). Scales given: out = floor(in * scale). Sizes given: scale = out / in
// (after keep_aspect_ratio_policy).
struct ResizeGeometry {
  Shape out;
  std::vector<double> scales;
};
ResizeGeometry resize_geometry(const Shape& in, const std::vector<float>& scales,
                               const std::vector<std::int64_t>& sizes,
                               const std::vector<std::int64_t>& axes,
                               const std::string& keep_aspect_ratio_policy);

// Shape's [start, end) range for a rank (opset 15 clamping rules).
std::pair<std::int64_t, std::int64_t> shape_range(std::int64_t rank, std::int64_t start,
                                                  std::int64_t end);

// ---- byte-level copies (any dtype; `elem` is the element size in bytes)

// Copies a box of `dims` elements from src to dst; strides are in elements.
void strided_copy(char* dst, const std::vector<std::int64_t>& dst_strides, const char* src,
                  const std::vector<std::int64_t>& src_strides, const Shape& dims,
                  std::size_t elem);
// Contiguous row-major strides of a shape.
std::vector<std::int64_t> contiguous_strides(const Shape& shape);
void transpose_bytes(char* dst, const char* src, const Shape& in_shape,
                     const std::vector<std::int64_t>& perm, std::size_t elem);

// The kernels that live in shape_*.cc files, registered by register_shape_cpu.
void register_copy_kernels(OpRegistry& r);    // Transpose, Concat, Split, Slice, Gather, Pad
void register_resize_kernels(OpRegistry& r);  // Resize

}  // namespace act::ops::shape
