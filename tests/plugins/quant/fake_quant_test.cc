// The training ops of QuantAware (fake_quant_ops.h) against what they simulate: the forward is
// QuantizeLinear -> DequantizeLinear as our own kernels run it, with the scale and zero point
// write_qdq() stores; the weight fake quant is the writer's int8 weight dequantized; the
// gradient is straight-through inside the range; observers follow their update rules, and
// the trainer keeps their state only from training steps.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "act/kernel/autograd.h"
#include "act/kernel/executor.h"
#include "act/kernel/graph_trainer.h"
#include "act/kernel/passes.h"
#include "fake_quant_ops.h"
#include "qdq_placement.h"
#include "qdq_writer.h"
#include "quant_targets.h"

namespace act::quant {
namespace {

constexpr std::int64_t kOpset = 17;

Tensor values(Shape shape, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t(DType::kF32, shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

Tensor state_of(float lo, float hi, float count = 1.0F) {
  return Tensor::from_vector(Shape{3}, std::vector<float>{lo, hi, count});
}

Node node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
          const std::string& domain = "") {
  Node n;
  n.name = out.at(0) + "_node";
  n.op_type = op;
  n.domain = domain;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

Tensor run1(const Graph& g, const std::map<std::string, Tensor>& feeds) {
  Executor ex(g, kOpset);
  return ex.run(feeds).outputs.at(0);
}

void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  std::int64_t differ = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) differ += a.data<float>()[i] != b.data<float>()[i];
  EXPECT_EQ(differ, 0) << what << ": " << differ << " of " << a.numel() << " values differ";
}

class FakeQuant : public ::testing::Test {
 protected:
  void SetUp() override { register_fake_quant_ops(OpRegistry::global()); }
};

// FakeQuantize(x) against QuantizeLinear -> DequantizeLinear with range_quant()'s parameters.
void check_forward(float lo, float hi, float alpha, Profile profile) {
  const std::string what = "range [" + std::to_string(lo) + ", " + std::to_string(hi) + "] alpha " +
                           std::to_string(alpha);
  // Values well past the range (saturation) and exact ties of the grid (rounding).
  Tensor x = values({4, 3, 50}, 1.5F * std::min(lo, -1.0F), 1.5F * hi, 7);
  const ActivationQuant q = range_quant(lo, hi, alpha, profile);
  for (int i = 0; i < 40; ++i) x.data<float>()[i] = (static_cast<float>(i - 20) + 0.5F) * q.scale;

  Graph fq;
  fq.add_input(ValueInfo::from_tensor("x", x));
  fq.set_initializer("state", state_of(lo, hi));
  std::vector<std::string> in = {"x", "state"};
  if (alpha > 0) {
    fq.set_initializer("alpha", Tensor::from_vector(Shape{1}, std::vector<float>{alpha}));
    in.push_back("alpha");
  }
  Node n = node("FakeQuantize", in, {"y"}, kQatDomain);
  n.attrs.set("profile", std::int64_t{profile == Profile::kTensorRt ? 1 : 0});
  fq.add_node(n);
  fq.add_output(ValueInfo{"y"});

  Graph qdq;
  qdq.add_input(ValueInfo::from_tensor("x", x));
  qdq.set_initializer("s", Tensor::scalar(q.scale));
  Tensor zp = Tensor::zeros(q.is_unsigned ? DType::kU8 : DType::kI8, Shape{});
  if (q.is_unsigned) {
    zp.data<std::uint8_t>()[0] = static_cast<std::uint8_t>(q.zero_point);
  } else {
    zp.data<std::int8_t>()[0] = static_cast<std::int8_t>(q.zero_point);
  }
  qdq.set_initializer("z", zp);
  qdq.add_node(node("QuantizeLinear", {"x", "s", "z"}, {"q"}));
  qdq.add_node(node("DequantizeLinear", {"q", "s", "z"}, {"y"}));
  qdq.add_output(ValueInfo{"y"});
  expect_same_bits(run1(fq, {{"x", x}}), run1(qdq, {{"x", x}}), what);
}

TEST_F(FakeQuant, ForwardIsQuantizeThenDequantizeOfOurOwnKernels) {
  check_forward(0.0F, 6.0F, 0.0F, Profile::kOrtCpu);     // after Relu: u8 from 0
  check_forward(-1.3F, 4.1F, 0.0F, Profile::kOrtCpu);    // signed: u8 with a zero point
  check_forward(-1.3F, 4.1F, 0.0F, Profile::kTensorRt);  // s8 symmetric
  check_forward(-1.3F, 4.1F, 2.5F, Profile::kOrtCpu);    // PACT narrows the range
  check_forward(0.0F, 6.0F, 3.0F, Profile::kTensorRt);
  EXPECT_TRUE(range_quant(0.0F, 6.0F, 0.0F, Profile::kOrtCpu).is_unsigned);
  EXPECT_EQ(range_quant(0.0F, 6.0F, 0.0F, Profile::kOrtCpu).zero_point, 0);
  EXPECT_FLOAT_EQ(range_quant(-1.0F, 6.0F, 3.0F, Profile::kOrtCpu).scale, 4.0F / 255.0F);
}

TEST_F(FakeQuant, AnUnobservedRangePassesValuesThrough) {
  Graph g;
  const Tensor x = values({2, 8}, -3.0F, 3.0F, 3);
  g.add_input(ValueInfo::from_tensor("x", x));
  g.set_initializer("state", state_of(0.0F, 0.0F, 0.0F));
  g.add_node(node("FakeQuantize", {"x", "state"}, {"y"}, kQatDomain));
  g.add_output(ValueInfo{"y"});
  expect_same_bits(run1(g, {{"x", x}}), x, "count 0");
}

// FakeQuantizeWeight against the int8 weight and scale write_qdq() stores, dequantized by our
// DequantizeLinear, per channel with reduce_range (7 bits), per tensor at 4 bits, and 4 bits
// with reduce_range (which only narrows 8-bit weights).
TEST_F(FakeQuant, WeightFakeQuantIsTheExportedInt8WeightDequantized) {
  for (const auto& [per_channel, bits, reduce] :
       {std::tuple{true, 8, true}, std::tuple{false, 4, false}, std::tuple{true, 8, false},
        std::tuple{true, 4, true}}) {
    Graph conv;
    const Tensor w = values({6, 3, 3, 3}, -0.7F, 0.9F, static_cast<unsigned>(bits));
    conv.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {1, 3, 8, 8})));
    conv.set_initializer("w", w);
    conv.add_node(node("Conv", {"x", "w"}, {"y"}));
    conv.add_output(ValueInfo{"y"});
    const QdqPlan plan = plan_qdq(conv, select_targets(conv, {"Conv"}, {}, {}), Profile::kOrtCpu);
    std::map<std::string, ActivationQuant> acts;
    for (const auto& v : plan.values) acts[v] = range_quant(-1.0F, 1.0F, 0.0F, Profile::kOrtCpu);
    WeightOptions opts;
    opts.bits = bits;
    opts.per_channel = per_channel;
    opts.reduce_range = reduce;
    write_qdq(conv, plan, acts, opts);
    const Node* dq = nullptr;
    for (const Node& n : conv.nodes()) {
      if (n.op_type == "DequantizeLinear" && n.inputs[0] == "w_quantized") dq = &n;
    }
    ASSERT_NE(dq, nullptr);
    Graph exported;
    for (const auto& in : dq->inputs) exported.set_initializer(in, *conv.initializer(in));
    exported.add_node(*dq);
    exported.add_output(ValueInfo{dq->outputs[0]});

