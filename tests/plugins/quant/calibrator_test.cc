// The calibration statistics behind QuantPost's algorithms, against values computed here by
// hand: abs_max and avg from per-batch maxima, and the histogram methods (hist, mse, KL)
// clipping a lone outlier that abs_max keeps.
#include "calibrator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace act::quant {
namespace {

Tensor values(const std::vector<float>& v) {
  Tensor t(DType::kF32, {static_cast<std::int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

// 1000 evenly spread values in (0, 1] plus one outlier at 100, in two batches.
void feed(Calibrator& c) {
  std::vector<float> a, b;
  for (int i = 1; i <= 500; ++i) a.push_back(static_cast<float>(i) / 1000.0F);
  for (int i = 501; i <= 1000; ++i) b.push_back(static_cast<float>(i) / 1000.0F);
  b.push_back(100.0F);
  ASSERT_TRUE(c.consume(0, "x", values(a)).ok());
  ASSERT_TRUE(c.consume(1, "x", values(b)).ok());
}

Calibrator calibrated(bool histogram) {
  Calibrator c(histogram);
  feed(c);
  return c;
}

TEST(Calibrator, AbsMaxAndAvgFollowTheBatchMaxima) {
  const Calibrator c = calibrated(false);
  EXPECT_FLOAT_EQ(c.threshold("x", "abs_max", 0.999), 100.0F);
  EXPECT_FLOAT_EQ(c.threshold("x", "avg", 0.999), (0.5F + 100.0F) / 2.0F);
  EXPECT_FLOAT_EQ(c.min_of("x"), 0.001F);
  EXPECT_EQ(c.batches_seen(), 2);
}

TEST(Calibrator, HistogramMethodsClipTheOutlier) {
  const Calibrator c = calibrated(true);
  // 99.9% of 1001 values lie at or below 1.0. The histogram's range started at the first
  // batch's 0.5 and doubled to 128 for the outlier, so the bins are 128 / 2048 wide.
  const float hist = c.threshold("x", "hist", 0.999);
  EXPECT_GE(hist, 0.999F);
  EXPECT_LE(hist, 1.0F + 128.0F / 2048.0F);
  // With all of the data in range, hist at 100% keeps everything.
  EXPECT_FLOAT_EQ(c.threshold("x", "hist", 1.0), 100.0F);
}

// A peaked bulk (quantiles of an exponential with mean 0.1, so almost all of it below 1) and
// five stray values up to 50. Keeping 50 would put the whole bulk into the first three of 127
// steps; KL sees the bulk's shape destroyed and gives the strays up. MSE weighs the strays'
// squared clipping error against the bulk's rounding error and clips only the largest.
// The output of a ReLU6 (a Clip to [0, 6]): most values exactly zero, the rest spread evenly
// up to 6. Zero is on every grid, so the zeros say nothing about where to clip; counted in
// KL's first bin they made any clip that merges that bin with its neighbours look costly,
// and KL took the smallest candidate, an eighth of the histogram's range (MobileNetV2-style
// model: 63% top-1 against 90% in float). With nothing above 6 to give up, KL should keep
// (nearly) all of the even bulk.
TEST(Calibrator, KlIgnoresTheZerosOfARelu) {
  std::vector<float> v(30000, 0.0F);
  for (int i = 1; i <= 10000; ++i) v.push_back(6.0F * static_cast<float>(i) / 10000.0F);
  Calibrator c(true);
  ASSERT_TRUE(c.consume(0, "x", values(v)).ok());
  const float kl = c.threshold("x", "KL", 1.0, 255);
  EXPECT_GT(kl, 5.0F) << "KL clipped an even bulk on [0, 6] at " << kl;
  EXPECT_LE(kl, 6.0F);
}

TEST(Calibrator, HistogramCriteriaTradeStraysForResolution) {
  std::vector<float> v;
  const int n = 20000;
  for (int i = 1; i <= n; ++i)
    v.push_back(-0.1F * std::log(1.0F - static_cast<float>(i) / (n + 1)));
  for (float stray : {10.0F, 20.0F, 30.0F, 40.0F, 50.0F}) v.push_back(stray);
  Calibrator c(true);
  ASSERT_TRUE(c.consume(0, "x", values(v)).ok());
  const float kl = c.threshold("x", "KL", 1.0, 127);
  EXPECT_LT(kl, 25.0F) << "KL should give up the strays";
  EXPECT_GT(kl, 0.5F) << "KL should keep the bulk";
  // MSE's cost at clip t, computed here directly from the samples: the chosen clip must cost
  // no more than keeping everything.
  auto cost = [&](float t) {
    const double step = t / 127.0;
    double e = 0.0;
    for (float x : v) e += x > t ? (x - t) * (x - t) : step * step / 12.0;
    return e;
  };
  const float mse = c.threshold("x", "mse", 1.0, 127);
  EXPECT_LT(mse, 50.0F);
  EXPECT_LE(cost(mse), cost(50.0F));
  // emd: the same trade in absolute error (the earth mover's distance of a monotone map),
  // which punishes the strays' clipping less than squared error does, so it clips harder.
  auto distance = [&](float t) {
    const double step = t / 127.0;
    double e = 0.0;
    for (float x : v) e += x > t ? x - t : step / 4.0;
    return e;
  };
  const float emd = c.threshold("x", "emd", 1.0, 127);
  EXPECT_LE(emd, mse);
  EXPECT_LE(distance(emd), distance(mse));
  EXPECT_LE(distance(emd), distance(50.0F));
}

// The histogram streams: when a later batch widens the range, earlier counts are merged into
// the wider bins exactly. Small values first (range 1, then doubled twice to 4) must give the
// same histogram, hence the same clips, as the wide batch first (range 4 from the start).
TEST(Calibrator, GrowingRangeMergesBinsExactly) {
  std::vector<float> small, wide;
  for (int i = 0; i < 3000; ++i) small.push_back(static_cast<float>(i % 1000) / 1000.0F);
  small.push_back(1.0F);
  for (int i = 0; i <= 400; ++i) wide.push_back(-static_cast<float>(i) / 100.0F);
  Calibrator grown(true), direct(true);
  ASSERT_TRUE(grown.consume(0, "x", values(small)).ok());
  ASSERT_TRUE(grown.consume(1, "x", values(wide)).ok());
  ASSERT_TRUE(direct.consume(0, "x", values(wide)).ok());
  ASSERT_TRUE(direct.consume(1, "x", values(small)).ok());
  for (const char* algo : {"hist", "mse", "KL"}) {
    for (double percent : {0.5, 0.9, 0.999}) {
      EXPECT_FLOAT_EQ(grown.threshold("x", algo, percent), direct.threshold("x", algo, percent))
          << algo << " " << percent;
    }
  }
  EXPECT_FLOAT_EQ(grown.threshold("x", "hist", 1.0), 4.0F);
  EXPECT_FLOAT_EQ(grown.min_of("x"), -4.0F);
  EXPECT_FLOAT_EQ(grown.max_of("x"), 1.0F);
}

TEST(Calibrator, RefusesNonFiniteActivationsAndUnknownValues) {
  Calibrator c;
  const sdk::Status s =
      c.consume(3, "conv1_out", values({1.0F, std::numeric_limits<float>::quiet_NaN()}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.error).find("activation 'conv1_out' is nan in batch 3"),
            std::string::npos)
      << s.error;
  EXPECT_THROW(c.threshold("never_seen", "abs_max", 1.0), Error);
}

}  // namespace
}  // namespace act::quant
