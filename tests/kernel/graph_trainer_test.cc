// GraphTrainer: weighted loss terms on top of the task loss, gradients that hooks edit before
// the update, frozen and statistics initializers left alone, and a state that resumes exactly.
#include "act/kernel/graph_trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kernel_test_util.h"

namespace act {
namespace {

constexpr std::int64_t kOpset = 17;
constexpr std::int64_t kBatch = 8;

using test::make_node;

Tensor random(Shape shape, std::mt19937& rng) {
  std::normal_distribution<float> n(0.0F, 0.5F);
  Tensor t(DType::kF32, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(rng);
  return t;
}

// x[N,4] -> MatMul w[4,3] -> Add b -> logits; plus "reg" = mean(w * w), a scalar loss term.
Graph linear_model() {
  std::mt19937 rng(3);
  Graph g;
  ValueInfo x;
  x.name = "x";
  x.has_dtype = x.has_shape = true;
  x.shape = {Dim{-1, "N"}, Dim{4, ""}};
  g.add_input(x);
  g.set_initializer("w", random({4, 3}, rng));
  g.set_initializer("b", random({3}, rng));
  g.add_node(make_node("mm", "MatMul", {"x", "w"}, {"mm"}));
  g.add_node(make_node("add", "Add", {"mm", "b"}, {"logits"}));
  g.add_node(make_node("sq", "Mul", {"w", "w"}, {"sq"}));
  Attributes keep;
  keep.set("keepdims", std::int64_t{0});
  g.add_node(make_node("reg", "ReduceMean", {"sq"}, {"reg"}, keep));
  g.add_output(ValueInfo{"logits"});
  return g;
}

std::map<std::string, Tensor> batch(unsigned seed) {
  std::mt19937 rng(seed);
  Tensor labels(DType::kF32, {kBatch, 3});
  std::fill(labels.data<float>(), labels.data<float>() + labels.numel(), 0.0F);
  for (std::int64_t i = 0; i < kBatch; ++i) labels.data<float>()[i * 3 + i % 3] = 1.0F;
  return {{"x", random({kBatch, 4}, rng)}, {GraphTrainer::kLabelsInput, labels}};
}

GraphTrainerOptions options(OptimizerConfig::Kind kind = OptimizerConfig::Kind::kSgd) {
  GraphTrainerOptions o;
  o.logits = "logits";
  o.loss_terms = {"reg"};
  o.batch_size = kBatch;
  o.optimizer.kind = kind;
  return o;
}

bool equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::equal(a.data<float>(), a.data<float>() + a.numel(), b.data<float>());
}

TEST(GraphTrainer, TotalIsTaskPlusWeightedTerms) {
  const Graph g = linear_model();
  GraphTrainer trainer(g, kOpset, options());
  const LossParts none = trainer.loss_only(batch(1), {0.0});
  const LossParts some = trainer.loss_only(batch(1), {2.5});
  ASSERT_EQ(some.terms.size(), 1U);
  EXPECT_NEAR(none.total, none.task, 1e-6);
  EXPECT_NEAR(some.total, some.task + 2.5 * some.terms[0], 1e-5);
  EXPECT_GT(some.terms[0], 0.0);
  // The term is mean(w^2), computed here independently.
  const Tensor& w = *g.initializer("w");
  double sum = 0.0;
  for (std::int64_t i = 0; i < w.numel(); ++i) sum += w.data<float>()[i] * w.data<float>()[i];
  EXPECT_NEAR(some.terms[0], sum / 12.0, 1e-5);
}

TEST(GraphTrainer, TermGradientAddsToTheTaskGradient) {
  const Graph g = linear_model();
  GraphTrainer a(g, kOpset, options());
  GraphTrainer b(g, kOpset, options());
  a.forward_backward(batch(1), {0.0});
  b.forward_backward(batch(1), {1.0});
  // d mean(w^2) / dw = 2 w / 12.
  const Tensor& w = *g.initializer("w");
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    EXPECT_NEAR(b.gradient("w")->data<float>()[i] - a.gradient("w")->data<float>()[i],
                2.0F * w.data<float>()[i] / 12.0F, 1e-5);
  }
}

TEST(GraphTrainer, EditedGradientsAreWhatTheOptimizerApplies) {
  const Graph g = linear_model();
  GraphTrainer trainer(g, kOpset, options());
  trainer.forward_backward(batch(1), {0.1});
  Tensor* gb = trainer.gradient("b");
  ASSERT_NE(gb, nullptr);
  std::fill(gb->data<float>(), gb->data<float>() + gb->numel(), 0.0F);
  trainer.apply(0.5);
  EXPECT_TRUE(equal(*trainer.parameter("b"), *g.initializer("b"))) << "zeroed gradient moved b";
  EXPECT_FALSE(equal(*trainer.parameter("w"), *g.initializer("w")));
}

TEST(GraphTrainer, FrozenAndUnusedInitializersAreNotTrained) {
  Graph g = linear_model();
  g.freeze("b");
  g.set_initializer("unused", Tensor(DType::kF32, {2}));
  GraphTrainer trainer(g, kOpset, options());
  EXPECT_EQ(trainer.trainable(), std::vector<std::string>{"w"});
  EXPECT_EQ(trainer.parameter("b"), nullptr);
}

TEST(GraphTrainer, WithoutLabelsTheTermsAloneAreMinimized) {
  const Graph g = linear_model();
  GraphTrainerOptions o = options();
  o.logits.clear();
  GraphTrainer trainer(g, kOpset, o);
  std::map<std::string, Tensor> feeds = batch(1);
  feeds.erase(GraphTrainer::kLabelsInput);
  const double first = trainer.forward_backward(feeds, {1.0}).total;
  trainer.apply(1.0);
  for (int i = 0; i < 20; ++i) {
    trainer.forward_backward(feeds, {1.0});
    trainer.apply(1.0);
  }
  EXPECT_LT(trainer.loss_only(feeds, {1.0}).total, 0.5 * first);
}

TEST(GraphTrainer, StateRestoredIntoAFreshTrainerContinuesBitForBit) {
  const Graph g = linear_model();
  GraphTrainer a(g, kOpset, options(OptimizerConfig::Kind::kAdam));
  for (unsigned s = 0; s < 3; ++s) {
    a.forward_backward(batch(s), {0.3});
    a.apply(0.05);
  }
  GraphTrainer b(g, kOpset, options(OptimizerConfig::Kind::kAdam));
  b.load_state(a.state(), a.steps());
  for (unsigned s = 3; s < 6; ++s) {
    a.forward_backward(batch(s), {0.3});
    a.apply(0.05);
    b.forward_backward(batch(s), {0.3});
    b.apply(0.05);
  }
  EXPECT_TRUE(equal(*a.parameter("w"), *b.parameter("w")));
  EXPECT_TRUE(equal(*a.parameter("b"), *b.parameter("b")));
}

TEST(GraphTrainer, RefusesNonFiniteGradientsAndBadTerms) {
  const Graph g = linear_model();
  GraphTrainer trainer(g, kOpset, options());
  trainer.forward_backward(batch(1), {0.1});
  trainer.gradient("w")->data<float>()[3] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(
      {
        try {
          trainer.apply(0.1);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("the gradient of 'w' is not finite"),
                    std::string::npos);
          throw;
        }
      },
      Error);
  EXPECT_TRUE(equal(*trainer.parameter("w"), *g.initializer("w"))) << "updated despite refusal";

  GraphTrainerOptions o = options();
  o.loss_terms = {"sq"};  // [4, 3], not a scalar
  EXPECT_THROW(GraphTrainer(g, kOpset, o), Error);
  o.loss_terms = {"nope"};
  EXPECT_THROW(GraphTrainer(g, kOpset, o), Error);
}

}  // namespace
}  // namespace act
