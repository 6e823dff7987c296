// Gradient builders of the nn family. MatMul and Gemm are products of their inputs' products;
// Conv, MaxPool and training-mode BatchNormalization use helper kernels (ConvGradInput,
// ConvGradWeight, MaxPoolGrad, BatchNormTrainingGrad); the inference-mode norms and pools are
// affine maps written with forward ops.
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

// Swaps the last two axes (batched matrix transpose) of a value of rank `rank`.
std::string transpose_last2(G& g, const std::string& v, std::size_t rank) {
  std::vector<std::int64_t> perm(rank);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[rank - 1], perm[rank - 2]);
  Attributes a;
  a.set("perm", perm);
  return g.emit("Transpose", {v}, a);
}

Attributes gemm_attrs(float alpha, bool ta, bool tb) {
  Attributes a;
  a.set("alpha", alpha);
  a.set("transA", std::int64_t{ta ? 1 : 0});
  a.set("transB", std::int64_t{tb ? 1 : 0});
  return a;
}

// Axes [0, 2, 3, ...]: every axis but the channel axis of an NC... tensor.
std::vector<std::int64_t> non_channel_axes(std::size_t rank) {
  std::vector<std::int64_t> axes{0};
  for (std::size_t a = 2; a < rank; ++a) axes.push_back(static_cast<std::int64_t>(a));
  return axes;
}

Attributes keepdims(bool keep) {
  Attributes a;
  a.set("keepdims", std::int64_t{keep ? 1 : 0});
  return a;
}

}  // namespace

