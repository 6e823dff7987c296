// The ort_cpu writer's channel padding (channel_pad.h) on hand-built QDQ convolutions: which
// ones it pads (group 1, input channels not a multiple of 4: to the next one, 16+ output channels
// in steps of 8), what it writes (Pad with the input's zero point, zero weight channels), and that
// the padded graph computes what the unpadded one does, run by our executor. ONNX Runtime's side
// (the padded stem fused into a QLinearConv, same top-1) is checked by quant_post_test.cc.
#include "channel_pad.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "act/kernel/executor.h"
#include "kernel/kernel_test_util.h"
#include "qdq_placement.h"
#include "qdq_writer.h"

namespace act::quant {
namespace {

using test::make_node;

struct ConvShape {
  std::int64_t inputs = 1;
  std::int64_t outputs = 16;
  std::int64_t group = 1;
};

// x -> Q(u8, zero point 3) -> DQ -> Conv 3x3 (int8 weight through its own DQ, f32 bias) -> y;
// with `second_reader`, a Relu reads the input's DQ too.
Graph qdq_conv(const ConvShape& s, bool second_reader = false) {
  Graph g;
  g.add_input({"x", DType::kF32, true, true, {{2, ""}, {s.inputs, ""}, {7, ""}, {6, ""}}});
  g.set_initializer("x_scale", Tensor::scalar(0.02F));
  Tensor zero = Tensor::zeros(DType::kU8, Shape{});
  zero.data<std::uint8_t>()[0] = 3;
  g.set_initializer("x_zero", zero);
  const Tensor wf = test::normal_tensor({s.outputs, s.inputs / s.group, 3, 3}, 11, 0.0F, 40.0F);
  Tensor w(DType::kI8, wf.shape());
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    w.data<std::int8_t>()[i] =
        static_cast<std::int8_t>(std::clamp(std::nearbyint(wf.data<float>()[i]), -127.0F, 127.0F));
  }
  g.set_initializer("w_q", w);
  g.set_initializer("w_scale", test::normal_tensor({s.outputs}, 12, 0.01F, 0.001F));
  g.set_initializer("w_zero", Tensor::zeros(DType::kI8, Shape{s.outputs}));
  g.set_initializer("b", test::normal_tensor({s.outputs}, 13, 0.0F, 0.1F));
  Attributes axis;
  axis.set("axis", std::int64_t{0});
  Attributes conv;
  conv.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  conv.set("group", s.group);
  g.add_node(make_node("q", "QuantizeLinear", {"x", "x_scale", "x_zero"}, {"xq"}));
  g.add_node(make_node("dq", "DequantizeLinear", {"xq", "x_scale", "x_zero"}, {"xd"}));
  g.add_node(make_node("wdq", "DequantizeLinear", {"w_q", "w_scale", "w_zero"}, {"wd"}, axis));
  g.add_node(make_node("conv", "Conv", {"xd", "wd", "b"}, {"y"}, conv));
  g.add_output({"y", DType::kF32, false, false, {}});
  if (second_reader) {
    g.add_node(make_node("relu", "Relu", {"xd"}, {"r"}));
    g.add_output({"r", DType::kF32, false, false, {}});
  }
  return g;
}

const Node& node_named(const Graph& g, const std::string& name) {
  const auto it = std::find_if(g.nodes().begin(), g.nodes().end(),
                               [&](const Node& n) { return n.name == name; });
  EXPECT_NE(it, g.nodes().end()) << name;
  return *it;
}

std::size_t count_of(const Graph& g, const std::string& op) {
  return static_cast<std::size_t>(std::count_if(g.nodes().begin(), g.nodes().end(),
                                                [&](const Node& n) { return n.op_type == op; }));
}

class ChannelPad : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(ChannelPad, PadsTheInputAndTheWeightAndComputesTheSame) {
  const std::int64_t c = GetParam();
  const std::int64_t wide_c = (c + 3) / 4 * 4;
  const Graph before = qdq_conv({c, 16, 1}, true);
  const Tensor x = test::normal_tensor({2, c, 7, 6}, 5, 1.0F, 1.5F);
  const RunResult expected = Executor(before, 17).run({x});

  Graph g = before;
  const ChannelPadding done = pad_conv_input_channels(g);
  g.topological_sort();
  g.validate();
  EXPECT_EQ(done.convolutions, 1U);
  EXPECT_EQ(done.added_bytes, static_cast<std::size_t>(16 * (wide_c - c) * 9));

