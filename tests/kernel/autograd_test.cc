// Autograd: every op's gradient builder against central finite differences of the forward
// graph (one table row per op and attribute case), plus the rules of build_backward itself:
// frozen parameters, no-grad regions, StopGradient, missing builders.
#include "act/kernel/autograd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "act/kernel/executor.h"
#include "act/kernel/passes.h"
#include "kernel_test_util.h"

namespace act {
namespace {

constexpr std::int64_t kOpset = 17;

// How a differentiable input is drawn: uniform in [lo, hi], with values inside (-gap, gap)
// pushed out, so finite differences do not straddle a kink (Relu at 0, Abs, Clip bounds...).
struct Draw {
  float lo = -1.0F, hi = 1.0F, gap = 0.0F;
  std::vector<float> avoid;  // further kinks to keep 0.05 away from (Clip's bounds)
};

struct Input {
  std::string name;
  Shape shape;
  Draw draw;
  bool differentiable = true;
  Tensor constant;  // for non-differentiable inputs (axes, shapes, conditions)
};

struct Case {
  std::string label;
  std::string op;
  std::vector<Input> inputs;
  Attributes attrs;
  std::string domain;
  // A unary op applied to the case's op output (y = then(op(...))): rows for backward
  // fusions that span two nodes, such as BatchNorm followed by Relu.
  std::string then;
};

Tensor draw(const Shape& shape, const Draw& d, std::mt19937& rng) {
  Tensor t(DType::kF32, shape);
  std::uniform_real_distribution<float> u(d.lo, d.hi);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    float v = u(rng);
    if (std::fabs(v) < d.gap) v = v < 0 ? v - d.gap : v + d.gap;
    for (float k : d.avoid) {
      if (std::fabs(v - k) < 0.05F) v = v < k ? k - 0.05F - (k - v) : k + 0.05F + (v - k);
    }
    t.data<float>()[i] = v;
  }
  return t;
}

Tensor seeded(const Shape& shape, const Draw& d, std::uint32_t seed) {
  std::mt19937 rng(seed);
  return draw(shape, d, rng);
}

Tensor ints(const std::vector<std::int64_t>& v) {
  Tensor t(DType::kI64, {static_cast<std::int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<std::int64_t>());
  return t;
}

Tensor scalar(float v) {
  Tensor t(DType::kF32, {});
  t.data<float>()[0] = v;
  return t;
}

// y = op(inputs); loss = sum(y * weights) with fixed random weights, so every output element
// carries a different gradient.
// The case's op alone: differentiable inputs are graph inputs, the others initializers; its
// output is "y".
Graph op_graph(const Case& c) {
  Graph g;
  std::vector<std::string> inputs;
  for (const auto& in : c.inputs) {
    inputs.push_back(in.name);
    if (in.differentiable) {
      g.add_input(ValueInfo::from_tensor(in.name, Tensor(DType::kF32, in.shape)));
    } else if (!in.name.empty()) {
      g.set_initializer(in.name, in.constant);
    }
  }
  if (c.then.empty()) {
    g.add_node(test::make_node("node", c.op, inputs, {"y"}, c.attrs, c.domain));
  } else {
    g.add_node(test::make_node("node", c.op, inputs, {"y0"}, c.attrs, c.domain));
    g.add_node(test::make_node("then", c.then, {"y0"}, {"y"}));
  }
  return g;
}

Graph forward_graph(const Case& c, const Shape& out_shape, std::mt19937& rng) {
  Graph g = op_graph(c);
  g.set_initializer("weights", draw(out_shape, {}, rng));
  g.add_node(test::make_node("weigh", "Mul", {"y", "weights"}, {"weighted"}));
  Attributes flat;
  flat.set("keepdims", std::int64_t{0});
  g.add_node(test::make_node("sum", "ReduceSum", {"weighted"}, {"loss"}, flat));
  g.add_output(ValueInfo{"loss"});
  return g;
}

std::map<std::string, Tensor> feeds_of(const Case& c, std::mt19937& rng) {
  std::map<std::string, Tensor> feeds;
  for (const auto& in : c.inputs) {
    if (in.differentiable) feeds[in.name] = draw(in.shape, in.draw, rng);
  }
  return feeds;
}

void check_gradients(const Case& c) {
  SCOPED_TRACE(c.label);
  std::mt19937 rng(42);
  // The output shape, from one forward run of the op alone.
  Graph probe = op_graph(c);
  probe.add_output(ValueInfo{"y"});
  auto feeds = feeds_of(c, rng);
  const Shape out_shape = Executor(probe, kOpset).run(feeds).outputs[0].shape();

  const Graph fwd = forward_graph(c, out_shape, rng);
  Graph full = fwd;
  infer_shapes(full, kOpset);
  std::vector<std::string> wrt;
  for (const auto& in : c.inputs) {
    if (in.differentiable) wrt.push_back(in.name);
  }
  const BackwardResult back = build_backward(full, "loss", wrt, kOpset, OpRegistry::global());
  for (const auto& w : wrt) full.add_output(ValueInfo{back.grads.at(w)});
  full.validate();
  if (c.op == "BatchNormalization" && c.then == "Relu") {  // the row tests the fused kernel
    for (const Node& n : full.nodes()) {
      EXPECT_NE(n.op_type, "ReluGrad");
      if (n.op_type == "BatchNormTrainingGrad") {
        EXPECT_EQ(n.inputs.size(), 4U);
      }
    }
  }
  const auto outs = Executor(full, kOpset).run(feeds).outputs;

  Executor forward(fwd, kOpset);
  auto loss_at = [&](const std::map<std::string, Tensor>& f) {
    return static_cast<double>(forward.run(f).outputs[0].data<float>()[0]);
  };
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    SCOPED_TRACE("d loss / d " + wrt[k]);
    const Tensor& analytic = outs[k + 1];
    ASSERT_EQ(analytic.shape(), feeds[wrt[k]].shape());
    for (std::int64_t i = 0; i < analytic.numel(); ++i) {
      const float h = 1e-2F;
      auto plus = feeds, minus = feeds;
      plus[wrt[k]] = feeds[wrt[k]].clone();
      minus[wrt[k]] = feeds[wrt[k]].clone();
      plus[wrt[k]].data<float>()[i] += h;
      minus[wrt[k]].data<float>()[i] -= h;
      const double numeric = (loss_at(plus) - loss_at(minus)) / (2.0 * h);
      const double got = analytic.data<float>()[i];
      ASSERT_NEAR(got, numeric, 2e-3 + 2e-2 * std::fabs(numeric)) << "element " << i;
    }
  }
}

Input x(const std::string& name, Shape shape, Draw d = {}) {
  return {name, std::move(shape), d, true, {}};
}
Input fixed(const std::string& name, Tensor t) {
  return {name, t.shape(), {}, false, std::move(t)};
}

Attributes attr(const std::string& k, AttrValue v) {
  Attributes a;
  a.set(k, std::move(v));
  return a;
}

std::vector<Case> cases() {
  const Draw positive{0.5F, 2.0F, 0.0F};
  const Draw kinked{-1.0F, 1.0F, 0.1F};
  Tensor cond(DType::kBool, {2, 3});
  for (std::int64_t i = 0; i < 6; ++i) cond.data<bool>()[i] = i % 2 == 0;
  Attributes conv;
  conv.set("kernel_shape", std::vector<std::int64_t>{3, 3});
  conv.set("pads", std::vector<std::int64_t>{1, 0, 1, 1});
  conv.set("strides", std::vector<std::int64_t>{2, 1});
  conv.set("group", std::int64_t{2});
  Attributes depthwise;
  depthwise.set("kernel_shape", std::vector<std::int64_t>{3, 3});
  depthwise.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  depthwise.set("group", std::int64_t{3});
  Attributes pool;
  pool.set("kernel_shape", std::vector<std::int64_t>{2, 2});
  pool.set("strides", std::vector<std::int64_t>{2, 2});
  pool.set("pads", std::vector<std::int64_t>{0, 0, 1, 1});
  Attributes gemm_t;
  gemm_t.set("transA", std::int64_t{1});
  gemm_t.set("transB", std::int64_t{1});
  gemm_t.set("alpha", 0.5F);
  gemm_t.set("beta", 2.0F);
  Attributes hs;
  hs.set("alpha", 0.3F);
  hs.set("beta", 0.4F);
  Attributes reduce_mean;
  reduce_mean.set("axes", std::vector<std::int64_t>{0, 2});
  reduce_mean.set("keepdims", std::int64_t{0});
  Attributes bn_train;
  bn_train.set("training_mode", std::int64_t{1});
  bn_train.set("epsilon", 1e-3F);
  auto bn_inputs = [&](Shape xs) {  // running statistics are read but get no gradient
    const std::int64_t c = xs[1];
    return std::vector<Input>{x("x", std::move(xs)), x("scale", {c}), x("bias", {c}),
                              fixed("mean", seeded({c}, {}, 3)),
                              fixed("var", seeded({c}, {0.5F, 1.5F, 0.0F}, 4))};
  };
  return {
      {"Add broadcast", "Add", {x("a", {2, 3}), x("b", {3})}, {}, ""},
      {"Sub broadcast", "Sub", {x("a", {2, 3}), x("b", {2, 1})}, {}, ""},
      {"Mul broadcast", "Mul", {x("a", {2, 1, 3}), x("b", {4, 1})}, {}, ""},
      {"Div", "Div", {x("a", {2, 3}), x("b", {2, 3}, positive)}, {}, ""},
      {"Pow", "Pow", {x("a", {2, 3}, positive), x("b", {3})}, {}, ""},
      {"Neg", "Neg", {x("a", {5})}, {}, ""},
      {"Identity", "Identity", {x("a", {5})}, {}, ""},
      {"Relu", "Relu", {x("a", {7}, kinked)}, {}, ""},
      {"LeakyRelu", "LeakyRelu", {x("a", {7}, kinked)}, attr("alpha", 0.2F), ""},
      {"Sigmoid", "Sigmoid", {x("a", {6})}, {}, ""},
      {"Tanh", "Tanh", {x("a", {6})}, {}, ""},
      {"Exp", "Exp", {x("a", {6})}, {}, ""},
      {"Log", "Log", {x("a", {6}, positive)}, {}, ""},
      {"Sqrt", "Sqrt", {x("a", {6}, positive)}, {}, ""},
      {"Reciprocal", "Reciprocal", {x("a", {6}, positive)}, {}, ""},
      {"Abs", "Abs", {x("a", {7}, kinked)}, {}, ""},
      {"Erf", "Erf", {x("a", {6})}, {}, ""},
      {"HardSigmoid", "HardSigmoid", {x("a", {8}, {-4.0F, 4.0F, 0.0F})}, hs, ""},
      {"HardSwish", "HardSwish", {x("a", {8}, {-2.5F, 2.5F, 0.0F})}, {}, ""},
      {"Clip",
       "Clip",
       {x("a", {12}, {-1.0F, 1.0F, 0.0F, {-0.5F, 0.55F}}), fixed("lo", scalar(-0.5F)),
        fixed("hi", scalar(0.55F))},
       {},
       ""},
      {"Where", "Where", {fixed("c", cond), x("a", {2, 3}), x("b", {3})}, {}, ""},
      {"Reshape", "Reshape", {x("a", {2, 6}), fixed("s", ints({3, 4}))}, {}, ""},
      {"Flatten", "Flatten", {x("a", {2, 3, 2})}, attr("axis", std::int64_t{2}), ""},
      {"Unsqueeze", "Unsqueeze", {x("a", {2, 3}), fixed("axes", ints({1}))}, {}, ""},
      {"Squeeze", "Squeeze", {x("a", {2, 1, 3}), fixed("axes", ints({1}))}, {}, ""},
      {"Transpose",
       "Transpose",
       {x("a", {2, 3, 4})},
       attr("perm", std::vector<std::int64_t>{2, 0, 1}),
       ""},
      {"Expand", "Expand", {x("a", {3, 1}), fixed("s", ints({2, 3, 4}))}, {}, ""},
      {"Concat", "Concat", {x("a", {2, 2}), x("b", {2, 3})}, attr("axis", std::int64_t{1}), ""},
      {"ReduceSum", "ReduceSum", {x("a", {2, 3, 4}), fixed("axes", ints({1}))}, {}, ""},
      {"ReduceMean", "ReduceMean", {x("a", {2, 3, 4})}, reduce_mean, ""},
      {"Softmax", "Softmax", {x("a", {2, 5})}, {}, ""},
      {"LogSoftmax", "LogSoftmax", {x("a", {2, 5})}, attr("axis", std::int64_t{0}), ""},
      {"MatMul 2-D", "MatMul", {x("a", {3, 4}), x("b", {4, 2})}, {}, ""},
      {"MatMul batched broadcast", "MatMul", {x("a", {2, 3, 4}), x("b", {4, 2})}, {}, ""},
      {"Gemm", "Gemm", {x("a", {3, 4}), x("b", {4, 2}), x("c", {2})}, {}, ""},
      {"Gemm transposed", "Gemm", {x("a", {4, 3}), x("b", {2, 4}), x("c", {3, 1})}, gemm_t, ""},
      {"Conv strided grouped",
       "Conv",
       {x("x", {2, 4, 5, 6}), x("w", {6, 2, 3, 3}), x("b", {6})},
       conv,
       ""},
      {"Conv depthwise", "Conv", {x("x", {1, 3, 5, 5}), x("w", {3, 1, 3, 3})}, depthwise, ""},
      {"MaxPool", "MaxPool", {x("x", {1, 2, 5, 5})}, pool, ""},
      {"GlobalAveragePool", "GlobalAveragePool", {x("x", {2, 3, 2, 3})}, {}, ""},
      {"BatchNormalization",
       "BatchNormalization",
       {x("x", {2, 3, 2, 2}), x("scale", {3}), x("bias", {3}), fixed("mean", seeded({3}, {}, 3)),
        fixed("var", seeded({3}, {0.5F, 1.5F, 0.0F}, 4))},
       {},
       ""},
      // Training mode: the gradient flows through the batch mean and variance too.
      {"BatchNormalization training 4-D", "BatchNormalization", bn_inputs({3, 2, 2, 3}), bn_train,
       ""},
      {"BatchNormalization training 2-D", "BatchNormalization", bn_inputs({5, 3}), bn_train, ""},
      {"BatchNormalization training 3-D", "BatchNormalization", bn_inputs({2, 4, 3}), bn_train, ""},
      // Relu's gradient folded into BatchNormTrainingGrad (fuse_backward.cc).
      {"BatchNormalization training + Relu 4-D", "BatchNormalization", bn_inputs({3, 2, 2, 3}),
       bn_train, "", "Relu"},
      {"BatchNormalization training + Relu 2-D", "BatchNormalization", bn_inputs({6, 3}), bn_train,
       "", "Relu"},
  };
}

TEST(Autograd, EveryOpGradientMatchesCentralFiniteDifferences) {
  for (const auto& c : cases()) check_gradients(c);
}

// The fused BatchNorm + Relu gradient against the unfused graph (ReluGrad, then the 3-input
// BatchNormTrainingGrad) on a conv-sized tensor; only summation order differs.
TEST(Autograd, FusedBatchNormReluGradientMatchesTheUnfusedGraph) {
  Attributes bn;
  bn.set("training_mode", std::int64_t{1});
  const Case c{
      "BN + Relu",
      "BatchNormalization",
      {x("x", {4, 8, 5, 7}), x("scale", {8}), x("bias", {8}), fixed("mean", seeded({8}, {}, 3)),
       fixed("var", seeded({8}, {0.5F, 1.5F, 0.0F}, 4))},
      bn,
      "",
      "Relu"};
  std::mt19937 rng(7);
  const auto feeds = feeds_of(c, rng);
  const Graph fwd = forward_graph(c, {4, 8, 5, 7}, rng);
  std::vector<std::vector<Tensor>> grads;
  for (bool fuse : {true, false}) {
    Graph full = fwd;
    infer_shapes(full, kOpset);
    BackwardOptions options;
    options.fuse = fuse;
    const BackwardResult back =
        build_backward(full, "loss", {"x", "scale", "bias"}, kOpset, OpRegistry::global(), options);
    std::size_t relu_grads = 0;
    for (const Node& n : full.nodes()) relu_grads += n.op_type == "ReluGrad" ? 1 : 0;
    EXPECT_EQ(relu_grads, fuse ? 0U : 1U);
    for (const char* w : {"x", "scale", "bias"}) full.add_output(ValueInfo{back.grads.at(w)});
    auto outs = Executor(full, kOpset).run(feeds).outputs;
    grads.emplace_back(outs.begin() + 1, outs.end());
  }
  for (std::size_t k = 0; k < 3; ++k) {
    const Tensor& fused = grads[0][k];
    const Tensor& plain = grads[1][k];
    ASSERT_EQ(fused.shape(), plain.shape());
    for (std::int64_t i = 0; i < fused.numel(); ++i) {
      const float want = plain.data<float>()[i];
      ASSERT_NEAR(fused.data<float>()[i], want, 1e-5F + 1e-5F * std::fabs(want))
          << "gradient " << k << " element " << i;
    }
  }
}

// p -> Mul(x, p) -> y; a frozen q and a no-grad "teacher" branch sit beside it.
Graph two_branch_graph() {
  Graph g;
  g.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {2, 3})));
  std::mt19937 rng(1);
  g.set_initializer("p", draw({2, 3}, {}, rng));
  g.set_initializer("q", draw({2, 3}, {}, rng));
  g.set_initializer("t", draw({2, 3}, {}, rng));
  auto add = [&](const std::string& name, const std::string& op, std::vector<std::string> in,
                 const std::string& out, const std::string& domain = "") {
    Node n;
    n.name = name;
    n.op_type = op;
    n.domain = domain;
    n.inputs = std::move(in);
    n.outputs = {out};
    g.add_node(n);
  };
  add("student", "Mul", {"x", "p"}, "s");
  add("frozen", "Add", {"s", "q"}, "s2");
  add("teacher", "Tanh", {"x"}, "t1");
  add("teacher2", "Mul", {"t1", "t"}, "t2");
  add("diff", "Sub", {"s2", "t2"}, "d");
  add("sq", "Mul", {"d", "d"}, "d2");
  Node sum;
  sum.name = "sum";
  sum.op_type = "ReduceSum";
  sum.inputs = {"d2"};
  sum.outputs = {"loss"};
  sum.attrs.set("keepdims", std::int64_t{0});
  g.add_node(sum);
  g.add_output(ValueInfo{"loss"});
  return g;
}

