// Elementwise ops (unary math, broadcast binary, compare, Where, Expand) run through the
// executor; expectations are computed here with std:: math and explicit index arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "act/kernel/executor.h"
#include "act/kernel/passes.h"
#include "kernel_test_util.h"

namespace act {
namespace {

// Runs one node whose inputs are fed (an undefined Tensor marks an omitted optional input).
Tensor run1(const std::string& op, const std::vector<Tensor>& inputs, Attributes attrs = {},
            std::int64_t opset = 17) {
  return test::run_node(op, inputs, attrs, 1, opset)[0];
}

ValueInfo info(DType t, std::vector<std::int64_t> dims) {
  ValueInfo v;
  v.dtype = t;
  v.has_dtype = true;
  v.has_shape = true;
  for (auto d : dims) v.shape.push_back(Dim{d, ""});
  return v;
}

// Infers the output of one node from input infos (and constants, by input index).
ValueInfo infer1(const std::string& op, std::vector<ValueInfo> ins, Attributes attrs = {},
                 std::map<std::size_t, Tensor> consts = {}, std::int64_t opset = 17) {
  Graph g;
  Node n;
  n.name = "n";
  n.op_type = op;
  n.attrs = std::move(attrs);
  for (std::size_t i = 0; i < ins.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    n.inputs.push_back(name);
    if (consts.count(i)) {
      g.set_initializer(name, consts[i]);
    } else {
      ins[i].name = name;
      g.add_input(ins[i]);
    }
  }
  n.outputs = {"y"};
  g.add_node(n);
  infer_shapes(g, opset);
  const ValueInfo* v = g.value_info("y");
  return v ? *v : ValueInfo{};
}

std::vector<float> ramp(std::int64_t n, float lo, float hi) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] =
        lo + (hi - lo) * static_cast<float>(i) / static_cast<float>(n - 1);
  return v;
}

// Flat index into `in` for output position `flat` of shape `out` under numpy broadcasting.
std::int64_t source_index(std::int64_t flat, const Shape& out, const Shape& in) {
  std::int64_t idx = 0, stride = 1;
  for (std::size_t k = 0; k < out.size(); ++k) {
    const std::size_t d = out.size() - 1 - k;
    const std::int64_t coord = flat % out[d];
    flat /= out[d];
    if (k < in.size()) {
      const std::int64_t size = in[in.size() - 1 - k];
      if (size != 1) idx += coord * stride;
      stride *= size;
    }
  }
  return idx;
}

void expect_unary_f32(const std::string& op, const std::function<double(double)>& ref,
                      const std::vector<float>& xs, double rel, double abs_tol,
                      Attributes attrs = {}) {
  const Tensor y =
      run1(op, {Tensor::from_vector<float>({static_cast<std::int64_t>(xs.size())}, xs)}, attrs);
  ASSERT_EQ(y.dtype(), DType::kF32);
  ASSERT_EQ(y.numel(), static_cast<std::int64_t>(xs.size()));
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double want = static_cast<float>(ref(xs[i]));  // overflow to inf as f32 does
    const double got = y.data<float>()[i];
    if (std::isinf(want)) {
      EXPECT_EQ(got, want) << op << "(" << xs[i] << ")";
    } else {
      EXPECT_NEAR(got, want, abs_tol + rel * std::fabs(want)) << op << "(" << xs[i] << ")";
    }
  }
}

