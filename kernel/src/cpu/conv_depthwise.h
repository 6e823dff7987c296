// Depthwise 3x3 convolution with stride 2 (MobileNet's down-sampling layers), one plane per
// (image, channel). Each plane is copied once into a zero-bordered scratch plane; the even
// and odd columns a stride-2 window reads are then separated in registers (two shuffles per
// eight outputs) instead of by a pass that rewrote the plane as even and odd halves, which
// left these layers at about a third of the stride-1 kernel's speed.
//
// Layouts: x [batch][channels][ih][iw], w [channels][1][3][3], y [batch][channels][oh][ow];
// the geometry is as_3d's (unit depth). Units: elements. Threading: runs its own parallel_for
// over planes; call it from the executor's thread.
#pragma once

#include <cstdint>

#include "cpu/conv_epilogue.h"
#include "cpu/nn_geometry.h"

namespace act::cpu {

// True when depthwise_3x3_s2 handles this geometry (3x3, stride 2, dilation 1, 2-D) and the
// build has AVX2 and FMA.
bool depthwise_3x3_s2_applicable(const WindowGeometry& g);

// y = epi(depthwise(x, w) + bias + sum); bias ([channels]) and sum (shaped like y) may be
// null.
void depthwise_3x3_s2(const WindowGeometry& g, const float* x, const float* w, const float* bias,
                      std::int64_t batch, std::int64_t channels, float* y, const ConvEpilogue& epi,
                      const float* sum);

}  // namespace act::cpu
