// Pads the input channels of int8 convolutions to a multiple of 4 for ONNX Runtime's CPU
// kernels. ONNX Runtime runs a QLinearConv with its fastest x86/Arm kernels (MLAS's symmetric
// "ConvSym" kernels: an indirection buffer instead of im2col, requantization fused into the
// kernel) only when the group has a multiple of 4 input channels and at least 16 output
// channels, a multiple of 8; every other QLinearConv takes im2col, a u8 GEMM into an int32
// buffer and a separate requantization pass. Image stems are the usual misfits: 1 channel
// (grayscale) or 3 (RGB). The ResNet-style Fashion-MNIST model's 1-channel stem took 27 us
// that way against 16 us padded to 4 channels (ONNX Runtime 1.32, one thread; docs/benchmarks.md
// (f), "Padded stems").
//
// A padded convolution reads Pad(x_q, zeros to the next multiple of 4 channels, value = x's
// zero point) through its own DequantizeLinear, and a weight with zero input channels added:
// the extra channels dequantize to exactly 0 and meet zero weights, so every output is the
// same sum as before. The weight file grows by the added zeros (the stem's weights are the
// smallest in the model).
//
// Precondition: `graph` is what write_qdq() wrote for the ort_cpu profile, opset 13 or newer
// (Pad with a u8 constant value input). Ownership: edits the caller's graph. Threading: none.
#pragma once

#include <cstddef>

#include "act/kernel/graph.h"

namespace act::quant {

struct ChannelPadding {
  std::size_t convolutions = 0;  // convolutions now reading padded inputs
  std::size_t added_bytes = 0;   // zero weight bytes the padding stores
};

ChannelPadding pad_conv_input_channels(Graph& graph);

}  // namespace act::quant