TEST(OpsElementwise, UnaryFloatMatchesStdMath) {
  const auto wide = ramp(100003, -100.0F, 100.0F);  // > one parallel grain
  expect_unary_f32(
      "Exp", [](double v) { return std::exp(v); }, ramp(20001, -86.0F, 88.7F), 3e-7, 0);
  expect_unary_f32(
      "Exp", [](double v) { return std::exp(v); }, {-200.0F, -88.0F, 0.0F, 89.0F, 1000.0F}, 3e-7,
      1e-37);
  expect_unary_f32(
      "Sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, wide, 1e-6, 1e-7);
  expect_unary_f32(
      "Tanh", [](double v) { return std::tanh(v); }, wide, 1e-6, 1e-7);
  expect_unary_f32(
      "Tanh", [](double v) { return std::tanh(v); }, ramp(2001, -1.0F, 1.0F), 1e-6, 1e-9);
  expect_unary_f32(
      "Sqrt", [](double v) { return std::sqrt(v); }, ramp(101, 0.0F, 50.0F), 1e-6, 0);
  expect_unary_f32(
      "Log", [](double v) { return std::log(v); }, ramp(101, 0.01F, 50.0F), 1e-6, 1e-7);
  expect_unary_f32(
      "Neg", [](double v) { return -v; }, ramp(11, -5.0F, 5.0F), 0, 0);
  expect_unary_f32(
      "Abs", [](double v) { return std::fabs(v); }, ramp(11, -5.0F, 5.0F), 0, 0);
  expect_unary_f32(
      "Reciprocal", [](double v) { return 1.0 / v; }, ramp(10, 0.5F, 5.0F), 1e-6, 0);
  expect_unary_f32(
      "Relu", [](double v) { return v > 0 ? v : 0; }, ramp(11, -5.0F, 5.0F), 0, 0);
  expect_unary_f32(
      "Erf", [](double v) { return std::erf(v); }, ramp(101, -4.0F, 4.0F), 1e-6, 1e-7);
  expect_unary_f32(
      "HardSwish", [](double v) { return v * std::min(1.0, std::max(0.0, v / 6 + 0.5)); },
      ramp(41, -6.0F, 6.0F), 1e-6, 1e-7);
  Attributes leaky;
  leaky.set("alpha", 0.25F);
  expect_unary_f32(
      "LeakyRelu", [](double v) { return v < 0 ? 0.25 * v : v; }, ramp(11, -5.0F, 5.0F), 1e-7, 0,
      leaky);
  expect_unary_f32(
      "LeakyRelu", [](double v) { return v < 0 ? 0.01 * v : v; }, {-3.0F, 2.0F}, 1e-6, 0);
  Attributes hs;
  hs.set("alpha", 0.5F);
  hs.set("beta", 0.6F);
  expect_unary_f32(
      "HardSigmoid", [](double v) { return std::min(1.0, std::max(0.0, 0.5 * v + 0.6)); },
      ramp(21, -3.0F, 3.0F), 1e-6, 1e-7, hs);
}

TEST(OpsElementwise, ExpAndTanhPropagateNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const char* op : {"Exp", "Tanh", "Sigmoid"}) {
    const Tensor y = run1(op, {Tensor::from_vector<float>({1}, {nan})});
    EXPECT_TRUE(std::isnan(y.data<float>()[0])) << op;
  }
}

TEST(OpsElementwise, UnaryIntegersAndDouble) {
  const Tensor y = run1("Abs", {Tensor::from_vector<std::int32_t>({3}, {-4, 0, 7})});
  EXPECT_EQ(
      std::vector<std::int32_t>(y.values<std::int32_t>().begin(), y.values<std::int32_t>().end()),
      (std::vector<std::int32_t>{4, 0, 7}));
  const Tensor n = run1("Neg", {Tensor::from_vector<std::int64_t>({2}, {5, -9})});
  EXPECT_EQ(n.data<std::int64_t>()[0], -5);
  EXPECT_EQ(n.data<std::int64_t>()[1], 9);
  const Tensor d = run1("Exp", {Tensor::from_vector<double>({2}, {1.0, -2.0})});
  EXPECT_DOUBLE_EQ(d.data<double>()[0], std::exp(1.0));
  EXPECT_DOUBLE_EQ(d.data<double>()[1], std::exp(-2.0));
  // Sqrt has no integer kernel: the executor names what is missing.
  EXPECT_THROW(run1("Sqrt", {Tensor::from_vector<std::int32_t>({1}, {4})}), Error);
}

TEST(OpsElementwise, ClipInputsAttributesAndInt8) {
  const Tensor x = Tensor::from_vector<float>({5}, {-3, -1, 0, 1, 3});
  Tensor y = run1("Clip", {x, Tensor::scalar<float>(-1.5F), Tensor::scalar<float>(2.0F)});
  EXPECT_EQ(std::vector<float>(y.values<float>().begin(), y.values<float>().end()),
            (std::vector<float>{-1.5F, -1, 0, 1, 2}));
  y = run1("Clip", {x, Tensor(), Tensor::scalar<float>(0.5F)});  // max only
  EXPECT_EQ(y.data<float>()[0], -3.0F);
  EXPECT_EQ(y.data<float>()[4], 0.5F);
  y = run1("Clip", {x});  // no bounds: identity
  EXPECT_EQ(y.data<float>()[0], -3.0F);
  Attributes old;
  old.set("min", -2.0F);
  y = run1("Clip", {x}, old, 6);  // opset 6: attributes, max defaults to +inf-ish
  EXPECT_EQ(y.data<float>()[0], -2.0F);
  EXPECT_EQ(y.data<float>()[4], 3.0F);
  const Tensor q = run1("Clip", {Tensor::from_vector<std::int8_t>({3}, {-100, 5, 100}), Tensor(),
                                 Tensor::scalar<std::int8_t>(10)});
  EXPECT_EQ(q.data<std::int8_t>()[0], -100);
  EXPECT_EQ(q.data<std::int8_t>()[2], 10);
  EXPECT_THROW(run1("Clip", {x, Tensor::from_vector<float>({2}, {0, 1})}), Error);
}

