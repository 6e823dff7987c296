// Forward 2-D convolution that multiplies on conv_gemm's micro-kernel geometry (kMr x kNr)
// while reading the input in place instead of unfolding it: one copy of the input (zero
// borders added, and for stride s the columns and rows split into s x s phase planes) and
// then every tap (c, kh, kw) of every 16 consecutive output pixels is 16 contiguous floats
// at a fixed offset. Output pixels are numbered on the padded row pitch, so a run of 16 may
// cross a row end; the few pixels that fall in the border are computed and dropped.
//
// Compared with conv_packed (im2col into packed panels) the input is copied once instead of
// once per tap, which is what made 64-channel layers pay ~25% on packing. The Conv kernel
// sends it stride-1 layers only (strided ones measured faster on conv_packed, see
// docs/decisions.md); strided geometries work and are tested.
//
// Layouts: x is [n][c][h][w], y is [n][m][oh][ow], weights are conv_gemm's packed A per group
// (pack_a of the [mg][cg * kh * kw] matrix). Units: elements. Threading: runs its own
// parallel_for; must be called from the executor's thread (one at a time), not from inside a
// parallel_for body.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/conv_epilogue.h"
#include "cpu/nn_geometry.h"

namespace act::cpu {

// True when conv_direct handles this (as_3d) geometry: a 2-D window (unit depth, no depth
// padding) and conv_gemm's micro-kernel compiled in.
bool conv_direct_applicable(const WindowGeometry& g);

// y = epi(conv(x, w) + bias + sum) for `n` images of `c` input and `m` output channels in
// `group` groups. bias ([m]) and sum (shaped like y) may be null. Returns false, having
// written nothing, when the input is too large for its 32-bit tap offsets (2^31 floats).
bool conv_direct(const WindowGeometry& g, const std::vector<std::vector<float>>& packed,
                 const float* x, const float* bias, const float* sum, float* y, std::int64_t n,
                 std::int64_t c, std::int64_t m, std::int64_t group, const ConvEpilogue& epi);

}  // namespace act::cpu