    Graph fake;
    fake.set_initializer("w", w);
    Node n = node("FakeQuantizeWeight", {"w"}, {"wq"}, kQatDomain);
    n.attrs.set("axis", std::int64_t{0});
    // The writer's own rule for the largest code (reduce_range narrows 8-bit weights only).
    n.attrs.set("qmax", std::int64_t{weight_qmax(opts)});
    n.attrs.set("per_channel", std::int64_t{per_channel ? 1 : 0});
    fake.add_node(n);
    fake.add_output(ValueInfo{"wq"});
    expect_same_bits(run1(fake, {}), run1(exported, {}),
                     "bits " + std::to_string(bits) + (per_channel ? " per channel" : ""));
  }
}

// loss = sum(c * FakeQuantize(x)): the straight-through gradient is c inside the representable
// range and 0 outside; PACT's alpha gets c summed above alpha minus c summed below -alpha.
TEST_F(FakeQuant, StraightThroughGradientAndPactClipGradient) {
  const Tensor x = values({64}, -5.0F, 5.0F, 11);
  const Tensor c = values({64}, 0.5F, 1.5F, 12);
  for (const float alpha : {0.0F, 2.0F}) {
    Graph g;
    g.set_initializer("x", x);
    g.set_initializer("c", c);
    g.set_initializer("state", state_of(-3.0F, 4.0F));
    std::vector<std::string> in = {"x", "state"};
    if (alpha > 0) {
      g.set_initializer("alpha", Tensor::from_vector(Shape{1}, std::vector<float>{alpha}));
      in.push_back("alpha");
    }
    g.add_node(node("FakeQuantize", in, {"y"}, kQatDomain));
    g.add_node(node("Mul", {"y", "c"}, {"m"}));
    Node sum = node("ReduceSum", {"m"}, {"loss"});
    sum.attrs.set("keepdims", std::int64_t{0});
    g.add_node(sum);
    infer_shapes(g, kOpset);
    std::vector<std::string> wrt = {"x"};
    if (alpha > 0) wrt.push_back("alpha");
    const BackwardResult back = build_backward(g, "loss", wrt, kOpset, OpRegistry::global());
    for (const auto& v : wrt) g.add_output(ValueInfo{back.grads.at(v)});
    Executor ex(g, kOpset);
    const RunResult r = ex.run(std::map<std::string, Tensor>{});

    const ActivationQuant q = range_quant(-3.0F, 4.0F, alpha, Profile::kOrtCpu);
    const float lo = -static_cast<float>(q.zero_point) * q.scale;
    const float hi = static_cast<float>(255 - q.zero_point) * q.scale;
    double dalpha = 0.0;
    int inside = 0;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const float xi = x.data<float>()[i];
      const bool in_range = xi >= lo && xi <= hi;
      inside += in_range;
      EXPECT_EQ(r.outputs[0].data<float>()[i], in_range ? c.data<float>()[i] : 0.0F)
          << "x = " << xi << " range [" << lo << ", " << hi << "]";
      if (xi > alpha) dalpha += c.data<float>()[i];
      if (xi < -alpha) dalpha -= c.data<float>()[i];
    }
    EXPECT_GT(inside, 10);
    EXPECT_LT(inside, 60) << "the test needs values on both sides of the range";
    if (alpha > 0) {
      EXPECT_NEAR(r.outputs[1].data<float>()[0], dalpha, 1e-4);
    }
  }
}

