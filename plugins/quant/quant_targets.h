// Which nodes a quantization section touches: the quantizable op types a config names (in
// Paddle's spelling, as ACT configs write them, or ONNX's), minus skipped tensors and
// not_quant_pattern matches.
//
// Ownership: plain values. Threading: none.
#pragma once

#include <string>
#include <vector>

#include "act/kernel/graph.h"

namespace act::quant {

struct Target {
  std::size_t node = 0;    // index into the graph's nodes at selection time
  std::string activation;  // input 0: the float activation
  std::string weight;      // input 1: an f32 initializer
  std::string bias;        // input 2 when present (Conv, Gemm), else ""
  int weight_axis = 0;     // the output-channel axis of the weight
};

// ONNX op types for the configured names ("conv2d", "depthwise_conv2d", "mul", "matmul",
// "matmul_v2", "conv2d_transpose", or ONNX's "Conv", "Gemm", "MatMul"). Throws act::Error
// naming an unknown one, with the accepted names.
std::vector<std::string> onnx_op_types(const std::vector<std::string>& configured,
                                       const std::string& key);

// The nodes to quantize: op type in `op_types`, a constant f32 weight as input 1, no input
// named in `skip_tensors`, no node name containing one of `not_quant_patterns`.
std::vector<Target> select_targets(const Graph& graph, const std::vector<std::string>& op_types,
                                   const std::vector<std::string>& skip_tensors,
                                   const std::vector<std::string>& not_quant_patterns);

}  // namespace act::quant