TEST(Autograd, FrozenParametersAndTeacherBranchGetNoBackwardNodes) {
  Graph g = two_branch_graph();
  infer_shapes(g, kOpset);
  const std::size_t forward_nodes = g.nodes().size();
  const BackwardResult r = build_backward(g, "loss", {"p"}, kOpset, OpRegistry::global());
  ASSERT_EQ(r.grads.size(), 1U);
  // No backward node reads the teacher's values or produces a gradient for q / t.
  for (std::size_t i = forward_nodes; i < g.nodes().size(); ++i) {
    for (const auto& in : g.nodes()[i].inputs) {
      EXPECT_NE(in, "t1") << g.nodes()[i].op_type;
      EXPECT_NE(in, "q") << g.nodes()[i].op_type;
    }
  }
  // d loss / d p = 2 (s2 - t2) * x, checked numerically at one point.
  g.add_output(ValueInfo{r.grads.at("p")});
  std::mt19937 rng(5);
  const Tensor xv = draw({2, 3}, {}, rng);
  const auto outs = Executor(g, kOpset).run({{"x", xv}}).outputs;
  const Graph plain = two_branch_graph();
  Executor fwd(plain, kOpset);
  const auto base = fwd.run({{"x", xv}}).outputs;
  (void)base;
  const float* gp = outs[1].data<float>();
  const float* p = g.initializer("p")->data<float>();
  const float* q = g.initializer("q")->data<float>();
  const float* t = g.initializer("t")->data<float>();
  for (int i = 0; i < 6; ++i) {
    const float xi = xv.data<float>()[i];
    const float want = 2.0F * (xi * p[i] + q[i] - std::tanh(xi) * t[i]) * xi;
    EXPECT_NEAR(gp[i], want, 1e-4F) << i;
  }
}

