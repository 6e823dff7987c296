// Where Q/DQ pairs go (qdq_placement.h) and what the writer makes of the plan, on a small
// residual graph: Relu absorbed into u8 quantization, Add/MaxPool/Flatten joining the 8-bit
// region for ONNX Runtime, nothing of that for TensorRT, and the written graph still computing
// what the float graph computes (run by our executor, within the quantization step).
#include "qdq_placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "act/kernel/executor.h"
#include "kernel/kernel_test_util.h"
#include "plugins/quant/abs_max_ranges.h"
#include "qdq_writer.h"

namespace act::quant {
namespace {

using test::make_node;

// x -> Add(const) -> xb -> Conv1 -> c1 -> Relu -> r1 -> Conv2 (1x1) -> c2 -> Add(c2, r1) -> a
//   -> Relu -> r2 -> MaxPool -> p -> Flatten -> f -> Gemm -> y
Graph residual_graph() {
  Graph g;
  g.add_input({"x", DType::kF32, true, true, {{1, ""}, {2, ""}, {6, ""}, {6, ""}}});
  g.set_initializer("shift", Tensor::scalar(0.25F));
  g.set_initializer("w1", test::normal_tensor({4, 2, 3, 3}, 1, 0.0F, 0.3F));
  g.set_initializer("b1", test::normal_tensor({4}, 2, 0.0F, 0.1F));
  g.set_initializer("w2", test::normal_tensor({4, 4, 1, 1}, 3, 0.0F, 0.5F));
  g.set_initializer("wg", test::normal_tensor({3, 36}, 4, 0.0F, 0.2F));
  g.set_initializer("bg", test::normal_tensor({3}, 5, 0.0F, 0.1F));
  Attributes pads;
  pads.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  Attributes pool;
  pool.set("kernel_shape", std::vector<std::int64_t>{2, 2});
  pool.set("strides", std::vector<std::int64_t>{2, 2});
  Attributes trans_b;
  trans_b.set("transB", std::int64_t{1});
  g.add_node(make_node("shift", "Add", {"x", "shift"}, {"xb"}));
  g.add_node(make_node("conv1", "Conv", {"xb", "w1", "b1"}, {"c1"}, pads));
  g.add_node(make_node("relu1", "Relu", {"c1"}, {"r1"}));
  g.add_node(make_node("conv2", "Conv", {"r1", "w2"}, {"c2"}));
  g.add_node(make_node("add", "Add", {"c2", "r1"}, {"a"}));
  g.add_node(make_node("relu2", "Relu", {"a"}, {"r2"}));
  g.add_node(make_node("pool", "MaxPool", {"r2"}, {"p"}, pool));
  g.add_node(make_node("flatten", "Flatten", {"p"}, {"f"}));
  g.add_node(make_node("fc", "Gemm", {"f", "wg", "bg"}, {"y"}, trans_b));
  g.add_output({"y", DType::kF32, true, true, {{1, ""}, {3, ""}}});
  return g;
}

std::vector<Target> weighted(const Graph& g) {
  return select_targets(g, {"Conv", "Gemm"}, {}, {});
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(QdqPlacement, OrtCpuAbsorbsReluAndKeepsTheResidualBlockInEightBits) {
  const Graph g = residual_graph();
  const QdqPlan plan = plan_qdq(g, weighted(g), Profile::kOrtCpu);
  EXPECT_EQ(plan.targets.size(), 3U);
  EXPECT_EQ(plan.absorbed, (std::vector<std::string>{"relu1", "relu2"}));
  for (const char* v : {"xb", "r1", "c2", "r2", "p", "f", "y"}) {
    EXPECT_TRUE(contains(plan.values, v)) << v << " is not quantized";
  }
  // c1 and a vanish with their Relus; x is read only by the Add of a constant, which stays
  // float (there is no quantized operand for it to pair with).
  for (const char* v : {"c1", "a", "x"}) EXPECT_FALSE(contains(plan.values, v)) << v;
  EXPECT_TRUE(contains(plan.int8_ops, "add"));
  EXPECT_TRUE(contains(plan.int8_ops, "pool"));
  EXPECT_TRUE(contains(plan.int8_ops, "flatten"));
  EXPECT_FALSE(contains(plan.int8_ops, "shift"));
  // Flatten after MaxPool shares the scale of the pool's input, through the chain.
  EXPECT_EQ(plan.same_scale.at("p"), "r2");
  EXPECT_EQ(plan.same_scale.at("f"), "r2");
}

TEST(QdqPlacement, TensorRtQuantizesOnlyTheWeightedOpsAndKeepsActivations) {
  const Graph g = residual_graph();
  const QdqPlan plan = plan_qdq(g, weighted(g), Profile::kTensorRt);
  EXPECT_TRUE(plan.absorbed.empty());
  EXPECT_TRUE(plan.int8_ops.empty());
  EXPECT_EQ(plan.values, (std::vector<std::string>{"xb", "c1", "r1", "c2", "f", "y"}));
}

TEST(QdqPlacement, ActivationQuantUsesUnsignedWithAZeroPointOnOrtCpu) {
  const ActivationQuant relu = activation_quant(0.0F, 6.0F, 5.1F, Profile::kOrtCpu);
  EXPECT_TRUE(relu.is_unsigned);
  EXPECT_EQ(relu.zero_point, 0);
  EXPECT_FLOAT_EQ(relu.scale, 5.1F / 255.0F);
  // Signed: [max(min, -t), min(max, t)] = [-1, 3] over 255 steps; 0 sits at step 64.
  const ActivationQuant any = activation_quant(-1.0F, 7.0F, 3.0F, Profile::kOrtCpu);
  EXPECT_TRUE(any.is_unsigned);
  EXPECT_FLOAT_EQ(any.scale, 4.0F / 255.0F);
  EXPECT_EQ(any.zero_point, 64);
  const ActivationQuant trt = activation_quant(0.0F, 6.0F, 6.0F, Profile::kTensorRt);
  EXPECT_FALSE(trt.is_unsigned);
  EXPECT_EQ(trt.zero_point, 0);
  EXPECT_FLOAT_EQ(trt.scale, 6.0F / 127.0F);
}

// The written graph computes what the float graph does, within a few quantization steps.
TEST(QdqPlacement, WrittenGraphMatchesTheFloatGraph) {
  for (const Profile profile : {Profile::kOrtCpu, Profile::kTensorRt}) {
    Graph g = residual_graph();
    const QdqPlan plan = plan_qdq(g, weighted(g), profile);
    const Tensor x = test::normal_tensor({1, 2, 6, 6}, 7);

    const FloatRun run = abs_max_run(g, plan, x, 17, profile);
    const RunResult& reference = run.reference;
    const std::map<std::string, ActivationQuant>& quant = run.quant;

    const QdqSummary summary = write_qdq(g, plan, quant, WeightOptions{});
    EXPECT_EQ(summary.quantized_nodes, 3U);
    g.validate();
    const bool relu_left = std::any_of(g.nodes().begin(), g.nodes().end(),
                                       [](const Node& n) { return n.op_type == "Relu"; });
    EXPECT_EQ(relu_left, profile == Profile::kTensorRt);

    const Tensor y = Executor(g, 17).run({x}).outputs.at(0);
    const Tensor& want = reference.outputs.at(0);
    ASSERT_EQ(y.shape(), want.shape());
    const float step = quant.at("y").scale;
    for (std::int64_t i = 0; i < y.numel(); ++i) {
      EXPECT_NEAR(y.data<float>()[i], want.data<float>()[i], 8.0F * step + 0.02F)
          << "output " << i << (profile == Profile::kOrtCpu ? " (ort_cpu)" : " (tensorrt)");
    }
  }
}

// reduce_range narrows 8-bit weights only (to [-64, 64], ONNX Runtime's range): 2-bit weights keep
// their levels -1, 0, 1 instead of collapsing to 0.
TEST(QdqPlacement, ReduceRangeLeavesNarrowWeightsAlone) {
  for (const int bits : {2, 4, 8}) {
    Graph g = residual_graph();
    const QdqPlan plan = plan_qdq(g, weighted(g), Profile::kOrtCpu);
    std::map<std::string, ActivationQuant> quant;
    for (const std::string& v : plan.values)
      quant[v] = activation_quant(-1, 1, 1, Profile::kOrtCpu);
    WeightOptions w;
    w.bits = bits;
    w.reduce_range = true;
    write_qdq(g, plan, quant, w);
    const int qmax = bits == 8 ? 64 : (1 << (bits - 1)) - 1;
    int largest = 0;
    for (const auto& [name, t] : g.initializers()) {
      if (t.dtype() != DType::kI8 || t.rank() < 2) continue;
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        largest = std::max(largest, std::abs(static_cast<int>(t.data<std::int8_t>()[i])));
      }
    }
    EXPECT_EQ(largest, qmax) << bits << "-bit weights";
  }
}

}  // namespace
}  // namespace act::quant