  // The input: Pad of the u8 tensor to 4 channels with its zero point, then its own DQ.
  ASSERT_EQ(count_of(g, "Pad"), 1U);
  const Node& conv = node_named(g, "conv");
  const Node& x_dq = g.nodes()[*g.producer(conv.inputs[0])];
  ASSERT_EQ(x_dq.op_type, "DequantizeLinear");
  const Node& pad = g.nodes()[*g.producer(x_dq.inputs[0])];
  ASSERT_EQ(pad.op_type, "Pad");
  ASSERT_EQ(pad.inputs.size(), 3U);
  EXPECT_EQ(pad.inputs[0], "xq");
  EXPECT_EQ(pad.inputs[2], "x_zero");
  EXPECT_EQ(g.initializer(pad.inputs[1])->to_int_vector(),
            (std::vector<std::int64_t>{0, 0, 0, 0, 0, wide_c - c, 0, 0}));
  // The first DQ stays for the Relu that also reads it.
  EXPECT_NE(g.producer("xd"), std::nullopt);

  // The weight: the same codes in the first c channels, zeros after; the old one is gone.
  const Node& w_dq = g.nodes()[*g.producer(conv.inputs[1])];
  const Tensor& wide = *g.initializer(w_dq.inputs[0]);
  const Tensor& narrow = *before.initializer("w_q");
  ASSERT_EQ(wide.shape(), (Shape{16, wide_c, 3, 3}));
  for (std::int64_t o = 0; o < 16; ++o) {
    for (std::int64_t i = 0; i < wide_c; ++i) {
      for (std::int64_t k = 0; k < 9; ++k) {
        const std::int8_t got = wide.data<std::int8_t>()[(o * wide_c + i) * 9 + k];
        EXPECT_EQ(got, i < c ? narrow.data<std::int8_t>()[(o * c + i) * 9 + k] : 0)
            << o << " " << i << " " << k;
      }
    }
  }
  EXPECT_EQ(w_dq.attrs.get_int("axis", -1), 0);
  EXPECT_EQ(g.initializer("w_q"), nullptr);
  EXPECT_EQ(g.producer("wd"), std::nullopt) << "the unpadded weight DQ was left behind";

  const RunResult got = Executor(g, 17).run({x});
  ASSERT_EQ(got.outputs.size(), 2U);
  for (std::size_t k = 0; k < got.outputs.size(); ++k) {
    const Tensor& a = got.outputs[k];
    const Tensor& b = expected.outputs[k];
    ASSERT_EQ(a.shape(), b.shape());
    for (std::int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_NEAR(a.data<float>()[i], b.data<float>()[i],
                  1e-5F * (1.0F + std::fabs(b.data<float>()[i])))
          << "output " << k << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(InputChannels, ChannelPad, ::testing::Values(1, 2, 3, 5));

TEST(ChannelPadding, LeavesConvolutionsOnTheFastPathOrOutsideItAlone) {
  for (const ConvShape& s : {ConvShape{4, 16, 1}, ConvShape{8, 16, 1}, ConvShape{1, 8, 1},
                             ConvShape{3, 20, 1}, ConvShape{2, 16, 2}}) {
    Graph g = qdq_conv(s);
    const std::size_t nodes = g.nodes().size();
    EXPECT_EQ(pad_conv_input_channels(g).convolutions, 0U)
        << s.inputs << " inputs, " << s.outputs << " outputs, group " << s.group;
    EXPECT_EQ(g.nodes().size(), nodes);
    EXPECT_EQ(count_of(g, "Pad"), 0U);
  }
  // An input quantized per channel: its scales could not cover the added channels.
  Graph g = qdq_conv({3, 16, 1});
  g.set_initializer("x_scale", Tensor::from_vector(Shape{3}, std::vector<float>{0.1F, 0.2F, 0.3F}));
  EXPECT_EQ(pad_conv_input_channels(g).convolutions, 0U);
}

// Through the writer: a 1-channel stem is padded for ort_cpu and left as it is for TensorRT.
TEST(ChannelPadding, TheWriterPadsForOrtCpuOnly) {
  for (const Profile profile : {Profile::kOrtCpu, Profile::kTensorRt}) {
    Graph g;
    g.add_input({"x", DType::kF32, true, true, {{1, ""}, {1, ""}, {6, ""}, {6, ""}}});
    g.set_initializer("w", test::normal_tensor({16, 1, 3, 3}, 1, 0.0F, 0.3F));
    g.add_node(make_node("conv", "Conv", {"x", "w"}, {"y"}));
    g.add_output({"y", DType::kF32, true, true, {{1, ""}, {16, ""}, {4, ""}, {4, ""}}});
    const QdqPlan plan = plan_qdq(g, select_targets(g, {"Conv"}, {}, {}), profile);
    std::map<std::string, ActivationQuant> quant;
    for (const std::string& v : plan.values)
      quant[v] = activation_quant(-1.0F, 1.0F, 1.0F, profile);
    const QdqSummary summary = write_qdq(g, plan, quant, WeightOptions{});
    const bool ort = profile == Profile::kOrtCpu;
    EXPECT_EQ(summary.channel_padded, ort ? 1U : 0U);
    EXPECT_EQ(count_of(g, "Pad"), ort ? 1U : 0U);
    EXPECT_EQ(summary.int_weight_bytes, 16U * (ort ? 4U : 1U) * 9U + 16U * 5U);
  }
}

}  // namespace
}  // namespace act::quant
