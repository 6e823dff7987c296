// Static statistics of a model: I/O, op histogram, parameters, FLOPs per layer, and the
// values that can serve as distillation nodes. Used by `act inspect` and reports.
//
// Units: FLOPs count a multiply-add as 2 (FLOPs = 2 * MACs) for one run of the graph at the
// shapes known statically; symbolic dims (batch "N") are taken as 1 and flagged. Bias adds,
// activations and other elementwise work are not counted. Bytes are storage bytes.
// Threading: compute_model_stats is reentrant; it does not modify the model.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "act/kernel/graph.h"

namespace act::host {

// One node that does multiply-accumulate work (Conv, ConvTranspose, Gemm, MatMul).
struct LayerStats {
  std::string node;  // node name (may be empty in the file; then "<op>_<index>")
  std::string op_type;
  std::string output;        // first output value
  std::string output_shape;  // "[1, 64, 56, 56]" or "?"
  std::int64_t params = 0;   // elements of its initializer inputs
  std::int64_t macs = 0;
  std::int64_t flops = 0;    // 2 * macs
  bool flops_known = false;  // false: shapes were missing; flops is 0
};

// A value a user may name as a distillation node: the output of a layer with weights.
struct DistillCandidate {
  std::string value;
  std::string op_type;
  std::string shape;  // as ValueInfo::shape_string(), "?" if unknown
};

struct ModelStats {
  std::vector<ValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, std::int64_t> op_histogram;  // op_type (domain-qualified if not ai.onnx)
  std::int64_t node_count = 0;
  std::int64_t parameter_count = 0;  // elements over all initializers
  std::int64_t parameter_bytes = 0;
  std::vector<LayerStats> layers;                    // graph order
  std::int64_t total_flops = 0;                      // sum over layers with flops_known
  bool flops_complete = true;                        // false if some layer's shapes were unknown
  bool symbolic_dims_as_one = false;                 // true if a symbolic dim was taken as 1
  std::vector<DistillCandidate> distill_candidates;  // graph order
};

// Computes the statistics. Runs act::infer_shapes on a private copy of the graph (symbolic
// input dims set to 1) and falls back to the value_info already in the model (ONNX's
// inference at load) where ACT's inference has no answer.
ModelStats compute_model_stats(const Model& model);

}  // namespace act::host
