// ConvGradWeight of a 2-D convolution as one small GEMM per window tap, on conv_gemm's
// micro-kernel: dW[:, :, kh, kw] = dY (mg x pixels) times the input shifted by that tap
// (pixels x cg). The input is copied once per image into a zero-bordered channels-last plane,
// so every tap's operand is that plane read at a per-pixel offset; nothing is unfolded.
// The im2col formulation this replaces unfolded and then transposed kdim x pixels values per
// image (nine times the input for a 3x3 layer), which cost a quarter of the product's time on
// ResNet-18's 64-channel layers (docs/benchmarks.md (e)).
//
// Layouts: x [cg][ih][iw] and dy [mg][oh][ow] per image, one group; acc [mg][cg][kh][kw]
// (row-major, ONNX's weight layout), which the call adds to. Geometry as as_3d gives it (unit
// depth). Units: elements. Threading: serial, on the calling thread's scratch; callers split
// images between threads and add their partial sums.
#pragma once

#include <cstdint>

#include "cpu/nn_geometry.h"

namespace act::cpu {

// True when weight_grad_taps handles the layer: the build has the micro-kernel, the window is
// 2-D, a group has at least 8 input channels (below that the 16-lane channel panels would be
// mostly padding) and the map at least 256 output pixels (smaller maps measured faster
// unfolded); the im2col path keeps the others.
bool weight_grad_taps_applicable(const WindowGeometry& g, std::int64_t cg);

// acc += dW of one group over `images` images (layouts above), image b's input at
// x + b * x_stride and its gradient at dy + b * dy_stride.
void weight_grad_taps(const WindowGeometry& g, std::int64_t cg, std::int64_t mg, const float* x,
                      std::int64_t x_stride, const float* dy, std::int64_t dy_stride,
                      std::int64_t images, float* acc);

}  // namespace act::cpu
