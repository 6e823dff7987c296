#include "act/kernel/autograd.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "act/kernel/error.h"
#include "act/kernel/op_registry.h"
#include "grad/builders.h"

namespace act {

GradContext::GradContext(Graph& graph, const Node& node, std::vector<std::string> grad_outputs,
                         std::vector<bool> wants,
                         std::function<std::string(const std::string&)> fresh_name)
    : graph_(graph),
      node_(node),
      grad_outputs_(std::move(grad_outputs)),
      wants_(std::move(wants)),
      grad_inputs_(node.inputs.size()),
      fresh_name_(std::move(fresh_name)) {}

const std::string& GradContext::grad_output(std::size_t i) const {
  static const std::string kNone;
  return i < grad_outputs_.size() ? grad_outputs_[i] : kNone;
}

void GradContext::set_grad_input(std::size_t i, const std::string& value) {
  ACT_CHECK(i < grad_inputs_.size(), "gradient of ", node_.op_type, " node '", node_.name,
            "' sets input ", i, " of ", grad_inputs_.size());
  grad_inputs_[i] = value;
}

std::vector<std::string> GradContext::emit_multi(const std::string& op,
                                                 std::vector<std::string> inputs,
                                                 std::size_t outputs, Attributes attrs,
                                                 const std::string& domain) {
  Node n;
  n.op_type = op;
  n.domain = domain;
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  for (std::size_t i = 0; i < outputs; ++i) n.outputs.push_back(fresh_name_(op));
  n.name = n.outputs.empty() ? fresh_name_(op) : n.outputs[0];
  graph_.add_node(n);
  return n.outputs;
}

std::string GradContext::emit(const std::string& op, std::vector<std::string> inputs,
                              Attributes attrs, const std::string& domain) {
  return emit_multi(op, std::move(inputs), 1, std::move(attrs), domain)[0];
}

std::string GradContext::constant(const Tensor& value) {
  const std::string name = fresh_name_("const");
  graph_.set_initializer(name, value);
  return name;
}

std::string GradContext::scalar(float value) {
  Tensor t(DType::kF32, {});
  t.data<float>()[0] = value;
  return constant(t);
}

std::string GradContext::ints(const std::vector<std::int64_t>& values) {
  Tensor t(DType::kI64, {static_cast<std::int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data<std::int64_t>());
  return constant(t);
}

Shape GradContext::static_shape(const std::string& value) const {
  if (const Tensor* t = graph_.initializer(value)) return t->shape();
  const ValueInfo* vi = graph_.value_info(value);
  ACT_CHECK(vi != nullptr && vi->fully_known(), "gradient of ", node_.op_type, " node '",
            node_.name, "' needs the static shape of '", value,
            "', which is not known (run infer_shapes, or give the model fixed input shapes)");
  return vi->concrete_shape();
}

std::string GradContext::sum_to_shape_of(const std::string& dy, const std::string& input) {
  // Same static shape as the node's first output: nothing was broadcast.
  const ValueInfo* in = graph_.value_info(input);
  const Tensor* init = graph_.initializer(input);
  const ValueInfo* out = graph_.value_info(node_.outputs[0]);
  if (out != nullptr && out->fully_known()) {
    if (init != nullptr && init->shape() == out->concrete_shape()) return dy;
    if (in != nullptr && in->fully_known() && in->concrete_shape() == out->concrete_shape()) {
      return dy;
    }
  }
  return emit("SumToShape", {dy, emit("Shape", {input})}, {}, "act");
}

namespace {

// Sums partial gradients of one value with a chain of Adds.
std::string accumulate(GradContext& ctx, const std::vector<std::string>& parts) {
  if (parts.empty()) return {};
  std::string sum = parts[0];
  for (std::size_t i = 1; i < parts.size(); ++i) sum = ctx.emit("Add", {sum, parts[i]});
  return sum;
}

}  // namespace

BackwardResult build_backward(Graph& graph, const std::string& loss,
                              const std::vector<std::string>& wrt, std::int64_t opset,
                              const OpRegistry& registry, const BackwardOptions& options) {
  (void)opset;
  graph.topological_sort();
  const std::vector<Node> forward = graph.nodes();  // builders append; iterate a snapshot

  std::unordered_set<std::string> names;
  for (const auto& n : forward) {
    names.insert(n.name);
    for (const auto& v : n.inputs) names.insert(v);
    for (const auto& v : n.outputs) names.insert(v);
  }
  for (const auto& [name, _] : graph.initializers()) names.insert(name);
  for (const auto& v : graph.inputs()) names.insert(v.name);
  int serial = 0;
  auto fresh_name = [&](const std::string& hint) {
    std::string name;
    do {
      name = "grad/" + hint + "_" + std::to_string(serial++);
    } while (!names.insert(name).second);
    return name;
  };

  bool loss_exists = graph.is_initializer(loss) || graph.is_graph_input(loss);
  for (const auto& n : forward) {
    loss_exists =
        loss_exists || std::find(n.outputs.begin(), n.outputs.end(), loss) != n.outputs.end();
  }
  ACT_CHECK(loss_exists, "build_backward: the loss '", loss, "' is not a value of the graph");
  for (const auto& w : wrt) {
    ACT_CHECK(graph.is_initializer(w) || graph.is_graph_input(w), "build_backward: '", w,
              "' is neither a parameter (initializer) nor a graph input");
  }

  // Values that depend on a wrt value, and values the loss depends on.
  std::unordered_set<std::string> requires_grad(wrt.begin(), wrt.end());
  for (const auto& n : forward) {
    if (n.op_type == "StopGradient" && n.domain == "act") continue;
    const bool any = std::any_of(n.inputs.begin(), n.inputs.end(),
                                 [&](const std::string& v) { return requires_grad.count(v) != 0; });
    if (any) requires_grad.insert(n.outputs.begin(), n.outputs.end());
  }
  std::unordered_set<std::string> needed{loss};
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    const bool any = std::any_of(it->outputs.begin(), it->outputs.end(),
                                 [&](const std::string& v) { return needed.count(v) != 0; });
    if (any) needed.insert(it->inputs.begin(), it->inputs.end());
  }

  std::unordered_map<std::string, std::vector<std::string>> partials;
  Node seed_node;
  seed_node.name = "grad/seed";
  seed_node.op_type = "Seed";
  seed_node.outputs = {loss};
  GradContext seed(graph, seed_node, {}, {}, fresh_name);
  Attributes one;
  Tensor one_value(DType::kF32, {1});
  one_value.data<float>()[0] = 1.0F;
  one.set("value", one_value);
  partials[loss].push_back(seed.emit("ConstantOfShape", {seed.emit("Shape", {loss})}, one));

  const std::size_t before = graph.nodes().size();
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    const Node& node = *it;
    const bool on_path = std::any_of(
        node.outputs.begin(), node.outputs.end(),
        [&](const std::string& v) { return requires_grad.count(v) && needed.count(v); });
    if (!on_path) continue;
    std::vector<std::string> grad_out;
    bool any_grad = false;
    for (const auto& o : node.outputs) {
      auto p = partials.find(o);
      if (p == partials.end() || p->second.empty()) {
        grad_out.emplace_back();
        continue;
      }
      grad_out.push_back(accumulate(seed, p->second));
      p->second = {grad_out.back()};
      any_grad = true;
    }
    if (!any_grad) continue;
    std::vector<bool> wants;
    bool any_wanted = false;
    for (const auto& in : node.inputs) {
      wants.push_back(!in.empty() && requires_grad.count(in) != 0);
      any_wanted = any_wanted || wants.back();
    }
    if (!any_wanted) continue;
    const OpSchema* schema = registry.schema(node.op_type, node.domain);
    ACT_CHECK(schema != nullptr && schema->gradient, "no gradient for op '", node.op_type,
              "' at node '", node.name, "': it lies between a trained parameter and the loss");
    GradContext ctx(graph, node, grad_out, wants, fresh_name);
    schema->gradient(ctx);
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      if (wants[i] && !ctx.grad_inputs()[i].empty()) {
        partials[node.inputs[i]].push_back(ctx.grad_inputs()[i]);
      }
    }
  }

  BackwardResult result;
  for (const auto& w : wrt) {
    auto p = partials.find(w);
    if (p != partials.end() && !p->second.empty()) {
      result.grads[w] = accumulate(seed, p->second);
    } else {  // the loss does not depend on w: its gradient is zero
      Attributes zero;
      Tensor zero_value(DType::kF32, {1});
      zero_value.data<float>()[0] = 0.0F;
      zero.set("value", zero_value);
      result.grads[w] = seed.emit("ConstantOfShape", {seed.emit("Shape", {w})}, zero);
    }
  }
  if (options.fuse) {
    std::unordered_set<std::string> keep;
    for (const auto& [w, gname] : result.grads) keep.insert(gname);
    grad::fuse_relu_into_batchnorm_grad(graph, before, keep);
  }
  result.nodes_added = graph.nodes().size() - before + 2;
  return result;
}

}  // namespace act

namespace act {

void register_builtin_gradients(OpRegistry& registry) {
  grad::register_grad_ops(registry);
  grad::register_math_gradients(registry);
  grad::register_shape_gradients(registry);
  grad::register_nn_gradients(registry);
  // StopGradient: no gradient flows through it; build_backward never asks (it cuts the path).
  registry.set_gradient("StopGradient", "act", [](GradContext&) {});
}

}  // namespace act
