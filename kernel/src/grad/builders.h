// The built-in gradient builders, one table per op family (autograd.h explains the scheme).
#pragma once

#include "act/kernel/op_registry.h"

namespace act::grad {

void register_math_gradients(OpRegistry& r);   // builders_math.cc: elementwise ops
void register_shape_gradients(OpRegistry& r);  // builders_shape.cc: reshape, transpose, ...
void register_nn_gradients(OpRegistry& r);     // builders_nn.cc: matmul, conv, norms, pools
void register_grad_ops(OpRegistry& r);         // grad_ops.cc: SumToShape, StopGradient (+CPU)

}  // namespace act::grad
