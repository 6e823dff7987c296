// Writes the deployable form of post-training or aware-training quantization, as placed by a
// QdqPlan (qdq_placement.h): one QuantizeLinear/DequantizeLinear pair on every planned value,
// the weights stored as real int8 initializers (the file shrinks about 4x) and biases as int32,
// in the layout ONNX Runtime's QDQ transformer fuses into its integer kernels (QLinearConv,
// QGemm, QLinearMatMul, QLinearAdd, ...):
//
//   x -> Q -> DQ ---------+
//   w_int8 -> DQ (axis) --+-> Conv/Gemm/MatMul (-> Relu absorbed) -> Q -> DQ -> y
//   b_int32 -> DQ (axis) -+
//
// Every reader of a planned value reads its DQ; the DQ keeps the value's name when a node
// produces it, so graph outputs keep their names.
// Units: scales are real values per integer step; zero points are integers in the stored
// type's range. Weights are symmetric (zero point 0).
// Ownership: edits the caller's graph. Threading: none.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "qdq_placement.h"

namespace act::quant {

struct ActivationQuant {
  float scale = 1.0F;
  bool is_unsigned = false;  // u8 [0, 255], else s8 [-128, 127]
  int zero_point = 0;        // the integer that represents 0.0
};

// 8-bit activation quantization from calibration: the observed [min, max] and the clipping
// threshold on |x| an algorithm chose. Non-negative tensors take u8 from 0 (the form that
// absorbs Relu). Tensors with negative values take u8 with a zero point over
// [max(min, -threshold), min(max, threshold)] for ort_cpu (ONNX Runtime's fast CPU kernels
// read u8 activations), s8 symmetric over [-threshold, threshold] for tensorrt.
ActivationQuant activation_quant(float min, float max, float threshold, Profile profile);

struct WeightOptions {
  int bits = 8;               // 2..8; values stay within +-(2^(bits-1) - 1)
  bool per_channel = true;    // channel_wise_abs_max (else one scale per tensor)
  bool reduce_range = false;  // 7 bits for 8 (only): avoids u8s8 saturation on AVX2
  // Bias correction (bias_correction.h): per-channel means of each target's activation input,
  // by value name; null or a missing entry: no correction for that target.
  const std::map<std::string, std::vector<double>>* input_means = nullptr;
  // Reconstructed rounding (adaround.h): int8 codes by weight name, used instead of
  // round-to-nearest; null or a missing entry: nearest.
  const std::map<std::string, Tensor>* codes = nullptr;
};

// The largest integer magnitude of the weights (reduce_range applies to 8 bits only).
int weight_qmax(const WeightOptions& o);
// Symmetric scales of `w` along `axis` (one per channel, or one when !o.per_channel).
std::vector<float> weight_scales(const Tensor& w, int axis, const WeightOptions& o);

struct QdqSummary {
  std::size_t quantized_nodes = 0;
  std::size_t float_weight_bytes = 0;  // bytes of the weights before
  std::size_t int_weight_bytes = 0;    // and after
  std::size_t bias_corrected = 0;      // targets whose bias absorbed the weight error's shift
  std::size_t channel_padded = 0;      // convolutions given 4-aligned inputs (channel_pad.h)
};

// Rewrites `graph` (the graph `plan` was made from, unedited since, opset 13 or newer) as
// planned; for ort_cpu it then pads the convolutions ONNX Runtime would otherwise run on its
// slow int8 path (channel_pad.h). `activations` holds the quantization of every planned value.
// Throws act::Error naming a node or value it cannot quantize.
QdqSummary write_qdq(Graph& graph, const QdqPlan& plan,
                     const std::map<std::string, ActivationQuant>& activations,
                     const WeightOptions& weights);

}  // namespace act::quant