TEST(Autograd, StopGradientCutsThePathAndUnusedParametersGetZeros) {
  Graph g;
  g.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {3})));
  std::mt19937 rng(2);
  g.set_initializer("p", draw({3}, {}, rng));
  g.set_initializer("unused", draw({4}, {}, rng));
  Node m;
  m.name = "m";
  m.op_type = "Mul";
  m.inputs = {"x", "p"};
  m.outputs = {"y"};
  g.add_node(m);
  Node stop;
  stop.name = "stop";
  stop.op_type = "StopGradient";
  stop.domain = "act";
  stop.inputs = {"y"};
  stop.outputs = {"z"};
  g.add_node(stop);
  Node add;
  add.name = "add";
  add.op_type = "Add";
  add.inputs = {"z", "p"};
  add.outputs = {"loss"};
  g.add_node(add);
  g.add_output(ValueInfo{"loss"});
  infer_shapes(g, kOpset);
  const BackwardResult r = build_backward(g, "loss", {"p", "unused"}, kOpset, OpRegistry::global());
  g.add_output(ValueInfo{r.grads.at("p")});
  g.add_output(ValueInfo{r.grads.at("unused")});
  const auto outs = Executor(g, kOpset).run({{"x", draw({3}, {}, rng)}}).outputs;
  // Only the direct Add path counts: d/dp (z + p) with z treated as constant is 1.
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(outs[1].data<float>()[i], 1.0F);
  ASSERT_EQ(outs[2].shape(), (Shape{4}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(outs[2].data<float>()[i], 0.0F);
}

TEST(Autograd, OpWithoutGradientOnThePathIsNamedAndBadArgumentsAreErrors) {
  Graph g;
  g.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {4})));
  Node m;
  m.name = "the_argmax";
  m.op_type = "ArgMax";
  m.inputs = {"x"};
  m.outputs = {"loss"};
  g.add_node(m);
  g.add_output(ValueInfo{"loss"});
  infer_shapes(g, kOpset);
  try {
    build_backward(g, "loss", {"x"}, kOpset, OpRegistry::global());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("ArgMax"), std::string::npos) << what;
    EXPECT_NE(what.find("the_argmax"), std::string::npos) << what;
  }
  EXPECT_THROW(build_backward(g, "no_such_loss", {"x"}, kOpset, OpRegistry::global()), Error);
  EXPECT_THROW(build_backward(g, "loss", {"not_a_param"}, kOpset, OpRegistry::global()), Error);
}

