#include "act/host/model_stats.h"

#include <optional>
#include <set>

#include "act/kernel/passes.h"

namespace act::host {

namespace {

bool is_mac_op(const Node& n) {
  return n.domain.empty() && (n.op_type == "Conv" || n.op_type == "ConvTranspose" ||
                              n.op_type == "Gemm" || n.op_type == "MatMul");
}

class ShapeLookup {
 public:
  ShapeLookup(const Graph& inferred, const Graph& original, bool* used_symbolic)
      : inferred_(inferred), original_(original), used_symbolic_(used_symbolic) {}

  // Dims of `value` with unknown dims as 1, or nullopt if the rank is unknown.
  std::optional<Shape> dims(const std::string& value) const {
    if (const Tensor* t = original_.initializer(value)) return t->shape();
    for (const Graph* g : {&inferred_, &original_}) {
      const ValueInfo* vi = g->value_info(value);
      if (vi == nullptr || !vi->has_shape) continue;
      Shape s;
      for (const auto& d : vi->shape) {
        if (!d.known()) *used_symbolic_ = true;
        s.push_back(d.known() ? d.value : 1);
      }
      return s;
    }
    return std::nullopt;
  }
  // Display prefers the model's own (possibly symbolic, "N") dims over the batch-1 copy.
  std::string text(const std::string& value) const {
    for (const Graph* g : {&original_, &inferred_}) {
      if (const ValueInfo* vi = g->value_info(value); vi != nullptr && vi->has_shape) {
        return vi->shape_string();
      }
    }
    if (const Tensor* t = original_.initializer(value)) return shape_to_string(t->shape());
    return "?";
  }

 private:
  const Graph& inferred_;
  const Graph& original_;
  bool* used_symbolic_;
};

std::int64_t product(const Shape& s, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

// MACs of one layer, or nullopt when a needed shape is unknown.
std::optional<std::int64_t> layer_macs(const Node& n, const ShapeLookup& shapes) {
  auto in = [&](std::size_t i) -> std::optional<Shape> {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return std::nullopt;
    return shapes.dims(n.inputs[i]);
  };
  if (n.op_type == "Conv") {
    // Each output element: (C / group) * prod(kernel) MACs; weight is [M, C/group, k...].
    auto w = in(1);
    auto y = n.outputs.empty() ? std::nullopt : shapes.dims(n.outputs[0]);
    if (!w || !y || w->size() < 2) return std::nullopt;
    return shape_numel(*y) * product(*w, 1, w->size());
  }
  if (n.op_type == "ConvTranspose") {
    // Each input element scatters into (M / group) * prod(kernel) outputs; weight is
    // [C, M/group, k...].
    auto x = in(0);
    auto w = in(1);
    if (!x || !w || w->size() < 2) return std::nullopt;
    return shape_numel(*x) * product(*w, 1, w->size());
  }
  if (n.op_type == "Gemm") {
    auto a = in(0);
    auto b = in(1);
    if (!a || !b || a->size() != 2 || b->size() != 2) return std::nullopt;
    const bool ta = n.attrs.get_int("transA", 0) != 0;
    const bool tb = n.attrs.get_int("transB", 0) != 0;
    const std::int64_t m = ta ? (*a)[1] : (*a)[0];
    const std::int64_t k = ta ? (*a)[0] : (*a)[1];
    const std::int64_t cols = tb ? (*b)[0] : (*b)[1];
    return m * k * cols;
  }
  if (n.op_type == "MatMul") {
    auto a = in(0);
    auto y = n.outputs.empty() ? std::nullopt : shapes.dims(n.outputs[0]);
    if (!a || a->empty()) return std::nullopt;
    const std::int64_t k = a->back();
    if (!y) {
      // Output shape unknown: derive it from both inputs when both are plain matrices.
      auto b = in(1);
      if (!b || a->size() != 2 || b->size() != 2) return std::nullopt;
      return (*a)[0] * k * (*b)[1];
    }
    return shape_numel(*y) * k;
  }
  return std::nullopt;
}

}  // namespace

ModelStats compute_model_stats(const Model& model) {
  const Graph& graph = model.graph;
  ModelStats s;
  for (const auto& v : graph.inputs()) {
    if (!graph.is_initializer(v.name)) s.inputs.push_back(v);
  }
  s.outputs = graph.outputs();
  for (const auto& n : graph.nodes()) {
    ++s.op_histogram[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
    ++s.node_count;
  }
  for (const auto& [name, t] : graph.initializers()) {
    s.parameter_count += t.numel();
    s.parameter_bytes += static_cast<std::int64_t>(t.nbytes());
  }

  // Infer on a copy whose symbolic input dims are 1, so shapes propagate to concrete values.
  Graph inferred = graph;
  for (auto& v : inferred.mutable_inputs()) {
    for (auto& d : v.shape) {
      if (!d.known()) {
        d.value = 1;
        s.symbolic_dims_as_one = true;
      }
    }
  }
  try {
    infer_shapes(inferred, model.default_opset());
  } catch (const std::exception&) {
    // Partial information is still useful; lookups fall back to the loaded value_info.
  }
  ShapeLookup shapes(inferred, graph, &s.symbolic_dims_as_one);

  // Values computable from initializers alone (weights behind DequantizeLinear, Constant).
  std::set<std::string> constant([&] {
    std::set<std::string> c;
    for (const auto& [name, t] : graph.initializers()) c.insert(name);
    return c;
  }());
  const auto& nodes = graph.nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    bool all_const = true;
    bool has_weight = false;
    std::int64_t params = 0;
    for (const auto& in : n.inputs) {
      if (in.empty()) continue;
      if (constant.count(in)) {
        has_weight = true;
        if (const Tensor* t = graph.initializer(in)) params += t->numel();
      } else {
        all_const = false;
      }
    }
    if (all_const) {
      for (const auto& out : n.outputs) constant.insert(out);
    }
    if (!is_mac_op(n)) continue;
    LayerStats layer;
    layer.node = n.name.empty() ? n.op_type + "_" + std::to_string(i) : n.name;
    layer.op_type = n.op_type;
    layer.output = n.outputs.empty() ? std::string() : n.outputs[0];
    layer.output_shape = layer.output.empty() ? "?" : shapes.text(layer.output);
    layer.params = params;
    if (auto macs = layer_macs(n, shapes)) {
      layer.macs = *macs;
      layer.flops = 2 * *macs;
      layer.flops_known = true;
      s.total_flops += layer.flops;
    } else {
      s.flops_complete = false;
    }
    s.layers.push_back(layer);
    if (has_weight && !all_const && !layer.output.empty()) {
      s.distill_candidates.push_back({layer.output, n.op_type, layer.output_shape});
    }
  }
  return s;
}

}  // namespace act::host
