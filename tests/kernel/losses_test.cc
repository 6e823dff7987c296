// Losses: values against direct formulas on small inputs, and gradients through autograd
// against finite differences of the loss itself.
#include "act/kernel/losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "act/kernel/autograd.h"
#include "act/kernel/executor.h"
#include "act/kernel/passes.h"

namespace act {
namespace {

constexpr std::int64_t kOpset = 17;

Tensor random(Shape shape, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0F, 2.0F);
  Tensor t(DType::kF32, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// Rows of softmax(x / T) and log of it, in double.
std::vector<double> log_softmax_row(const float* x, int n, double t) {
  double mx = -1e300;
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i] / t);
  double s = 0.0;
  for (int i = 0; i < n; ++i) s += std::exp(x[i] / t - mx);
  std::vector<double> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = x[i] / t - mx - std::log(s);
  return out;
}

struct Built {
  Graph graph;
  std::string loss;
};

Built two_inputs(const std::function<std::string(Graph&)>& add_loss) {
  Built b;
  b.graph.add_input(ValueInfo::from_tensor("a", Tensor(DType::kF32, {3, 5})));
  b.graph.add_input(ValueInfo::from_tensor("b", Tensor(DType::kF32, {3, 5})));
  b.loss = add_loss(b.graph);
  b.graph.add_output(ValueInfo{b.loss});
  return b;
}

double run_loss(const Built& b, const Tensor& a, const Tensor& t) {
  return Executor(b.graph, kOpset).run({{"a", a}, {"b", t}}).outputs[0].data<float>()[0];
}

TEST(Losses, ValuesMatchTheirFormulas) {
  const Tensor a = random({3, 5}, 1), b = random({3, 5}, 2);
  // Soft labels for cross-entropy: softmax of b.
  Tensor labels(DType::kF32, {3, 5});
  for (int r = 0; r < 3; ++r) {
    const auto lp = log_softmax_row(b.data<float>() + r * 5, 5, 1.0);
    for (int i = 0; i < 5; ++i)
      labels.data<float>()[r * 5 + i] =
          static_cast<float>(std::exp(lp[static_cast<std::size_t>(i)]));
  }
  double ce = 0.0, mse = 0.0, kl = 0.0;
  const double t = 2.0;
  for (int r = 0; r < 3; ++r) {
    const auto lpa = log_softmax_row(a.data<float>() + r * 5, 5, 1.0);
    const auto lsa = log_softmax_row(a.data<float>() + r * 5, 5, t);
    const auto lsb = log_softmax_row(b.data<float>() + r * 5, 5, t);
    for (int i = 0; i < 5; ++i) {
      const auto k = static_cast<std::size_t>(i);
      ce -= labels.data<float>()[r * 5 + i] * lpa[k];
      const double d = a.data<float>()[r * 5 + i] - b.data<float>()[r * 5 + i];
      mse += d * d;
      kl += std::exp(lsb[k]) * (lsb[k] - lsa[k]);
    }
  }
  ce /= 3.0;
  mse /= 15.0;
  kl = kl / 3.0 * t * t;
  const Built bce = two_inputs([](Graph& g) { return add_cross_entropy(g, "a", "b"); });
  const Built bmse = two_inputs([](Graph& g) { return add_mse(g, "a", "b"); });
  const Built bkl = two_inputs([](Graph& g) { return add_soft_label_kl(g, "a", "b", 2.0F); });
  EXPECT_NEAR(run_loss(bce, a, labels), ce, 1e-5);
  EXPECT_NEAR(run_loss(bmse, a, b), mse, 1e-5);
  EXPECT_NEAR(run_loss(bkl, a, b), kl, 1e-5);
  EXPECT_THROW(two_inputs([](Graph& g) { return add_soft_label_kl(g, "a", "b", 0.0F); }), Error);
}

// Two losses of one kind in one graph (a distillation term per node) get their own names.
TEST(Losses, TwoOfAKindInOneGraphStayValidAndSeparate) {
  Graph g;
  g.add_input(ValueInfo::from_tensor("a", Tensor(DType::kF32, {3, 5})));
  g.add_input(ValueInfo::from_tensor("b", Tensor(DType::kF32, {3, 5})));
  const std::string first = add_mse(g, "a", "b");
  const std::string second = add_mse(g, "b", "b");
  EXPECT_NE(first, second);
  g.add_output(ValueInfo{first});
  g.add_output(ValueInfo{second});
  g.validate(&OpRegistry::global());
  const Tensor a = random({3, 5}, 1), b = random({3, 5}, 2);
  const RunResult r = Executor(g, kOpset).run({{"a", a}, {"b", b}});
  EXPECT_GT(r.outputs[0].data<float>()[0], 0.0F);
  EXPECT_EQ(r.outputs[1].data<float>()[0], 0.0F);
}

TEST(Losses, GradientsMatchFiniteDifferencesAndTheTeacherGetsNone) {
  const Tensor a = random({3, 5}, 3), b = random({3, 5}, 4);
  for (int which = 0; which < 3; ++which) {
    SCOPED_TRACE(which);
    Built built = two_inputs([&](Graph& g) {
      if (which == 0) return add_cross_entropy(g, "a", "b");
      if (which == 1) return add_mse(g, "a", "b");
      return add_soft_label_kl(g, "a", "b", 3.0F);
    });
    Graph full = built.graph;
    infer_shapes(full, kOpset);
    const auto back = build_backward(full, built.loss, {"a", "b"}, kOpset, OpRegistry::global());
    full.add_output(ValueInfo{back.grads.at("a")});
    full.add_output(ValueInfo{back.grads.at("b")});
    const auto outs = Executor(full, kOpset).run({{"a", a}, {"b", b}}).outputs;
    for (std::int64_t i = 0; i < a.numel(); ++i) {
      Tensor ap = a.clone(), am = a.clone();
      ap.data<float>()[i] += 1e-2F;
      am.data<float>()[i] -= 1e-2F;
      const double numeric = (run_loss(built, ap, b) - run_loss(built, am, b)) / 2e-2;
      ASSERT_NEAR(outs[1].data<float>()[i], numeric, 2e-3 + 2e-2 * std::fabs(numeric)) << i;
    }
    if (which == 2) {  // the teacher side is behind StopGradient
      for (std::int64_t i = 0; i < b.numel(); ++i) EXPECT_EQ(outs[2].data<float>()[i], 0.0F);
    }
  }
}

}  // namespace
}  // namespace act
