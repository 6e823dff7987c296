// The numbers of `act analyze quant` against values worked out by hand.
#include "act/host/layer_sensitivity.h"

#include <gtest/gtest.h>

#include <cmath>

#include "act/kernel/error.h"

namespace act::host {
namespace {

Tensor rows(std::initializer_list<float> values, std::int64_t samples) {
  Tensor t(DType::kF32, {samples, static_cast<std::int64_t>(values.size()) / samples});
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

TEST(LayerSensitivity, SqnrIsSignalOverNoiseInDecibels) {
  // signal 1 + 1 = 2, noise 0.1^2 + 0.1^2 = 0.02: 10 log10(100) = 20 dB.
  const OutputError e = compare_outputs(rows({1, 1}, 1), rows({1.1F, 0.9F}, 1));
  EXPECT_NEAR(e.sqnr_db, 20.0, 1e-4);
  // cos between (1, 1) and (1.1, 0.9): 2 / (sqrt 2 * sqrt 2.02).
  EXPECT_NEAR(e.cosine, 2.0 / std::sqrt(2.0 * 2.02), 1e-6);
}

TEST(LayerSensitivity, IdenticalOutputsHaveInfiniteSqnrAndCosineOne) {
  const OutputError e = compare_outputs(rows({1, -2, 3, 0}, 2), rows({1, -2, 3, 0}, 2));
  EXPECT_TRUE(std::isinf(e.sqnr_db));
  EXPECT_DOUBLE_EQ(e.cosine, 1.0);
}

TEST(LayerSensitivity, CosineIsTheMeanOverSamples) {
  // Sample 0 unchanged (1), sample 1 reversed (-1), sample 2 orthogonal (0): mean 0.
  const OutputError e = compare_outputs(rows({1, 0, 0, 1, 2, 0}, 3), rows({1, 0, 0, -1, 0, 3}, 3));
  EXPECT_NEAR(e.cosine, 0.0, 1e-12);
  // A zero sample against a zero sample agrees; against a nonzero one it does not.
  EXPECT_DOUBLE_EQ(compare_outputs(rows({0, 0}, 1), rows({0, 0}, 1)).cosine, 1.0);
  EXPECT_DOUBLE_EQ(compare_outputs(rows({0, 0}, 1), rows({0, 1}, 1)).cosine, 0.0);
}

TEST(LayerSensitivity, DifferentShapesAreRefused) {
  EXPECT_THROW(compare_outputs(rows({1, 2}, 1), rows({1, 2}, 2)), Error);
}

LayerSensitivity row(const char* key, double drop, double sqnr) {
  LayerSensitivity r;
  r.key = key;
  r.drop = drop;
  r.error.sqnr_db = sqnr;
  return r;
}

TEST(LayerSensitivity, RanksByDropThenSqnrWithLabels) {
  std::vector<LayerSensitivity> rs = {row("a", 0.1, 40), row("b", 1.0, 35), row("c", 0.1, 20),
                                      row("d", -0.3, 10)};
  rank_layers(rs, true);
  EXPECT_EQ(rs[0].key, "b");
  EXPECT_EQ(rs[1].key, "c");  // same drop as a, lower SQNR
  EXPECT_EQ(rs[2].key, "a");
  EXPECT_EQ(rs[3].key, "d");  // better than float: least sensitive however low its SQNR
}

TEST(LayerSensitivity, RanksBySqnrAloneWithoutLabels) {
  std::vector<LayerSensitivity> rs = {row("a", 0, 40), row("b", 0, 35), row("c", 0, 20)};
  rank_layers(rs, false);
  EXPECT_EQ(rs[0].key, "c");
  EXPECT_EQ(rs[1].key, "b");
  EXPECT_EQ(rs[2].key, "a");
}

TEST(LayerSensitivity, TargetIsTopOneWithLabelsElseSqnr) {
  SensitivityTarget t;
  t.min_top1 = 0.88;
  EXPECT_TRUE(t.met(0.88, 0.0));
  EXPECT_FALSE(t.met(0.8799, 100.0));
  t.by_metric = false;
  t.min_sqnr_db = 25.0;
  EXPECT_TRUE(t.met(-1.0, 25.0));
  EXPECT_FALSE(t.met(1.0, 24.9));
}

}  // namespace
}  // namespace act::host
