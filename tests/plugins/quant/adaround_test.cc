// Layer-wise reconstruction (adaround.h, gram_collector.h): with coarse 3-bit weights, the
// learned rounding must give a smaller output error on the calibration data than rounding to
// nearest, measured here directly on the data (not through the Gram matrices the method uses),
// and every code must be the floor or the ceiling of w / s.
#include "adaround.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "gram_collector.h"
#include "kernel/kernel_test_util.h"
#include "qdq_writer.h"

namespace act::quant {
namespace {

// sum over samples and outputs of ((W~ - W) x)^2, for a Gemm weight [N, K] (transB) or a Conv
// 1x1 [O, C, 1, 1] over NCHW input (both are row-per-output).
double output_error(const Tensor& w, const Tensor& codes, const std::vector<float>& scales,
                    const Tensor& x, bool conv) {
  const std::int64_t outputs = w.shape()[0], k = w.numel() / outputs;
  const std::int64_t samples = conv ? x.shape()[0] * x.shape()[2] * x.shape()[3] : x.shape()[0];
  const std::int64_t plane = conv ? x.shape()[2] * x.shape()[3] : 1;
  double err = 0.0;
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t o = 0; o < outputs; ++o) {
      double e = 0.0;
      for (std::int64_t c = 0; c < k; ++c) {
        const double in = conv ? x.data<float>()[((s / plane) * k + c) * plane + s % plane]
                               : x.data<float>()[s * k + c];
        const double dw =
            codes.data<std::int8_t>()[o * k + c] * scales[static_cast<std::size_t>(o)] -
            w.data<float>()[o * k + c];
        e += dw * in;
      }
      err += e * e;
    }
  }
  return err;
}

// Inputs whose features are strongly correlated, as neighbouring pixels and channels of real
// activations are (with independent features rounding to nearest is already optimal): a few
// latent factors mixed into every feature, plus a little noise.
Tensor correlated(Shape shape, int feature_axis, std::uint32_t seed) {
  Tensor t(DType::kF32, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0F, 1.0F);
  const std::int64_t features = shape[static_cast<std::size_t>(feature_axis)];
  std::int64_t inner = 1;
  for (std::size_t i = static_cast<std::size_t>(feature_axis) + 1; i < shape.size(); ++i)
    inner *= shape[i];
  constexpr int kFactors = 3;
  std::vector<float> mix(static_cast<std::size_t>(features * kFactors));
  for (float& m : mix) m = d(rng);
  const std::int64_t groups = t.numel() / (features * inner);
  for (std::int64_t g = 0; g < groups; ++g) {
    for (std::int64_t i = 0; i < inner; ++i) {
      float z[kFactors];
      for (float& f : z) f = d(rng);
      for (std::int64_t c = 0; c < features; ++c) {
        float v = 0.3F + 0.1F * d(rng);
        for (int f = 0; f < kFactors; ++f)
          v += mix[static_cast<std::size_t>(c * kFactors + f)] * z[f];
        t.data<float>()[(g * features + c) * inner + i] = v;
      }
    }
  }
  return t;
}

void check(const Graph& g, const Tensor& x, bool conv) {
  const std::vector<Target> targets = select_targets(g, {"Conv", "Gemm"}, {}, {});
  ASSERT_EQ(targets.size(), 1U);
  GramCollector grams(g, targets, nullptr);
  ASSERT_TRUE(grams.consume(0, "x", x).ok());
  const Tensor& w = *g.initializer("w");
  WeightOptions o;
  o.bits = 4;
  const std::vector<float> scales = weight_scales(w, 0, o);
  const int qmax = weight_qmax(o);
  EXPECT_EQ(qmax, 7);
  AdaRoundOptions ao;
  ao.steps = 1500;
  const AdaRoundResult r = adaround(w, targets[0], scales, qmax, grams.gram(0), ao);
  EXPECT_LT(r.error, 0.8 * r.nearest_error) << "reconstruction did not beat nearest rounding";

  // The same comparison on the data itself, and the codes' range.
  Tensor nearest(DType::kI8, w.shape());
  const std::int64_t k = w.numel() / w.shape()[0];
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    const float ratio = w.data<float>()[i] / scales[static_cast<std::size_t>(i / k)];
    nearest.data<std::int8_t>()[i] =
        static_cast<std::int8_t>(std::clamp(std::nearbyint(ratio), -7.0F, 7.0F));
    const int code = r.codes.data<std::int8_t>()[i];
    EXPECT_TRUE(code == static_cast<int>(std::floor(ratio)) ||
                code == static_cast<int>(std::ceil(ratio)) || std::abs(code) == qmax)
        << "weight " << i << ": " << ratio << " -> " << code;
  }
  const double learned = output_error(w, r.codes, scales, x, conv);
  const double plain = output_error(w, nearest, scales, x, conv);
  EXPECT_LT(learned, 0.8 * plain);
  // The Gram matrices see every column of this small input: same numbers, up to rounding.
  const double columns = static_cast<double>(grams.gram(0).columns);
  EXPECT_NEAR(learned / columns, r.error, 1e-6 * (1.0 + r.error));
}

TEST(AdaRound, BeatsNearestRoundingOnAGemm) {
  Graph g;
  g.add_input({"x", DType::kF32, true, true, {{256, ""}, {24, ""}}});
  g.set_initializer("w", test::normal_tensor({8, 24}, 1, 0.0F, 0.5F));
  Attributes a;
  a.set("transB", std::int64_t{1});
  g.add_node(test::make_node("fc", "Gemm", {"x", "w"}, {"y"}, a));
  g.add_output({"y", DType::kF32, true, true, {}});
  check(g, correlated({256, 24}, 1, 2), false);
}

TEST(AdaRound, BeatsNearestRoundingOnAPointwiseConv) {
  Graph g;
  g.add_input({"x", DType::kF32, true, true, {{4, ""}, {16, ""}, {6, ""}, {6, ""}}});
  g.set_initializer("w", test::normal_tensor({6, 16, 1, 1}, 3, 0.0F, 0.5F));
  g.add_node(test::make_node("conv", "Conv", {"x", "w"}, {"y"}));
  g.add_output({"y", DType::kF32, true, true, {}});
  check(g, correlated({4, 16, 6, 6}, 1, 4), true);
}

}  // namespace
}  // namespace act::quant
