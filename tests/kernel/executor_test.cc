// Executor: taps and their callback, feed checking, early failure on unsupported ops, profiling.
#include "act/kernel/executor.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>
#include <set>

#include "act/kernel/graph.h"
#include "act/kernel/passes.h"
#include "error_of.h"
#include "kernel_test_util.h"

namespace act {
namespace {

constexpr std::int64_t kOpset = 17;

using test::make_node;

Tensor uniform(const Shape& shape, unsigned seed) {
  Tensor t(DType::kF32, shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0F, 1.0F);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

ValueInfo f32_input(const std::string& name, std::vector<Dim> dims) {
  ValueInfo v;
  v.name = name;
  v.dtype = DType::kF32;
  v.has_dtype = true;
  v.has_shape = true;
  v.shape = std::move(dims);
  return v;
}

// x[N,3,6,6] -> Conv -> c -> Relu -> r -> Mul(k) -> m -> Sigmoid -> y
// Every intermediate has exactly one reader, so without a tap each is freed mid-run.
Graph chain() {
  Graph g;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{3}, Dim{6}, Dim{6}}));
  g.set_initializer("w", uniform({4, 3, 3, 3}, 1));
  g.set_initializer("k", uniform({4, 1, 1}, 2));
  Attributes conv;
  conv.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  g.add_node(make_node("conv", "Conv", {"x", "w"}, {"c"}, conv));
  g.add_node(make_node("relu", "Relu", {"c"}, {"r"}));
  g.add_node(make_node("mul", "Mul", {"r", "k"}, {"m"}));
  g.add_node(make_node("sig", "Sigmoid", {"m"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  return g;
}

// The graph cut at `value`: `value` becomes the only output and what only fed the rest is gone.
Tensor compute_truncated(const Graph& full, const std::string& value, const Tensor& x) {
  Graph g = full;
  g.mutable_outputs().clear();
  g.add_output(ValueInfo{value});
  eliminate_dead_nodes(g);
  Executor ex(g, kOpset);
  return ex.run({{"x", x}}).outputs.at(0);
}

void expect_equal(const Tensor& got, const Tensor& want) {
  ASSERT_TRUE(got.defined());
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.shape(), want.shape());
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    ASSERT_EQ(got.get_as_double(i), want.get_as_double(i)) << "element " << i;
  }
}

// ---- taps

TEST(ExecutorTaps, TappedValuesEqualTheTruncatedGraph) {
  const Graph g = chain();
  const Tensor x = uniform({2, 3, 6, 6}, 3);
  ExecutorOptions opt;
  opt.taps = {"c", "m"};
  Executor ex(g, kOpset, opt);
  const RunResult r = ex.run({{"x", x}});
  ASSERT_EQ(r.tapped.size(), 2U);
  for (const std::string value : {"c", "m"}) {
    SCOPED_TRACE(value);
    ASSERT_EQ(r.tapped.count(value), 1U);
    expect_equal(r.tapped.at(value), compute_truncated(g, value, x));
  }
  // Tapping must not disturb the outputs.
  Executor plain(g, kOpset);
  expect_equal(r.outputs.at(0), plain.run({{"x", x}}).outputs.at(0));
}

TEST(ExecutorTaps, TapsAreFreshEachRun) {
  const Graph g = chain();
  ExecutorOptions opt;
  opt.taps = {"r"};
  Executor ex(g, kOpset, opt);
  const Tensor x1 = uniform({1, 3, 6, 6}, 4), x2 = uniform({1, 3, 6, 6}, 5);
  const RunResult r1 = ex.run({{"x", x1}});
  const RunResult r2 = ex.run({{"x", x2}});
  // Each result keeps its own tensors: the second run must not overwrite the first's.
  expect_equal(r1.tapped.at("r"), compute_truncated(g, "r", x1));
  expect_equal(r2.tapped.at("r"), compute_truncated(g, "r", x2));
}

TEST(ExecutorTaps, UnknownTapIsRejectedByName) {
  ExecutorOptions opt;
  opt.taps = {"no_such_value"};
  const std::string e = error_of([&] { Executor ex(chain(), kOpset, opt); });
  EXPECT_NE(e.find("no_such_value"), std::string::npos) << e;
}

TEST(ExecutorTaps, OnTapCalledOncePerTappedValuePerRun) {
  const Graph g = chain();
  std::map<std::string, int> calls;
  std::map<std::string, Tensor> seen;
  ExecutorOptions opt;
  opt.taps = {"c", "r"};
  opt.on_tap = [&](const std::string& value, const Tensor& t) {
    ++calls[value];
    seen[value] = t;
  };
  Executor ex(g, kOpset, opt);
  constexpr int kRuns = 3;
  for (int run = 0; run < kRuns; ++run) {
    const Tensor x = uniform({1, 3, 6, 6}, 10 + static_cast<unsigned>(run));
    const RunResult r = ex.run({{"x", x}});
    // The callback sees the same values the result returns, from this run.
    for (const std::string value : {"c", "r"}) {
      SCOPED_TRACE(value);
      expect_equal(seen.at(value), r.tapped.at(value));
    }
  }
  EXPECT_EQ(calls, (std::map<std::string, int>{{"c", kRuns}, {"r", kRuns}}));
}

TEST(ExecutorTaps, StreamedTapsGoToTheCallbackOnlyWithTheValuesKeptTapsHave) {
  const Graph g = chain();
  ExecutorOptions kept;
  kept.taps = {"x", "c", "r"};
  const Tensor x = uniform({2, 3, 6, 6}, 30);
  const RunResult want = Executor(g, kOpset, kept).run({{"x", x}});

  std::map<std::string, Tensor> seen;
  ExecutorOptions streamed = kept;
  streamed.stream_taps = true;
  streamed.on_tap = [&](const std::string& value, const Tensor& t) { seen[value] = t.clone(); };
  Executor ex(g, kOpset, streamed);
  for (int run = 0; run < 2; ++run) {
    seen.clear();
    const RunResult r = ex.run({{"x", x}});
    // Computed values stream; the feed, which no node computes, comes back with the result.
    ASSERT_EQ(seen.size(), 2U);
    for (const std::string value : {"c", "r"}) {
      SCOPED_TRACE(value);
      expect_equal(seen.at(value), want.tapped.at(value));
    }
    ASSERT_EQ(r.tapped.size(), 1U);
    expect_equal(r.tapped.at("x"), x);
    expect_equal(r.outputs.at(0), want.outputs.at(0));
  }
}

TEST(ExecutorTaps, OnTapWithoutTapsIsNeverCalled) {
  int calls = 0;
  ExecutorOptions opt;
  opt.on_tap = [&](const std::string&, const Tensor&) { ++calls; };
  Executor ex(chain(), kOpset, opt);
  const RunResult r = ex.run({{"x", uniform({1, 3, 6, 6}, 20)}});
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(r.tapped.empty());
}

TEST(ExecutorTaps, TapAllReturnsEveryValueAndCallsBackOncePerComputedValue) {
  Graph g = chain();
  // An omitted optional output ("" mask) is not a value: it must not be reported.
  g.add_node(make_node("drop", "Dropout", {"y"}, {"d", ""}));
  g.mutable_outputs().clear();
  g.add_output(ValueInfo{"d"});
  const Tensor x = uniform({2, 3, 6, 6}, 21);
  std::map<std::string, int> calls;
  ExecutorOptions opt;
  opt.tap_all = true;
  opt.on_tap = [&](const std::string& value, const Tensor&) { ++calls[value]; };
  Executor ex(g, kOpset, opt);
  ex.run({{"x", x}});
  const RunResult r = ex.run({{"x", x}});

  const std::vector<std::string> computed{"c", "r", "m", "y", "d"};
  std::map<std::string, int> want_calls;
  for (const auto& v : computed) want_calls[v] = 2;
  EXPECT_EQ(calls, want_calls);

  std::set<std::string> keys;
  for (const auto& [name, _] : r.tapped) keys.insert(name);
  // Feeds and weights are values too; tap_all is "keep everything".
  EXPECT_EQ(keys, (std::set<std::string>{"x", "w", "k", "c", "r", "m", "y", "d"}));
  for (const auto& v : computed) {
    SCOPED_TRACE(v);
    expect_equal(r.tapped.at(v), compute_truncated(g, v, x));
  }
  expect_equal(r.tapped.at("x"), x);
}

// ---- feeds

// Two inputs so the messages must say which one is wrong.
Graph two_inputs() {
  Graph g;
  g.add_input(f32_input("image", {Dim{-1, "N"}, Dim{4}}));
  g.add_input(f32_input("gain", {Dim{1}, Dim{4}}));
  g.add_node(make_node("mul", "Mul", {"image", "gain"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  return g;
}

TEST(ExecutorFeeds, MissingFeedNamesTheInput) {
  Executor ex(two_inputs(), kOpset);
  const std::string e = error_of([&] { ex.run({{"image", uniform({2, 4}, 30)}}); });
  EXPECT_NE(e.find("'gain'"), std::string::npos) << e;
  EXPECT_EQ(e.find("'image'"), std::string::npos) << e;
}

TEST(ExecutorFeeds, UnknownFeedNameIsRejected) {
  Executor ex(two_inputs(), kOpset);
  const std::string e = error_of([&] {
    ex.run({{"image", uniform({2, 4}, 31)},
            {"gain", uniform({1, 4}, 32)},
            {"gian", uniform({1, 4}, 33)}});
  });
  EXPECT_NE(e.find("'gian'"), std::string::npos) << e;
}

TEST(ExecutorFeeds, WrongDtypeNamesTheInputAndBothTypes) {
  Executor ex(two_inputs(), kOpset);
  const Tensor ints = Tensor::from_vector<std::int64_t>({1, 4}, {1, 2, 3, 4});
  const std::string e = error_of([&] { ex.run({{"image", uniform({2, 4}, 34)}, {"gain", ints}}); });
  EXPECT_NE(e.find("'gain'"), std::string::npos) << e;
  EXPECT_NE(e.find("f32"), std::string::npos) << e;
  EXPECT_NE(e.find("i64"), std::string::npos) << e;
}

TEST(ExecutorFeeds, WrongShapeNamesTheInputAndBothShapes) {
  Executor ex(two_inputs(), kOpset);
  // Known dim 4 gets 5; the symbolic batch dim accepts anything.
  std::string e = error_of([&] {
    ex.run({{"image", uniform({7, 5}, 35)}, {"gain", uniform({1, 4}, 36)}});
  });
  EXPECT_NE(e.find("'image'"), std::string::npos) << e;
  EXPECT_NE(e.find("[N, 4]"), std::string::npos) << e;
  EXPECT_NE(e.find("[7, 5]"), std::string::npos) << e;
  // Wrong rank.
  e = error_of([&] { ex.run({{"image", uniform({2, 4}, 37)}, {"gain", uniform({4}, 38)}}); });
  EXPECT_NE(e.find("'gain'"), std::string::npos) << e;
  EXPECT_NE(e.find("[1, 4]"), std::string::npos) << e;
  // The same executor still runs correct feeds after rejecting bad ones.
  EXPECT_NO_THROW(ex.run({{"image", uniform({3, 4}, 39)}, {"gain", uniform({1, 4}, 40)}}));
}

TEST(ExecutorFeeds, ShapeCheckCanBeTurnedOff) {
  // Broadcasting makes [1, 1] a valid gain for Mul even though the declared shape says [1, 4].
  ExecutorOptions opt;
  opt.check_input_shapes = false;
  Executor ex(two_inputs(), kOpset, opt);
  const RunResult r = ex.run({{"image", uniform({2, 4}, 41)}, {"gain", uniform({1, 1}, 42)}});
  EXPECT_EQ(r.outputs.at(0).shape(), (Shape{2, 4}));
  Executor strict(two_inputs(), kOpset);
  EXPECT_THROW(strict.run({{"image", uniform({2, 4}, 41)}, {"gain", uniform({1, 1}, 42)}}), Error);
}

TEST(ExecutorFeeds, PositionalRunChecksTheCount) {
  Executor ex(two_inputs(), kOpset);
  EXPECT_EQ(ex.feed_names(), (std::vector<std::string>{"image", "gain"}));
  EXPECT_THROW(ex.run(std::vector<Tensor>{uniform({2, 4}, 43)}), Error);
}

// ---- construction and kernel failures

TEST(ExecutorBuild, UnsupportedOpNamesOpAndNode) {
  Graph g;
  g.add_input(f32_input("x", {Dim{4}}));
  g.add_node(make_node("relu_1", "Relu", {"x"}, {"a"}));
  g.add_node(make_node("mystery_node", "FrobnicateXyz", {"a"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  const std::string e = error_of([&] { Executor ex(g, kOpset); });
  EXPECT_NE(e.find("FrobnicateXyz"), std::string::npos) << e;
  EXPECT_NE(e.find("mystery_node"), std::string::npos) << e;
}

TEST(ExecutorBuild, OpWithSchemaButNoKernelFailsAtConstruction) {
  // A plugin-style registry that knows the op's schema but has no kernel for it: the failure
  // belongs at construction, not halfway through the first run.
  OpRegistry registry;
  OpSchema schema;
  schema.name = "SchemaOnly";
  registry.add_schema(schema);
  Graph g;
  g.add_input(f32_input("x", {Dim{4}}));
  g.add_node(make_node("lonely", "SchemaOnly", {"x"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  const std::string e = error_of([&] { Executor ex(g, kOpset, {}, registry); });
  EXPECT_NE(e.find("SchemaOnly"), std::string::npos) << e;
  EXPECT_NE(e.find("lonely"), std::string::npos) << e;
}

TEST(ExecutorBuild, KernelFailureAtRunNamesTheNode) {
  Graph g;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{6}}));
  g.set_initializer("target", Tensor::from_vector<std::int64_t>({2}, {4, 4}));
  g.add_node(make_node("bad_reshape", "Reshape", {"x", "target"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  Executor ex(g, kOpset);
  const std::string e = error_of([&] { ex.run({{"x", uniform({2, 6}, 50)}}); });
  EXPECT_NE(e.find("bad_reshape"), std::string::npos) << e;
  EXPECT_NE(e.find("Reshape"), std::string::npos) << e;
}

// ---- profile

TEST(ExecutorProfile, OneEntryPerNodeCountingEveryRun) {
  const Graph g = chain();
  ExecutorOptions opt;
  opt.profile = true;
  Executor ex(g, kOpset, opt);
  for (const auto& p : ex.profile()) EXPECT_EQ(p.calls, 0) << p.node;  // nothing run yet
  constexpr int kRuns = 4;
  for (int i = 0; i < kRuns; ++i) ex.run({{"x", uniform({1, 3, 6, 6}, 60)}});
  const auto prof = ex.profile();
  ASSERT_EQ(prof.size(), g.nodes().size());
  ASSERT_EQ(prof.size(), ex.num_nodes());
  for (std::size_t i = 0; i < prof.size(); ++i) {
    SCOPED_TRACE(prof[i].node);
    EXPECT_EQ(prof[i].node, g.nodes()[i].name);
    EXPECT_EQ(prof[i].op_type, g.nodes()[i].op_type);
    EXPECT_EQ(prof[i].calls, kRuns);
    EXPECT_GE(prof[i].total_ms, 0.0);
  }
}

TEST(ExecutorProfile, EmptyUnlessRequested) {
  Executor ex(chain(), kOpset);
  ex.run({{"x", uniform({1, 3, 6, 6}, 61)}});
  EXPECT_TRUE(ex.profile().empty());
}

TEST(ExecutorProfile, FailedRunDoesNotCountTheFailingNode) {
  Graph g;
  g.add_input(f32_input("x", {Dim{-1, "N"}, Dim{-1, "M"}}));
  g.set_initializer("target", Tensor::from_vector<std::int64_t>({2}, {-1, 3}));
  g.add_node(make_node("relu", "Relu", {"x"}, {"r"}));
  g.add_node(make_node("reshape", "Reshape", {"r", "target"}, {"y"}));
  g.add_output(ValueInfo{"y"});
  ExecutorOptions opt;
  opt.profile = true;
  Executor ex(g, kOpset, opt);
  ex.run({{"x", uniform({2, 6}, 62)}});
  // 7 elements cannot be viewed as [-1, 3]: Reshape throws after Relu ran.
  EXPECT_THROW(ex.run({{"x", uniform({1, 7}, 63)}}), Error);
  const auto prof = ex.profile();
  ASSERT_EQ(prof.size(), 2U);
  EXPECT_EQ(prof[0].calls, 2);
  EXPECT_EQ(prof[1].calls, 1);
}

}  // namespace
}  // namespace act
