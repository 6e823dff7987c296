// The built-in gradient builders, one table per op family (autograd.h explains the scheme).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_set>

#include "act/kernel/graph.h"
#include "act/kernel/op_registry.h"

namespace act::grad {

void register_math_gradients(OpRegistry& r);   // builders_math.cc: elementwise ops
void register_shape_gradients(OpRegistry& r);  // builders_shape.cc: reshape, transpose, ...
void register_nn_gradients(OpRegistry& r);     // builders_nn.cc: matmul, conv, norms, pools
void register_grad_ops(OpRegistry& r);         // grad_ops.cc: SumToShape, StopGradient (+CPU)

// fuse_backward.cc: folds ReluGrad into the BatchNormTrainingGrad it alone feeds, among nodes
// [first, end) of `graph`; values in `keep` are never fused away. Returns the nodes removed.
std::size_t fuse_relu_into_batchnorm_grad(Graph& graph, std::size_t first,
                                          const std::unordered_set<std::string>& keep);

}  // namespace act::grad
