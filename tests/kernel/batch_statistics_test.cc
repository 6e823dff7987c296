// use_batch_statistics (the rewrite of inference-mode BatchNorm into training mode) and
// TrainStep with batch_statistics: running statistics after a step match a hand computation
// from the batch, the exported model is inference-mode again, and the loss falls.
#include "act/kernel/batch_statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "act/kernel/executor.h"
#include "act/kernel/train_step.h"
#include "kernel_test_util.h"

namespace act {
namespace {

constexpr std::int64_t kOpset = 17;
constexpr std::int64_t kIn = 2, kOut = 4, kSide = 6, kClasses = 3;

using test::make_node;

Tensor random(Shape shape, std::mt19937& rng, float mean, float scale) {
  std::normal_distribution<float> n(mean, scale);
  Tensor t(DType::kF32, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(rng);
  return t;
}

// x[N,2,6,6] -> Conv 3x3 pad 1 (4, bias) -> BatchNormalization -> Relu -> GAP -> Flatten ->
// Gemm (3 classes)
Graph conv_bn_net(std::mt19937& rng) {
  Graph g;
  ValueInfo x;
  x.name = "x";
  x.has_dtype = x.has_shape = true;
  x.shape = {Dim{-1, "N"}, Dim{kIn, ""}, Dim{kSide, ""}, Dim{kSide, ""}};
  g.add_input(x);
  g.set_initializer("w", random({kOut, kIn, 3, 3}, rng, 0.0F, 0.4F));
  g.set_initializer("b", random({kOut}, rng, 0.5F, 0.2F));
  g.set_initializer("gamma", random({kOut}, rng, 1.0F, 0.1F));
  g.set_initializer("beta", random({kOut}, rng, 0.0F, 0.1F));
  g.set_initializer("mean", random({kOut}, rng, 0.0F, 0.1F));
  g.set_initializer("var", random({kOut}, rng, 1.0F, 0.1F));
  g.set_initializer("fc_w", random({kClasses, kOut}, rng, 0.0F, 0.3F));
  g.set_initializer("fc_b", random({kClasses}, rng, 0.0F, 0.1F));
  Attributes pad;
  pad.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  Attributes tb;
  tb.set("transB", std::int64_t{1});
  g.add_node(make_node("conv", "Conv", {"x", "w", "b"}, {"c"}, pad));
  g.add_node(make_node("bn", "BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"n"}));
  g.add_node(make_node("relu", "Relu", {"n"}, {"r"}));
  g.add_node(make_node("gap", "GlobalAveragePool", {"r"}, {"gap"}));
  g.add_node(make_node("flat", "Flatten", {"gap"}, {"flat"}));
  g.add_node(make_node("fc", "Gemm", {"flat", "fc_w", "fc_b"}, {"logits"}, tb));
  g.add_output(ValueInfo{"logits"});
  return g;
}

// Noise images; class k < 2 brightens input channel k, class 2 brightens neither.
void batch(std::mt19937& rng, std::int64_t n, Tensor& images, Tensor& labels) {
  images = random({n, kIn, kSide, kSide}, rng, 0.0F, 0.5F);
  labels = Tensor(DType::kF32, {n, kClasses});
  std::fill(labels.data<float>(), labels.data<float>() + labels.numel(), 0.0F);
  std::uniform_int_distribution<int> pick(0, kClasses - 1);
  for (std::int64_t i = 0; i < n; ++i) {
    const int k = pick(rng);
    labels.data<float>()[i * kClasses + k] = 1.0F;
    if (k == kClasses - 1) continue;
    float* plane = images.data<float>() + (i * kIn + k) * kSide * kSide;
    for (std::int64_t p = 0; p < kSide * kSide; ++p) plane[p] += 1.0F;
  }
}

TEST(BatchStatistics, RewritesInferenceNodesAndNamesTheUpdates) {
  std::mt19937 rng(1);
  Graph g = conv_bn_net(rng);
  const auto updates = use_batch_statistics(g, 0.8F);
  ASSERT_EQ(updates.size(), 2U);
  EXPECT_EQ(updates[0].initializer, "mean");
  EXPECT_EQ(updates[1].initializer, "var");
  const Node& bn = g.nodes()[1];
  ASSERT_EQ(bn.outputs.size(), 3U);
  EXPECT_EQ(bn.outputs[1], updates[0].updated);
  EXPECT_EQ(bn.outputs[2], updates[1].updated);
  EXPECT_EQ(bn.attrs.get_int("training_mode", 0), 1);
  EXPECT_FLOAT_EQ(bn.attrs.get_float("momentum", 0.0F), 0.8F);
  // A second pass finds nothing left in inference mode.
  EXPECT_TRUE(use_batch_statistics(g).empty());

  // Statistics that are not initializers have nowhere to go: refused, graph untouched.
  Graph computed = conv_bn_net(rng);
  computed.add_node(make_node("copy", "Identity", {"mean"}, {"mean_copy"}));
  computed.mutable_nodes()[1].inputs[3] = "mean_copy";
  computed.topological_sort();
  EXPECT_THROW(use_batch_statistics(computed), Error);
  for (const auto& n : computed.nodes()) EXPECT_EQ(n.outputs.size(), 1U) << n.name;
  // Two nodes sharing one running statistic are refused too.
  Graph shared = conv_bn_net(rng);
  shared.add_node(
      make_node("bn2", "BatchNormalization", {"n", "gamma", "beta", "mean", "var"}, {"n2"}));
  EXPECT_THROW(use_batch_statistics(shared), Error);
  EXPECT_THROW(use_batch_statistics(g, 1.5F), Error);
}

TEST(TrainStep, BatchStatisticsUpdateRunningStatsAndTrain) {
  std::mt19937 rng(3);
  const Graph model = conv_bn_net(rng);
  const Tensor mean0 = model.initializer("mean")->clone();
  const Tensor var0 = model.initializer("var")->clone();
  const Tensor w = model.initializer("w")->clone();
  const Tensor b = model.initializer("b")->clone();
  constexpr std::int64_t kBatch = 8;
  TrainStepOptions o;
  o.batch_size = kBatch;
  o.batch_statistics = true;
  o.optimizer.kind = OptimizerConfig::Kind::kMomentum;
  TrainStep train(model, kOpset, "x", "logits", o);
  for (const auto& t : train.trainable()) EXPECT_TRUE(t != "mean" && t != "var") << t;

  Tensor images, labels;
  batch(rng, kBatch, images, labels);
  train.step(images, labels, 0.05);
  // The convolution's output by hand (weights before the update), then its batch mean and
  // biased variance per channel; running = 0.9 running + 0.1 batch.
  const float* xd = images.data<float>();
  const Graph trained = train.model();
  for (std::int64_t m = 0; m < kOut; ++m) {
    double sum = 0.0, sq = 0.0;
    std::vector<double> vals;
    for (std::int64_t n = 0; n < kBatch; ++n) {
      for (std::int64_t h = 0; h < kSide; ++h) {
        for (std::int64_t x = 0; x < kSide; ++x) {
          double v = b.data<float>()[m];
          for (std::int64_t c = 0; c < kIn; ++c) {
            for (std::int64_t kh = 0; kh < 3; ++kh) {
              for (std::int64_t kw = 0; kw < 3; ++kw) {
                const std::int64_t ih = h + kh - 1, iw = x + kw - 1;
                if (ih < 0 || ih >= kSide || iw < 0 || iw >= kSide) continue;
                v += static_cast<double>(w.data<float>()[((m * kIn + c) * 3 + kh) * 3 + kw]) *
                     xd[((n * kIn + c) * kSide + ih) * kSide + iw];
              }
            }
          }
          vals.push_back(v);
          sum += v;
        }
      }
    }
    const double mean = sum / static_cast<double>(vals.size());
    for (double v : vals) sq += (v - mean) * (v - mean);
    const double var = sq / static_cast<double>(vals.size());
    const double want_mean = 0.9 * mean0.data<float>()[m] + 0.1 * mean;
    const double want_var = 0.9 * var0.data<float>()[m] + 0.1 * var;
    EXPECT_NEAR(trained.initializer("mean")->data<float>()[m], want_mean, 1e-5) << m;
    EXPECT_NEAR(trained.initializer("var")->data<float>()[m], want_var, 1e-5 * (1 + var)) << m;
    // The caller's statistics are untouched.
    EXPECT_EQ(model.initializer("mean")->data<float>()[m], mean0.data<float>()[m]);
    EXPECT_EQ(model.initializer("var")->data<float>()[m], var0.data<float>()[m]);
  }
  // The exported model normalizes with its (updated) statistics again, and runs.
  for (const auto& n : trained.nodes()) {
    if (n.op_type != "BatchNormalization") continue;
    EXPECT_EQ(n.attrs.get_int("training_mode", 0), 0);
    EXPECT_EQ(n.outputs.size(), 1U);
  }
  Executor infer(trained, kOpset);
  EXPECT_EQ(infer.run({{"x", images}}).outputs[0].shape(), (Shape{kBatch, kClasses}));

  double first = 0.0, last = 0.0;
  for (int s = 0; s < 80; ++s) {
    batch(rng, kBatch, images, labels);
    const double loss = train.step(images, labels, 0.05);
    if (s < 10) first += loss / 10;
    if (s >= 70) last += loss / 10;
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

}  // namespace
}  // namespace act
