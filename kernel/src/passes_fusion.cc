// Conv epilogue fusion: Conv [-> Add(residual)] [-> activation] becomes one FusedConv node
// (domain "act"), so the residual add and the activation happen on each output tile while it
// is in cache instead of in separate passes over the whole tensor (cpu/conv_epilogue.h).
#include <limits>
#include <unordered_map>

#include "act/kernel/passes.h"

namespace act {

namespace {

const char* const kRemoved = "\x01removed";

// A scalar f32 constant input, or `fallback` when the input is omitted. False if the input
// is present but not a constant scalar (then the node cannot be folded into the epilogue).
bool scalar_input(const Graph& g, const Node& n, std::size_t i, float fallback, float& out) {
  if (i >= n.inputs.size() || n.inputs[i].empty()) {
    out = fallback;
    return true;
  }
  const Tensor* t = g.initializer(n.inputs[i]);
  if (t == nullptr || g.is_graph_input(n.inputs[i]) || t->dtype() != DType::kF32 ||
      t->numel() != 1) {
    return false;
  }
  out = t->data<float>()[0];
  return true;
}

// Sets the FusedConv activation attributes for `act` if it is an activation the epilogue
// knows; false otherwise.
bool absorb_activation(const Graph& g, const Node& act, Attributes& attrs) {
  if (!act.domain.empty()) return false;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (act.op_type == "Relu" || act.op_type == "HardSwish") {
    attrs.set("activation", act.op_type);
    return true;
  }
  if (act.op_type == "LeakyRelu") {
    attrs.set("activation", std::string("LeakyRelu"));
    attrs.set("activation_params", std::vector<float>{act.attrs.get_float("alpha", 0.01F)});
    return true;
  }
  if (act.op_type == "Clip") {
    float lo = 0.0F, hi = 0.0F;
    if (act.inputs.size() > 1) {  // opset 11+: min and max are inputs
      if (!scalar_input(g, act, 1, -kInf, lo) || !scalar_input(g, act, 2, kInf, hi)) return false;
    } else {
      lo = act.attrs.get_float("min", -kInf);
      hi = act.attrs.get_float("max", kInf);
    }
    attrs.set("activation", std::string("Clip"));
    attrs.set("activation_params", std::vector<float>{lo, hi});
    return true;
  }
  return false;
}

bool same_known_shape(const Graph& g, const std::string& a, const std::string& b) {
  const ValueInfo* va = g.value_info(a);
  const ValueInfo* vb = g.value_info(b);
  return va != nullptr && vb != nullptr && va->fully_known() && vb->fully_known() &&
         va->concrete_shape() == vb->concrete_shape();
}

}  // namespace

bool fuse_conv_epilogues(Graph& graph, const std::vector<std::string>& keep) {
  auto& nodes = graph.mutable_nodes();
  std::unordered_map<std::string, int> uses;
  std::unordered_map<std::string, std::size_t> reader;  // a reader; exact when uses == 1
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& in : nodes[i].inputs) {
      if (in.empty()) continue;
      ++uses[in];
      reader[in] = i;
    }
  }
  for (const auto& o : graph.outputs()) ++uses[o.name];
  for (const auto& k : keep) ++uses[k];

  bool changed = false;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& conv = nodes[i];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.inputs.size() < 2) continue;
    const Tensor* w = graph.initializer(conv.inputs[1]);
    if (w == nullptr || w->dtype() != DType::kF32) continue;
    Node fused = conv;
    std::string out = conv.outputs[0];
    std::size_t last = i;
    std::vector<std::size_t> absorbed;
    bool has_sum = false, has_act = false;
    while (uses[out] == 1 && !has_act) {
      const std::size_t j = reader[out];
      const Node& next = nodes[j];
      if (!has_sum && next.op_type == "Add" && next.domain.empty() && next.inputs.size() == 2) {
        const std::string& other = next.inputs[0] == out ? next.inputs[1] : next.inputs[0];
        // Same shape only: the epilogue does not broadcast.
        if (other == out || !same_known_shape(graph, other, out) ||
            !same_known_shape(graph, next.outputs[0], out)) {
          break;
        }
        fused.inputs.resize(4);
        fused.inputs[3] = other;
        has_sum = true;
      } else if (absorb_activation(graph, next, fused.attrs)) {
        has_act = true;
      } else {
        break;
      }
      absorbed.push_back(j);
      last = j;
      out = next.outputs[0];
    }
    if (absorbed.empty()) continue;
    // The fused node takes the place of the last absorbed node, where every input it reads
    // (the residual included) is already computed.
    fused.op_type = "FusedConv";
    fused.domain = "act";
    fused.outputs = {out};
    nodes[i].op_type = kRemoved;
    for (std::size_t j : absorbed) nodes[j].op_type = kRemoved;
    nodes[last] = std::move(fused);
    changed = true;
  }
  if (changed) graph.remove_nodes_if([](const Node& n) { return n.op_type == kRemoved; });
  return changed;
}

}  // namespace act
