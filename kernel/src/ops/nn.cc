#include "ops/families.h"

namespace act::ops {

void register_nn_schemas(OpRegistry& /*r*/) {}

}  // namespace act::ops