// Add/Sub/Mul/Div over many broadcast patterns, checked element by element.
TEST(OpsElementwise, BinaryBroadcastPatterns) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}},  // same shape
      {{2, 3, 4, 5}, {}},            // scalar
      {{}, {2, 3}},                  // scalar on the left
      {{2, 3, 4, 5}, {3, 1, 1}},     // per-channel
      {{2, 3, 4, 5}, {5}},           // row
      {{3, 1}, {1, 4}},              // both broadcast
      {{1, 3, 1, 5}, {2, 1, 4, 1}},  // alternating
      {{4, 1, 3}, {4, 2, 1}},
      {{200, 300}, {300}},        // > one parallel grain
      {{6, 1, 7000}, {6, 9, 1}},  // > one grain, both broadcast
  };
  for (const auto& [sa, sb] : cases) {
    const std::int64_t na = shape_numel(sa), nb = shape_numel(sb);
    std::vector<float> va(static_cast<std::size_t>(na)), vb(static_cast<std::size_t>(nb));
    for (std::int64_t i = 0; i < na; ++i)
      va[static_cast<std::size_t>(i)] = static_cast<float>(i % 97) * 0.5F - 7.0F;
    for (std::int64_t i = 0; i < nb; ++i)
      vb[static_cast<std::size_t>(i)] = static_cast<float>(i % 13) + 1.0F;
    const Tensor a = Tensor::from_vector<float>(sa, va), b = Tensor::from_vector<float>(sb, vb);
    const std::vector<std::pair<std::string, std::function<float(float, float)>>> ops = {
        {"Add", [](float x, float z) { return x + z; }},
        {"Sub", [](float x, float z) { return x - z; }},
        {"Mul", [](float x, float z) { return x * z; }},
        {"Div", [](float x, float z) { return x / z; }}};
    for (const auto& [op, ref] : ops) {
      const Tensor y = run1(op, {a, b});
      Shape want_shape(std::max(sa.size(), sb.size()));
      for (std::size_t k = 0; k < want_shape.size(); ++k) {
        const std::int64_t da = k < sa.size() ? sa[sa.size() - 1 - k] : 1;
        const std::int64_t db = k < sb.size() ? sb[sb.size() - 1 - k] : 1;
        want_shape[want_shape.size() - 1 - k] = std::max(da, db);
      }
      ASSERT_EQ(y.shape(), want_shape) << op << shape_to_string(sa) << shape_to_string(sb);
      for (std::int64_t i = 0; i < y.numel(); ++i) {
        const float want = ref(va[static_cast<std::size_t>(source_index(i, want_shape, sa))],
                               vb[static_cast<std::size_t>(source_index(i, want_shape, sb))]);
        ASSERT_EQ(y.data<float>()[i], want)
            << op << " at " << i << " of " << shape_to_string(sa) << " and " << shape_to_string(sb);
      }
    }
  }
}

TEST(OpsElementwise, IncompatibleShapesAreNamed) {
  const Tensor a = Tensor::zeros(DType::kF32, {2, 3});
  const Tensor b = Tensor::zeros(DType::kF32, {4});
  try {
    run1("Add", {a, b});
    FAIL() << "expected a broadcast error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3] and [4] do not broadcast"), std::string::npos)
        << e.what();
  }
}

TEST(OpsElementwise, IntegerArithmetic) {
  const Tensor a = Tensor::from_vector<std::int32_t>({2, 2}, {7, -7, 9, 100});
  const Tensor b = Tensor::from_vector<std::int32_t>({2}, {2, 3});
  const Tensor q = run1("Div", {a, b});
  // C++ (and ONNX Runtime) integer division truncates toward zero.
  EXPECT_EQ(
      std::vector<std::int32_t>(q.values<std::int32_t>().begin(), q.values<std::int32_t>().end()),
      (std::vector<std::int32_t>{3, -2, 4, 33}));
  const Tensor u = run1(
      "Add", {Tensor::from_vector<std::uint8_t>({2}, {250, 1}), Tensor::scalar<std::uint8_t>(10)});
  EXPECT_EQ(u.data<std::uint8_t>()[0], 4);  // wraps like numpy uint8
  EXPECT_EQ(u.data<std::uint8_t>()[1], 11);
  const Tensor m = run1("Mul", {Tensor::from_vector<std::int64_t>({2}, {1LL << 40, 3}),
                                Tensor::scalar<std::int64_t>(4)});
  EXPECT_EQ(m.data<std::int64_t>()[0], 1LL << 42);
  EXPECT_THROW(run1("Div", {a, Tensor::from_vector<std::int32_t>({2}, {1, 0})}), Error);
}

