// Gradient builders of the elementwise family, written from forward ops only. Each states
// dL/dx in terms of dy (the output gradient), the node's inputs X.. and output Y.
#include <cmath>

#include "act/kernel/autograd.h"
#include "act/kernel/op_registry.h"
#include "grad/builders.h"

namespace act::grad {

namespace {

using G = GradContext;

const std::string& in(G& g, std::size_t i) {
  return g.node().inputs[i];
}
const std::string& out(G& g) {
  return g.node().outputs[0];
}

// Ops whose gradient is dy * f(X, Y) for one input.
void unary(OpRegistry& r, const char* op, std::function<std::string(G&, const std::string&)> f) {
  r.set_gradient(op, "", [f](G& g) {
    if (g.wants(0)) g.set_grad_input(0, f(g, g.grad_output(0)));
  });
}

}  // namespace

void register_math_gradients(OpRegistry& r) {
  r.set_gradient("Add", "", [](G& g) {
    if (g.wants(0)) g.set_grad_input(0, g.sum_to_shape_of(g.grad_output(0), in(g, 0)));
    if (g.wants(1)) g.set_grad_input(1, g.sum_to_shape_of(g.grad_output(0), in(g, 1)));
  });
  r.set_gradient("Sub", "", [](G& g) {
    if (g.wants(0)) g.set_grad_input(0, g.sum_to_shape_of(g.grad_output(0), in(g, 0)));
    if (g.wants(1)) {
      g.set_grad_input(1, g.sum_to_shape_of(g.emit("Neg", {g.grad_output(0)}), in(g, 1)));
    }
  });
  r.set_gradient("Mul", "", [](G& g) {
    const std::string& dy = g.grad_output(0);
    if (g.wants(0)) g.set_grad_input(0, g.sum_to_shape_of(g.emit("Mul", {dy, in(g, 1)}), in(g, 0)));
    if (g.wants(1)) g.set_grad_input(1, g.sum_to_shape_of(g.emit("Mul", {dy, in(g, 0)}), in(g, 1)));
  });
  r.set_gradient("Div", "", [](G& g) {
    const std::string& dy = g.grad_output(0);
    if (g.wants(0)) g.set_grad_input(0, g.sum_to_shape_of(g.emit("Div", {dy, in(g, 1)}), in(g, 0)));
    if (g.wants(1)) {  // d(a/b)/db = -y/b
      const std::string t = g.emit("Div", {g.emit("Mul", {dy, out(g)}), in(g, 1)});
      g.set_grad_input(1, g.sum_to_shape_of(g.emit("Neg", {t}), in(g, 1)));
    }
  });
  r.set_gradient("Pow", "", [](G& g) {
    const std::string& dy = g.grad_output(0);
    if (g.wants(0)) {  // p * x^(p-1)
      const std::string p1 = g.emit("Sub", {in(g, 1), g.scalar(1.0F)});
      const std::string d = g.emit("Mul", {in(g, 1), g.emit("Pow", {in(g, 0), p1})});
      g.set_grad_input(0, g.sum_to_shape_of(g.emit("Mul", {dy, d}), in(g, 0)));
    }
    if (g.wants(1)) {  // y * ln(x)
      const std::string d = g.emit("Mul", {out(g), g.emit("Log", {in(g, 0)})});
      g.set_grad_input(1, g.sum_to_shape_of(g.emit("Mul", {dy, d}), in(g, 1)));
    }
  });
  unary(r, "Neg", [](G& g, const std::string& dy) { return g.emit("Neg", {dy}); });
  unary(r, "Identity", [](G&, const std::string& dy) { return dy; });
  unary(r, "Relu", [](G& g, const std::string& dy) {
    return g.emit("ReluGrad", {dy, out(g)}, {}, "act");
  });
  unary(r, "LeakyRelu", [](G& g, const std::string& dy) {
    const float alpha = g.node().attrs.get_float("alpha", 0.01F);
    const std::string pos = g.emit("Greater", {in(g, 0), g.scalar(0.0F)});
    return g.emit("Where", {pos, dy, g.emit("Mul", {dy, g.scalar(alpha)})});
  });
  unary(r, "Sigmoid", [](G& g, const std::string& dy) {
    const std::string one_minus = g.emit("Sub", {g.scalar(1.0F), out(g)});
    return g.emit("Mul", {dy, g.emit("Mul", {out(g), one_minus})});
  });
  unary(r, "Tanh", [](G& g, const std::string& dy) {
    const std::string y2 = g.emit("Mul", {out(g), out(g)});
    return g.emit("Mul", {dy, g.emit("Sub", {g.scalar(1.0F), y2})});
  });
  unary(r, "Exp", [](G& g, const std::string& dy) { return g.emit("Mul", {dy, out(g)}); });
  unary(r, "Log", [](G& g, const std::string& dy) { return g.emit("Div", {dy, in(g, 0)}); });
  unary(r, "Sqrt", [](G& g, const std::string& dy) {
    return g.emit("Div", {dy, g.emit("Mul", {out(g), g.scalar(2.0F)})});
  });
  unary(r, "Reciprocal", [](G& g, const std::string& dy) {
    return g.emit("Neg", {g.emit("Mul", {dy, g.emit("Mul", {out(g), out(g)})})});
  });
  unary(r, "Abs", [](G& g, const std::string& dy) {
    const std::string neg = g.emit("Less", {in(g, 0), g.scalar(0.0F)});
    return g.emit("Where", {neg, g.emit("Neg", {dy}), dy});
  });
  unary(r, "Erf", [](G& g, const std::string& dy) {  // 2/sqrt(pi) * exp(-x^2)
    const std::string x2 = g.emit("Mul", {in(g, 0), in(g, 0)});
    const std::string e = g.emit("Exp", {g.emit("Neg", {x2})});
    const float k = 2.0F / std::sqrt(3.14159265358979F);
    return g.emit("Mul", {dy, g.emit("Mul", {e, g.scalar(k)})});
  });
  unary(r, "HardSigmoid", [](G& g, const std::string& dy) {
    const float alpha = g.node().attrs.get_float("alpha", 0.2F);
    const float beta = g.node().attrs.get_float("beta", 0.5F);
    const std::string t =
        g.emit("Add", {g.emit("Mul", {in(g, 0), g.scalar(alpha)}), g.scalar(beta)});
    const std::string zero = g.scalar(0.0F);
    const std::string inner = g.emit("Where", {g.emit("Greater", {t, g.scalar(1.0F)}), zero,
                                               g.emit("Mul", {dy, g.scalar(alpha)})});
    return g.emit("Where", {g.emit("Less", {t, zero}), zero, inner});
  });
  unary(r, "HardSwish", [](G& g, const std::string& dy) {  // 0 below -3, 1 above 3, x/3 + 1/2
    const std::string zero = g.scalar(0.0F);
    const std::string mid = g.emit(
        "Mul", {dy, g.emit("Add", {g.emit("Div", {in(g, 0), g.scalar(3.0F)}), g.scalar(0.5F)})});
    const std::string upper =
        g.emit("Where", {g.emit("Greater", {in(g, 0), g.scalar(3.0F)}), dy, mid});
    return g.emit("Where", {g.emit("Less", {in(g, 0), g.scalar(-3.0F)}), zero, upper});
  });
  r.set_gradient("Clip", "", [](G& g) {
    if (!g.wants(0)) return;
    std::string lo, hi;
    if (g.node().inputs.size() > 1 && !in(g, 1).empty()) lo = in(g, 1);
    if (g.node().inputs.size() > 2 && !in(g, 2).empty()) hi = in(g, 2);
    if (g.node().inputs.size() <= 1) {  // opset < 11: bounds are attributes
      const auto& a = g.node().attrs;
      if (a.has("min")) lo = g.scalar(a.get_float("min"));
      if (a.has("max")) hi = g.scalar(a.get_float("max"));
    }
    const std::string zero = g.scalar(0.0F);
    std::string d = g.grad_output(0);
    if (!hi.empty()) d = g.emit("Where", {g.emit("Greater", {in(g, 0), hi}), zero, d});
    if (!lo.empty()) d = g.emit("Where", {g.emit("Less", {in(g, 0), lo}), zero, d});
    g.set_grad_input(0, d);
  });
  r.set_gradient("Where", "", [](G& g) {
    const std::string& dy = g.grad_output(0);
    const std::string zero = g.scalar(0.0F);
    if (g.wants(1)) {
      g.set_grad_input(1, g.sum_to_shape_of(g.emit("Where", {in(g, 0), dy, zero}), in(g, 1)));
    }
    if (g.wants(2)) {
      g.set_grad_input(2, g.sum_to_shape_of(g.emit("Where", {in(g, 0), zero, dy}), in(g, 2)));
    }
  });
}

}  // namespace act::grad
