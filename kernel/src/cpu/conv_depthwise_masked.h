// Depthwise 3x3 convolution (stride 1 or 2, any padding) that reads each input plane in place
// with AVX-512 masked loads: the lanes that fall in the padding are masked off and read as
// zero, so no padded copy of the plane is made. For stride 2 the even and odd columns of 32
// loaded floats are picked by one two-source permute each.
//
// Why: the copying kernels (conv_depthwise.h and depthwise_3x3 in nn_conv.cc) spent most of
// their time writing the padded plane, not multiplying: MobileNetV2's depthwise layers took
// 3.2 ms of a 13 ms inference against ONNX Runtime's 1.1 ms (docs/benchmarks.md (d)).
//
// A Relu or Clip epilogue without a residual input is applied in registers before each store;
// other epilogues run over the plane afterwards. Three accumulators per output vector (one per
// kernel row) keep a row's nine FMAs from being one dependency chain (MobileNetV2's depthwise
// layers 5-15% faster, latency_bench --profile 2). Stride 1 computes two output rows per pass
// (four input rows read instead of six), and short rows (at most 8 outputs, 7 at stride 2) go
// two rows to a vector; the .cc file has the measurements.
//
// Layouts: x [batch][channels][ih][iw], w [channels][1][3][3], y [batch][channels][oh][ow];
// the geometry is as_3d's (unit depth). Units: elements. Threading: runs its own parallel_for
// over planes; call it from the executor's thread.
#pragma once

#include <cstdint>

#include "cpu/conv_epilogue.h"
#include "cpu/nn_geometry.h"

namespace act::cpu {

// True when the build has AVX-512 and the geometry is a 2-D 3x3 window with dilation 1 and
// equal strides of 1 or 2.
bool depthwise_3x3_masked_applicable(const WindowGeometry& g);

// y = epi(depthwise(x, w) + bias + sum); bias ([channels]) and sum (shaped like y) may be
// null.
void depthwise_3x3_masked(const WindowGeometry& g, const float* x, const float* w,
                          const float* bias, std::int64_t batch, std::int64_t channels, float* y,
                          const ConvEpilogue& epi, const float* sum);

}  // namespace act::cpu
