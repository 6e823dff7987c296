#include "distill_nodes.h"

#include <algorithm>
#include <optional>
#include <set>

#include "act/kernel/error.h"
#include "act/kernel/passes.h"
#include "act/sdk/config_reader.h"

namespace act::distill {
namespace {

std::vector<std::string> value_names(const Graph& graph) {
  std::vector<std::string> out;
  for (const ValueInfo& v : graph.inputs()) {
    if (!graph.is_initializer(v.name)) out.push_back(v.name);
  }
  for (const Node& n : graph.nodes()) {
    for (const std::string& o : n.outputs) {
      if (!o.empty()) out.push_back(o);
    }
  }
  return out;
}

bool has_weight(const Graph& graph, const Node& n) {
  static const std::set<std::string> kWeighted = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
  if (!n.domain.empty() || kWeighted.count(n.op_type) == 0) return false;
  return std::any_of(n.inputs.begin(), n.inputs.end(),
                     [&](const std::string& v) { return graph.is_initializer(v); });
}

}  // namespace

std::string resolve_value(const Graph& graph, const std::string& name, const std::string& whose,
                          const std::string& where) {
  const std::vector<std::string> values = value_names(graph);
  auto has = [&](const std::string& v) {
    return std::find(values.begin(), values.end(), v) != values.end();
  };
  if (has(name)) return name;
  const std::string prefix = "teacher_";
  if (name.rfind(prefix, 0) == 0 && has(name.substr(prefix.size()))) {
    return name.substr(prefix.size());
  }
  const std::string guess = sdk::closest_name(name, values);
  fail(where, ": '", name, "' is not a value of ", whose,
       guess.empty() ? std::string() : " (did you mean '" + guess + "'?)",
       "; `act inspect` lists the distillation node candidates");
}

std::vector<std::string> automatic_nodes(const Graph& graph) {
  std::vector<std::string> out;
  for (const ValueInfo& output : graph.outputs()) {
    // Ancestors of the output; the weighted one latest in topological order is the last layer.
    std::set<std::string> seen;
    std::vector<std::string> stack = {output.name};
    std::optional<std::size_t> last;
    while (!stack.empty()) {
      const std::string v = stack.back();
      stack.pop_back();
      if (!seen.insert(v).second) continue;
      const auto p = graph.producer(v);
      if (!p) continue;
      const Node& n = graph.nodes()[*p];
      if (has_weight(graph, n) && (!last || *p > *last)) last = *p;
      for (const std::string& in : n.inputs) {
        if (!in.empty()) stack.push_back(in);
      }
    }
    if (!last) continue;
    const std::string value = graph.nodes()[*last].outputs.at(0);
    if (std::find(out.begin(), out.end(), value) == out.end()) out.push_back(value);
  }
  return out;
}

StaticShapes::StaticShapes(const Graph& graph, std::int64_t opset) : graph_(graph) {
  for (ValueInfo& in : graph_.mutable_inputs()) {
    for (Dim& d : in.shape) {
      if (!d.known()) d = Dim{1, ""};
    }
  }
  // Inference records no value info for graph outputs; with none declared, every value gets one.
  graph_.mutable_outputs().clear();
  graph_.clear_value_infos();
  infer_shapes(graph_, opset);
}

Shape StaticShapes::of(const std::string& value, const std::string& where) const {
  const ValueInfo* info = graph_.value_info(value);
  ACT_CHECK(info != nullptr && info->fully_known(), where, ": cannot infer the shape of '", value,
            "'");
  return info->concrete_shape();
}

std::string shape_text(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace act::distill
