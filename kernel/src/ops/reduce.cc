#include "ops/families.h"

namespace act::ops {

void register_reduce_schemas(OpRegistry& /*r*/) {}

}  // namespace act::ops