TEST(Autograd, CustomGradientRegisteredForAnOpIsUsed) {
  // A straight-through estimator the way a plugin would add one: a private registry with a
  // copy of the built-ins, whose Floor-like op passes the gradient through unchanged.
  OpRegistry r;
  register_builtin_schemas(r);
  register_cpu_kernels(r);
  register_builtin_gradients(r);
  OpSchema ste;
  ste.name = "RoundSte";
  ste.domain = "test";
  r.add_schema(ste);
  r.add_kernel("RoundSte", "test", DeviceKind::kCpu, {DType::kF32}, [](const KernelInit&) {
    return make_kernel([](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      Tensor& y = ctx.allocate(0, DType::kF32, x.shape());
      for (std::int64_t i = 0; i < x.numel(); ++i)
        y.data<float>()[i] = std::round(x.data<float>()[i]);
    });
  });
  r.set_gradient("RoundSte", "test", [](GradContext& g) { g.set_grad_input(0, g.grad_output(0)); });
  Graph g;
  g.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {3})));
  Node n;
  n.name = "round";
  n.op_type = "RoundSte";
  n.domain = "test";
  n.inputs = {"x"};
  n.outputs = {"loss"};
  g.add_node(n);
  g.add_output(ValueInfo{"loss"});
  const BackwardResult res = build_backward(g, "loss", {"x"}, kOpset, r);
  g.add_output(ValueInfo{res.grads.at("x")});
  Tensor xv(DType::kF32, {3});
  for (int i = 0; i < 3; ++i) xv.data<float>()[i] = 0.3F * static_cast<float>(i);
  const auto outs = Executor(g, kOpset, {}, r).run({{"x", xv}}).outputs;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(outs[1].data<float>()[i], 1.0F);
}

}  // namespace
}  // namespace act
