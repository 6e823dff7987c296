// The op families. Each family has a schema table (device-independent) in ops/<family>.cc and
// a CPU kernel table in cpu/<family>.cc; tables.cc calls them all, so the full coverage of a
// build is readable in one place.
#pragma once

#include "act/kernel/op_registry.h"

namespace act::ops {

void register_elementwise_schemas(OpRegistry& r);  // unary/binary math, compare, Where
void register_shape_schemas(OpRegistry& r);        // Reshape, Transpose, Concat, Slice, Cast, ...
void register_reduce_schemas(OpRegistry& r);       // Reduce*, ArgMax, Softmax, LogSoftmax
void register_nn_schemas(OpRegistry& r);           // Conv, Gemm, MatMul, norms, pools
void register_quant_schemas(OpRegistry& r);        // QuantizeLinear, DequantizeLinear

void register_elementwise_cpu(OpRegistry& r);
void register_shape_cpu(OpRegistry& r);
void register_reduce_cpu(OpRegistry& r);
void register_nn_cpu(OpRegistry& r);
void register_quant_cpu(OpRegistry& r);

}  // namespace act::ops
