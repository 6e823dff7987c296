#include "quant_targets.h"

#include <algorithm>
#include <map>

#include "act/kernel/error.h"

namespace act::quant {

std::vector<std::string> onnx_op_types(const std::vector<std::string>& configured,
                                       const std::string& key) {
  // Paddle's op names map onto the ONNX ops its exporter produces for them.
  static const std::map<std::string, std::string> kNames = {
      {"conv2d", "Conv"},
      {"depthwise_conv2d", "Conv"},
      {"conv2d_transpose", "ConvTranspose"},
      {"mul", "Gemm"},
      {"matmul", "MatMul"},
      {"matmul_v2", "MatMul"},
      {"Conv", "Conv"},
      {"ConvTranspose", "ConvTranspose"},
      {"Gemm", "Gemm"},
      {"MatMul", "MatMul"},
  };
  std::vector<std::string> out;
  for (const std::string& name : configured) {
    auto it = kNames.find(name);
    if (it == kNames.end()) {
      std::string known;
      for (const auto& [k, v] : kNames) known += (known.empty() ? "" : ", ") + k;
      fail(key, ": '", name, "' is not an op type the quant plugin quantizes (", known, ")");
    }
    if (std::find(out.begin(), out.end(), it->second) == out.end()) out.push_back(it->second);
    // Paddle's "mul" is a fully connected layer; ONNX exporters write it as Gemm or MatMul.
    if (name == "mul" && std::find(out.begin(), out.end(), "MatMul") == out.end()) {
      out.push_back("MatMul");
    }
  }
  return out;
}

std::vector<Target> select_targets(const Graph& graph, const std::vector<std::string>& op_types,
                                   const std::vector<std::string>& skip_tensors,
                                   const std::vector<std::string>& not_quant_patterns) {
  std::vector<Target> out;
  const auto& nodes = graph.nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (!n.domain.empty() ||
        std::find(op_types.begin(), op_types.end(), n.op_type) == op_types.end()) {
      continue;
    }
    if (n.inputs.size() < 2) continue;
    const Tensor* w = graph.initializer(n.inputs[1]);
    if (w == nullptr || w->dtype() != DType::kF32 || graph.is_graph_input(n.inputs[1])) continue;
    const bool skipped = std::any_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& v) {
      return std::find(skip_tensors.begin(), skip_tensors.end(), v) != skip_tensors.end();
    });
    const bool excluded =
        std::any_of(not_quant_patterns.begin(), not_quant_patterns.end(),
                    [&](const std::string& p) { return n.name.find(p) != std::string::npos; });
    if (skipped || excluded) continue;
    Target t;
    t.node = i;
    t.activation = n.inputs[0];
    t.weight = n.inputs[1];
    if (n.inputs.size() > 2 && !n.inputs[2].empty() && graph.initializer(n.inputs[2]) != nullptr) {
      t.bias = n.inputs[2];
    }
    if (n.op_type == "Gemm") {
      t.weight_axis = n.attrs.get_int("transB", 0) != 0 ? 0 : 1;
    } else if (n.op_type == "MatMul") {
      t.weight_axis = w->rank() - 1;
    } else if (n.op_type == "ConvTranspose") {
      t.weight_axis = 1;  // W is [C_in, C_out / group, k...]
    }
    out.push_back(t);
  }
  return out;
}

}  // namespace act::quant
