// Reductions, ArgMax/ArgMin and Softmax/LogSoftmax through the executor, against loops here.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "act/kernel/executor.h"
#include "act/kernel/passes.h"
#include "kernel_test_util.h"

namespace act {
namespace {

Tensor run1(const std::string& op, const std::vector<Tensor>& inputs, Attributes attrs = {},
            std::int64_t opset = 13) {
  return test::run_node(op, inputs, attrs, 1, opset)[0];
}

Attributes attrs_with(std::vector<std::int64_t> axes, std::int64_t keepdims) {
  Attributes a;
  if (!axes.empty()) a.set("axes", axes);
  a.set("keepdims", keepdims);
  return a;
}

Tensor iota_f32(Shape shape, float scale = 1.0F, float offset = 0.0F) {
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 1013) * scale + offset;
  return Tensor::from_vector<float>(std::move(shape), v);
}

// Reference reduction over a set of axes of a 3-D tensor (d0, d1, d2), any combination.
std::vector<double> ref_reduce3(const Tensor& x, std::vector<bool> red, const char* kind) {
  const Shape& s = x.shape();
  const std::int64_t o0 = red[0] ? 1 : s[0], o1 = red[1] ? 1 : s[1], o2 = red[2] ? 1 : s[2];
  std::vector<double> out(static_cast<std::size_t>(o0 * o1 * o2),
                          std::string(kind) == "max" ? -1e300 : 0.0);
  std::vector<std::int64_t> count(out.size(), 0);
  for (std::int64_t i = 0; i < s[0]; ++i) {
    for (std::int64_t j = 0; j < s[1]; ++j) {
      for (std::int64_t k = 0; k < s[2]; ++k) {
        const double v = x.get_as_double((i * s[1] + j) * s[2] + k);
        const std::size_t o = static_cast<std::size_t>(
            ((red[0] ? 0 : i) * o1 + (red[1] ? 0 : j)) * o2 + (red[2] ? 0 : k));
        if (std::string(kind) == "max") {
          out[o] = std::max(out[o], v);
        } else {
          out[o] += std::string(kind) == "sumsq" ? v * v : v;
        }
        ++count[o];
      }
    }
  }
  if (std::string(kind) == "mean") {
    for (std::size_t o = 0; o < out.size(); ++o) out[o] /= static_cast<double>(count[o]);
  }
  return out;
}

TEST(OpsReduce, AllAxisCombinationsMatchReference) {
  const Tensor x = iota_f32({3, 4, 5}, 0.25F, -2.0F);
  const std::vector<std::vector<std::int64_t>> axis_sets = {{0},    {1},    {2},     {0, 1},
                                                            {1, 2}, {0, 2}, {-1, 0}, {0, 1, 2}};
  for (const auto& axes : axis_sets) {
    std::vector<bool> red(3, false);
    for (auto a : axes) red[static_cast<std::size_t>(a < 0 ? a + 3 : a)] = true;
    for (const char* kind : {"sum", "mean", "max", "sumsq"}) {
      const std::string op = std::string(kind) == "sum"    ? "ReduceSum"
                             : std::string(kind) == "mean" ? "ReduceMean"
                             : std::string(kind) == "max"  ? "ReduceMax"
                                                           : "ReduceSumSquare";
      Tensor y;
      if (op == "ReduceSum") {  // opset 13: axes as an input
        y = run1(
            op,
            {x, Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(axes.size())}, axes)},
            attrs_with({}, 0));
      } else {
        y = run1(op, {x}, attrs_with(axes, 0));
      }
      const auto want = ref_reduce3(x, red, kind);
      ASSERT_EQ(y.numel(), static_cast<std::int64_t>(want.size())) << op;
      EXPECT_EQ(y.rank(), 3 - static_cast<int>(std::count(red.begin(), red.end(), true))) << op;
      for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_NEAR(y.data<float>()[i], want[i], 1e-4 * (1 + std::fabs(want[i])))
            << op << " axes " << axes.size() << " at " << i;
      }
    }
  }
}

TEST(OpsReduce, KeepdimsEmptyAxesAndNoop) {
  const Tensor x = iota_f32({2, 3});
  Tensor y = run1("ReduceMean", {x}, attrs_with({1}, 1));
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_FLOAT_EQ(y.data<float>()[1], 4.0F);
  y = run1("ReduceMax", {x}, attrs_with({}, 1));  // no axes: everything
  EXPECT_EQ(y.shape(), (Shape{1, 1}));
  EXPECT_EQ(y.data<float>()[0], 5.0F);
  y = run1("ReduceSum", {x}, attrs_with({}, 0));  // opset 13, axes input omitted
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(y.data<float>()[0], 15.0F);
  Attributes noop = attrs_with({}, 1);
  noop.set("noop_with_empty_axes", std::int64_t{1});
  y = run1("ReduceSum", {x, Tensor::from_vector<std::int64_t>({0}, {})}, noop);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.data<float>()[4], 4.0F);
  // ReduceSum before opset 13 took axes as an attribute.
  y = run1("ReduceSum", {x}, attrs_with({0}, 0), 11);
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_EQ(y.data<float>()[2], 7.0F);
  // Opset 18 moves every Reduce*'s axes to an input.
  y = run1("ReduceMean", {x, Tensor::from_vector<std::int64_t>({1}, {0})}, attrs_with({}, 0), 18);
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_FLOAT_EQ(y.data<float>()[0], 1.5F);
  EXPECT_THROW(run1("ReduceMean", {x}, attrs_with({2}, 1)), Error);
}

