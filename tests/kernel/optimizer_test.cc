// Optimizers and schedules against closed forms of their published update rules (constant
// gradients make them geometric series), and against convergence on a quadratic.
#include "act/kernel/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace act {
namespace {

Tensor filled(Shape shape, float v) {
  Tensor t(DType::kF32, std::move(shape));
  std::fill(t.data<float>(), t.data<float>() + t.numel(), v);
  return t;
}

std::vector<ParamGrad> one(float p, float g) {
  return {{"p", filled({3}, p), filled({3}, g)}};
}

TEST(Optimizer, SgdWithL2DecayIsOneGradientStep) {
  OptimizerConfig c;
  c.weight_decay = 0.1;
  Optimizer opt(c);
  auto pg = one(2.0F, 0.5F);
  opt.step(pg, 0.1);
  EXPECT_FLOAT_EQ(pg[0].param.data<float>()[0], 2.0F - 0.1F * (0.5F + 0.1F * 2.0F));
}

TEST(Optimizer, MomentumAndNesterovAccumulateAGeometricSeries) {
  for (bool nesterov : {false, true}) {
    OptimizerConfig c;
    c.kind = OptimizerConfig::Kind::kMomentum;
    c.momentum = 0.9;
    c.nesterov = nesterov;
    Optimizer opt(c);
    auto pg = one(0.0F, 1.0F);
    double want = 0.0;
    for (int k = 1; k <= 5; ++k) {
      opt.step(pg, 0.01);
      const double v = (1.0 - std::pow(0.9, k)) / 0.1;  // velocity after k steps
      want -= 0.01 * (nesterov ? 1.0 + 0.9 * v : v);
      EXPECT_NEAR(pg[0].param.data<float>()[1], want, 1e-6)
          << "step " << k << " nesterov " << nesterov;
    }
  }
}

TEST(Optimizer, AdamFirstStepsMoveByTheLearningRateAlongTheSign) {
  // With a constant gradient, bias-corrected m / sqrt(v) is exactly sign(g) every step.
  for (auto kind : {OptimizerConfig::Kind::kAdam, OptimizerConfig::Kind::kAdamW}) {
    OptimizerConfig c;
    c.kind = kind;
    c.epsilon = 0.0;
    Optimizer opt(c);
    std::vector<ParamGrad> pg{{"p", filled({2}, 1.0F), filled({2}, -3.0F)}};
    for (int k = 1; k <= 3; ++k) {
      opt.step(pg, 0.05);
      EXPECT_NEAR(pg[0].param.data<float>()[0], 1.0 + 0.05 * k, 1e-5) << "step " << k;
    }
    EXPECT_EQ(opt.steps(), 3);
  }
}

TEST(Optimizer, AdamWDecaysWeightsApartFromTheGradient) {
  OptimizerConfig c;
  c.kind = OptimizerConfig::Kind::kAdamW;
  c.weight_decay = 0.5;
  c.epsilon = 0.0;
  Optimizer opt(c);
  auto pg = one(2.0F, 1.0F);
  opt.step(pg, 0.1);
  // p * (1 - lr * wd) - lr * sign(g)
  EXPECT_NEAR(pg[0].param.data<float>()[0], 2.0 * (1.0 - 0.05) - 0.1, 1e-6);
}

TEST(Optimizer, EveryKindConvergesOnAQuadratic) {
  for (auto kind : {OptimizerConfig::Kind::kSgd, OptimizerConfig::Kind::kMomentum,
                    OptimizerConfig::Kind::kAdam, OptimizerConfig::Kind::kAdamW}) {
    OptimizerConfig c;
    c.kind = kind;
    Optimizer opt(c);
    std::vector<ParamGrad> pg{{"p", filled({4}, 5.0F), filled({4}, 0.0F)}};
    const float target[4] = {1.0F, -2.0F, 0.5F, 3.0F};
    for (int step = 0; step < 2000; ++step) {
      for (int i = 0; i < 4; ++i) {  // f = sum (p - t)^2
        pg[0].grad.data<float>()[i] = 2.0F * (pg[0].param.data<float>()[i] - target[i]);
      }
      opt.step(pg, kind == OptimizerConfig::Kind::kSgd || kind == OptimizerConfig::Kind::kMomentum
                       ? 0.01
                       : 0.05);
    }
    for (int i = 0; i < 4; ++i)
      EXPECT_NEAR(pg[0].param.data<float>()[i], target[i], 1e-2) << static_cast<int>(kind);
  }
}

TEST(Optimizer, BadGradientsAreNamedAndStateRoundTrips) {
  Optimizer opt({OptimizerConfig::Kind::kMomentum});
  std::vector<ParamGrad> bad{{"conv.w", filled({3}, 1.0F), filled({2}, 1.0F)}};
  try {
    opt.step(bad, 0.1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv.w"), std::string::npos) << e.what();
  }
  auto pg = one(1.0F, 1.0F);
  opt.step(pg, 0.1);
  Optimizer copy({OptimizerConfig::Kind::kMomentum});
  copy.load_state(opt.state(), opt.steps());
  auto pa = one(1.0F, 1.0F), pb = one(1.0F, 1.0F);
  opt.step(pa, 0.1);
  copy.step(pb, 0.1);
  EXPECT_EQ(pa[0].param.data<float>()[0], pb[0].param.data<float>()[0]);
}

TEST(Optimizer, ClipByGlobalNormScalesAllGradientsTogether) {
  std::vector<ParamGrad> pg{{"a", filled({1}, 0.0F), filled({1}, 3.0F)},
                            {"b", filled({1}, 0.0F), filled({1}, 4.0F)}};
  EXPECT_DOUBLE_EQ(clip_by_global_norm(pg, 1.0), 5.0);
  EXPECT_FLOAT_EQ(pg[0].grad.data<float>()[0], 0.6F);
  EXPECT_FLOAT_EQ(pg[1].grad.data<float>()[0], 0.8F);
  EXPECT_NEAR(clip_by_global_norm(pg, 10.0), 1.0, 1e-6);  // under the limit: untouched
  EXPECT_FLOAT_EQ(pg[1].grad.data<float>()[0], 0.8F);
}

TEST(LrSchedule, PiecewiseCosineExponentialAndWarmup) {
  const auto pw = piecewise_decay({10, 20}, {0.1, 0.01, 0.001});
  EXPECT_DOUBLE_EQ(pw->at(0), 0.1);
  EXPECT_DOUBLE_EQ(pw->at(9), 0.1);
  EXPECT_DOUBLE_EQ(pw->at(10), 0.01);
  EXPECT_DOUBLE_EQ(pw->at(25), 0.001);
  EXPECT_THROW(piecewise_decay({10}, {0.1}), Error);

  const auto cos = cosine_decay(0.1, 100);
  EXPECT_DOUBLE_EQ(cos->at(0), 0.1);
  EXPECT_NEAR(cos->at(50), 0.05, 1e-12);
  EXPECT_NEAR(cos->at(100), 0.0, 1e-12);
  EXPECT_NEAR(cos->at(200), 0.0, 1e-12);

  EXPECT_NEAR(exponential_decay(0.1, 0.5)->at(3), 0.0125, 1e-12);

  const auto wu = linear_warmup(constant_lr(0.1), 10, 0.0, 0.1);
  EXPECT_DOUBLE_EQ(wu->at(0), 0.0);
  EXPECT_NEAR(wu->at(5), 0.05, 1e-12);
  EXPECT_DOUBLE_EQ(wu->at(10), 0.1);
  EXPECT_DOUBLE_EQ(wu->at(1000), 0.1);
}

}  // namespace
}  // namespace act
