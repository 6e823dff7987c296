// Training an imported inference graph with BatchNorm batch statistics.
//
// Exported inference graphs carry BatchNormalization in inference mode: it normalizes with the
// stored running mean and variance. Training such a graph as it is keeps those statistics
// frozen (the usual choice for short QAT or pruning fine-tunes). Training from scratch, or long
// enough for the activations to drift, needs what PyTorch's model.train() does: normalize
// each batch by its own statistics and keep the running averages for inference.
// use_batch_statistics() rewrites the graph that way, in ONNX's own form (opset 14+
// training_mode=1, outputs Y, running_mean, running_var), and tells the caller which values
// hold the new running statistics, so the trainer can write them back into the initializers
// after each step; the exported model then is inference-mode BatchNorm with updated
// statistics, as PyTorch's model.eval() export would be.
//
// Units: `momentum` is ONNX's (the weight of the old running value):
//   running = running * momentum + batch * (1 - momentum)
// PyTorch's BatchNorm momentum m corresponds to ONNX momentum 1 - m (PyTorch's default 0.1 is
// 0.9 here). The batch variance is the biased (population) variance for both normalization
// and the running update, as ONNX defines it; PyTorch updates its running variance with the
// unbiased one (a factor n / (n - 1), n = batch * spatial size per channel).
// Threading: mutates the graph; one caller at a time.
#pragma once

#include <string>
#include <vector>

#include "act/kernel/graph.h"

namespace act {

// One running statistic of one BatchNormalization: the initializer the graph reads and the
// value the rewritten node computes for it.
struct RunningStatUpdate {
  std::string initializer;  // running mean or variance, as read by the node
  std::string updated;      // the node's new output holding the updated statistic
};

// Rewrites every inference-mode BatchNormalization (default domain) of `graph` into training
// mode with `momentum`, adding the running-mean and running-variance outputs. Returns two
// entries per rewritten node, mean first. Nodes already in training mode are left alone. Throws
// act::Error naming the node when its running statistics are not initializers, or when one
// initializer is the running statistic of two nodes (one value cannot take two updates).
std::vector<RunningStatUpdate> use_batch_statistics(Graph& graph, float momentum = 0.9F);

}  // namespace act
