// Bias correction: with coarse (3-bit) weights, the quantized layer's mean output drifts from
// the float layer's by (W_q - W) E[x]; the corrected bias removes that drift on the data the
// means came from. Checked by running both graphs in our executor, for a grouped Conv and a
// Gemm with a transposed weight (the two index layouts output_shift() handles).
#include "bias_correction.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "act/kernel/executor.h"
#include "calibrator.h"
#include "kernel/kernel_test_util.h"
#include "qdq_placement.h"
#include "qdq_writer.h"

namespace act::quant {
namespace {

// Mean over everything but axis 1 of (a - b), per channel.
std::vector<double> mean_difference(const Tensor& a, const Tensor& b) {
  const Shape& s = a.shape();
  const std::int64_t channels = s[1];
  std::int64_t inner = 1;
  for (std::size_t d = 2; d < s.size(); ++d) inner *= s[d];
  std::vector<double> diff(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    diff[static_cast<std::size_t>((i / inner) % channels)] +=
        a.data<float>()[i] - b.data<float>()[i];
  }
  for (double& d : diff) d /= static_cast<double>(a.numel() / channels);
  return diff;
}

// Quantizes `g` (one weighted node reading "x", writing "y") with 3-bit weights, with or without
// bias correction, and returns the largest per-channel mean drift of y from the float graph.
double drift(const Graph& float_graph, const Tensor& x, bool correct) {
  Graph g = float_graph;
  const QdqPlan plan = plan_qdq(g, select_targets(g, {"Conv", "Gemm"}, {}, {}), Profile::kOrtCpu);
  Calibrator calibrator;
  calibrator.track_channel_means("x", input_channel_axis(g.nodes()[0]));
  ExecutorOptions taps;
  taps.tap_all = true;
  const RunResult reference = Executor(g, 17, taps).run({x});
  EXPECT_TRUE(calibrator.consume(0, "x", x).ok());
  EXPECT_TRUE(calibrator.consume(0, "y", reference.outputs[0]).ok());
  std::map<std::string, ActivationQuant> quant;
  for (const std::string& v : plan.values) {
    quant[v] = activation_quant(calibrator.min_of(v), calibrator.max_of(v),
                                calibrator.threshold(v, "abs_max", 1.0), Profile::kOrtCpu);
  }
  const std::map<std::string, std::vector<double>> means = {{"x", calibrator.channel_means("x")}};
  WeightOptions w;
  w.bits = 3;
  if (correct) w.input_means = &means;
  const QdqSummary summary = write_qdq(g, plan, quant, w);
  EXPECT_EQ(summary.bias_corrected, correct ? 1U : 0U);
  g.validate();
  const Tensor y = Executor(g, 17).run({x}).outputs.at(0);
  double worst = 0.0;
  for (double d : mean_difference(y, reference.outputs[0])) worst = std::max(worst, std::fabs(d));
  return worst;
}

TEST(BiasCorrection, RemovesTheMeanDriftOfAGroupedConvWithoutBias) {
  Graph g;
  g.add_input({"x", DType::kF32, true, true, {{8, ""}, {4, ""}, {5, ""}, {5, ""}}});
  g.set_initializer("w", test::normal_tensor({6, 2, 3, 3}, 1, 0.0F, 0.4F));
  Attributes a;
  a.set("group", std::int64_t{2});
  g.add_node(test::make_node("conv", "Conv", {"x", "w"}, {"y"}, a));
  g.add_output({"y", DType::kF32, true, true, {}});
  // Inputs with a clear nonzero mean per channel, so the weight error shows in the output mean.
  const Tensor x = test::normal_tensor({8, 4, 5, 5}, 2, 1.5F, 0.5F);
  const double before = drift(g, x, false);
  const double after = drift(g, x, true);
  EXPECT_GT(before, 0.05) << "3-bit weights should shift the mean visibly";
  EXPECT_LT(after, before / 4.0) << "before " << before << ", after " << after;
}

TEST(BiasCorrection, RemovesTheMeanDriftOfAGemmWithTransposedWeight) {
  Graph g;
  g.add_input({"x", DType::kF32, true, true, {{64, ""}, {16, ""}}});
  g.set_initializer("w", test::normal_tensor({5, 16}, 3, 0.0F, 0.3F));
  g.set_initializer("b", test::normal_tensor({5}, 4, 0.0F, 0.1F));
  Attributes a;
  a.set("transB", std::int64_t{1});
  g.add_node(test::make_node("fc", "Gemm", {"x", "w", "b"}, {"y"}, a));
  g.add_output({"y", DType::kF32, true, true, {}});
  const Tensor x = test::normal_tensor({64, 16}, 5, 2.0F, 0.5F);
  const double before = drift(g, x, false);
  const double after = drift(g, x, true);
  EXPECT_GT(before, 0.05);
  EXPECT_LT(after, before / 4.0) << "before " << before << ", after " << after;
}

}  // namespace
}  // namespace act::quant