TEST_F(FakeQuant, WeightGradientPassesStraightThrough) {
  Graph g;
  const Tensor w = values({4, 5}, -1.0F, 1.0F, 5);
  const Tensor c = values({4, 5}, -2.0F, 2.0F, 6);
  g.set_initializer("w", w);
  g.set_initializer("c", c);
  Node n = node("FakeQuantizeWeight", {"w"}, {"wq"}, kQatDomain);
  n.attrs.set("qmax", std::int64_t{7});
  g.add_node(n);
  g.add_node(node("Mul", {"wq", "c"}, {"m"}));
  Node sum = node("ReduceSum", {"m"}, {"loss"});
  sum.attrs.set("keepdims", std::int64_t{0});
  g.add_node(sum);
  infer_shapes(g, kOpset);
  const BackwardResult back = build_backward(g, "loss", {"w"}, kOpset, OpRegistry::global());
  g.add_output(ValueInfo{back.grads.at("w")});
  expect_same_bits(Executor(g, kOpset).run(std::map<std::string, Tensor>{}).outputs.at(0), c, "dw");
}

TEST_F(FakeQuant, ObserverRules) {
  float s[3] = {0, 0, 0};
  observe(Observer::kMovingAverage, 0.9F, 1, s, -1.0F, 2.0F);
  EXPECT_EQ(s[0], -1.0F) << "the first batch sets the range";
  EXPECT_EQ(s[1], 2.0F);
  observe(Observer::kMovingAverage, 0.9F, 1, s, -3.0F, 4.0F);
  EXPECT_FLOAT_EQ(s[0], 0.9F * -1.0F + 0.1F * -3.0F);
  EXPECT_FLOAT_EQ(s[1], 0.9F * 2.0F + 0.1F * 4.0F);
  EXPECT_EQ(s[2], 2.0F);

  float a[3] = {0, 0, 0};
  observe(Observer::kAbsMax, 0.9F, 1, a, -1.0F, 2.0F);
  observe(Observer::kAbsMax, 0.9F, 1, a, -0.5F, 5.0F);
  observe(Observer::kAbsMax, 0.9F, 1, a, -2.0F, 1.0F);
  EXPECT_EQ(a[0], -2.0F);
  EXPECT_EQ(a[1], 5.0F);

  // A window of 2: a large batch leaves the range two batches later.
  std::vector<float> w(static_cast<std::size_t>(state_size(Observer::kRangeAbsMax, 2)), 0.0F);
  ASSERT_EQ(w.size(), 7U);
  observe(Observer::kRangeAbsMax, 0.9F, 2, w.data(), -1.0F, 9.0F);
  observe(Observer::kRangeAbsMax, 0.9F, 2, w.data(), -1.0F, 3.0F);
  EXPECT_EQ(w[1], 9.0F);
  observe(Observer::kRangeAbsMax, 0.9F, 2, w.data(), -4.0F, 2.0F);
  EXPECT_EQ(w[1], 3.0F);
  EXPECT_EQ(w[0], -4.0F);
  observe(Observer::kRangeAbsMax, 0.9F, 2, w.data(), -1.0F, 1.0F);
  EXPECT_EQ(w[1], 2.0F);
  EXPECT_EQ(w[0], -4.0F);
  EXPECT_EQ(w[2], 4.0F);

  EXPECT_THROW(parse_observer("hist", "QuantAware.activation_quantize_type"), Error);
}

