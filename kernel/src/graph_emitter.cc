#include "act/kernel/graph_emitter.h"

#include <algorithm>

namespace act {
namespace {

std::string free_prefix(const Graph& g, const std::string& base) {
  auto used = [&](const std::string& p) {
    auto starts = [&](const std::string& name) { return name.rfind(p, 0) == 0; };
    for (const Node& n : g.nodes()) {
      if (starts(n.name)) return true;
      for (const std::string& o : n.outputs) {
        if (starts(o)) return true;
      }
    }
    for (const auto& [name, t] : g.initializers()) {
      if (starts(name)) return true;
    }
    return false;
  };
  for (int k = 0;; ++k) {
    const std::string p = k == 0 ? base : base + "_" + std::to_string(k);
    if (!used(p + "/")) return p;
  }
}

}  // namespace

GraphEmitter::GraphEmitter(Graph& graph, const std::string& prefix)
    : graph_(graph), prefix_(free_prefix(graph, prefix)) {}

std::string GraphEmitter::op(const std::string& type, std::vector<std::string> inputs,
                             Attributes attrs, const std::string& domain) {
  Node n;
  n.op_type = type;
  n.domain = domain;
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  n.name = prefix_ + "/" + type + "_" + std::to_string(count_++);
  n.outputs = {n.name};
  graph_.add_node(n);
  return n.name;
}

std::string GraphEmitter::stop_gradient(const std::string& value) {
  return op("StopGradient", {value}, {}, "act");
}

std::string GraphEmitter::constant(Tensor t) {
  const std::string name = prefix_ + "/const_" + std::to_string(count_++);
  graph_.set_initializer(name, std::move(t));
  return name;
}

std::string GraphEmitter::ints(const std::vector<std::int64_t>& v) {
  Tensor t(DType::kI64, {static_cast<std::int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<std::int64_t>());
  return constant(std::move(t));
}

}  // namespace act
