// TrainStep on a small CNN and a synthetic task a CNN can learn (which quadrant of the image is
// bright): the loss falls, the caller's weights are untouched, bad inputs are refused.
#include "act/kernel/train_step.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kernel_test_util.h"

namespace act {
namespace {

constexpr std::int64_t kOpset = 17;

Tensor random(Shape shape, std::mt19937& rng, float scale) {
  std::normal_distribution<float> n(0.0F, scale);
  Tensor t(DType::kF32, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(rng);
  return t;
}

using test::make_node;

// x[N,1,8,8] -> Conv 3x3 (8) -> Relu -> MaxPool 2 -> Conv 3x3 (8) -> Relu -> GAP -> Flatten
// -> Gemm (4 classes)
Graph small_cnn(std::mt19937& rng) {
  Graph g;
  ValueInfo x;
  x.name = "x";
  x.has_dtype = x.has_shape = true;
  x.shape = {Dim{-1, "N"}, Dim{1, ""}, Dim{8, ""}, Dim{8, ""}};
  g.add_input(x);
  g.set_initializer("w1", random({8, 1, 3, 3}, rng, 0.5F));
  g.set_initializer("b1", random({8}, rng, 0.1F));
  g.set_initializer("w2", random({8, 8, 3, 3}, rng, 0.2F));
  g.set_initializer("fc_w", random({4, 8}, rng, 0.3F));
  g.set_initializer("fc_b", random({4}, rng, 0.1F));
  Attributes pad;
  pad.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  Attributes pool;
  pool.set("kernel_shape", std::vector<std::int64_t>{2, 2});
  pool.set("strides", std::vector<std::int64_t>{2, 2});
  Attributes tb;
  tb.set("transB", std::int64_t{1});
  g.add_node(make_node("c1", "Conv", {"x", "w1", "b1"}, {"c1"}, pad));
  g.add_node(make_node("r1", "Relu", {"c1"}, {"r1"}));
  g.add_node(make_node("p1", "MaxPool", {"r1"}, {"p1"}, pool));
  g.add_node(make_node("c2", "Conv", {"p1", "w2"}, {"c2"}, pad));
  g.add_node(make_node("r2", "Relu", {"c2"}, {"r2"}));
  g.add_node(make_node("gap", "GlobalAveragePool", {"r2"}, {"gap"}));
  g.add_node(make_node("flat", "Flatten", {"gap"}, {"flat"}));
  g.add_node(make_node("logits", "Gemm", {"flat", "fc_w", "fc_b"}, {"logits"}, tb));
  g.add_output(ValueInfo{"logits"});
  return g;
}

// A batch of noise images with one bright quadrant; the label is the quadrant.
void batch(std::mt19937& rng, std::int64_t n, Tensor& images, Tensor& labels) {
  images = random({n, 1, 8, 8}, rng, 0.3F);
  labels = Tensor(DType::kF32, {n, 4});
  std::fill(labels.data<float>(), labels.data<float>() + labels.numel(), 0.0F);
  std::uniform_int_distribution<int> q(0, 3);
  for (std::int64_t i = 0; i < n; ++i) {
    const int k = q(rng);
    labels.data<float>()[i * 4 + k] = 1.0F;
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) {
        images.data<float>()[i * 64 + (r + (k / 2) * 4) * 8 + c + (k % 2) * 4] += 1.0F;
      }
    }
  }
}

TEST(TrainStep, LearnsASyntheticTaskAndLeavesTheCallersWeightsAlone) {
  std::mt19937 rng(7);
  const Graph model = small_cnn(rng);
  const Tensor w1_before = model.initializer("w1")->clone();
  TrainStepOptions o;
  o.batch_size = 16;
  o.optimizer.kind = OptimizerConfig::Kind::kAdam;
  TrainStep train(model, kOpset, "x", "logits", o);
  EXPECT_EQ(train.trainable().size(), 5U);
  EXPECT_GT(train.backward_nodes(), 10U);
  double first = 0.0, last = 0.0;
  for (int s = 0; s < 150; ++s) {
    Tensor images, labels;
    batch(rng, 16, images, labels);
    const double loss = train.step(images, labels, 0.01);
    if (s < 10) first += loss / 10;
    if (s >= 140) last += loss / 10;
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
  // The caller's graph is untouched; the trained copy moved.
  const Tensor& w1 = *model.initializer("w1");
  for (std::int64_t i = 0; i < w1.numel(); ++i)
    EXPECT_EQ(w1.data<float>()[i], w1_before.data<float>()[i]);
  const Graph trained = train.model();
  float moved = 0.0F;
  for (std::int64_t i = 0; i < w1.numel(); ++i) {
    moved += std::fabs(trained.initializer("w1")->data<float>()[i] - w1.data<float>()[i]);
  }
  EXPECT_GT(moved, 0.1F);
}

TEST(TrainStep, FrozenWeightsStayAndNonFiniteLossStops) {
  std::mt19937 rng(8);
  const Graph model = small_cnn(rng);
  TrainStepOptions o;
  o.batch_size = 4;
  o.trainable = {"fc_w", "fc_b"};
  TrainStep train(model, kOpset, "x", "logits", o);
  Tensor images, labels;
  batch(rng, 4, images, labels);
  train.step(images, labels, 0.1);
  const Graph trained = train.model();
  const Tensor& w1 = *trained.initializer("w1");
  for (std::int64_t i = 0; i < w1.numel(); ++i) {
    EXPECT_EQ(w1.data<float>()[i], model.initializer("w1")->data<float>()[i]);
  }
  labels.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();  // a NaN loss
  EXPECT_THROW(train.step(images, labels, 0.1), Error);
  TrainStepOptions bad = o;
  bad.trainable = {"no_such_weight"};
  EXPECT_THROW(TrainStep(model, kOpset, "x", "logits", bad), Error);
  EXPECT_THROW(TrainStep(model, kOpset, "nope", "logits", o), Error);
}

}  // namespace
}  // namespace act