TEST(OpsReduce, IntegerReductions) {
  const Tensor x = Tensor::from_vector<std::int64_t>({2, 3}, {5, -2, 9, 1LL << 50, 0, -7});
  Tensor y = run1("ReduceSum", {x, Tensor::from_vector<std::int64_t>({1}, {1})}, attrs_with({}, 0));
  EXPECT_EQ(y.data<std::int64_t>()[0], 12);
  EXPECT_EQ(y.data<std::int64_t>()[1], (1LL << 50) - 7);
  y = run1("ReduceMax", {x}, attrs_with({0}, 1));
  EXPECT_EQ(y.data<std::int64_t>()[0], 1LL << 50);
  EXPECT_EQ(y.data<std::int64_t>()[2], 9);
  y = run1("ReduceMin", {x}, attrs_with({1}, 0));
  EXPECT_EQ(y.data<std::int64_t>()[0], -2);
  y = run1("ReduceProd", {Tensor::from_vector<std::int32_t>({4}, {1, 2, 3, 4})}, attrs_with({}, 0));
  EXPECT_EQ(y.data<std::int32_t>()[0], 24);
}

TEST(OpsReduce, LargeTensorsUseEveryPath) {
  // Last axis (lane accumulators), first axis with a wide inner (blocked), and a middle axis.
  const Tensor x = iota_f32({64, 40, 300}, 0.001F, -0.3F);
  for (std::int64_t axis : {2, 0, 1}) {
    std::vector<bool> red(3, false);
    red[static_cast<std::size_t>(axis)] = true;
    const Tensor y =
        run1("ReduceSum", {x, Tensor::from_vector<std::int64_t>({1}, {axis})}, attrs_with({}, 1));
    const auto want = ref_reduce3(x, red, "sum");
    ASSERT_EQ(y.numel(), static_cast<std::int64_t>(want.size()));
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(y.data<float>()[i], want[i], 1e-3 * (1 + std::fabs(want[i])))
          << axis << " at " << i;
    }
  }
}

TEST(OpsReduce, ArgMaxTiesAndAxes) {
  const Tensor x = Tensor::from_vector<float>({2, 3}, {2, 5, 5, 7, 1, 7});
  Attributes a;
  a.set("axis", std::int64_t{1});
  a.set("keepdims", std::int64_t{0});
  Tensor y = run1("ArgMax", {x}, a);
  ASSERT_EQ(y.dtype(), DType::kI64);
  EXPECT_EQ(y.shape(), (Shape{2}));
  EXPECT_EQ(y.data<std::int64_t>()[0], 1);
  EXPECT_EQ(y.data<std::int64_t>()[1], 0);
  a.set("select_last_index", std::int64_t{1});
  y = run1("ArgMax", {x}, a);
  EXPECT_EQ(y.data<std::int64_t>()[0], 2);
  EXPECT_EQ(y.data<std::int64_t>()[1], 2);
  Attributes b;  // default axis 0, keepdims 1
  y = run1("ArgMax", {Tensor::from_vector<std::int32_t>({2, 3}, {2, 5, 9, 7, 1, 8})}, b);
  EXPECT_EQ(y.shape(), (Shape{1, 3}));
  EXPECT_EQ(
      std::vector<std::int64_t>(y.values<std::int64_t>().begin(), y.values<std::int64_t>().end()),
      (std::vector<std::int64_t>{1, 0, 0}));
  b.set("axis", std::int64_t{-1});
  y = run1("ArgMin", {Tensor::from_vector<std::int64_t>({2, 3}, {2, 5, 9, 7, 1, 8})}, b);
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(y.data<std::int64_t>()[0], 0);
  EXPECT_EQ(y.data<std::int64_t>()[1], 1);
  b.set("axis", std::int64_t{2});
  EXPECT_THROW(run1("ArgMax", {x}, b), Error);
}

