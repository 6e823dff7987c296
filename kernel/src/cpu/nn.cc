#include "cpu/nn_internal.h"
#include "ops/families.h"

namespace act::ops {

void register_nn_cpu(OpRegistry& r) {
  cpu::register_conv_cpu(r);
  cpu::register_gemm_cpu(r);
  cpu::register_norm_cpu(r);
  cpu::register_pool_cpu(r);
}

}  // namespace act::ops
