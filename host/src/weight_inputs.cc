#include "weight_inputs.h"

#include <algorithm>

namespace act::host {

std::size_t weights_out_of_inputs(Model& model) {
  auto& inputs = model.graph.mutable_inputs();
  const auto before = inputs.size();
  inputs.erase(
      std::remove_if(inputs.begin(), inputs.end(),
                     [&](const ValueInfo& in) { return model.graph.is_initializer(in.name); }),
      inputs.end());
  const std::size_t removed = before - inputs.size();
  // IR 3 required every initializer to be an input; IR 4 is the first version without that.
  if (removed > 0 && model.ir_version < 4) model.ir_version = 4;
  return removed;
}

}  // namespace act::host
