#include "model_intake.h"

#include <algorithm>

#include "act/host/onnx_io.h"

namespace act::host {
namespace {

// Removes every graph input that names an initializer; returns how many it removed.
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

}  // namespace

Model load_model_to_compress(const std::string& path, std::int64_t opset_version, std::FILE* log) {
  LoadedModel loaded = load_onnx(path, opset_version);
  Model m = std::move(loaded.model);
  if (m.default_opset() != loaded.opset_before) {
    std::fprintf(log, "%s: opset %lld raised to %lld (Global.opset_version)\n", path.c_str(),
                 static_cast<long long>(loaded.opset_before),
                 static_cast<long long>(m.default_opset()));
  }
  if (const std::size_t n = weights_out_of_inputs(m); n > 0) {
    std::fprintf(log,
                 "%s lists %zu of its initializers as graph inputs too (an exporter's "
                 "keep_initializers_as_inputs): they are taken as the model's weights, not as "
                 "inputs\n",
                 path.c_str(), n);
  }
  return m;
}

}  // namespace act::host
