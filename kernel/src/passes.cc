#include "act/kernel/passes.h"

#include <cmath>
#include <unordered_set>

#include "act/kernel/executor.h"

namespace act {

namespace {

bool all_inputs_constant(const Graph& g, const Node& n) {
  for (const auto& in : n.inputs) {
    if (!in.empty() && !g.is_initializer(in)) return false;
  }
  return true;
}

bool any_output_is_graph_output(const Graph& g, const Node& n) {
  for (const auto& o : n.outputs) {
    if (g.is_graph_output(o)) return true;
  }
  return false;
}

}  // namespace

bool fold_constants(Graph& graph, std::int64_t opset, const OpRegistry& registry) {
  bool changed = false;
  std::vector<Node> kept;
  for (const auto& node : graph.nodes()) {
    // Initializers that are also graph inputs can be overridden at run time: not constant.
    bool foldable = all_inputs_constant(graph, node) && !any_output_is_graph_output(graph, node);
    for (const auto& in : node.inputs) foldable = foldable && !graph.is_graph_input(in);
    if (foldable) {
      Graph one;
      for (const auto& in : node.inputs) {
        if (!in.empty()) one.set_initializer(in, *graph.initializer(in));
      }
      one.add_node(node);
      for (const auto& o : node.outputs) {
        if (!o.empty()) one.add_output(ValueInfo{o});
      }
      try {
        Executor exec(one, opset, {}, registry);
        RunResult r = exec.run(std::vector<Tensor>{});
        std::size_t k = 0;
        for (const auto& o : node.outputs) {
          if (!o.empty()) graph.set_initializer(o, r.outputs[k++]);
        }
        changed = true;
        continue;
      } catch (const Error&) {
        // No kernel for this dtype, say: leave the node for the runtime to deal with.
      }
    }
    kept.push_back(node);
  }
  if (changed) {
    graph.mutable_nodes() = std::move(kept);
    eliminate_dead_nodes(graph);
  }
  return changed;
}

namespace {

// Scales per output channel for y = (x - mean) * scale / sqrt(var + eps) + bias.
struct BnFactors {
  std::vector<float> mul;
  std::vector<float> add;
};

bool bn_factors(const Graph& g, const Node& bn, BnFactors& f) {
  if (bn.inputs.size() != 5 || bn.outputs.size() != 1) return false;
  if (bn.attrs.get_int("training_mode", 0) != 0) return false;
  const Tensor* t[4];
  for (int i = 0; i < 4; ++i) {
    t[i] = g.initializer(bn.inputs[static_cast<std::size_t>(i) + 1]);
    if (t[i] == nullptr || t[i]->dtype() != DType::kF32 || t[i]->rank() != 1) return false;
    if (g.is_graph_input(bn.inputs[static_cast<std::size_t>(i) + 1])) return false;
  }
  const std::int64_t c = t[0]->numel();
  for (int i = 1; i < 4; ++i) {
    if (t[i]->numel() != c) return false;
  }
  const float eps = bn.attrs.get_float("epsilon", 1e-5F);
  const float* scale = t[0]->data<float>();
  const float* bias = t[1]->data<float>();
  const float* mean = t[2]->data<float>();
  const float* var = t[3]->data<float>();
  f.mul.resize(static_cast<std::size_t>(c));
  f.add.resize(static_cast<std::size_t>(c));
  for (std::int64_t i = 0; i < c; ++i) {
    f.mul[static_cast<std::size_t>(i)] = scale[i] / std::sqrt(var[i] + eps);
    f.add[static_cast<std::size_t>(i)] = bias[i] - mean[i] * f.mul[static_cast<std::size_t>(i)];
  }
  return true;
}

}  // namespace

bool fold_batch_norm(Graph& graph) {
  bool changed = false;
  std::vector<std::string> replaced;  // BN parameters and pre-fold weights, maybe unread now
  auto& nodes = graph.mutable_nodes();
  for (auto& bn : nodes) {
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty()) continue;
    auto p = graph.producer(bn.inputs[0]);
    if (!p) continue;
    Node& layer = nodes[*p];
    const bool is_conv = layer.op_type == "Conv";
    const bool is_gemm = layer.op_type == "Gemm";
    if ((!is_conv && !is_gemm) || !layer.domain.empty()) continue;
    if (graph.consumers(layer.outputs[0]).size() != 1 || graph.is_graph_output(layer.outputs[0]))
      continue;
    const Tensor* w = layer.inputs.size() > 1 ? graph.initializer(layer.inputs[1]) : nullptr;
    if (w == nullptr || w->dtype() != DType::kF32 || graph.is_graph_input(layer.inputs[1]))
      continue;
    BnFactors f;
    if (!bn_factors(graph, bn, f)) continue;
    const auto c = static_cast<std::int64_t>(f.mul.size());

    const bool trans_b = is_gemm && layer.attrs.get_int("transB", 0) != 0;
    if (is_gemm) {
      if (layer.attrs.get_float("alpha", 1.0F) != 1.0F ||
          layer.attrs.get_float("beta", 1.0F) != 1.0F)
        continue;
      if (w->rank() != 2 || w->dim(trans_b ? 0 : 1) != c) continue;
    } else if (w->rank() < 3 || w->dim(0) != c) {
      continue;
    }
    const Tensor* b = layer.inputs.size() > 2 && !layer.inputs[2].empty()
                          ? graph.initializer(layer.inputs[2])
                          : nullptr;
    if (layer.inputs.size() > 2 && !layer.inputs[2].empty() &&
        (b == nullptr || b->numel() != c || b->dtype() != DType::kF32 ||
         graph.is_graph_input(layer.inputs[2]))) {
      continue;
    }
    // Gemm's C broadcasts: only one value per output column ([N] or [1, N]) is a per-channel
    // bias; an [M, 1] C with M == N has the right size but runs along the other axis.
    if (is_gemm && b != nullptr && !(b->rank() == 1 || (b->rank() == 2 && b->dim(0) == 1)))
      continue;

    Tensor nw = w->clone();
    float* wd = nw.data<float>();
    if (is_gemm && !trans_b) {  // [K, N]: scale columns
      const std::int64_t k = w->dim(0);
      for (std::int64_t r = 0; r < k; ++r) {
        for (std::int64_t j = 0; j < c; ++j) wd[r * c + j] *= f.mul[static_cast<std::size_t>(j)];
      }
    } else {  // [C, ...]: scale rows
      const std::int64_t per = w->numel() / c;
      for (std::int64_t j = 0; j < c; ++j) {
        for (std::int64_t i = 0; i < per; ++i)
          wd[j * per + i] *= f.mul[static_cast<std::size_t>(j)];
      }
    }
    Tensor nb(DType::kF32, {c});
    float* bd = nb.data<float>();
    for (std::int64_t j = 0; j < c; ++j) {
      const float old = b ? b->data<float>()[j] : 0.0F;
      bd[j] = old * f.mul[static_cast<std::size_t>(j)] + f.add[static_cast<std::size_t>(j)];
    }
    // A weight or bias only this layer reads keeps its name: names are what users and configs
    // point at (a quantizer's skip_tensor_list, its per-layer tables). One shared with another
    // layer gets a folded copy under a new name and stays as it is for the other reader.
    auto own = [&](const std::string& v) {
      return !v.empty() && graph.consumers(v).size() == 1 && !graph.is_graph_output(v);
    };
    const std::string old_w = layer.inputs[1];
    const std::string old_b = layer.inputs.size() > 2 ? layer.inputs[2] : std::string();
    const std::string wname = own(old_w) ? old_w : graph.unique_name(old_w + "_bnfold");
    const std::string bname =
        own(old_b)
            ? old_b
            : graph.unique_name(bn.name.empty() ? layer.name + "_bias_bnfold" : bn.name + "_bias");
    graph.set_initializer(wname, nw);  // a new tensor: copies of the graph keep the old one
    graph.set_initializer(bname, nb);
    if (graph.is_frozen(old_w)) {  // a teacher's layer stays untrainable
      graph.freeze(wname);
      graph.freeze(bname);
    }
    layer.inputs.resize(3);
    layer.inputs[1] = wname;
    layer.inputs[2] = bname;
    // The layer now writes the BN's output directly.
    layer.outputs[0] = bn.outputs[0];
    replaced.insert(replaced.end(), bn.inputs.begin() + 1, bn.inputs.end());
    replaced.insert(replaced.end(), {old_w, old_b});
    bn.op_type = "\x01removed";
    changed = true;
  }
  if (changed) {
    graph.remove_nodes_if([](const Node& n) { return n.op_type == "\x01removed"; });
    // Only the initializers the folds left unread go: other nodes that reach no graph output
    // (a training graph's loss terms, a teacher) are not this pass's business.
    for (const std::string& v : replaced) {
      if (graph.is_initializer(v) && graph.consumers(v).empty() && !graph.is_graph_output(v) &&
          !graph.is_graph_input(v))
        graph.remove_initializer(v);
    }
  }
  return changed;
}

