// Shape-family ops (Reshape, Transpose, Concat, Split, Slice, Gather, ...): kernels run through
// the Executor on hand-built graphs and are checked against values computed here by plain
// index arithmetic; inference is checked through infer_shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "act/kernel/executor.h"
#include "act/kernel/passes.h"
#include "ops_shape_test_util.h"

namespace act {
namespace {

using shape_test::iota_f;
using shape_test::run_op;
using shape_test::vals;

// ---- Reshape / Flatten / Squeeze / Unsqueeze / Identity / Dropout

TEST(ShapeOps, ReshapeZeroAndMinusOneShareStorage) {
  Tensor x = iota_f({2, 3, 4});
  auto out = run_op("Reshape", {x, Tensor::from_vector<std::int64_t>({3}, {0, -1, 2})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(out[0].raw_data(), x.raw_data());  // a view, not a copy
  EXPECT_EQ(vals(out[0]), vals(x));
}

TEST(ShapeOps, ReshapeAllowZeroKeepsZero) {
  Tensor x = Tensor::zeros(DType::kF32, {0, 3});
  Attributes a;
  a.set("allowzero", std::int64_t{1});
  auto out = run_op("Reshape", {x, Tensor::from_vector<std::int64_t>({2}, {3, 0})}, a);
  EXPECT_EQ(out[0].shape(), (Shape{3, 0}));
  // Without allowzero, 0 copies the input dim: [0, 3] -> [3, 3] is 9 elements, an error.
  EXPECT_THROW(run_op("Reshape", {x, Tensor::from_vector<std::int64_t>({2}, {3, 0})}), Error);
}

TEST(ShapeOps, ReshapeErrorNamesShapes) {
  try {
    run_op("Reshape", {iota_f({2, 3}), Tensor::from_vector<std::int64_t>({2}, {4, -1})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[4, -1]"), std::string::npos) << msg;
  }
  EXPECT_THROW(
      run_op("Reshape", {iota_f({2, 3}), Tensor::from_vector<std::int64_t>({2}, {-1, -1})}), Error);
}

TEST(ShapeOps, FlattenAxes) {
  Tensor x = iota_f({2, 3, 4, 5});
  for (std::int64_t axis : {0, 1, 2, 3, 4, -1, -4}) {
    Attributes a;
    a.set("axis", axis);
    auto out = run_op("Flatten", {x}, a);
    const std::int64_t p = axis < 0 ? axis + 4 : axis;
    std::int64_t outer = 1;
    for (std::int64_t i = 0; i < p; ++i) outer *= x.shape()[static_cast<std::size_t>(i)];
    EXPECT_EQ(out[0].shape(), (Shape{outer, 120 / outer})) << "axis " << axis;
    EXPECT_EQ(out[0].raw_data(), x.raw_data());
  }
  Attributes bad;
  bad.set("axis", std::int64_t{5});
  EXPECT_THROW(run_op("Flatten", {x}, bad), Error);
}

TEST(ShapeOps, SqueezeUnsqueezeAttributeAndInputForms) {
  Tensor x = iota_f({1, 3, 1, 2});
  Attributes a;
  a.set("axes", std::vector<std::int64_t>{0, -2});
  EXPECT_EQ(run_op("Squeeze", {x}, a, 1, 11)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(
      run_op("Squeeze", {x, Tensor::from_vector<std::int64_t>({1}, {2})}, {}, 1, 13)[0].shape(),
      (Shape{1, 3, 2}));
  EXPECT_EQ(run_op("Squeeze", {x}, {}, 1, 13)[0].shape(), (Shape{3, 2}));
  EXPECT_THROW(run_op("Squeeze", {x, Tensor::from_vector<std::int64_t>({1}, {1})}, {}, 1, 13),
               Error);

  Tensor y = iota_f({3, 2});
  Attributes u;
  u.set("axes", std::vector<std::int64_t>{0, 3});
  EXPECT_EQ(run_op("Unsqueeze", {y}, u, 1, 11)[0].shape(), (Shape{1, 3, 2, 1}));
  auto out = run_op("Unsqueeze", {y, Tensor::from_vector<std::int64_t>({2}, {-1, 1})}, {}, 1, 13);
  EXPECT_EQ(out[0].shape(), (Shape{3, 1, 2, 1}));
  EXPECT_EQ(out[0].raw_data(), y.raw_data());
  EXPECT_THROW(run_op("Unsqueeze", {y, Tensor::from_vector<std::int64_t>({2}, {1, 1})}, {}, 1, 13),
               Error);
}

TEST(ShapeOps, IdentityAndDropoutPassThrough) {
  Tensor x = Tensor::from_vector<std::int32_t>({2, 2}, {1, -2, 3, -4});
  auto id = run_op("Identity", {x});
  EXPECT_EQ(id[0].raw_data(), x.raw_data());
  auto dr = run_op("Dropout", {x.cast(DType::kF32), Tensor::scalar<float>(0.5F)}, {}, 2);
  EXPECT_EQ(vals(dr[0]), (std::vector<double>{1, -2, 3, -4}));
  ASSERT_EQ(dr[1].dtype(), DType::kBool);
  for (bool m : dr[1].values<bool>()) EXPECT_TRUE(m);
  EXPECT_THROW(run_op("Dropout", {x.cast(DType::kF32), Tensor::scalar<float>(0.5F),
                                  Tensor::scalar<bool>(true)}),
               Error);
  // Training with ratio 0 keeps everything: deterministic, so it runs.
  auto z = run_op("Dropout",
                  {x.cast(DType::kF32), Tensor::scalar<float>(0.0F), Tensor::scalar<bool>(true)});
  EXPECT_EQ(vals(z[0]), (std::vector<double>{1, -2, 3, -4}));
}

// ---- Transpose

// out[o] = in[src] where the out index is the permuted in index.
std::vector<double> naive_transpose(const Tensor& x, const std::vector<std::int64_t>& perm) {
  const Shape& s = x.shape();
  const std::size_t r = s.size();
  Shape os(r);
  for (std::size_t k = 0; k < r; ++k) os[k] = s[static_cast<std::size_t>(perm[k])];
  std::vector<double> out(static_cast<std::size_t>(x.numel()));
  std::vector<std::int64_t> oi(r, 0);
  for (std::int64_t lin = 0; lin < x.numel(); ++lin) {
    std::int64_t rem = lin;
    for (std::size_t k = r; k-- > 0;) {
      oi[k] = rem % os[k];
      rem /= os[k];
    }
    std::vector<std::int64_t> ii(r);
    for (std::size_t k = 0; k < r; ++k) ii[static_cast<std::size_t>(perm[k])] = oi[k];
    std::int64_t src = 0;
    for (std::size_t k = 0; k < r; ++k) src = src * s[k] + ii[k];
    out[static_cast<std::size_t>(lin)] = x.get_as_double(src);
  }
  return out;
}

TEST(ShapeOps, TransposeAllPermutationsOfRank4) {
  Tensor x = iota_f({2, 3, 4, 5});
  std::vector<std::int64_t> perm{0, 1, 2, 3};
  do {
    Attributes a;
    a.set("perm", perm);
    auto out = run_op("Transpose", {x}, a);
    EXPECT_EQ(vals(out[0]), naive_transpose(x, perm)) << shape_to_string(perm);
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(ShapeOps, TransposeLargeAndOtherDtypes) {
  // Big enough for the tiled and multi-threaded paths.
  Tensor x = iota_f({3, 64, 37, 19});
  for (auto perm : {std::vector<std::int64_t>{0, 2, 3, 1}, std::vector<std::int64_t>{0, 3, 1, 2},
                    std::vector<std::int64_t>{3, 2, 1, 0}, std::vector<std::int64_t>{1, 0, 2, 3}}) {
    Attributes a;
    a.set("perm", perm);
    EXPECT_EQ(vals(run_op("Transpose", {x}, a)[0]), naive_transpose(x, perm))
        << shape_to_string(perm);
    for (DType t : {DType::kI8, DType::kF16, DType::kI64}) {
      Tensor xt = iota_f({4, 5, 6}).cast(t);
      Attributes b;
      b.set("perm", std::vector<std::int64_t>{2, 0, 1});
      auto out = run_op("Transpose", {xt}, b);
      EXPECT_EQ(out[0].dtype(), t);
      EXPECT_EQ(vals(out[0]), naive_transpose(xt, {2, 0, 1}));
    }
  }
  // Default perm reverses the axes.
  Tensor y = iota_f({2, 3, 4});
  auto out = run_op("Transpose", {y});
  EXPECT_EQ(out[0].shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(vals(out[0]), naive_transpose(y, {2, 1, 0}));
  Attributes bad;
  bad.set("perm", std::vector<std::int64_t>{0, 0, 1});
  EXPECT_THROW(run_op("Transpose", {y}, bad), Error);
}

// ---- Concat / Split

TEST(ShapeOps, ConcatAlongEachAxis) {
  Tensor a = iota_f({2, 3, 2});
  Tensor b = iota_f({2, 3, 2}, 100);
  for (std::int64_t axis : {0, 1, 2, -1}) {
    Attributes at;
    at.set("axis", axis);
    auto out = run_op("Concat", {a, b}, at);
    const auto p = static_cast<std::size_t>(axis < 0 ? axis + 3 : axis);
    Shape s{2, 3, 2};
    s[p] *= 2;
    ASSERT_EQ(out[0].shape(), s);
    // Element (i, j, k) comes from a or b depending on the index along the axis.
    for (std::int64_t i = 0; i < s[0]; ++i) {
      for (std::int64_t j = 0; j < s[1]; ++j) {
        for (std::int64_t k = 0; k < s[2]; ++k) {
          std::int64_t idx[3] = {i, j, k};
          const std::int64_t half = p == 1 ? 3 : 2;  // a's length along the axis
          const bool from_b = idx[p] >= half;
          if (from_b) idx[p] -= half;
          const double want =
              (from_b ? 100 : 0) + static_cast<double>((idx[0] * 3 + idx[1]) * 2 + idx[2]);
          EXPECT_EQ(out[0].get_as_double((i * s[1] + j) * s[2] + k), want);
        }
      }
    }
  }
  Attributes at;
  at.set("axis", std::int64_t{0});
  EXPECT_THROW(run_op("Concat", {a, iota_f({2, 2, 2})}, at), Error);
}

TEST(ShapeOps, ConcatThreeInputsInt64) {
  Attributes at;
  at.set("axis", std::int64_t{1});
  auto out = run_op("Concat",
                    {Tensor::from_vector<std::int64_t>({2, 1}, {1, 2}),
                     Tensor::from_vector<std::int64_t>({2, 0}, {}),
                     Tensor::from_vector<std::int64_t>({2, 2}, {3, 4, 5, 6})},
                    at);
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(vals(out[0]), (std::vector<double>{1, 3, 4, 2, 5, 6}));
}

TEST(ShapeOps, SplitForms) {
  Tensor x = iota_f({2, 6});
  Attributes ax1;
  ax1.set("axis", std::int64_t{1});
  auto eq = run_op("Split", {x}, ax1, 3);
  EXPECT_EQ(vals(eq[1]), (std::vector<double>{2, 3, 8, 9}));
  auto var = run_op("Split", {x, Tensor::from_vector<std::int64_t>({2}, {1, 5})}, ax1, 2, 13);
  EXPECT_EQ(var[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(vals(var[1]), (std::vector<double>{1, 2, 3, 4, 5, 7, 8, 9, 10, 11}));
  Attributes old = ax1;
  old.set("split", std::vector<std::int64_t>{4, 2});
  EXPECT_EQ(vals(run_op("Split", {x}, old, 2, 11)[1]), (std::vector<double>{4, 5, 10, 11}));
  Attributes n18 = ax1;
  n18.set("num_outputs", std::int64_t{4});  // 6 -> 2, 2, 2, 0 is invalid; ceil(6/4)=2 gives 2,2,2
  EXPECT_THROW(run_op("Split", {x}, n18, 4, 18), Error);
  Attributes n18b;
  n18b.set("num_outputs", std::int64_t{2});
  auto un = run_op("Split", {iota_f({5})}, n18b, 2, 18);
  EXPECT_EQ(vals(un[0]), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(vals(un[1]), (std::vector<double>{3, 4}));
  EXPECT_THROW(run_op("Split", {x, Tensor::from_vector<std::int64_t>({2}, {1, 4})}, ax1, 2, 13),
               Error);
  EXPECT_THROW(run_op("Split", {x}, ax1, 4), Error);  // 6 is not divisible by 4
}

// ---- Slice

// Python-style slice of one axis, computed the simple way.
std::vector<std::int64_t> py_slice(std::int64_t n, std::int64_t start, std::int64_t end,
                                   std::int64_t step) {
  std::vector<std::int64_t> out;
  auto fix = [n, step](std::int64_t v, bool is_end) {
    if (v < 0) v += n;
    if (step > 0) return std::min(std::max<std::int64_t>(v, 0), n);
    return std::min(std::max<std::int64_t>(v, -1), n - 1 + (is_end ? 0 : 0));
  };
  const std::int64_t s = fix(start, false);
  const std::int64_t e = fix(end, true);
  if (step > 0) {
    for (std::int64_t i = s; i < e; i += step) out.push_back(i);
  } else {
    for (std::int64_t i = s; i > e; i += step) {
      if (i >= 0 && i < n) out.push_back(i);
    }
  }
  return out;
}

TEST(ShapeOps, SliceMatchesPythonSlicing) {
  Tensor x = iota_f({5, 7});
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const std::int64_t small = std::numeric_limits<std::int64_t>::min();
  struct Case {
    std::int64_t s0, e0, st0, s1, e1, st1;
  };
  for (const Case& c :
       {Case{0, 5, 1, 0, 7, 1}, Case{1, -1, 2, -1, small, -2}, Case{-100, 100, 3, 6, 2, -1},
        Case{4, -100, -1, big, -big, -3}, Case{3, 3, 1, 0, 7, 1}, Case{10, 20, 1, 0, 7, 1}}) {
    auto out = run_op("Slice", {x, Tensor::from_vector<std::int64_t>({2}, {c.s0, c.s1}),
                                Tensor::from_vector<std::int64_t>({2}, {c.e0, c.e1}),
                                Tensor::from_vector<std::int64_t>({2}, {0, -1}),
                                Tensor::from_vector<std::int64_t>({2}, {c.st0, c.st1})});
    const auto rows = py_slice(5, c.s0, c.e0, c.st0);
    const auto cols = py_slice(7, c.s1, c.e1, c.st1);
    ASSERT_EQ(out[0].shape(), (Shape{static_cast<std::int64_t>(rows.size()),
                                     static_cast<std::int64_t>(cols.size())}));
    std::vector<double> want;
    for (auto r : rows) {
      for (auto col : cols) want.push_back(static_cast<double>(r * 7 + col));
    }
    EXPECT_EQ(vals(out[0]), want) << c.s0 << ":" << c.e0 << ":" << c.st0 << ", " << c.s1 << ":"
                                  << c.e1 << ":" << c.st1;
  }
}

TEST(ShapeOps, SliceDefaultsAttributesAndErrors) {
  Tensor x = iota_f({3, 4}).cast(DType::kI32);
  // Default axes and steps: first axes in order.
  auto out = run_op("Slice", {x, Tensor::from_vector<std::int64_t>({1}, {1}),
                              Tensor::from_vector<std::int64_t>({1}, {3})});
  EXPECT_EQ(vals(out[0]), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11}));
  // Opset 1-9: attributes.
  Attributes a;
  a.set("starts", std::vector<std::int64_t>{1});
  a.set("ends", std::vector<std::int64_t>{-1});
  a.set("axes", std::vector<std::int64_t>{1});
  EXPECT_EQ(vals(run_op("Slice", {x}, a, 1, 9)[0]), (std::vector<double>{1, 2, 5, 6, 9, 10}));
  // i32 starts are read too.
  auto i32 = run_op("Slice", {x, Tensor::from_vector<std::int32_t>({1}, {2}),
                              Tensor::from_vector<std::int32_t>({1}, {3}),
                              Tensor::from_vector<std::int32_t>({1}, {1})});
  EXPECT_EQ(vals(i32[0]), (std::vector<double>{2, 6, 10}));
  EXPECT_THROW(run_op("Slice", {x, Tensor::from_vector<std::int64_t>({1}, {0}),
                                Tensor::from_vector<std::int64_t>({1}, {3}),
                                Tensor::from_vector<std::int64_t>({1}, {0}),
                                Tensor::from_vector<std::int64_t>({1}, {0})}),
               Error);
  EXPECT_THROW(run_op("Slice", {x, Tensor::from_vector<std::int64_t>({1}, {0}),
                                Tensor::from_vector<std::int64_t>({1}, {3}),
                                Tensor::from_vector<std::int64_t>({1}, {2})}),
               Error);
}

// ---- Gather

TEST(ShapeOps, GatherAnyAxisWithNegativeIndices) {
  Tensor x = iota_f({3, 4, 2});
  Tensor idx = Tensor::from_vector<std::int64_t>({2, 2}, {0, -1, 2, 1});
  for (std::int64_t axis : {0, 1, 2, -2}) {
    Attributes a;
    a.set("axis", axis);
    const auto p = static_cast<std::size_t>(axis < 0 ? axis + 3 : axis);
    const std::int64_t n = x.shape()[p];
    Tensor ind = p == 2 ? Tensor::from_vector<std::int32_t>({2, 2}, {0, -1, 1, -2}) : idx;
    auto out = run_op("Gather", {x, ind}, a);
    Shape want_shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(p));
    want_shape.push_back(2);
    want_shape.push_back(2);
    want_shape.insert(want_shape.end(), x.shape().begin() + static_cast<std::ptrdiff_t>(p) + 1,
                      x.shape().end());
    ASSERT_EQ(out[0].shape(), want_shape);
    // Walk output multi-indices; the two index dims sit at p, p+1.
    const Shape& os = out[0].shape();
    for (std::int64_t lin = 0; lin < out[0].numel(); ++lin) {
      std::vector<std::int64_t> oi(os.size());
      std::int64_t rem = lin;
      for (std::size_t k = os.size(); k-- > 0;) {
        oi[k] = rem % os[k];
        rem /= os[k];
      }
      std::int64_t g = ind.get_as_int(oi[p] * 2 + oi[p + 1]);
      if (g < 0) g += n;
      std::vector<std::int64_t> ii(oi.begin(), oi.begin() + static_cast<std::ptrdiff_t>(p));
      ii.push_back(g);
      ii.insert(ii.end(), oi.begin() + static_cast<std::ptrdiff_t>(p) + 2, oi.end());
      const std::int64_t src = (ii[0] * 4 + ii[1]) * 2 + ii[2];
      EXPECT_EQ(out[0].get_as_double(lin), static_cast<double>(src))
          << "axis " << axis << " at " << lin;
    }
  }
  EXPECT_THROW(run_op("Gather", {x, Tensor::from_vector<std::int64_t>({1}, {3})}), Error);
  EXPECT_THROW(run_op("Gather", {x, Tensor::from_vector<std::int64_t>({1}, {-4})}), Error);
  // Scalar index drops the axis.
  auto s = run_op("Gather", {x, Tensor::scalar<std::int64_t>(1)});
  EXPECT_EQ(s[0].shape(), (Shape{4, 2}));
  EXPECT_EQ(s[0].get_as_double(0), 8.0);
}

// ---- Shape / Constant / ConstantOfShape / Cast

TEST(ShapeOps, ShapeWithStartAndEnd) {
  Tensor x = Tensor::zeros(DType::kU8, {2, 3, 4, 5});
  EXPECT_EQ(vals(run_op("Shape", {x})[0]), (std::vector<double>{2, 3, 4, 5}));
  Attributes a;
  a.set("start", std::int64_t{1});
  a.set("end", std::int64_t{-1});
  EXPECT_EQ(vals(run_op("Shape", {x}, a, 1, 15)[0]), (std::vector<double>{3, 4}));
  Attributes b;
  b.set("start", std::int64_t{-10});
  b.set("end", std::int64_t{10});
  EXPECT_EQ(vals(run_op("Shape", {x}, b, 1, 15)[0]), (std::vector<double>{2, 3, 4, 5}));
  Attributes c;
  c.set("start", std::int64_t{3});
  c.set("end", std::int64_t{1});
  EXPECT_EQ(run_op("Shape", {x}, c, 1, 15)[0].numel(), 0);
}

TEST(ShapeOps, ConstantForms) {
  Attributes a;
  a.set("value_ints", std::vector<std::int64_t>{4, 5});
  auto o = run_op("Constant", {}, a);
  EXPECT_EQ(o[0].dtype(), DType::kI64);
  EXPECT_EQ(vals(o[0]), (std::vector<double>{4, 5}));
  Attributes f;
  f.set("value_float", 2.5F);
  o = run_op("Constant", {}, f);
  EXPECT_EQ(o[0].shape(), Shape{});
  EXPECT_EQ(o[0].get_as_double(0), 2.5);
  Attributes t;
  t.set("value", Tensor::from_vector<std::int8_t>({2}, {-3, 7}));
  o = run_op("Constant", {}, t);
  EXPECT_EQ(o[0].dtype(), DType::kI8);
  EXPECT_EQ(vals(o[0]), (std::vector<double>{-3, 7}));
  EXPECT_THROW(run_op("Constant", {}, {}), Error);
}

TEST(ShapeOps, ConstantOfShapeDefaultsToFloatZero) {
  auto o = run_op("ConstantOfShape", {Tensor::from_vector<std::int64_t>({2}, {2, 3})});
  EXPECT_EQ(o[0].dtype(), DType::kF32);
  EXPECT_EQ(vals(o[0]), std::vector<double>(6, 0.0));
  Attributes a;
  a.set("value", Tensor::from_vector<std::int32_t>({1}, {7}));
  o = run_op("ConstantOfShape", {Tensor::from_vector<std::int64_t>({1}, {3})}, a);
  EXPECT_EQ(o[0].dtype(), DType::kI32);
  EXPECT_EQ(vals(o[0]), (std::vector<double>{7, 7, 7}));
  o = run_op("ConstantOfShape", {Tensor::from_vector<std::int64_t>({2}, {0, 3})}, a);
  EXPECT_EQ(o[0].shape(), (Shape{0, 3}));
}

TEST(ShapeOps, CastTruncatesSaturatesAndRoundTripsHalf) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector<float>({6}, {1.7F, -1.7F, 1e10F, -1e10F, nan, 0.0F});
  Attributes to_i32;
  to_i32.set("to", std::int64_t{6});
  EXPECT_EQ(vals(run_op("Cast", {x}, to_i32)[0]),
            (std::vector<double>{1, -1, 2147483647.0, -2147483648.0, 0, 0}));
  Attributes to_bool;
  to_bool.set("to", std::int64_t{9});
  auto b = run_op("Cast", {x}, to_bool)[0];
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(vals(b), (std::vector<double>{1, 1, 1, 1, 1, 0}));
  Attributes to_f16;
  to_f16.set("to", std::int64_t{10});
  Tensor h =
      run_op("Cast", {Tensor::from_vector<float>({3}, {0.5F, 1.0F / 3.0F, 70000.0F})}, to_f16)[0];
  ASSERT_EQ(h.dtype(), DType::kF16);
  EXPECT_EQ(h.get_as_double(0), 0.5);
  EXPECT_NEAR(h.get_as_double(1), 1.0 / 3.0, 1e-3);
  EXPECT_TRUE(std::isinf(h.get_as_double(2)));  // beyond f16's range
  Attributes to_i8;
  to_i8.set("to", std::int64_t{3});
  // Integer narrowing wraps like a C cast (ONNX leaves it to the implementation; numpy wraps).
  auto n = run_op("Cast", {Tensor::from_vector<std::int64_t>({2}, {300, -1})}, to_i8)[0];
  EXPECT_EQ(vals(n), (std::vector<double>{44, -1}));
  Attributes to_f64;
  to_f64.set("to", std::int64_t{11});
  EXPECT_EQ(vals(run_op("Cast", {h}, to_f64)[0])[0], 0.5);
  Attributes bad;
  bad.set("to", std::int64_t{8});  // STRING
  EXPECT_THROW(run_op("Cast", {x}, bad), Error);
  // CastLike takes the second input's dtype.
  auto cl = run_op("CastLike", {x, Tensor::scalar<std::uint8_t>(0)}, {}, 1, 15)[0];
  EXPECT_EQ(cl.dtype(), DType::kU8);
  EXPECT_EQ(cl.get_as_double(0), 1.0);
}

// ---- inference

TEST(ShapeInference, ConstantShapeInputsGiveOutputShapes) {
  Graph g;
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kF32;
  x.has_dtype = true;
  x.has_shape = true;
  x.shape = {Dim{-1, "N"}, Dim{3, {}}, Dim{8, {}}, Dim{8, {}}};
  g.add_input(x);
  g.set_initializer("shape", Tensor::from_vector<std::int64_t>({2}, {0, -1}));
  g.set_initializer("starts", Tensor::from_vector<std::int64_t>({1}, {1}));
  g.set_initializer("ends", Tensor::from_vector<std::int64_t>({1}, {-1}));
  g.set_initializer("axes", Tensor::from_vector<std::int64_t>({1}, {2}));
  g.set_initializer("sizes", Tensor::from_vector<std::int64_t>({4}, {2, 3, 16, 12}));
  auto node = [](std::string op, std::vector<std::string> in, std::string out) {
    Node n;
    n.name = out;
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    return n;
  };
  g.add_node(node("Reshape", {"x", "shape"}, "r"));
  g.add_node(node("Slice", {"x", "starts", "ends", "axes"}, "s"));
  g.add_node(node("Resize", {"x", "", "", "sizes"}, "z"));
  g.add_node(node("Shape", {"x"}, "sh"));
  Node t = node("Transpose", {"x"}, "t");
  t.attrs.set("perm", std::vector<std::int64_t>{0, 2, 3, 1});
  g.add_node(t);
  Node c = node("Concat", {"x", "s"}, "c");
  c.attrs.set("axis", std::int64_t{2});
  g.add_node(c);
  g.add_node(node("Identity", {"c"}, "out"));
  g.add_output(ValueInfo{"out"});
  EXPECT_TRUE(infer_shapes(g, 17));
  EXPECT_EQ(g.value_info("r")->shape_string(), "[N, ?]");
  EXPECT_EQ(g.value_info("s")->shape_string(), "[N, 3, 6, 8]");
  EXPECT_EQ(g.value_info("z")->shape_string(), "[2, 3, 16, 12]");
  EXPECT_EQ(g.value_info("sh")->shape_string(), "[4]");
  EXPECT_EQ(g.value_info("sh")->dtype, DType::kI64);
  EXPECT_EQ(g.value_info("t")->shape_string(), "[N, 8, 8, 3]");
  EXPECT_EQ(g.value_info("c")->shape_string(), "[N, 3, 14, 8]");
}

TEST(ShapeInference, FullyKnownReshapeResolvesMinusOne) {
  Graph g;
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kI8;
  x.has_dtype = true;
  x.has_shape = true;
  x.shape = {Dim{2, {}}, Dim{3, {}}, Dim{4, {}}};
  g.add_input(x);
  g.set_initializer("shape", Tensor::from_vector<std::int64_t>({2}, {-1, 6}));
  Node n;
  n.name = "r";
  n.op_type = "Reshape";
  n.inputs = {"x", "shape"};
  n.outputs = {"y"};
  g.add_node(n);
  Node u;
  u.name = "u";
  u.op_type = "Unsqueeze";
  u.inputs = {"y"};
  u.outputs = {"z"};
  u.attrs.set("axes", std::vector<std::int64_t>{0});
  g.add_node(u);
  g.add_output(ValueInfo{"z"});
  infer_shapes(g, 11);
  ASSERT_NE(g.value_info("y"), nullptr);
  EXPECT_EQ(g.value_info("y")->shape_string(), "[4, 6]");
  EXPECT_EQ(g.value_info("y")->dtype, DType::kI8);
  g.set_initializer("shape", Tensor::from_vector<std::int64_t>({2}, {-1, 5}));
  g.clear_value_infos();
  EXPECT_THROW(infer_shapes(g, 11), Error);
}

}  // namespace
}  // namespace act