void register_nn_gradients(OpRegistry& r) {
  r.set_gradient("MatMul", "", [](G& g) {
    const Shape a = g.static_shape(in(g, 0)), b = g.static_shape(in(g, 1));
    ACT_CHECK(a.size() >= 2 && b.size() >= 2, "gradient of MatMul node '", g.node().name,
              "': 1-D operands are not supported");
    const std::string& dy = g.grad_output(0);
    if (g.wants(0)) {
      const std::string d = g.emit("MatMul", {dy, transpose_last2(g, in(g, 1), b.size())});
      g.set_grad_input(0, g.sum_to_shape_of(d, in(g, 0)));
    }
    if (g.wants(1)) {
      const std::string d = g.emit("MatMul", {transpose_last2(g, in(g, 0), a.size()), dy});
      g.set_grad_input(1, g.sum_to_shape_of(d, in(g, 1)));
    }
  });
  r.set_gradient("Gemm", "", [](G& g) {
    const auto& at = g.node().attrs;
    const float alpha = at.get_float("alpha", 1.0F), beta = at.get_float("beta", 1.0F);
    const bool ta = at.get_int("transA", 0) != 0, tb = at.get_int("transB", 0) != 0;
    const std::string& dy = g.grad_output(0);
    if (g.wants(0)) {  // dA = alpha dY op(B)^T, transposed back if A was
      g.set_grad_input(0, ta ? g.emit("Gemm", {in(g, 1), dy}, gemm_attrs(alpha, tb, true))
                             : g.emit("Gemm", {dy, in(g, 1)}, gemm_attrs(alpha, false, !tb)));
    }
    if (g.wants(1)) {  // dB = alpha op(A)^T dY, transposed back if B was
      g.set_grad_input(1, tb ? g.emit("Gemm", {dy, in(g, 0)}, gemm_attrs(alpha, true, ta))
                             : g.emit("Gemm", {in(g, 0), dy}, gemm_attrs(alpha, !ta, false)));
    }
    if (g.node().inputs.size() > 2 && g.wants(2)) {
      std::string dc = g.sum_to_shape_of(dy, in(g, 2));
      if (beta != 1.0F) dc = g.emit("Mul", {dc, g.scalar(beta)});
      g.set_grad_input(2, dc);
    }
  });
  r.set_gradient("Conv", "", [](G& g) {
    const std::string& dy = g.grad_output(0);
    const Attributes& a = g.node().attrs;
    if (g.wants(0))
      g.set_grad_input(0, g.emit("ConvGradInput", {dy, in(g, 1), in(g, 0)}, a, "act"));
    if (g.wants(1))
      g.set_grad_input(1, g.emit("ConvGradWeight", {dy, in(g, 0), in(g, 1)}, a, "act"));
    if (g.node().inputs.size() > 2 && g.wants(2)) {
      const std::size_t rank = g.static_shape(in(g, 0)).size();
      g.set_grad_input(2,
                       g.emit("ReduceSum", {dy, g.ints(non_channel_axes(rank))}, keepdims(false)));
    }
  });
  r.set_gradient("MaxPool", "", [](G& g) {
    ACT_CHECK(g.node().outputs.size() < 2 || g.node().outputs[1].empty(),
              "gradient of MaxPool node '", g.node().name,
              "': the Indices output is not supported");
    if (g.wants(0)) {
      g.set_grad_input(0,
                       g.emit("MaxPoolGrad", {g.grad_output(0), in(g, 0)}, g.node().attrs, "act"));
    }
  });
  r.set_gradient("GlobalAveragePool", "", [](G& g) {
    if (!g.wants(0)) return;
    const Shape x = g.static_shape(in(g, 0));
    const std::int64_t count =
        std::accumulate(x.begin() + 2, x.end(), std::int64_t{1}, std::multiplies<>());
    const std::string spread = g.emit("Expand", {g.grad_output(0), g.emit("Shape", {in(g, 0)})});
    g.set_grad_input(0, g.emit("Mul", {spread, g.scalar(1.0F / static_cast<float>(count))}));
  });
  // Training mode normalizes by the batch's own statistics, so the gradient flows through them
  // too: one helper kernel (BatchNormTrainingGrad) does the per-channel reductions and dX in
  // one pass over each channel. The running-statistic outputs carry no gradient.
  // Inference mode: y = (x - mean) * scale / sqrt(var + eps) + bias, an affine map per channel;
  // mean and var are statistics, not trained.
  r.set_gradient("BatchNormalization", "", [](G& g) {
    if (g.node().attrs.get_int("training_mode", 0) != 0) {
      Attributes a;
      a.set("epsilon", g.node().attrs.get_float("epsilon", 1e-5F));
      const std::vector<std::string> d = g.emit_multi(
          "BatchNormTrainingGrad", {g.grad_output(0), in(g, 0), in(g, 1)}, 3, a, "act");
      for (std::size_t i = 0; i < 3; ++i) {
        if (g.wants(i)) g.set_grad_input(i, d[i]);
      }
      return;
    }
    const std::size_t rank = g.static_shape(in(g, 0)).size();
    const std::int64_t c = g.static_shape(in(g, 1))[0];
    std::vector<std::int64_t> bshape(rank, 1);
    bshape[1] = c;
    const std::string to_b = g.ints(bshape);
    const float eps = g.node().attrs.get_float("epsilon", 1e-5F);
    const std::string inv =
        g.emit("Reciprocal", {g.emit("Sqrt", {g.emit("Add", {in(g, 4), g.scalar(eps)})})});
    const std::string inv_b = g.emit("Reshape", {inv, to_b});
    const std::string& dy = g.grad_output(0);
    const std::string axes = g.ints(non_channel_axes(rank));
    if (g.wants(0)) {
      const std::string scale_b = g.emit("Reshape", {in(g, 1), to_b});
      g.set_grad_input(0, g.emit("Mul", {dy, g.emit("Mul", {scale_b, inv_b})}));
    }
    if (g.wants(1)) {
      const std::string xhat =
          g.emit("Mul", {g.emit("Sub", {in(g, 0), g.emit("Reshape", {in(g, 3), to_b})}), inv_b});
      g.set_grad_input(1, g.emit("ReduceSum", {g.emit("Mul", {dy, xhat}), axes}, keepdims(false)));
    }
    if (g.wants(2)) g.set_grad_input(2, g.emit("ReduceSum", {dy, axes}, keepdims(false)));
  });
}

}  // namespace act::grad
