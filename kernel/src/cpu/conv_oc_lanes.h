// 2-D convolution with output channels as the vector lanes (AVX-512): a register block is 32
// output channels (two zmm) by 7 to 12 output pixels of one row (or two rows of 4 to 6), up to
// 24 accumulators. Each step of K (one input channel and tap) loads 32 weights and broadcasts
// one input float per pixel straight from the input (windows without padding) or from one
// zero-bordered copy of it, so nothing is packed per call and strides and dilations cost
// nothing extra. The same blocks run ConvGradInput: stride-1 layers with the input channels
// as lanes (nn_conv.cc), strided ones phase by phase (conv_grad_input_phases below).
//
// Why a second path: conv_gemm's 6x16 block (six accumulators, pixels as lanes) needs the
// input packed into 16-pixel panels and wastes lanes on maps whose width is not a multiple of
// 16 (ResNet's 7x7 stage used 49 of 64 columns). This block reuses each weight vector for up
// to 12 pixels and each input float for 32 channels, the register blocking oneDNN's kernels
// use; on the 512-channel 7x7 layer it runs at 111 GFLOP/s of the 116 one-core peak
// (docs/decisions.md, Kernel).
//
// Layouts: x [n][c][ih][iw], y [n][m][oh][ow] (NCHW); weights packed by pack_oc_lanes from
// ONNX's [m][c][kh][kw]. Units: elements. Threading: runs its own parallel_for (a share of the
// images per thread, or output channel blocks x rows for fewer images than threads); call it
// from the executor's thread, not inside a parallel_for body.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cpu/conv_epilogue.h"
#include "cpu/nn_geometry.h"

namespace act::cpu {

// Output channels per register block.
inline constexpr std::int64_t kOcLanes = 32;

// True when conv_oc_lanes handles the layer: AVX-512 compiled in, one group, a 2-D window
// larger than 1x1 (or a 1x1 one with stride 1 on a map of at most 256 pixels, best passed
// through pointwise_as_runs) with stride 1 or
// 2 (the same along both axes), K (c * kh * kw) of at least 64, and output rows that split
// into blocks of 7 to 12 pixels (or of 4 to 6, two rows at a time). A window that reads no
// padding reads the input in place; others read a zero-bordered copy.
bool conv_oc_lanes_applicable(const WindowGeometry& g, std::int64_t group, std::int64_t c);

// A stride-1 unpadded 1x1 layer on a map of at most 256 pixels seen as rows of up to 64
// pixels whatever the map's own rows (a 1x1 window never crosses a row end): the fewest rows
// that still give every one of `threads` threads four (32-lane block, row) items, `lanes`
// being the layer's lane channels. Longer runs fill the 12-pixel register block (a 14x14 map
// went in blocks of 7). Empty for other geometries (and for maps no run length suits), so
// callers keep g without copying it on every call.
std::optional<WindowGeometry> pointwise_as_runs(const WindowGeometry& g, std::int64_t lanes,
                                                int threads);

// w [m][k] (row-major, k = c * kh * kw) as [ceil(m / 32)][k][32], channels past m zero, written
// into `out`, whose storage is reused when the size is unchanged (a training step's repacking).
void pack_oc_lanes(const float* w, std::int64_t m, std::int64_t k, std::vector<float>& out);

// y = epi(conv(x, w) + bias + sum); bias ([m]) and sum (shaped like y) may be null.
void conv_oc_lanes(const WindowGeometry& g, const std::vector<float>& packed, const float* x,
                   const float* bias, const float* sum, float* y, std::int64_t n, std::int64_t c,
                   std::int64_t m, const ConvEpilogue& epi);

// ConvGradInput (dX) of a strided 2-D convolution on the same register blocks, one stride
// phase at a time: the dX pixels (s * i + a, s * j + b) of phase (a, b) are a stride-1
// correlation of a zero-bordered dY with the taps that reach them, so no dX value is
// scattered or added twice and nothing is unfolded. Applicable with AVX-512, one group, a
// stride of at least 2, and every phase having taps and rows of 7+ pixels (or 4 to 6 in pairs).
bool conv_grad_input_phases_applicable(const WindowGeometry& g, std::int64_t group, std::int64_t m);

// W [m][c][kh][kw] as one packed matrix per phase: [ceil(c / 32)][m * taps][32], written
// into `packed` (one vector per phase), whose storage is reused when the sizes are unchanged.
void pack_grad_input_phases(const WindowGeometry& g, const float* w, std::int64_t m, std::int64_t c,
                            std::vector<std::vector<float>>& packed);

// dX [n][c][ih][iw] (every value written) from dY [n][m][oh][ow]; g is the forward geometry.
void conv_grad_input_phases(const WindowGeometry& g, const std::vector<std::vector<float>>& packed,
                            const float* dy, float* dx, std::int64_t n, std::int64_t c,
                            std::int64_t m);

}  // namespace act::cpu
