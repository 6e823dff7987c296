// Graph passes: each rewritten graph is run through the Executor and compared with the original,
// so a pass that changes the structure but breaks the numbers fails here.
#include "act/kernel/passes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "act/kernel/executor.h"
#include "act/kernel/graph.h"
#include "kernel_test_util.h"

namespace act {
namespace {

constexpr std::int64_t kOpset = 17;

using test::make_node;

Tensor uniform(const Shape& shape, unsigned seed, float lo = -1.0F, float hi = 1.0F) {
  Tensor t(DType::kF32, shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

ValueInfo f32_input(const std::string& name, std::vector<Dim> dims) {
  ValueInfo v;
  v.name = name;
  v.dtype = DType::kF32;
  v.has_dtype = true;
  v.has_shape = true;
  v.shape = std::move(dims);
  return v;
}

// BN parameters far from the identity (mean != 0, var != 1, scale != 1, bias != 0), so a fold
// that drops any one of them changes the numbers.
void add_bn(Graph& g, const std::string& name, const std::string& in, const std::string& out,
            std::int64_t channels, unsigned seed, float epsilon = 1e-3F) {
  g.set_initializer(name + "_scale", uniform({channels}, seed, 0.5F, 2.0F));
  g.set_initializer(name + "_bias", uniform({channels}, seed + 1, -1.0F, 1.0F));
  g.set_initializer(name + "_mean", uniform({channels}, seed + 2, -0.5F, 0.5F));
  g.set_initializer(name + "_var", uniform({channels}, seed + 3, 0.25F, 3.0F));
  Attributes a;
  a.set("epsilon", epsilon);
  g.add_node(make_node(name, "BatchNormalization",
                       {in, name + "_scale", name + "_bias", name + "_mean", name + "_var"}, {out},
                       a));
}

Attributes conv_attrs(std::int64_t pad, std::int64_t stride, std::int64_t group = 1) {
  Attributes a;
  a.set("kernel_shape", std::vector<std::int64_t>{3, 3});
  a.set("pads", std::vector<std::int64_t>{pad, pad, pad, pad});
  a.set("strides", std::vector<std::int64_t>{stride, stride});
  a.set("group", group);
  return a;
}

std::vector<Tensor> run(const Graph& g, const std::map<std::string, Tensor>& feeds) {
  Executor ex(g, kOpset);
  return ex.run(feeds).outputs;
}

// |got - want| <= tol * max|want| elementwise: relative to the tensor's scale, so values that
// happen to sit near zero do not demand more precision than float arithmetic gives.
void expect_close(const Tensor& got, const Tensor& want, double tol = 1e-4) {
  ASSERT_EQ(got.shape(), want.shape());
  ASSERT_EQ(got.dtype(), want.dtype());
  double scale = 0.0;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    scale = std::max(scale, std::fabs(want.get_as_double(i)));
  }
  ASSERT_GT(scale, 0.0) << "reference is all zeros: the comparison would prove nothing";
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    ASSERT_NEAR(got.get_as_double(i), want.get_as_double(i), tol * scale) << "element " << i;
  }
}

void expect_same_outputs(const Graph& before, const Graph& after,
                         const std::map<std::string, Tensor>& feeds) {
  const auto want = run(before, feeds);
  const auto got = run(after, feeds);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    expect_close(got[i], want[i]);
  }
}

std::size_t count_op(const Graph& g, const std::string& op) {
  return static_cast<std::size_t>(std::count_if(g.nodes().begin(), g.nodes().end(),
                                                [&](const Node& n) { return n.op_type == op; }));
}

// ---- fold_constants

// x[2,3,4] + Reshape(w[12], Shape(like[3,4])) * Constant(2): everything but the Add is constant.
Graph constant_subgraph() {
  Graph g;
  g.add_input(f32_input("x", {Dim{2}, Dim{3}, Dim{4}}));
  g.set_initializer("w", uniform({12}, 11));
  g.set_initializer("like", Tensor::zeros(DType::kF32, {3, 4}));
  Attributes two;
  two.set("value", Tensor::scalar<float>(2.0F));
  g.add_node(make_node("two", "Constant", {}, {"two_v"}, two));
  g.add_node(make_node("shape", "Shape", {"like"}, {"s"}));
  g.add_node(make_node("reshape", "Reshape", {"w", "s"}, {"w34"}));
  g.add_node(make_node("scale", "Mul", {"w34", "two_v"}, {"w34x2"}));
  g.add_node(make_node("add", "Add", {"x", "w34x2"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  return g;
}

TEST(FoldConstants, ConstantChainBecomesOneInitializer) {
  const Graph before = constant_subgraph();
  Graph g = before;
  EXPECT_TRUE(fold_constants(g, kOpset));
  ASSERT_EQ(g.nodes().size(), 1U);
  const Node& add = g.nodes()[0];
  EXPECT_EQ(add.op_type, "Add");
  ASSERT_EQ(add.inputs.size(), 2U);
  const Tensor* folded = g.initializer(add.inputs[1]);
  ASSERT_NE(folded, nullptr) << add.inputs[1] << " should be an initializer";
  ASSERT_EQ(folded->shape(), (Shape{3, 4}));
  const Tensor* w = before.initializer("w");
  for (std::int64_t i = 0; i < 12; ++i) {
    EXPECT_FLOAT_EQ(folded->data<float>()[i], 2.0F * w->data<float>()[i]) << i;
  }
  // The intermediates and the inputs only they read are gone.
  EXPECT_FALSE(g.is_initializer("w"));
  EXPECT_FALSE(g.is_initializer("like"));
  EXPECT_FALSE(g.is_initializer("s"));
  EXPECT_NO_THROW(g.validate(&OpRegistry::global()));
  expect_same_outputs(before, g, {{"x", uniform({2, 3, 4}, 12)}});
  EXPECT_FALSE(fold_constants(g, kOpset));  // fixed point: nothing more to fold
}

TEST(FoldConstants, OverridableInitializerIsNotFolded) {
  // An initializer also listed as a graph input is only a default the caller may replace, so
  // nothing that reads it is constant.
  Graph g;
  g.add_input(f32_input("x", {Dim{4}}));
  g.add_input(f32_input("k", {Dim{4}}));
  g.set_initializer("k", uniform({4}, 21));
  g.set_initializer("c", uniform({4}, 22));
  g.add_node(make_node("kc", "Mul", {"k", "c"}, {"kc_v"}));
  g.add_node(make_node("add", "Add", {"x", "kc_v"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  EXPECT_FALSE(fold_constants(g, kOpset));
  EXPECT_EQ(g.nodes().size(), 2U);
  EXPECT_EQ(count_op(g, "Mul"), 1U);
  EXPECT_TRUE(g.is_initializer("c"));
}

TEST(FoldConstants, NodeProducingGraphOutputStays) {
  // Folding would leave the output without a producing node.
  Graph g;
  g.set_initializer("a", uniform({3}, 31));
  g.set_initializer("b", uniform({3}, 32));
  g.add_node(make_node("sum", "Add", {"a", "b"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  EXPECT_FALSE(fold_constants(g, kOpset));
  ASSERT_EQ(g.nodes().size(), 1U);
  EXPECT_FALSE(g.is_initializer("y"));
}

// ---- fold_batch_norm

// x[N, cin, 7, 7] -> Conv(w[4, cin / group, 3, 3], optional b, pad 1) -> c -> BN -> y
Graph conv_bn(bool with_bias, std::int64_t group, std::int64_t stride) {
  Graph g;
  const std::int64_t cin = group == 1 ? 3 : 4, cout = 4;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{cin}, Dim{7}, Dim{7}}));
  g.set_initializer("w", uniform({cout, cin / group, 3, 3}, 41));
  std::vector<std::string> in{"x", "w"};
  if (with_bias) {
    g.set_initializer("b", uniform({cout}, 42));
    in.push_back("b");
  }
  g.add_node(make_node("conv", "Conv", in, {"c"}, conv_attrs(1, stride, group)));
  add_bn(g, "bn", "c", "y", cout, 43);
  g.add_output(ValueInfo{"y"});
  return g;
}

TEST(FoldBatchNorm, IntoConvMatchesUnfoldedGraph) {
  struct Case {
    bool bias;
    std::int64_t group, stride;
  };
  for (const Case& cs : {Case{true, 1, 1}, Case{false, 1, 2}, Case{true, 2, 1}}) {
    SCOPED_TRACE("bias " + std::to_string(cs.bias) + " group " + std::to_string(cs.group) +
                 " stride " + std::to_string(cs.stride));
    const Graph before = conv_bn(cs.bias, cs.group, cs.stride);
    Graph g = before;
    EXPECT_TRUE(fold_batch_norm(g));
    EXPECT_EQ(count_op(g, "BatchNormalization"), 0U);
    ASSERT_EQ(g.nodes().size(), 1U);
    EXPECT_EQ(g.nodes()[0].op_type, "Conv");
    EXPECT_EQ(g.nodes()[0].outputs[0], "y");
    EXPECT_EQ(g.nodes()[0].inputs.size(), 3U);  // a bias is added when the Conv had none
    EXPECT_NO_THROW(g.validate(&OpRegistry::global()));
    const std::int64_t cin = cs.group == 1 ? 3 : 4;
    expect_same_outputs(before, g, {{"x", uniform({2, cin, 7, 7}, 44)}});
  }
}

// x -> conv_a(w) -> BN -> ya -> conv_b(w) [-> BN] -> yb: two convs reading one weight.
Graph shared_weight_convs(bool bn_after_second) {
  Graph g;
  g.add_input(f32_input("x", {Dim{1}, Dim{3}, Dim{6}, Dim{6}}));
  g.set_initializer("w", uniform({3, 3, 3, 3}, 51));
  g.add_node(make_node("conv_a", "Conv", {"x", "w"}, {"ca"}, conv_attrs(1, 1)));
  add_bn(g, "bn_a", "ca", "ya", 3, 52);
  g.add_node(
      make_node("conv_b", "Conv", {"ya", "w"}, {bn_after_second ? "cb" : "yb"}, conv_attrs(1, 1)));
  if (bn_after_second) add_bn(g, "bn_b", "cb", "yb", 3, 62);
  g.add_output(ValueInfo{"yb"});
  return g;
}

TEST(FoldBatchNorm, LeavesOriginalWeightsIntactWhenShared) {
  // Two convs read the same weights, each followed by its own BN: each must get its own folded
  // copy, and neither fold may scale the other's weights.
  Graph g = shared_weight_convs(true);
  const Graph before = g;
  const Tensor original_w = before.initializer("w")->clone();
  EXPECT_TRUE(fold_batch_norm(g));
  EXPECT_EQ(count_op(g, "BatchNormalization"), 0U);
  ASSERT_EQ(g.nodes().size(), 2U);
  EXPECT_NE(g.nodes()[0].inputs[1], g.nodes()[1].inputs[1]);
  // Copies of a Graph share initializer storage: an in-place fold would corrupt `before`.
  const Tensor* w_before = before.initializer("w");
  for (std::int64_t i = 0; i < original_w.numel(); ++i) {
    ASSERT_EQ(w_before->data<float>()[i], original_w.data<float>()[i]) << i;
  }
  expect_same_outputs(before, g, {{"x", uniform({1, 3, 6, 6}, 53)}});
}

TEST(FoldBatchNorm, UnsharedWeightsKeepTheirNamesAndFrozenOnesStayFrozen) {
  // Names are what configs point at (skip_tensor_list): a weight and bias only the folded
  // layer reads keep them, with the folded values.
  const Graph before = conv_bn(true, 1, 1);
  Graph g = before;
  g.freeze("w");
  EXPECT_TRUE(fold_batch_norm(g));
  ASSERT_EQ(g.nodes().size(), 1U);
  EXPECT_EQ(g.nodes()[0].inputs[1], "w");
  EXPECT_EQ(g.nodes()[0].inputs[2], "b");
  EXPECT_NE(g.initializer("w")->data<float>()[0], before.initializer("w")->data<float>()[0]);
  EXPECT_TRUE(g.is_frozen("w"));
  EXPECT_TRUE(g.is_frozen("b"));
  expect_same_outputs(before, g, {{"x", uniform({2, 3, 7, 7}, 45)}});

  // Shared: the copies are new names, frozen like the weight they came from.
  Graph shared = shared_weight_convs(false);
  shared.freeze("w");
  EXPECT_TRUE(fold_batch_norm(shared));
  const std::string copy = shared.nodes()[0].inputs[1];
  EXPECT_NE(copy, "w");
  EXPECT_EQ(shared.nodes()[1].inputs[1], "w");
  EXPECT_TRUE(shared.is_frozen(copy));
  EXPECT_TRUE(shared.is_frozen(shared.nodes()[0].inputs[2]));
}

TEST(FoldBatchNorm, LeavesNodesThatReachNoGraphOutput) {
  // A training graph's loss term reads y but is not a graph output: the fold must keep it.
  Graph g = conv_bn(true, 1, 1);
  g.add_node(make_node("loss", "ReduceMean", {"y"}, {"loss_value"}));
  EXPECT_TRUE(fold_batch_norm(g));
  EXPECT_EQ(count_op(g, "ReduceMean"), 1U);
  EXPECT_EQ(count_op(g, "BatchNormalization"), 0U);
  EXPECT_FALSE(g.is_initializer("bn_mean")) << "the BN's parameters are unread now";
}

// x[5,6] -> Gemm(w, c) -> h[5,4] -> BN -> y
Graph gemm_bn(bool trans_b, bool with_c) {
  Graph g;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{6}}));
  g.set_initializer("w", uniform(trans_b ? Shape{4, 6} : Shape{6, 4}, 71));
  std::vector<std::string> in{"x", "w"};
  if (with_c) {
    g.set_initializer("c", uniform({4}, 72));
    in.push_back("c");
  }
  Attributes a;
  a.set("transB", std::int64_t{trans_b ? 1 : 0});
  g.add_node(make_node("fc", "Gemm", in, {"h"}, a));
  add_bn(g, "bn", "h", "y", 4, 73);
  g.add_output(ValueInfo{"y"});
  return g;
}

TEST(FoldBatchNorm, IntoGemmMatchesUnfoldedGraph) {
  for (const bool trans_b : {false, true}) {
    for (const bool with_c : {false, true}) {
      SCOPED_TRACE("transB " + std::to_string(trans_b) + " C " + std::to_string(with_c));
      const Graph before = gemm_bn(trans_b, with_c);
      Graph g = before;
      EXPECT_TRUE(fold_batch_norm(g));
      EXPECT_EQ(count_op(g, "BatchNormalization"), 0U);
      ASSERT_EQ(g.nodes().size(), 1U);
      EXPECT_EQ(g.nodes()[0].op_type, "Gemm");
      EXPECT_NO_THROW(g.validate(&OpRegistry::global()));
      expect_same_outputs(before, g, {{"x", uniform({5, 6}, 74)}});
    }
  }
}

TEST(FoldBatchNorm, GemmWithPerRowBiasStaysCorrect) {
  // C of shape [M, 1] adds one value per row, not per output channel; with M == N it has N
  // elements and passes the numel check, so the fold scales it as if it were per channel.
  // Disabled: fold_batch_norm gets this wrong today (outputs differ from element 1 on); enable
  // once the pass requires C to be [N] or [1, N].
  Graph g;
  g.add_input(f32_input("x", {Dim{5}, Dim{6}}));
  g.set_initializer("w", uniform({6, 5}, 76));
  g.set_initializer("c", uniform({5, 1}, 77));
  g.add_node(make_node("fc", "Gemm", {"x", "w", "c"}, {"h"}));
  add_bn(g, "bn", "h", "y", 5, 78);
  g.add_output(ValueInfo{"y"});
  const Graph before = g;
  fold_batch_norm(g);
  expect_same_outputs(before, g, {{"x", uniform({5, 6}, 79)}});
}

TEST(FoldBatchNorm, GemmWithAlphaIsLeftAlone) {
  // alpha scales the product but not C: the fold does not model it and must not guess.
  Graph g = gemm_bn(false, true);
  g.mutable_nodes()[0].attrs.set("alpha", 0.5F);
  const Graph before = g;
  EXPECT_FALSE(fold_batch_norm(g));
  EXPECT_EQ(count_op(g, "BatchNormalization"), 1U);
  expect_same_outputs(before, g, {{"x", uniform({5, 6}, 75)}});
}

TEST(FoldBatchNorm, ConvOutputReadElsewhereIsNotFolded) {
  // c feeds both the BN and a Relu: rewriting the conv to produce BN(c) would change what the
  // Relu sees.
  Graph g;
  g.add_input(f32_input("x", {Dim{2}, Dim{3}, Dim{5}, Dim{5}}));
  g.set_initializer("w", uniform({4, 3, 3, 3}, 81));
  g.set_initializer("b", uniform({4}, 82));
  g.add_node(make_node("conv", "Conv", {"x", "w", "b"}, {"c"}, conv_attrs(1, 1)));
  add_bn(g, "bn", "c", "y", 4, 83);
  g.add_node(make_node("relu", "Relu", {"c"}, {"r"}));
  g.add_output(ValueInfo{"y"});
  g.add_output(ValueInfo{"r"});
  const Graph before = g;
  fold_batch_norm(g);
  EXPECT_NO_THROW(g.validate(&OpRegistry::global()));
  expect_same_outputs(before, g, {{"x", uniform({2, 3, 5, 5}, 84)}});
  // The pass's contract is to skip this case; keeping BN is the only way to stay exact here.
  EXPECT_EQ(count_op(g, "BatchNormalization"), 1U);
}

TEST(FoldBatchNorm, ConvOutputThatIsAGraphOutputIsNotFolded) {
  Graph g = conv_bn(true, 1, 1);
  g.add_output(ValueInfo{"c"});
  const Graph before = g;
  EXPECT_FALSE(fold_batch_norm(g));
  EXPECT_EQ(count_op(g, "BatchNormalization"), 1U);
  expect_same_outputs(before, g, {{"x", uniform({1, 3, 7, 7}, 85)}});
}

TEST(FoldBatchNorm, BatchNormWithRuntimeStatisticsIsNotFolded) {
  // The mean is a graph input: its value is unknown until run time.
  Graph g = conv_bn(true, 1, 1);
  g.remove_initializer("bn_mean");
  g.add_input(f32_input("bn_mean", {Dim{4}}));
  EXPECT_FALSE(fold_batch_norm(g));
  EXPECT_EQ(count_op(g, "BatchNormalization"), 1U);
}

TEST(FoldBatchNorm, NothingToFoldIsANoOp) {
  Graph g;
  g.add_input(f32_input("x", {Dim{2}, Dim{4}}));
  g.add_node(make_node("relu", "Relu", {"x"}, {"r"}));
  add_bn(g, "bn", "r", "y", 4, 91);  // BN after a Relu: nothing to fold into
  g.add_output(ValueInfo{"y"});
  EXPECT_FALSE(fold_batch_norm(g));
  EXPECT_EQ(g.nodes().size(), 2U);
}

// ---- eliminate_dead_nodes

TEST(EliminateDeadNodes, RemovesDeadChainsButKeepsMultiOutputNodesWithOneLiveOutput) {
  Graph g;
  g.add_input(f32_input("x", {Dim{2}, Dim{6}}));
  g.set_initializer("split", Tensor::from_vector<std::int64_t>({2}, {3, 3}));
  g.set_initializer("live_w", uniform({3}, 101));
  g.set_initializer("dead_w", uniform({3}, 102));
  Attributes axis1;
  axis1.set("axis", std::int64_t{1});
  // Only the first half of the split is used; the node must stay for it.
  g.add_node(make_node("split", "Split", {"x", "split"}, {"lo", "hi"}, axis1));
  g.add_node(make_node("dead1", "Mul", {"hi", "dead_w"}, {"d1"}));
  g.add_node(make_node("dead2", "Relu", {"d1"}, {"d2"}));
  g.add_node(make_node("live", "Add", {"lo", "live_w"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  const Graph before = g;
  EXPECT_TRUE(eliminate_dead_nodes(g));
  std::vector<std::string> names;
  for (const auto& n : g.nodes()) names.push_back(n.name);
  EXPECT_EQ(names, (std::vector<std::string>{"split", "live"}));
  EXPECT_TRUE(g.is_initializer("live_w"));
  EXPECT_TRUE(g.is_initializer("split"));
  EXPECT_FALSE(g.is_initializer("dead_w"));
  expect_same_outputs(before, g, {{"x", uniform({2, 6}, 103)}});
  EXPECT_FALSE(eliminate_dead_nodes(g));
}

// ---- infer_shapes

TEST(InferShapes, FillsIntermediatesAndIsIdempotent) {
  Graph g;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{3}, Dim{8}, Dim{8}}));
  g.set_initializer("w", uniform({4, 3, 3, 3}, 111));
  g.set_initializer("fc", uniform({5, 64}, 112));
  g.set_initializer("flat_shape", Tensor::from_vector<std::int64_t>({2}, {-1, 64}));
  g.add_node(make_node("conv", "Conv", {"x", "w"}, {"c"}, conv_attrs(1, 2)));
  g.add_node(make_node("relu", "Relu", {"c"}, {"r"}));
  g.add_node(make_node("shape", "Shape", {"r"}, {"s"}));
  g.add_node(make_node("flat", "Reshape", {"r", "flat_shape"}, {"f"}));
  Attributes tb;
  tb.set("transB", std::int64_t{1});
  g.add_node(make_node("fc", "Gemm", {"f", "fc"}, {"y"}, tb));
  g.add_output(ValueInfo{"y"});
  g.add_output(ValueInfo{"s"});
  ASSERT_EQ(g.value_info("c"), nullptr);

  EXPECT_TRUE(infer_shapes(g, kOpset));
  const ValueInfo* c = g.value_info("c");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->has_dtype);
  EXPECT_EQ(c->dtype, DType::kF32);
  EXPECT_EQ(c->shape_string(), "[N, 4, 4, 4]");
  ASSERT_NE(g.value_info("r"), nullptr);
  EXPECT_EQ(g.value_info("r")->shape_string(), "[N, 4, 4, 4]");
  ASSERT_NE(g.value_info("f"), nullptr);
  ASSERT_EQ(g.value_info("f")->shape.size(), 2U);
  EXPECT_EQ(g.value_info("f")->shape[1], (Dim{64, ""}));
  // Graph outputs keep what the model declared; inference does not record over them.
  EXPECT_EQ(g.value_infos().count("y"), 0U);
  EXPECT_EQ(g.value_infos().count("s"), 0U);

  const auto snapshot = g.value_infos();
  EXPECT_FALSE(infer_shapes(g, kOpset));  // nothing new to learn
  EXPECT_EQ(g.value_infos().size(), snapshot.size());
}

TEST(InferShapes, ConstantFoldingMakesReshapeTargetKnown) {
  // The Reshape target comes from a Concat of constants: unknown to inference until folded.
  Graph g;
  g.add_input(f32_input("x", {Dim{2}, Dim{12}}));
  g.set_initializer("a", Tensor::from_vector<std::int64_t>({1}, {6}));
  g.set_initializer("b", Tensor::from_vector<std::int64_t>({1}, {4}));
  Attributes axis0;
  axis0.set("axis", std::int64_t{0});
  g.add_node(make_node("cat", "Concat", {"a", "b"}, {"target"}, axis0));
  g.add_node(make_node("reshape", "Reshape", {"x", "target"}, {"r"}));
  g.add_node(make_node("relu", "Relu", {"r"}, {"y"}));
  g.add_output(ValueInfo{"y"});

  Graph unfolded = g;
  infer_shapes(unfolded, kOpset);
  const ValueInfo* before = unfolded.value_info("r");
  EXPECT_TRUE(before == nullptr || !before->fully_known());

  ASSERT_TRUE(fold_constants(g, kOpset));
  infer_shapes(g, kOpset);
  const ValueInfo* after = g.value_info("r");
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->shape_string(), "[6, 4]");
}

// ---- optimize_for_inference

TEST(OptimizeForInference, FoldsConstantsAndDropsDeadBranch) {
  Graph g;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{3}, Dim{6}, Dim{6}}));
  g.set_initializer("w", uniform({5, 3, 3, 3}, 121));
  g.set_initializer("b", uniform({5}, 122));
  g.set_initializer("half", Tensor::scalar<float>(0.5F));
  g.set_initializer("one", Tensor::scalar<float>(1.0F));
  g.add_node(make_node("conv", "Conv", {"x", "w", "b"}, {"c"}, conv_attrs(0, 1)));
  add_bn(g, "bn", "c", "n", 5, 123);
  g.add_node(make_node("relu", "Relu", {"n"}, {"r"}));
  g.add_node(make_node("k", "Add", {"half", "one"}, {"k_v"}));
  g.add_node(make_node("scale", "Mul", {"r", "k_v"}, {"y"}));
  g.add_node(make_node("unused", "Sigmoid", {"c"}, {"dead"}));
  g.add_output(ValueInfo{"y"});
  const Graph before = g;

  EXPECT_TRUE(optimize_for_inference(g, kOpset));
  EXPECT_EQ(count_op(g, "Sigmoid"), 0U);
  EXPECT_EQ(count_op(g, "Add"), 0U) << "constant Add should have been folded";
  EXPECT_FALSE(g.is_initializer("half"));
  EXPECT_NO_THROW(g.validate(&OpRegistry::global()));
  expect_same_outputs(before, g, {{"x", uniform({3, 3, 6, 6}, 124)}});
}

