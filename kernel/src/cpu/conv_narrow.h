// Forward 2-D convolution for layers whose K (input channels x window taps) is small, like a
// network's first layer on an RGB image: output pixels as the lanes, 16 output channels per
// register block, each tap's 16 input pixels loaded straight from the input (masked loads for
// the padding, one permute to pick the even columns for stride 2) and shared by the block's 16
// channels. Bias, residual and Relu/Clip are applied before the store.
//
// Why: conv_gemm unfolds such a layer (im2col), multiplies with a last row block that is
// mostly padding (32 channels = five blocks of six and one of two) and passes over the
// output again for the epilogue; MobileNetV2's 3->32 stride-2 stem took 0.46-0.49 ms against
// ONNX Runtime's 0.31 (docs/benchmarks.md (d), session 7).
//
// Layouts: x [n][c][ih][iw], y [n][m][oh][ow], the weights as pack_narrow returns them.
// Units: elements. Threading: runs its own parallel_for over (channel block, output row) items;
// call it from the executor's thread, not inside a parallel_for body.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/conv_epilogue.h"
#include "cpu/nn_geometry.h"

namespace act::cpu {

// True with AVX-512 compiled in, one group, a 2-D window with dilation 1, stride 1 or 2 on
// both axes, K = c * kh * kw of at most 64, output rows of at least 16 pixels, and an epilogue
// that is a clamp (none, Relu, Clip).
bool conv_narrow_applicable(const WindowGeometry& g, std::int64_t group, std::int64_t c,
                            const ConvEpilogue& epi);

// The weights w [m][k] (ONNX's [m][c][kh][kw], k = c kh kw) in conv_narrow's layout:
// [ceil(m / 16)][k][16], channels past m zero. The caller owns the result and may keep it for
// as long as the weights do not change (the Conv kernel caches it like its other layouts).
std::vector<float> pack_narrow(const float* w, std::int64_t m, std::int64_t k);

// y = epi(conv(x, w) + bias + sum), w given as pack_narrow(w, m, c kh kw) returned it; bias
// ([m]) and sum (shaped like y) may be null.
void conv_narrow(const WindowGeometry& g, const float* x, const float* packed, const float* bias,
                 const float* sum, float* y, std::int64_t n, std::int64_t c, std::int64_t m,
                 const ConvEpilogue& epi);

}  // namespace act::cpu
