// fuse_conv_epilogues: which patterns fold into FusedConv, which must not, and that the fused
// graph computes what the original graph computes (the original runs the ONNX ops one by one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "act/kernel/executor.h"
#include "act/kernel/graph.h"
#include "act/kernel/passes.h"
#include "kernel_test_util.h"

namespace act {
namespace {

constexpr std::int64_t kOpset = 17;

Tensor random_tensor(const Shape& shape, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0F, 1.0F);
  Tensor t(DType::kF32, shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

Tensor scalar(float v) {
  Tensor t(DType::kF32, {});
  t.data<float>()[0] = v;
  return t;
}

using test::make_node;

// x[1, 4, 9, 9] -> conv (3x3, pad 1, 4 -> 4 channels, or depthwise) -> "conv"; the caller
// appends what follows.
Graph conv_graph(bool depthwise = false) {
  Graph g;
  g.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {1, 4, 9, 9})));
  g.set_initializer("w", random_tensor({4, depthwise ? 1 : 4, 3, 3}, 1));
  g.set_initializer("b", random_tensor({4}, 2));
  Attributes a;
  a.set("kernel_shape", std::vector<std::int64_t>{3, 3});
  a.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  if (depthwise) a.set("group", std::int64_t{4});
  g.add_node(make_node("conv", "Conv", {"x", "w", "b"}, {"conv"}, a));
  return g;
}

std::vector<std::string> ops(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& n : g.nodes()) out.push_back(n.op_type);
  return out;
}

// Fuses a copy of g (after shape inference) and checks the outputs agree within float rounding.
Graph fuse_and_compare(const Graph& g, const std::vector<std::string>& keep = {}) {
  Graph fused = g;
  infer_shapes(fused, kOpset);
  fuse_conv_epilogues(fused, keep);
  fused.validate();
  const Tensor x = random_tensor({1, 4, 9, 9}, 7);
  Executor a(g, kOpset), b(fused, kOpset);
  const auto want = a.run({{"x", x}}).outputs;
  const auto got = b.run({{"x", x}}).outputs;
  EXPECT_EQ(want.size(), got.size());
  for (std::size_t o = 0; o < want.size() && o < got.size(); ++o) {
    EXPECT_EQ(want[o].shape(), got[o].shape());
    for (std::int64_t i = 0; i < want[o].numel(); ++i) {
      EXPECT_NEAR(got[o].data<float>()[i], want[o].data<float>()[i], 1e-5F)
          << "output " << o << " element " << i;
    }
  }
  return fused;
}

TEST(FuseConvEpilogues, ActivationsFoldAndKeepTheirMeaning) {
  struct Case {
    std::string op;
    std::vector<std::string> extra_inputs;
    Attributes attrs;
  };
  Attributes leaky;
  leaky.set("alpha", 0.2F);
  const std::vector<Case> cases = {{"Relu", {}, {}},
                                   {"Clip", {"lo", "hi"}, {}},
                                   {"Clip", {"", "hi"}, {}},
                                   {"LeakyRelu", {}, leaky},
                                   {"HardSwish", {}, {}}};
  for (bool depthwise : {false, true}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.op + (depthwise ? " after depthwise" : ""));
      Graph g = conv_graph(depthwise);
      g.set_initializer("lo", scalar(-0.25F));
      g.set_initializer("hi", scalar(0.5F));
      std::vector<std::string> in{"conv"};
      in.insert(in.end(), c.extra_inputs.begin(), c.extra_inputs.end());
      g.add_node(make_node("act", c.op, in, {"y"}, c.attrs));
      g.add_output(ValueInfo{"y"});
      const Graph fused = fuse_and_compare(g);
      EXPECT_EQ(ops(fused), std::vector<std::string>{"FusedConv"});
      EXPECT_EQ(fused.nodes()[0].outputs[0], "y");
    }
  }
}