TEST(OptimizeForInference, ConvBnReluLosesTheBatchNorm) {
  Graph g;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{3}, Dim{6}, Dim{6}}));
  g.set_initializer("w", uniform({5, 3, 3, 3}, 131));
  g.set_initializer("b", uniform({5}, 132));
  g.add_node(make_node("conv", "Conv", {"x", "w", "b"}, {"c"}, conv_attrs(1, 1)));
  add_bn(g, "bn", "c", "n", 5, 133);
  g.add_node(make_node("relu", "Relu", {"n"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  const Graph before = g;

  EXPECT_TRUE(optimize_for_inference(g, kOpset));
  // Conv + Relu, or one fused node: the epilogue fusion later in the pipeline may merge them.
  EXPECT_EQ(count_op(g, "BatchNormalization"), 0U);
  EXPECT_EQ(count_op(g, "Conv") + count_op(g, "FusedConv"), 1U);
  EXPECT_LE(g.nodes().size(), 2U);
  EXPECT_FALSE(g.is_initializer("bn_mean"));  // BN parameters no longer referenced
  // w, read by this Conv only, holds the folded values under its own name.
  EXPECT_NE(g.initializer("w")->data<float>()[0], before.initializer("w")->data<float>()[0]);
  EXPECT_NO_THROW(g.validate(&OpRegistry::global()));
  expect_same_outputs(before, g, {{"x", uniform({2, 3, 6, 6}, 134)}});
  EXPECT_FALSE(optimize_for_inference(g, kOpset));
}

TEST(OptimizeForInference, ConvOutputReadTwiceStaysCorrect) {
  // c is read by the BN and by a second branch that is also a graph output; whatever the
  // pipeline folds or fuses, both outputs must come out as before.
  Graph g;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{3}, Dim{6}, Dim{6}}));
  g.set_initializer("w", uniform({4, 3, 3, 3}, 141));
  g.add_node(make_node("conv", "Conv", {"x", "w"}, {"c"}, conv_attrs(1, 1)));
  add_bn(g, "bn", "c", "n", 4, 142);
  g.add_node(make_node("relu", "Relu", {"n"}, {"y"}));
  g.add_node(make_node("side", "Sigmoid", {"c"}, {"s"}));
  g.add_output(ValueInfo{"y"});
  g.add_output(ValueInfo{"s"});
  const Graph before = g;
  optimize_for_inference(g, kOpset);
  EXPECT_NO_THROW(g.validate(&OpRegistry::global()));
  expect_same_outputs(before, g, {{"x", uniform({2, 3, 6, 6}, 143)}});
}

}  // namespace
}  // namespace act