// Reference softmax over [outer, n, inner] with double math.
std::vector<double> ref_softmax(const Tensor& x, std::int64_t outer, std::int64_t n,
                                std::int64_t inner, bool log) {
  std::vector<double> out(static_cast<std::size_t>(x.numel()));
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      double m = -1e300, s = 0;
      for (std::int64_t r = 0; r < n; ++r)
        m = std::max(m, x.get_as_double((o * n + r) * inner + i));
      for (std::int64_t r = 0; r < n; ++r)
        s += std::exp(x.get_as_double((o * n + r) * inner + i) - m);
      for (std::int64_t r = 0; r < n; ++r) {
        const double v = x.get_as_double((o * n + r) * inner + i) - m;
        out[static_cast<std::size_t>((o * n + r) * inner + i)] =
            log ? v - std::log(s) : std::exp(v) / s;
      }
    }
  }
  return out;
}

TEST(OpsReduce, SoftmaxAndLogSoftmaxAllAxes) {
  const Tensor x = iota_f32({3, 4, 5}, 0.37F, -9.0F);
  struct Case {
    std::int64_t opset;
    std::int64_t axis;
    bool has_axis;
    std::int64_t outer, n, inner;
  };
  const std::vector<Case> cases = {{13, 0, true, 1, 3, 20},
                                   {13, 1, true, 3, 4, 5},
                                   {13, 2, true, 12, 5, 1},
                                   {13, -1, false, 12, 5, 1},
                                   {13, -2, true, 3, 4, 5},
                                   // Before 13 the input is coerced to 2-D at axis (default 1).
                                   {11, 1, false, 3, 20, 1},
                                   {11, 0, true, 1, 60, 1},
                                   {11, 2, true, 12, 5, 1}};
  for (const auto& c : cases) {
    for (bool log : {false, true}) {
      Attributes a;
      if (c.has_axis) a.set("axis", c.axis);
      const Tensor y = run1(log ? "LogSoftmax" : "Softmax", {x}, a, c.opset);
      ASSERT_EQ(y.shape(), x.shape());
      const auto want = ref_softmax(x, c.outer, c.n, c.inner, log);
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(y.data<float>()[i], want[i], 1e-6 + 1e-5 * std::fabs(want[i]))
            << (log ? "LogSoftmax" : "Softmax") << " opset " << c.opset << " axis " << c.axis
            << " at " << i;
      }
    }
  }
}

TEST(OpsReduce, SoftmaxIsStableForLargeInputs) {
  const Tensor x = Tensor::from_vector<float>({1, 3}, {10000, 10001, 10002});
  const Tensor y = run1("Softmax", {x});
  const Tensor l = run1("LogSoftmax", {x});
  const double s = 1 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(y.data<float>()[2], 1 / s, 1e-6);
  EXPECT_NEAR(l.data<float>()[0], -2 - std::log(s), 1e-5);
  // A long row crosses the lane-accumulator boundary.
  const Tensor big = iota_f32({2, 1000}, 0.01F);
  const Tensor yb = run1("Softmax", {big});
  const auto want = ref_softmax(big, 2, 1000, 1, false);
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(yb.data<float>()[i], want[i], 1e-7 + 1e-5 * want[i]);
}

TEST(OpsReduce, InferenceShapes) {
  Graph g;
  ValueInfo in;
  in.name = "x";
  in.dtype = DType::kF32;
  in.has_dtype = in.has_shape = true;
  in.shape = {Dim{-1, "N"}, Dim{3, ""}, Dim{4, ""}};
  g.add_input(in);
  g.set_initializer("axes", Tensor::from_vector<std::int64_t>({1}, {-1}));
  Node sum{"s", "ReduceSum", "", {"x", "axes"}, {"s_out"}, {}, ""};
  sum.attrs.set("keepdims", std::int64_t{0});
  Node mean{"m", "ReduceMean", "", {"x"}, {"m_out"}, {}, ""};
  mean.attrs.set("axes", std::vector<std::int64_t>{1});
  Node arg{"a", "ArgMax", "", {"x"}, {"a_out"}, {}, ""};
  arg.attrs.set("axis", std::int64_t{2});
  Node sm{"sm", "Softmax", "", {"x"}, {"sm_out"}, {}, ""};
  for (auto& n : {sum, mean, arg, sm}) g.add_node(n);
  infer_shapes(g, 13);
  const ValueInfo* s = g.value_info("s_out");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->shape, (std::vector<Dim>{Dim{-1, "N"}, Dim{3, ""}}));
  const ValueInfo* m = g.value_info("m_out");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->shape, (std::vector<Dim>{Dim{-1, "N"}, Dim{1, ""}, Dim{4, ""}}));
  const ValueInfo* a = g.value_info("a_out");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kI64);
  EXPECT_EQ(a->shape, (std::vector<Dim>{Dim{-1, "N"}, Dim{3, ""}, Dim{1, ""}}));
  const ValueInfo* o = g.value_info("sm_out");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->shape, in.shape);
}

}  // namespace
}  // namespace act
