#include "ops/families.h"

namespace act::ops {

void register_elementwise_schemas(OpRegistry& /*r*/) {}

}  // namespace act::ops