TEST(OpsElementwise, PowMixedTypes) {
  Tensor y = run1("Pow", {Tensor::from_vector<float>({3}, {1, 2, 3}),
                          Tensor::from_vector<std::int64_t>({3}, {4, 5, 6})});
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(y.data<float>()[2], 729.0F);
  y = run1("Pow", {Tensor::from_vector<std::int32_t>({3}, {1, 2, 3}),
                   Tensor::from_vector<float>({3}, {4, 5, 0.5F})});
  EXPECT_EQ(y.dtype(), DType::kI32);
  EXPECT_EQ(y.data<std::int32_t>()[1], 32);
  EXPECT_EQ(y.data<std::int32_t>()[2], 1);  // trunc(sqrt(3))
  for (float e : {2.0F, 3.0F, 0.5F, 1.0F, 1.7F}) {
    const Tensor x = Tensor::from_vector<float>({2, 2}, {0.5F, 1.5F, 2.0F, 9.0F});
    y = run1("Pow", {x, Tensor::scalar<float>(e)});
    for (int i = 0; i < 4; ++i)
      EXPECT_NEAR(y.data<float>()[i], std::pow(x.data<float>()[i], e), 1e-5) << e;
  }
  y = run1("Pow",
           {Tensor::from_vector<float>({2}, {2, 3}), Tensor::from_vector<float>({2, 1}, {2, 3})});
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.data<float>()[3], 27.0F);
}

TEST(OpsElementwise, PReluBroadcastsSlope) {
  const Tensor x = Tensor::from_vector<float>({2, 3}, {-1, 2, -3, 4, -5, -6});
  Tensor y = run1("PRelu", {x, Tensor::from_vector<float>({3}, {0.1F, 0.2F, 0.3F})});
  const std::vector<float> want = {-0.1F, 2, -0.9F, 4, -1.0F, -1.8F};
  for (int i = 0; i < 6; ++i)
    EXPECT_FLOAT_EQ(y.data<float>()[i], want[static_cast<std::size_t>(i)]);
  y = run1("PRelu", {x, Tensor::from_vector<float>({2, 1}, {0.5F, 2.0F})});
  EXPECT_FLOAT_EQ(y.data<float>()[0], -0.5F);
  EXPECT_FLOAT_EQ(y.data<float>()[5], -12.0F);
  // The slope may not grow X.
  EXPECT_THROW(run1("PRelu", {Tensor::zeros(DType::kF32, {3}), Tensor::zeros(DType::kF32, {2, 3})}),
               Error);
}

TEST(OpsElementwise, CompareProducesBool) {
  const Tensor a = Tensor::from_vector<std::int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = Tensor::from_vector<std::int32_t>({3}, {1, 5, 3});
  const Tensor eq = run1("Equal", {a, b});
  ASSERT_EQ(eq.dtype(), DType::kBool);
  EXPECT_EQ(std::vector<bool>(eq.values<bool>().begin(), eq.values<bool>().end()),
            (std::vector<bool>{true, false, true, false, true, false}));
  const Tensor lt = run1("Less", {a, b});
  EXPECT_EQ(std::vector<bool>(lt.values<bool>().begin(), lt.values<bool>().end()),
            (std::vector<bool>{false, true, false, false, false, false}));
  const Tensor gt =
      run1("Greater", {Tensor::from_vector<float>({3}, {0.5F, 1, 2}), Tensor::scalar<float>(1)});
  EXPECT_EQ(std::vector<bool>(gt.values<bool>().begin(), gt.values<bool>().end()),
            (std::vector<bool>{false, false, true}));
  const Tensor ge = run1("GreaterOrEqual", {Tensor::from_vector<std::int64_t>({2}, {1, 2}),
                                            Tensor::scalar<std::int64_t>(2)});
  EXPECT_FALSE(ge.data<bool>()[0]);
  EXPECT_TRUE(ge.data<bool>()[1]);
}