TEST(FuseConvEpilogues, ResidualAddThenReluBecomesOneNode) {
  Graph g = conv_graph();
  g.add_node(make_node("add", "Add", {"x", "conv"}, {"sum"}));
  g.add_node(make_node("relu", "Relu", {"sum"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  const Graph fused = fuse_and_compare(g);
  ASSERT_EQ(ops(fused), std::vector<std::string>{"FusedConv"});
  EXPECT_EQ(fused.nodes()[0].inputs.size(), 4U);
  EXPECT_EQ(fused.nodes()[0].inputs[3], "x");
}

TEST(FuseConvEpilogues, BroadcastingAddIsLeftAlone) {
  Graph g = conv_graph();
  g.set_initializer("row", random_tensor({9}, 3));  // broadcasts: the epilogue does not
  g.add_node(make_node("add", "Add", {"conv", "row"}, {"sum"}));
  g.add_node(make_node("relu", "Relu", {"sum"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  const Graph fused = fuse_and_compare(g);
  EXPECT_EQ(ops(fused), (std::vector<std::string>{"Conv", "Add", "Relu"}));
}

TEST(FuseConvEpilogues, SharedGraphOutputAndKeptValuesAreNotFusedAway) {
  {
    SCOPED_TRACE("conv output read twice");
    Graph g = conv_graph();
    g.add_node(make_node("relu", "Relu", {"conv"}, {"y"}));
    g.add_node(make_node("neg", "Neg", {"conv"}, {"z"}));
    g.add_output(ValueInfo{"y"});
    g.add_output(ValueInfo{"z"});
    EXPECT_EQ(ops(fuse_and_compare(g)), (std::vector<std::string>{"Conv", "Relu", "Neg"}));
  }
  {
    SCOPED_TRACE("conv output is a graph output");
    Graph g = conv_graph();
    g.add_node(make_node("relu", "Relu", {"conv"}, {"y"}));
    g.add_output(ValueInfo{"conv"});
    g.add_output(ValueInfo{"y"});
    EXPECT_EQ(ops(fuse_and_compare(g)), (std::vector<std::string>{"Conv", "Relu"}));
  }
  {
    SCOPED_TRACE("conv output kept as a tap");
    Graph g = conv_graph();
    g.add_node(make_node("relu", "Relu", {"conv"}, {"y"}));
    g.add_output(ValueInfo{"y"});
    EXPECT_EQ(ops(fuse_and_compare(g, {"conv"})), (std::vector<std::string>{"Conv", "Relu"}));
  }
}

TEST(FuseConvEpilogues, ClipWithRuntimeBoundsAndUnknownOpsStay) {
  Graph g = conv_graph();
  g.add_input(ValueInfo::from_tensor("hi", scalar(0.0F)));  // fed at run time
  g.add_node(make_node("clip", "Clip", {"conv", "", "hi"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  Graph fused = g;
  infer_shapes(fused, kOpset);
  EXPECT_FALSE(fuse_conv_epilogues(fused));
  EXPECT_EQ(ops(fused), (std::vector<std::string>{"Conv", "Clip"}));

  Graph sig = conv_graph();
  sig.add_node(make_node("sig", "Sigmoid", {"conv"}, {"y"}));
  sig.add_output(ValueInfo{"y"});
  EXPECT_EQ(ops(fuse_and_compare(sig)), (std::vector<std::string>{"Conv", "Sigmoid"}));
}

TEST(FuseConvEpilogues, OptimizeForInferenceFusesAfterFoldingBatchNorm) {
  Graph g = conv_graph();
  for (const char* p : {"scale", "bias", "mean"}) g.set_initializer(p, random_tensor({4}, 11));
  Tensor var = random_tensor({4}, 12);
  for (std::int64_t i = 0; i < 4; ++i)
    var.data<float>()[i] = std::fabs(var.data<float>()[i]) + 0.5F;
  g.set_initializer("var", var);
  g.add_node(
      make_node("bn", "BatchNormalization", {"conv", "scale", "bias", "mean", "var"}, {"bn"}));
  g.add_node(make_node("relu", "Relu", {"bn"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  Graph opt = g;
  EXPECT_TRUE(optimize_for_inference(opt, kOpset));
  EXPECT_EQ(ops(opt), std::vector<std::string>{"FusedConv"});
  const Tensor x = random_tensor({1, 4, 9, 9}, 7);
  Executor a(g, kOpset), b(opt, kOpset);
  const Tensor want = a.run({{"x", x}}).outputs[0], got = b.run({{"x", x}}).outputs[0];
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    EXPECT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-4F) << "element " << i;
  }
}

TEST(FuseConvEpilogues, UnknownActivationAttributeIsAClearError) {
  Graph g = conv_graph();
  Node& n = g.mutable_nodes()[0];
  n.op_type = "FusedConv";
  n.domain = "act";
  n.attrs.set("activation", std::string("Swish"));
  g.add_output(ValueInfo{"conv"});
  try {
    Executor ex(g, kOpset);
    ex.run({{"x", random_tensor({1, 4, 9, 9}, 1)}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Swish"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace act
