// The 8-bit region on ort_cpu reaches the activations and data-movement ops ONNX Runtime runs on
// u8: SiLU (Sigmoid and Mul), LeakyRelu, Split, Concat, Resize and Slice, in a Fashion-shaped
// model with random weights. The plan (which values, which shared scales), the written graph
// computing what the float one does in our executor, and ONNX Runtime's optimized graph of the
// QuantPost file: one Q, one DQ, and every op an integer kernel or an op on u8.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "act/host/onnx_io.h"
#include "act/kernel/executor.h"
#include "compress/compress_test_util.h"
#include "kernel/kernel_test_util.h"
#include "plugins/quant/abs_max_ranges.h"
#include "plugins/quant/ort_check.h"
#include "qdq_placement.h"
#include "qdq_writer.h"

namespace act::quant {
namespace {

using test::make_node;

// image[N,1,28,28] -> Conv -> c1 -> SiLU (Sigmoid s1, Mul m1) -> MaxPool p1 [16,14,14] -> Conv
// -> c2 -> LeakyRelu l2 -> Split (sa, sb) -> Concat(sb, sa) cat -> Resize x0.5 r [16,7,7] ->
// Slice 12 channels sl -> Conv 1x1 -> c3 -> Relu a3 -> GlobalAveragePool g -> Flatten f -> Gemm
// -> logits
Model activation_ops_model() {
  Model m;
  m.opset_imports = {{"", 13}};
  Graph& g = m.graph;
  g.add_input({"image", DType::kF32, true, true, {{-1, "N"}, {1, ""}, {28, ""}, {28, ""}}});
  g.set_initializer("w1", test::normal_tensor({16, 1, 3, 3}, 1, 0.0F, 0.5F));
  g.set_initializer("b1", test::normal_tensor({16}, 2, 0.0F, 0.1F));
  g.set_initializer("w2", test::normal_tensor({16, 16, 3, 3}, 3, 0.0F, 0.1F));
  g.set_initializer("b2", test::normal_tensor({16}, 4, 0.0F, 0.1F));
  g.set_initializer("w3", test::normal_tensor({16, 12, 1, 1}, 5, 0.0F, 0.3F));
  g.set_initializer("b3", test::normal_tensor({16}, 6, 0.0F, 0.1F));
  g.set_initializer("wg", test::normal_tensor({10, 16}, 7, 0.0F, 0.3F));
  g.set_initializer("bg", test::normal_tensor({10}, 8, 0.0F, 0.1F));
  g.set_initializer("halves", Tensor::from_vector(Shape{2}, std::vector<std::int64_t>{8, 8}));
  g.set_initializer("scales",
                    Tensor::from_vector(Shape{4}, std::vector<float>{1.0F, 1.0F, 0.5F, 0.5F}));
  g.set_initializer("starts", Tensor::from_vector(Shape{1}, std::vector<std::int64_t>{0}));
  g.set_initializer("ends", Tensor::from_vector(Shape{1}, std::vector<std::int64_t>{12}));
  g.set_initializer("axes", Tensor::from_vector(Shape{1}, std::vector<std::int64_t>{1}));
  Attributes pad1;
  pad1.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  Attributes pool;
  pool.set("kernel_shape", std::vector<std::int64_t>{2, 2});
  pool.set("strides", std::vector<std::int64_t>{2, 2});
  Attributes leaky;
  leaky.set("alpha", 0.1F);
  Attributes channels;
  channels.set("axis", std::int64_t{1});
  Attributes nearest;
  nearest.set("mode", std::string("nearest"));
  Attributes trans_b;
  trans_b.set("transB", std::int64_t{1});
  g.add_node(make_node("conv1", "Conv", {"image", "w1", "b1"}, {"c1"}, pad1));
  g.add_node(make_node("sigmoid", "Sigmoid", {"c1"}, {"s1"}));
  g.add_node(make_node("mul", "Mul", {"c1", "s1"}, {"m1"}));
  g.add_node(make_node("pool", "MaxPool", {"m1"}, {"p1"}, pool));
  g.add_node(make_node("conv2", "Conv", {"p1", "w2", "b2"}, {"c2"}, pad1));
  g.add_node(make_node("leaky", "LeakyRelu", {"c2"}, {"l2"}, leaky));
  g.add_node(make_node("split", "Split", {"l2", "halves"}, {"sa", "sb"}, channels));
  g.add_node(make_node("concat", "Concat", {"sb", "sa"}, {"cat"}, channels));
  g.add_node(make_node("resize", "Resize", {"cat", "", "scales"}, {"r"}, nearest));
  g.add_node(make_node("slice", "Slice", {"r", "starts", "ends", "axes"}, {"sl"}));
  g.add_node(make_node("conv3", "Conv", {"sl", "w3", "b3"}, {"c3"}));
  g.add_node(make_node("relu", "Relu", {"c3"}, {"a3"}));
  g.add_node(make_node("gap", "GlobalAveragePool", {"a3"}, {"g"}));
  g.add_node(make_node("flatten", "Flatten", {"g"}, {"f"}));
  g.add_node(make_node("fc", "Gemm", {"f", "wg", "bg"}, {"logits"}, trans_b));
  g.add_output({"logits", DType::kF32, true, true, {{-1, "N"}, {10, ""}}});
  return m;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(ActivationOps, JoinTheEightBitRegionAndComputeTheSame) {
  Graph g = activation_ops_model().graph;
  const QdqPlan plan = plan_qdq(g, select_targets(g, {"Conv", "Gemm"}, {}, {}), Profile::kOrtCpu);
  for (const char* op : {"sigmoid", "mul", "pool", "leaky", "split", "concat", "resize", "slice",
                         "gap", "flatten"}) {
    EXPECT_TRUE(contains(plan.int8_ops, op)) << op << " stays float";
  }
  for (const char* v : {"c1", "s1", "m1", "c2", "l2", "sa", "sb", "cat", "r", "sl", "a3"}) {
    EXPECT_TRUE(contains(plan.values, v)) << v << " is not quantized";
  }
  // The ops that only move values keep their input's scale; both of Split's outputs do.
  EXPECT_EQ(plan.same_scale.at("sa"), "l2");
  EXPECT_EQ(plan.same_scale.at("sb"), "l2");
  EXPECT_EQ(plan.same_scale.at("r"), "cat");
  EXPECT_EQ(plan.same_scale.at("sl"), "cat");
  EXPECT_EQ(plan.same_scale.count("s1"), 0U) << "Sigmoid has its own output scale";
  EXPECT_EQ(plan.same_scale.count("l2"), 0U) << "LeakyRelu has its own output scale";

  const Tensor x = test::normal_tensor({2, 1, 28, 28}, 9, 0.5F, 0.3F);
  const FloatRun run = abs_max_run(g, plan, x, 13, Profile::kOrtCpu);
  const RunResult& reference = run.reference;
  const std::map<std::string, ActivationQuant>& quant = run.quant;
  write_qdq(g, plan, quant, WeightOptions{});
  g.validate();
  const Tensor y = Executor(g, 13).run({x}).outputs.at(0);
  const Tensor& want = reference.outputs.at(0);
  ASSERT_EQ(y.shape(), want.shape());
  const float step = quant.at("logits").scale;
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    EXPECT_NEAR(y.data<float>()[i], want.data<float>()[i], 8.0F * step + 0.02F) << i;
  }
}

class ActivationOpsInOnnxRuntime : public test::CompressFixture {
 protected:
  void SetUp() override { use_subsets(320, 100); }
};

TEST_F(ActivationOpsInOnnxRuntime, RunAsIntegerKernelsOrOnU8) {
  if (!test::python_has("onnxruntime, onnx, numpy")) GTEST_SKIP() << "onnxruntime is missing";
  const std::string model = dir_.file("activation_ops.onnx");
  host::save_onnx(activation_ops_model(), model);
  host::CompressOptions o = options("QuantPost:\n  batch_nums: 10\n  algo: abs_max\n");
  o.model = model;
  ASSERT_EQ(host::compress(o), 0) << test::slurp(log_.get());
  const std::string ort = test::ort_check(dir_.file("out/model.onnx"), dir_.path().string());
  ASSERT_FALSE(ort.empty());
  EXPECT_EQ(test::number_after(ort, "QuantizeLinear"), 1.0) << ort;
  EXPECT_EQ(test::number_after(ort, "DequantizeLinear"), 1.0) << ort;
  EXPECT_EQ(test::number_after(ort, "QLinearConv"), 3.0) << ort;
  for (const char* op : {"QLinearSigmoid", "QLinearMul", "QLinearLeakyRelu", "QLinearConcat",
                         "QGemm", "QLinearGlobalAveragePool"}) {
    EXPECT_EQ(test::number_after(ort, op), 1.0) << op << ": " << ort;
  }
  for (const char* float_op : {"Conv", "Sigmoid", "Mul", "LeakyRelu", "Concat", "Relu", "Gemm"}) {
    EXPECT_EQ(test::number_after(ort, float_op), -1.0) << float_op << " left in float: " << ort;
  }
}

}  // namespace
}  // namespace act::quant
