// Gradient builders of data-movement and reduction ops. Most need the forward input's shape:
// at run time through Shape (Reshape and friends), or statically where an attribute must be
// computed (Concat's split sizes, reduced axes).
#include <numeric>

#include "act/kernel/autograd.h"
#include "act/kernel/op_registry.h"
#include "grad/builders.h"

namespace act::grad {

namespace {

using G = GradContext;

const std::string& in(G& g, std::size_t i) {
  return g.node().inputs[i];
}

std::int64_t norm_axis(std::int64_t axis, std::int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

// dy reshaped to the input's shape (every op that only reinterprets the layout).
void as_input_shape(G& g) {
  if (g.wants(0))
    g.set_grad_input(0, g.emit("Reshape", {g.grad_output(0), g.emit("Shape", {in(g, 0)})}));
}

// Broadcasts a reduced gradient back over the reduced axes of the input (ReduceSum/Mean).
std::string unreduce(G& g, const std::string& dy, std::vector<std::int64_t> axes) {
  const Shape x = g.static_shape(in(g, 0));
  const auto rank = static_cast<std::int64_t>(x.size());
  if (axes.empty()) {
    axes.resize(static_cast<std::size_t>(rank));
    std::iota(axes.begin(), axes.end(), 0);
  }
  Shape kept = x;
  for (auto a : axes) kept[static_cast<std::size_t>(norm_axis(a, rank))] = 1;
  const std::string reshaped = g.emit("Reshape", {dy, g.ints(kept)});
  return g.emit("Expand", {reshaped, g.ints(x)});
}

std::vector<std::int64_t> reduce_axes(G& g) {
  const Node& n = g.node();
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Tensor* t = g.graph().initializer(n.inputs[1]);
    ACT_CHECK(t != nullptr, "gradient of ", n.op_type, " node '", n.name, "' needs constant axes");
    std::vector<std::int64_t> axes;
    for (std::int64_t i = 0; i < t->numel(); ++i) axes.push_back(t->get_as_int(i));
    return axes;
  }
  return n.attrs.get_ints("axes", {});
}

std::int64_t reduced_count(G& g, const std::vector<std::int64_t>& axes) {
  const Shape x = g.static_shape(in(g, 0));
  if (axes.empty())
    return std::accumulate(x.begin(), x.end(), std::int64_t{1}, std::multiplies<>());
  std::int64_t count = 1;
  for (auto a : axes)
    count *= x[static_cast<std::size_t>(norm_axis(a, static_cast<std::int64_t>(x.size())))];
  return count;
}

}  // namespace

void register_shape_gradients(OpRegistry& r) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
    r.set_gradient(op, "", as_input_shape);
  r.set_gradient("Dropout", "", [](G& g) {  // inference mode: identity
    if (g.wants(0)) g.set_grad_input(0, g.grad_output(0));
  });
  r.set_gradient("Transpose", "", [](G& g) {
    if (!g.wants(0)) return;
    std::vector<std::int64_t> perm = g.node().attrs.get_ints("perm", {});
    if (perm.empty()) {
      const auto rank = static_cast<std::int64_t>(g.static_shape(in(g, 0)).size());
      for (std::int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
    }
    std::vector<std::int64_t> inverse(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i)
      inverse[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
    Attributes a;
    a.set("perm", inverse);
    g.set_grad_input(0, g.emit("Transpose", {g.grad_output(0)}, a));
  });
  r.set_gradient("Expand", "", [](G& g) {
    if (g.wants(0)) g.set_grad_input(0, g.sum_to_shape_of(g.grad_output(0), in(g, 0)));
  });
  r.set_gradient("Cast", "", [](G& g) {  // back to the input's type
    if (g.wants(0)) g.set_grad_input(0, g.emit("CastLike", {g.grad_output(0), in(g, 0)}));
  });
  r.set_gradient("Concat", "", [](G& g) {
    const auto rank = static_cast<std::int64_t>(g.static_shape(in(g, 0)).size());
    const std::int64_t axis = norm_axis(g.node().attrs.get_int("axis"), rank);
    std::vector<std::int64_t> sizes;
    for (const auto& v : g.node().inputs)
      sizes.push_back(g.static_shape(v)[static_cast<std::size_t>(axis)]);
    Attributes a;
    a.set("axis", axis);
    const auto parts = g.emit_multi("Split", {g.grad_output(0), g.ints(sizes)}, sizes.size(), a);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (g.wants(i)) g.set_grad_input(i, parts[i]);
    }
  });
  r.set_gradient("ReduceSum", "", [](G& g) {
    if (g.wants(0)) g.set_grad_input(0, unreduce(g, g.grad_output(0), reduce_axes(g)));
  });
  r.set_gradient("ReduceMean", "", [](G& g) {
    if (!g.wants(0)) return;
    const auto axes = reduce_axes(g);
    const std::string scaled = g.emit(
        "Mul", {g.grad_output(0), g.scalar(1.0F / static_cast<float>(reduced_count(g, axes)))});
    g.set_grad_input(0, unreduce(g, scaled, axes));
  });
  r.set_gradient("Softmax", "", [](G& g) {  // y * (dy - sum(dy * y))
    if (!g.wants(0)) return;
    const auto rank = static_cast<std::int64_t>(g.static_shape(in(g, 0)).size());
    const std::int64_t axis = norm_axis(g.node().attrs.get_int("axis", -1), rank);
    const std::string& y = g.node().outputs[0];
    Attributes keep;
    keep.set("keepdims", std::int64_t{1});
    const std::string s =
        g.emit("ReduceSum", {g.emit("Mul", {g.grad_output(0), y}), g.ints({axis})}, keep);
    g.set_grad_input(0, g.emit("Mul", {y, g.emit("Sub", {g.grad_output(0), s})}));
  });
  r.set_gradient("LogSoftmax", "", [](G& g) {  // dy - exp(y) * sum(dy)
    if (!g.wants(0)) return;
    const auto rank = static_cast<std::int64_t>(g.static_shape(in(g, 0)).size());
    const std::int64_t axis = norm_axis(g.node().attrs.get_int("axis", -1), rank);
    Attributes keep;
    keep.set("keepdims", std::int64_t{1});
    const std::string s = g.emit("ReduceSum", {g.grad_output(0), g.ints({axis})}, keep);
    const std::string p = g.emit("Exp", {g.node().outputs[0]});
    g.set_grad_input(0, g.emit("Sub", {g.grad_output(0), g.emit("Mul", {p, s})}));
  });
}

}  // namespace act::grad
