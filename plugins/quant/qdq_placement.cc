#include "qdq_placement.h"

#include <algorithm>
#include <set>

#include "act/kernel/error.h"

namespace act::quant {
namespace {

// Ops ONNX Runtime's QDQ transformer runs on 8-bit data when Q/DQ surround them (its CPU
// selector/action rules, qdq_selector_action_transformer.cc). The same-scale ones only move
// or select values; ONNX Runtime drops their Q/DQ pairs when input and output share a scale.
// The others become QLinear* kernels with their own output scale: QLinearAdd/Mul, Concat,
// pools, and the activations LeakyRelu and Sigmoid (with Mul, SiLU = x * Sigmoid(x) runs in
// 8 bits). Softmax is left out: its 8-bit output would round every probability to 1/255.
const std::set<std::string> kSameScaleOps = {"MaxPool", "Flatten",   "Reshape", "Transpose",
                                             "Squeeze", "Unsqueeze", "Resize",  "Slice",
                                             "Gather",  "Split",     "Expand",  "Tile"};
const std::set<std::string> kRescalingOps = {
    "Add", "Mul", "Concat", "AveragePool", "GlobalAveragePool", "LeakyRelu", "Sigmoid"};
// Ops all of whose inputs are activations (a constant operand has no Q/DQ to fuse with).
const std::set<std::string> kAllInputsOps = {"Add", "Mul", "Concat"};

// A scalar 0.0 from an initializer or a Constant node (exporters write Clip's bounds both ways).
bool is_zero_constant(const Graph& g, const std::string& value) {
  const Tensor* t = g.initializer(value);
  if (t == nullptr) {
    const auto p = g.producer(value);
    if (!p) return false;
    const Node& n = g.nodes()[*p];
    if (n.op_type != "Constant" || !n.domain.empty() || !n.attrs.has("value")) return false;
    t = &n.attrs.get_tensor("value");
  }
  return t->dtype() == DType::kF32 && t->numel() == 1 && t->data<float>()[0] == 0.0F;
}

class Planner {
 public:
  Planner(const Graph& g, QdqPlan& plan) : g_(g), plan_(plan) {}

  void add(const std::string& v) {
    if (v.empty() || g_.is_initializer(v) || in_region(v)) return;
    region_.insert(v);
    plan_.values.push_back(v);
  }
  bool in_region(const std::string& v) const { return region_.count(v) != 0; }

  // The value to quantize for the output `v` of an op in the region: the output of a Relu (or
  // Clip from 0) that is its only reader, which is then absorbed; else `v` itself.
  std::string region_output(const std::string& v) {
    if (plan_.profile != Profile::kOrtCpu || g_.is_graph_output(v)) return v;
    const auto readers = g_.consumers(v);
    if (readers.size() != 1) return v;
    const Node& n = g_.nodes()[readers[0]];
    const bool relu = n.op_type == "Relu" && n.domain.empty();
    const bool clip_from_zero = n.op_type == "Clip" && n.domain.empty() && n.inputs.size() > 1 &&
                                is_zero_constant(g_, n.inputs[1]);
    if (!relu && !clip_from_zero) return v;
    plan_.absorbed.push_back(n.name);
    return n.outputs.at(0);
  }

  // Activation (non-constant) inputs of an unweighted op, or empty when the op cannot join
  // (a constant operand of Add or Concat has no Q/DQ of its own to fuse with).
  std::vector<std::string> activation_inputs(const Node& n) const {
    std::vector<std::string> acts;
    if (kAllInputsOps.count(n.op_type) != 0) {
      for (const std::string& v : n.inputs) {
        if (v.empty() || g_.is_initializer(v)) return {};
        acts.push_back(v);
      }
    } else if (!n.inputs.empty() && !n.inputs[0].empty() && !g_.is_initializer(n.inputs[0])) {
      acts.push_back(n.inputs[0]);
    }
    return acts;
  }

 private:
  const Graph& g_;
  QdqPlan& plan_;
  std::set<std::string> region_;
};

}  // namespace

Profile parse_profile(const std::string& name, const std::string& key) {
  if (name == "ort_cpu") return Profile::kOrtCpu;
  if (name == "tensorrt") return Profile::kTensorRt;
  fail(key, ": '", name, "' is not ort_cpu or tensorrt");
}

QdqPlan plan_qdq(const Graph& graph, std::vector<Target> targets, Profile profile) {
  QdqPlan plan;
  plan.profile = profile;
  plan.targets = std::move(targets);
  Planner planner(graph, plan);
  std::set<std::size_t> joined;
  for (const Target& t : plan.targets) {
    joined.insert(t.node);
    planner.add(t.activation);
    planner.add(planner.region_output(graph.nodes()[t.node].outputs.at(0)));
  }
  if (profile != Profile::kOrtCpu) return plan;

  // Grow the region through 8-bit-capable ops until nothing changes: a pool after a conv joins,
  // then the Flatten after the pool, and so on.
  const auto& nodes = graph.nodes();
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      if (joined.count(i) != 0 || !n.domain.empty() || n.outputs.empty()) continue;
      const bool same_scale = kSameScaleOps.count(n.op_type) != 0;
      if (!same_scale && kRescalingOps.count(n.op_type) == 0) continue;
      const std::vector<std::string> acts = planner.activation_inputs(n);
      if (acts.empty()) continue;
      const std::string& y = n.outputs[0];
      const bool touches =
          std::any_of(n.outputs.begin(), n.outputs.end(),
                      [&](const std::string& v) { return planner.in_region(v); }) ||
          std::any_of(acts.begin(), acts.end(),
                      [&](const std::string& v) { return planner.in_region(v); });
      if (!touches) continue;
      joined.insert(i);
      plan.int8_ops.push_back(n.name);
      for (const std::string& v : acts) planner.add(v);
      if (same_scale) {  // every output (Split has several) keeps the input's scale
        for (const std::string& out : n.outputs) {
          if (out.empty()) continue;
          planner.add(out);
          plan.same_scale[out] = acts.front();
        }
      } else {
        planner.add(planner.region_output(y));
      }
      changed = true;
    }
  }
  // A chain of same-scale ops shares the scale of the value at its head.
  for (auto& [value, source] : plan.same_scale) {
    for (std::size_t hops = 0; plan.same_scale.count(source) != 0 && hops < nodes.size(); ++hops) {
      source = plan.same_scale.at(source);
    }
  }
  return plan;
}

}  // namespace act::quant