// x -> FakeQuantize (state updated by QuantObserve) -> MatMul -> logits, trained by GraphTrainer:
// the state moves only in training steps (apply), never in loss_only, by the observer's rule
// on the batch's min and max, and it is part of the trainer's checkpoint state.
TEST_F(FakeQuant, TrainerUpdatesObserverStateOnlyInTrainingSteps) {
  Graph g;
  g.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {8, 4})));
  g.set_initializer("state", state_of(-1.0F, 1.0F));
  g.freeze("state");
  g.set_initializer("w", values({4, 3}, -1.0F, 1.0F, 2));
  g.add_node(node("FakeQuantize", {"x", "state"}, {"xq"}, kQatDomain));
  Node obs = node("QuantObserve", {"x", "state"}, {"next"}, kQatDomain);
  obs.attrs.set("method", static_cast<std::int64_t>(Observer::kMovingAverage));
  obs.attrs.set("moving_rate", 0.5F);
  g.add_node(obs);
  g.add_node(node("MatMul", {"xq", "w"}, {"logits"}));
  g.add_output(ValueInfo{"logits"});
  g.set_state_update("state", "next");

  GraphTrainerOptions o;
  o.batch_size = 8;
  o.logits = "logits";
  GraphTrainer trainer(g, kOpset, o);
  EXPECT_EQ(trainer.trainable(), std::vector<std::string>{"w"});
  const Tensor x = values({8, 4}, -3.0F, 2.0F, 9);
  Tensor labels = Tensor::zeros(DType::kF32, {8, 3});
  for (int i = 0; i < 8; ++i) labels.data<float>()[i * 3 + i % 3] = 1.0F;
  const std::map<std::string, Tensor> feeds = {{"x", x}, {GraphTrainer::kLabelsInput, labels}};
  auto state = [&] { return trainer.graph().initializer("state")->clone(); };

  trainer.loss_only(feeds, {});
  EXPECT_EQ(state().data<float>()[1], 1.0F) << "evaluation moved the observer";
  trainer.forward_backward(feeds, {});
  trainer.apply(0.01);
  const float* xs = x.data<float>();
  const float bmin = *std::min_element(xs, xs + x.numel());
  const float bmax = *std::max_element(xs, xs + x.numel());
  EXPECT_FLOAT_EQ(state().data<float>()[0], 0.5F * -1.0F + 0.5F * bmin);
  EXPECT_FLOAT_EQ(state().data<float>()[1], 0.5F * 1.0F + 0.5F * bmax);
  EXPECT_EQ(state().data<float>()[2], 2.0F);
  EXPECT_EQ(g.initializer("state")->data<float>()[2], 1.0F) << "the caller's graph was written";
  const auto saved = trainer.state();
  ASSERT_EQ(saved.count("stat/state"), 1U);
  EXPECT_EQ(saved.at("stat/state").data<float>()[2], 2.0F);
}

}  // namespace
}  // namespace act::quant
