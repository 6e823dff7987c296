// Graph passes. Each returns true if it changed the graph; a pass that finds nothing to do
// returns false and leaves the graph untouched (never an error). Callers validate around
// passes, not passes inside themselves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "act/kernel/op_registry.h"

namespace act {

// Evaluates nodes whose inputs are all constants and turns their outputs into initializers.
bool fold_constants(Graph& graph, std::int64_t opset,
                    const OpRegistry& registry = OpRegistry::global());
// Folds an inference BatchNormalization that directly follows a Conv or Gemm (whose output
// nothing else reads) into that layer's weights and bias. The layer then writes the BN's
// output; a weight or bias only that layer reads keeps its name (with new values), a shared
// one is copied under a new name; frozen weights stay frozen. Other nodes are left alone, even
// those that reach no graph output (a training graph's loss terms); initializers the folds
// leave unread are removed.
bool fold_batch_norm(Graph& graph);
// Removes nodes none of whose outputs reach a graph output, and unused initializers.
bool eliminate_dead_nodes(Graph& graph);
// Infers dtypes and shapes of every value through the op schemas; records them as value
// infos. Returns true if any new information was added.
bool infer_shapes(Graph& graph, std::int64_t opset,
                  const OpRegistry& registry = OpRegistry::global());

// Folds what follows a Conv into one FusedConv node (domain "act", executed by ACT only, never
// saved): a residual Add of an input with the same known shape (run infer_shapes first), then
// one of Relu, Clip (constant bounds), LeakyRelu, HardSwish. Values named in `keep` (and graph
// outputs) are never fused away, so they stay available as taps.
bool fuse_conv_epilogues(Graph& graph, const std::vector<std::string>& keep = {});

// The inference pipeline: constant folding, BatchNorm folding, dead-node elimination, then
// shape inference and Conv epilogue fusion, then a topological sort. Values in `keep` survive
// (taps for calibration or distillation). The result is for ACT's executor: it may hold
// FusedConv nodes, so it is not meant to be saved as ONNX. Returns true if anything changed.
bool optimize_for_inference(Graph& graph, std::int64_t opset,
                            const OpRegistry& registry = OpRegistry::global(),
                            const std::vector<std::string>& keep = {});

}  // namespace act