bool eliminate_dead_nodes(Graph& graph) {
  std::unordered_set<std::string> live;
  for (const auto& o : graph.outputs()) live.insert(o.name);
  const auto& nodes = graph.nodes();
  std::vector<bool> keep(nodes.size(), false);
  for (std::size_t i = nodes.size(); i-- > 0;) {
    for (const auto& o : nodes[i].outputs) {
      if (!o.empty() && live.count(o)) keep[i] = true;
    }
    if (keep[i]) live.insert(nodes[i].inputs.begin(), nodes[i].inputs.end());
  }
  std::size_t idx = 0;
  const std::size_t before = nodes.size();
  graph.remove_nodes_if([&](const Node&) { return !keep[idx++]; });
  bool changed = graph.nodes().size() != before;
  std::vector<std::string> unused;
  for (const auto& [name, _] : graph.initializers()) {
    if (!live.count(name)) unused.push_back(name);
  }
  for (const auto& name : unused) graph.remove_initializer(name);
  return changed || !unused.empty();
}

bool infer_shapes(Graph& graph, std::int64_t opset, const OpRegistry& registry) {
  bool changed = false;
  for (const auto& node : graph.nodes()) {
    const OpSchema* schema = registry.schema(node.op_type, node.domain);
    if (schema == nullptr || !schema->infer) continue;
    InferContext ctx{node, opset, {}, {}, {}};
    std::vector<ValueInfo> from_init;
    from_init.reserve(node.inputs.size());
    for (const auto& in : node.inputs) {
      const ValueInfo* vi = in.empty() ? nullptr : graph.value_info(in);
      const Tensor* init = in.empty() ? nullptr : graph.initializer(in);
      if (vi == nullptr && init != nullptr) {
        from_init.push_back(ValueInfo::from_tensor(in, *init));
        vi = &from_init.back();
      }
      ctx.inputs.push_back(vi);
      ctx.constants.push_back(init);
    }
    for (const auto& o : node.outputs) {
      ValueInfo v;
      v.name = o;
      ctx.outputs.push_back(v);
    }
    try {
      schema->infer(ctx);
    } catch (const Error& e) {
      fail("shape inference failed at node '", node.name, "' (", node.op_type, "): ", e.what());
    }
    for (auto& out : ctx.outputs) {
      if (out.name.empty() || (!out.has_dtype && !out.has_shape)) continue;
      if (graph.is_graph_output(out.name) || graph.is_graph_input(out.name)) continue;
      const ValueInfo* old = graph.value_info(out.name);
      if (old == nullptr || (!old->has_shape && out.has_shape) ||
          (!old->has_dtype && out.has_dtype) || (!old->fully_known() && out.fully_known())) {
        graph.set_value_info(out);
        changed = true;
      }
    }
  }
  return changed;
}

bool optimize_for_inference(Graph& graph, std::int64_t opset, const OpRegistry& registry,
                            const std::vector<std::string>& keep) {
  bool changed = fold_constants(graph, opset, registry);
  changed = fold_batch_norm(graph) || changed;
  changed = eliminate_dead_nodes(graph) || changed;
  infer_shapes(graph, opset, registry);
  changed = fuse_conv_epilogues(graph, keep) || changed;
  graph.topological_sort();
  return changed;
}

}  // namespace act
