#include "act/kernel/graph.h"

#include <algorithm>
#include <queue>
#include <sstream>

#include "act/kernel/op_registry.h"

namespace act {

bool ValueInfo::fully_known() const {
  return has_shape &&
         std::all_of(shape.begin(), shape.end(), [](const Dim& d) { return d.known(); });
}

Shape ValueInfo::concrete_shape() const {
  ACT_CHECK(fully_known(), "value '", name, "' has no fully known shape");
  Shape s;
  for (const auto& d : shape) s.push_back(d.value);
  return s;
}

std::string ValueInfo::shape_string() const {
  if (!has_shape) return "?";
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) {
    out << (i ? ", " : "");
    if (shape[i].known()) {
      out << shape[i].value;
    } else {
      out << (shape[i].param.empty() ? "?" : shape[i].param);
    }
  }
  out << ']';
  return out.str();
}

ValueInfo ValueInfo::from_tensor(const std::string& name, const Tensor& t) {
  ValueInfo info;
  info.name = name;
  info.dtype = t.dtype();
  info.has_dtype = true;
  info.has_shape = true;
  for (auto d : t.shape()) info.shape.push_back(Dim{d, {}});
  return info;
}

const Tensor* Graph::initializer(const std::string& value) const {
  auto it = initializers_.find(value);
  return it == initializers_.end() ? nullptr : &it->second;
}

bool Graph::is_graph_input(const std::string& value) const {
  return std::any_of(inputs_.begin(), inputs_.end(),
                     [&](const ValueInfo& v) { return v.name == value; });
}

bool Graph::is_graph_output(const std::string& value) const {
  return std::any_of(outputs_.begin(), outputs_.end(),
                     [&](const ValueInfo& v) { return v.name == value; });
}

const ValueInfo* Graph::value_info(const std::string& value) const {
  for (const auto& v : inputs_) {
    if (v.name == value) return &v;
  }
  for (const auto& v : outputs_) {
    if (v.name == value && (v.has_dtype || v.has_shape)) return &v;
  }
  auto it = value_info_.find(value);
  return it == value_info_.end() ? nullptr : &it->second;
}

void Graph::set_value_info(ValueInfo info) {
  std::string key = info.name;
  value_info_[key] = std::move(info);
}

std::optional<std::size_t> Graph::producer(const std::string& value) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const auto& outs = nodes_[i].outputs;
    if (std::find(outs.begin(), outs.end(), value) != outs.end()) return i;
  }
  return std::nullopt;
}

std::vector<std::size_t> Graph::consumers(const std::string& value) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const auto& ins = nodes_[i].inputs;
    if (std::find(ins.begin(), ins.end(), value) != ins.end()) out.push_back(i);
  }
  return out;
}

Node& Graph::add_node(Node node) {
  nodes_.push_back(std::move(node));
  return nodes_.back();
}

void Graph::remove_nodes_if(const std::function<bool(const Node&)>& pred) {
  nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(), pred), nodes_.end());
}

void Graph::set_initializer(const std::string& value, Tensor tensor) {
  initializers_[value] = std::move(tensor);
}

void Graph::remove_initializer(const std::string& value) {
  initializers_.erase(value);
  inputs_.erase(std::remove_if(inputs_.begin(), inputs_.end(),
                               [&](const ValueInfo& v) { return v.name == value; }),
                inputs_.end());
}

void Graph::replace_all_uses(const std::string& from, const std::string& to) {
  for (auto& n : nodes_) {
    for (auto& in : n.inputs) {
      if (in == from) in = to;
    }
  }
  for (auto& o : outputs_) {
    if (o.name == from) o.name = to;
  }
}

std::string Graph::unique_name(const std::string& base) const {
  std::unordered_set<std::string> used;
  for (const auto& n : nodes_) {
    used.insert(n.name);
    used.insert(n.inputs.begin(), n.inputs.end());
    used.insert(n.outputs.begin(), n.outputs.end());
  }
  for (const auto& [k, _] : initializers_) used.insert(k);
  for (const auto& v : inputs_) used.insert(v.name);
  for (const auto& v : outputs_) used.insert(v.name);
  if (!used.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!used.count(candidate)) return candidate;
  }
}

void Graph::topological_sort() {
  // Kahn's algorithm with a min-heap on original index keeps already-sorted graphs unchanged.
  std::unordered_map<std::string, std::size_t> producer_of;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (const auto& o : nodes_[i].outputs) {
      if (!o.empty()) producer_of[o] = i;
    }
  }
  std::vector<std::vector<std::size_t>> users(nodes_.size());
  std::vector<std::size_t> pending(nodes_.size(), 0);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (const auto& in : nodes_[i].inputs) {
      auto it = producer_of.find(in);
      if (in.empty() || it == producer_of.end() || it->second == i) continue;
      users[it->second].push_back(i);
      ++pending[i];
    }
  }
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<std::size_t> order;
  while (!ready.empty()) {
    const std::size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (auto u : users[i]) {
      if (--pending[u] == 0) ready.push(u);
    }
  }
  if (order.size() != nodes_.size()) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (pending[i] != 0) {
        fail("graph has a cycle through node '", nodes_[i].name, "' (", nodes_[i].op_type, ")");
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes_.size());
  for (auto i : order) sorted.push_back(std::move(nodes_[i]));
  nodes_ = std::move(sorted);
}

namespace {

std::string node_label(const Node& n) {
  return "node '" + n.name + "' (" + n.op_type + ")";
}

}  // namespace

void Graph::validate(const OpRegistry* registry) const {
  std::unordered_set<std::string> defined;
  for (const auto& v : inputs_) {
    ACT_CHECK(!v.name.empty(), "graph input with an empty name");
    ACT_CHECK(defined.insert(v.name).second, "graph input '", v.name, "' declared twice");
  }
  for (const auto& [name, t] : initializers_) {
    ACT_CHECK(t.defined(), "initializer '", name, "' has no data");
    defined.insert(name);
  }
  for (const auto& n : nodes_) {
    for (const auto& in : n.inputs) {
      if (in.empty()) continue;
      ACT_CHECK(defined.count(in) != 0, node_label(n), " reads '", in,
                "', which is not produced before it (missing or out of order)");
    }
    for (const auto& out : n.outputs) {
      if (out.empty()) continue;
      ACT_CHECK(defined.insert(out).second, "value '", out, "' is produced twice (second time by ",
                node_label(n), ")");
    }
    if (registry != nullptr) {
      const OpSchema* s = registry->schema(n.op_type, n.domain);
      ACT_CHECK(s != nullptr, "unsupported op '", n.op_type, "'",
                n.domain.empty() ? "" : " in domain '" + n.domain + "'", " at ", node_label(n));
      const int ni = static_cast<int>(n.inputs.size());
      const int no = static_cast<int>(n.outputs.size());
      ACT_CHECK(ni >= s->min_inputs && ni <= s->max_inputs, node_label(n), " has ", ni, " inputs; ",
                n.op_type, " takes ", s->min_inputs, " to ", s->max_inputs);
      ACT_CHECK(no >= s->min_outputs && no <= s->max_outputs, node_label(n), " has ", no,
                " outputs; ", n.op_type, " makes ", s->min_outputs, " to ", s->max_outputs);
    }
  }
  for (const auto& o : outputs_) {
    ACT_CHECK(defined.count(o.name) != 0, "graph output '", o.name, "' is never produced");
  }
}

std::int64_t Model::default_opset() const {
  for (const auto& [domain, version] : opset_imports) {
    if (domain.empty() || domain == "ai.onnx") return version;
  }
  return 0;
}

}  // namespace act
