// Where the Q/DQ pairs of a quantized model go, per deployment target. Post-training
// quantization calibrates exactly plan.values; aware training fake-quantizes exactly
// plan.values; write_qdq() (qdq_writer.h) turns the plan into QuantizeLinear/DequantizeLinear.
//
// ort_cpu: ONNX Runtime fuses "DQ -> op -> Q" groups into integer kernels, so the plan keeps
// whole regions in 8 bits instead of returning to float between layers:
//   - every quantized weighted op (Conv/Gemm/MatMul) gets its activation input and output
//     quantized;
//   - a Relu, or a Clip whose lower bound is 0, that is the only reader of such an output is
//     absorbed: the output of the activation is quantized to u8 with zero point 0, which clamps
//     negatives exactly as Relu does (and above the calibrated range as Clip does), and the
//     node is dropped;
//   - ops ONNX Runtime runs on 8-bit data (Add, Mul, Concat, AveragePool, GlobalAveragePool,
//     LeakyRelu, Sigmoid; and MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze,
//     Resize, Slice, Gather, Split, Expand, Tile, which need the same scale on both sides)
//     join the region when one of their inputs or outputs is already in it.
// tensorrt: Q/DQ on the inputs and outputs of the weighted ops only; TensorRT fuses the
// activations itself and its explicit-quantization rules want symmetric int8 everywhere.
//
// Ownership: plain values; plan_qdq() reads the graph. Threading: none.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "quant_targets.h"

namespace act::quant {

enum class Profile { kOrtCpu, kTensorRt };

// "ort_cpu" or "tensorrt"; throws act::Error naming `key` otherwise.
Profile parse_profile(const std::string& name, const std::string& key);

struct QdqPlan {
  Profile profile = Profile::kOrtCpu;
  std::vector<Target> targets;        // weighted ops: int8 weights, int32 bias
  std::vector<std::string> values;    // activations with one Q/DQ pair each (float-graph names)
  std::vector<std::string> absorbed;  // names of Relu/Clip nodes the u8 Q replaces
  // value -> the value whose quantization it reuses (MaxPool, Flatten, ...); chains resolved.
  std::map<std::string, std::string> same_scale;
  std::vector<std::string> int8_ops;  // names of unweighted nodes that join the 8-bit region
};

QdqPlan plan_qdq(const Graph& graph, std::vector<Target> targets, Profile profile);

}  // namespace act::quant