TEST(OpsElementwise, WhereBroadcastsThreeWays) {
  const Tensor c = Tensor::from_vector<bool>({2, 1}, {true, false});
  const Tensor x = Tensor::from_vector<std::int64_t>({3}, {1, 2, 3});
  const Tensor y = Tensor::scalar<std::int64_t>(-1);
  const Tensor z = run1("Where", {c, x, y});
  ASSERT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(
      std::vector<std::int64_t>(z.values<std::int64_t>().begin(), z.values<std::int64_t>().end()),
      (std::vector<std::int64_t>{1, 2, 3, -1, -1, -1}));
  const Tensor cf = Tensor::from_vector<bool>({4}, {true, false, false, true});
  const Tensor zf = run1("Where", {cf, Tensor::from_vector<float>({4}, {1, 2, 3, 4}),
                                   Tensor::from_vector<float>({4}, {5, 6, 7, 8})});
  EXPECT_EQ(std::vector<float>(zf.values<float>().begin(), zf.values<float>().end()),
            (std::vector<float>{1, 6, 7, 4}));
  EXPECT_THROW(
      run1("Where", {cf, Tensor::zeros(DType::kF32, {4}), Tensor::zeros(DType::kF32, {3})}), Error);
}

TEST(OpsElementwise, ExpandGrowsAndBroadcasts) {
  const Tensor x = Tensor::from_vector<float>({3, 1}, {1, 2, 3});
  Tensor y = run1("Expand", {x, Tensor::from_vector<std::int64_t>({3}, {2, 1, 4})});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  for (std::int64_t i = 0; i < y.numel(); ++i)
    EXPECT_EQ(y.data<float>()[i], static_cast<float>((i / 4) % 3 + 1));
  // A target dim of 1 keeps the input's larger dim (bidirectional, unlike a plain reshape).
  y = run1("Expand", {x, Tensor::from_vector<std::int64_t>({2}, {1, 1})});
  EXPECT_EQ(y.shape(), (Shape{3, 1}));
  const Tensor b = run1("Expand", {Tensor::from_vector<bool>({2}, {true, false}),
                                   Tensor::from_vector<std::int64_t>({2}, {2, 2})});
  EXPECT_EQ(std::vector<bool>(b.values<bool>().begin(), b.values<bool>().end()),
            (std::vector<bool>{true, false, true, false}));
  EXPECT_THROW(run1("Expand", {x, Tensor::from_vector<std::int64_t>({2}, {2, 1})}), Error);
}

TEST(OpsElementwise, InferenceBroadcastsKnownAndSymbolicDims) {
  ValueInfo a = info(DType::kF32, {-1, 3, 1});
  ValueInfo v = infer1("Add", {a, info(DType::kF32, {4})});
  ASSERT_TRUE(v.has_dtype && v.has_shape);
  EXPECT_EQ(v.dtype, DType::kF32);
  ASSERT_EQ(v.shape.size(), 3U);
  EXPECT_FALSE(v.shape[0].known());
  EXPECT_EQ(v.shape[1].value, 3);
  EXPECT_EQ(v.shape[2].value, 4);
  v = infer1("Less", {info(DType::kI64, {2, 1}), info(DType::kI64, {5})});
  EXPECT_EQ(v.dtype, DType::kBool);
  EXPECT_EQ(v.shape, (std::vector<Dim>{Dim{2, ""}, Dim{5, ""}}));
  v = infer1("Where", {info(DType::kBool, {2, 1}), info(DType::kI32, {3}), info(DType::kI32, {})});
  EXPECT_EQ(v.dtype, DType::kI32);
  EXPECT_EQ(v.shape, (std::vector<Dim>{Dim{2, ""}, Dim{3, ""}}));
  v = infer1("Expand", {info(DType::kF32, {3, 1}), info(DType::kI64, {3})}, {},
             {{1, Tensor::from_vector<std::int64_t>({3}, {2, 1, 6})}});
  EXPECT_EQ(v.shape, (std::vector<Dim>{Dim{2, ""}, Dim{3, ""}, Dim{6, ""}}));
  v = infer1("Sigmoid", {info(DType::kF64, {7})});
  EXPECT_EQ(v.dtype, DType::kF64);
  EXPECT_EQ(v.shape, (std::vector<Dim>{Dim{7, ""}}));
  EXPECT_THROW(infer1("Mul", {info(DType::kF32, {2, 3}), info(DType::kF32, {4})}), Error);
}

}  // namespace
}  // namespace act
