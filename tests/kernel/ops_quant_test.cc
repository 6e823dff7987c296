// QuantizeLinear / DequantizeLinear: rounding, saturation, per-axis parameters, dtypes.
#include <gtest/gtest.h>

#include "act/kernel/executor.h"
#include "act/kernel/passes.h"
#include "kernel_test_util.h"

namespace act {
namespace {

Tensor run1(const std::string& op, const std::vector<Tensor>& inputs, Attributes attrs = {}) {
  return test::run_node(op, inputs, attrs, 1, 13)[0];
}

template <typename T>
std::vector<int> as_ints(const Tensor& t) {
  std::vector<int> v;
  for (T x : t.values<T>()) v.push_back(static_cast<int>(x));
  return v;
}

TEST(OpsQuant, QuantizeRoundsHalfToEvenAndSaturates) {
  // x / 2 = 0.5, 1.5, 2.5, -0.5, -1.5, 1000, -1000
  const Tensor x = Tensor::from_vector<float>({7}, {1, 3, 5, -1, -3, 2000, -2000});
  const Tensor y =
      run1("QuantizeLinear", {x, Tensor::scalar<float>(2), Tensor::scalar<std::uint8_t>(128)});
  ASSERT_EQ(y.dtype(), DType::kU8);
  EXPECT_EQ(as_ints<std::uint8_t>(y), (std::vector<int>{128, 130, 130, 128, 126, 255, 0}));
  const Tensor s =
      run1("QuantizeLinear", {x, Tensor::scalar<float>(2), Tensor::scalar<std::int8_t>(-1)});
  ASSERT_EQ(s.dtype(), DType::kI8);
  EXPECT_EQ(as_ints<std::int8_t>(s), (std::vector<int>{-1, 1, 1, -1, -3, 127, -128}));
  // Without a zero point the output is u8 with zero point 0.
  const Tensor d = run1("QuantizeLinear", {x, Tensor::scalar<float>(2)});
  EXPECT_EQ(d.dtype(), DType::kU8);
  EXPECT_EQ(as_ints<std::uint8_t>(d), (std::vector<int>{0, 2, 2, 0, 0, 255, 0}));
}

TEST(OpsQuant, PerAxisQuantizeAndDequantize) {
  // [1, 3, 2]: channel c has scale c+1 and zero point 10*c.
  const Tensor x = Tensor::from_vector<float>({1, 3, 2}, {1, 2, 4, 6, 9, -3});
  const Tensor scale = Tensor::from_vector<float>({3}, {1, 2, 3});
  const Tensor zp = Tensor::from_vector<std::uint8_t>({3}, {0, 10, 20});
  const Tensor q = run1("QuantizeLinear", {x, scale, zp});
  EXPECT_EQ(as_ints<std::uint8_t>(q), (std::vector<int>{1, 2, 12, 13, 23, 19}));
  const Tensor back = run1("DequantizeLinear", {q, scale, zp});
  ASSERT_EQ(back.dtype(), DType::kF32);
  const std::vector<float> want = {1, 2, 4, 6, 9, -3};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back.data<float>()[i], want[static_cast<std::size_t>(i)]);
  // axis = -1 picks the last dim instead.
  Attributes last;
  last.set("axis", std::int64_t{-1});
  const Tensor q2 = run1("QuantizeLinear",
                         {Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}), scale, zp}, last);
  EXPECT_EQ(as_ints<std::uint8_t>(q2),
            (std::vector<int>{1, 11, 21, 4, 12, 22}));  // 5/2 = 2.5 rounds to 2
  // Wrong number of scales for the axis.
  EXPECT_THROW(run1("QuantizeLinear", {Tensor::zeros(DType::kF32, {1, 4}), scale, zp}), Error);
  // Zero point shape must follow the scale's.
  EXPECT_THROW(run1("DequantizeLinear", {q, scale, Tensor::scalar<std::uint8_t>(0)}), Error);
}

TEST(OpsQuant, DequantizeTypes) {
  const Tensor a =
      run1("DequantizeLinear", {Tensor::from_vector<std::int8_t>({3}, {-128, 0, 127}),
                                Tensor::scalar<float>(0.5F), Tensor::scalar<std::int8_t>(-1)});
  EXPECT_EQ(a.data<float>()[0], -63.5F);
  EXPECT_EQ(a.data<float>()[2], 64.0F);
  const Tensor b = run1("DequantizeLinear", {Tensor::from_vector<std::int32_t>({2}, {-1000000, 7}),
                                             Tensor::scalar<float>(0.25F)});
  EXPECT_EQ(b.data<float>()[0], -250000.0F);
  EXPECT_EQ(b.data<float>()[1], 1.75F);
  const Tensor c =
      run1("DequantizeLinear", {Tensor::from_vector<std::uint8_t>({2}, {0, 255}),
                                Tensor::scalar<float>(1.0F), Tensor::scalar<std::uint8_t>(128)});
  EXPECT_EQ(c.data<float>()[0], -128.0F);
  EXPECT_EQ(c.data<float>()[1], 127.0F);
  // Mixed x / zero-point types are rejected.
  EXPECT_THROW(
      run1("DequantizeLinear", {Tensor::from_vector<std::uint8_t>({1}, {1}),
                                Tensor::scalar<float>(1.0F), Tensor::scalar<std::int8_t>(0)}),
      Error);
}

TEST(OpsQuant, LargeTensorRoundTrip) {
  std::vector<float> v(100000);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<float>(static_cast<int>(i % 255) - 127) * 0.1F;
  const Tensor x = Tensor::from_vector<float>({100000}, v);
  const Tensor q =
      run1("QuantizeLinear", {x, Tensor::scalar<float>(0.1F), Tensor::scalar<std::int8_t>(0)});
  const Tensor d =
      run1("DequantizeLinear", {q, Tensor::scalar<float>(0.1F), Tensor::scalar<std::int8_t>(0)});
  for (std::size_t i = 0; i < v.size(); ++i) ASSERT_NEAR(d.data<float>()[i], v[i], 1e-5) << i;
}

TEST(OpsQuant, InferenceDtypes) {
  Graph g;
  ValueInfo x{"x", DType::kF32, true, true, {Dim{-1, "N"}, Dim{8, ""}}};
  g.add_input(x);
  g.set_initializer("s", Tensor::scalar<float>(1));
  g.set_initializer("z", Tensor::scalar<std::int8_t>(0));
  g.add_node(Node{"q", "QuantizeLinear", "", {"x", "s", "z"}, {"q"}, {}, ""});
  g.add_node(Node{"q2", "QuantizeLinear", "", {"x", "s"}, {"q2"}, {}, ""});
  g.add_node(Node{"d", "DequantizeLinear", "", {"q", "s", "z"}, {"d"}, {}, ""});
  infer_shapes(g, 13);
  ASSERT_NE(g.value_info("q"), nullptr);
  EXPECT_EQ(g.value_info("q")->dtype, DType::kI8);
  EXPECT_EQ(g.value_info("q")->shape, x.shape);
  EXPECT_EQ(g.value_info("q2")->dtype, DType::kU8);
  ASSERT_NE(g.value_info("d"), nullptr);
  EXPECT_EQ(g.value_info("d")->dtype, DType::kF32);
  EXPECT_EQ(g.value_info("d")->shape, x.shape);
}

}  // namespace
}  // namespace act
