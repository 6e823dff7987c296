#include "ops/families.h"

namespace act {

void register_builtin_schemas(OpRegistry& r) {
  ops::register_elementwise_schemas(r);
  ops::register_shape_schemas(r);
  ops::register_reduce_schemas(r);
  ops::register_nn_schemas(r);
  ops::register_quant_schemas(r);
}

void register_cpu_kernels(OpRegistry& r) {
  ops::register_elementwise_cpu(r);
  ops::register_shape_cpu(r);
  ops::register_reduce_cpu(r);
  ops::register_nn_cpu(r);
  ops::register_quant_cpu(r);
}

}  // namespace act
