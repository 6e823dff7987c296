// Writes the deployable form of post-training or aware-training quantization: QuantizeLinear /
// DequantizeLinear pairs around each quantized op, with the weights stored as real int8
// initializers (the file shrinks about 4x) and biases as int32, in the layout ONNX Runtime's
// QDQ transformer fuses into its integer kernels (QLinearConv, QGemm, QLinearMatMul):
//
//   x -> Q -> DQ ---------+
//   w_int8 -> DQ (axis) --+-> Conv/Gemm/MatMul -> Q -> DQ -> y (the name consumers read)
//   b_int32 -> DQ (axis) -+
//
// Units: scales are real values per integer step; zero points are integers (always 0 here:
// symmetric weights; activations u8 from 0 when calibrated non-negative, else s8 symmetric).
// Ownership: edits the caller's graph. Threading: none.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "quant_targets.h"

namespace act::quant {

struct ActivationQuant {
  float scale = 1.0F;
  bool is_unsigned = false;  // u8 [0, 255] when the tensor never goes negative, else s8
};

// From a calibrated minimum and clipping threshold (8-bit activations).
ActivationQuant activation_quant(float min, float threshold);

struct WeightOptions {
  int bits = 8;               // 2..8; values stay within +-(2^(bits-1) - 1)
  bool per_channel = true;    // channel_wise_abs_max (else one scale per tensor)
  bool reduce_range = false;  // one bit less (7 bits for 8): avoids u8s8 saturation on AVX2
};

struct QdqSummary {
  std::size_t quantized_nodes = 0;
  std::size_t float_weight_bytes = 0;  // bytes of the weights before
  std::size_t int_weight_bytes = 0;    // and after
};

// Quantizes `targets` (indices into graph.nodes() as selected, before any edit). `activations`
// holds the quantization of every target's activation input and output. Throws act::Error
// naming a node or value it cannot quantize.
QdqSummary write_qdq(Graph& graph, const std::vector<Target>& targets,
                     const std::map<std::string, ActivationQuant>& activations,
                     const WeightOptions& weights);

}  // namespace act::quant
