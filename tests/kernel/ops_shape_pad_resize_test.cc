// Pad and Resize: results against values worked out here by hand or by a direct formula.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_shape_test_util.h"

namespace act {
namespace {

using shape_test::iota_f;
using shape_test::run_op;
using shape_test::vals;

Tensor i64(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from_vector<std::int64_t>({n}, v);
}

// Source index of padded position o (begin pad b) in a dim of length n, or -1 for the fill.
// Reflection is walked step by step, the way one would do it on paper.
std::int64_t source(std::int64_t o, std::int64_t b, std::int64_t n, const std::string& mode) {
  std::int64_t s = o - b;
  if (s >= 0 && s < n) return s;
  if (mode == "constant") return -1;
  if (mode == "edge") return s < 0 ? 0 : n - 1;
  if (mode == "wrap") {
    while (s < 0) s += n;
    while (s >= n) s -= n;
    return s;
  }
  while (s < 0 || s >= n) {
    if (s < 0) s = -s;
    if (s >= n) s = 2 * (n - 1) - s;
  }
  return s;
}

std::vector<double> naive_pad(const Tensor& x, const std::vector<std::int64_t>& pads,
                              const std::string& mode, double fill) {
  const Shape& s = x.shape();
  const std::size_t r = s.size();
  Shape os(r);
  for (std::size_t i = 0; i < r; ++i) os[i] = s[i] + pads[i] + pads[i + r];
  std::vector<double> out;
  for (std::int64_t lin = 0; lin < shape_numel(os); ++lin) {
    std::int64_t rem = lin;
    std::vector<std::int64_t> oi(r);
    for (std::size_t k = r; k-- > 0;) {
      oi[k] = rem % os[k];
      rem /= os[k];
    }
    std::int64_t src = 0;
    bool is_fill = false;
    for (std::size_t k = 0; k < r; ++k) {
      const std::int64_t si = source(oi[k], pads[k], s[k], mode);
      is_fill = is_fill || si < 0;
      src = src * s[k] + std::max<std::int64_t>(si, 0);
    }
    out.push_back(is_fill ? fill : x.get_as_double(src));
  }
  return out;
}

TEST(ShapePad, AllModesMatchNaivePadding) {
  Tensor x = iota_f({3, 4}, 1.0F);
  for (const std::string mode : {"constant", "edge", "reflect", "wrap"}) {
    for (const auto& pads :
         {std::vector<std::int64_t>{1, 2, 0, 3}, std::vector<std::int64_t>{0, 0, 2, 1},
          std::vector<std::int64_t>{2, 5, 2, 7}, std::vector<std::int64_t>{-1, 1, 0, -2}}) {
      if (mode == "reflect" && pads[1] > 3) continue;  // beyond one reflection; checked below
      Attributes a;
      a.set("mode", mode);
      auto out = run_op("Pad", {x, i64(pads), Tensor::scalar<float>(-5.0F)}, a, 1, 13);
      EXPECT_EQ(out[0].shape(), (Shape{3 + pads[0] + pads[2], 4 + pads[1] + pads[3]}));
      EXPECT_EQ(vals(out[0]), naive_pad(x, pads, mode, -5.0))
          << mode << " " << shape_to_string(pads);
    }
  }
}

TEST(ShapePad, ConstantDefaultsAxesAndOldAttributes) {
  Tensor x = iota_f({2, 2, 3}).cast(DType::kI8);
  // No constant_value: zero.
  auto out = run_op("Pad", {x, i64({0, 1, 1, 0, 0, 1})}, {}, 1, 13);
  EXPECT_EQ(out[0].dtype(), DType::kI8);
  EXPECT_EQ(vals(out[0]), naive_pad(x, {0, 1, 1, 0, 0, 1}, "constant", 0));
  // Opset 18 axes: pads only for the listed axes.
  out = run_op("Pad", {x, i64({2, 1}), Tensor::scalar<std::int8_t>(9), i64({-1})}, {}, 1, 18);
  EXPECT_EQ(vals(out[0]), naive_pad(x, {0, 0, 2, 0, 0, 1}, "constant", 9));
  // Opset 2-10: pads and value attributes.
  Attributes a;
  a.set("pads", std::vector<std::int64_t>{1, 0, 0, 0, 0, 0});
  a.set("value", 3.0F);
  out = run_op("Pad", {x}, a, 1, 10);
  EXPECT_EQ(vals(out[0]), naive_pad(x, {1, 0, 0, 0, 0, 0}, "constant", 3));
  // A constant_value of another dtype is refused, as are malformed pads.
  EXPECT_THROW(run_op("Pad", {x, i64({0, 1, 1, 0, 0, 1}), Tensor::scalar<float>(1.0F)}, {}, 1, 13),
               Error);
  EXPECT_THROW(run_op("Pad", {x, i64({0, 1, 1})}, {}, 1, 13), Error);
  EXPECT_THROW(run_op("Pad", {x, i64({0, -3, 0, 0, 0, 0})}, {}, 1, 13), Error);
  Attributes bad;
  bad.set("mode", std::string("mirror"));
  EXPECT_THROW(run_op("Pad", {x, i64({0, 1, 1, 0, 0, 1})}, bad, 1, 13), Error);
}

TEST(ShapePad, ReflectBeyondOneBounceRepeats) {
  Tensor x = Tensor::from_vector<float>({3}, {1, 2, 3});
  Attributes a;
  a.set("mode", std::string("reflect"));
  // numpy.pad([1,2,3], (5, 4), 'reflect') = [2,1,2,3,2,1,2,3,2,1,2,3]
  EXPECT_EQ(vals(run_op("Pad", {x, i64({5, 4})}, a, 1, 13)[0]),
            (std::vector<double>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3}));
}

// ---- Resize

Tensor f32(Shape s, std::vector<float> v) {
  return Tensor::from_vector<float>(std::move(s), v);
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want,
                 double tol = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

TEST(ShapeResize, NearestUpsampleByScales) {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Attributes a;
  a.set("mode", std::string("nearest"));
  auto out = run_op("Resize", {x, Tensor(), f32({4}, {1, 1, 2, 3})}, a, 1, 13);
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 4, 6}));
  EXPECT_EQ(vals(out[0]), (std::vector<double>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                               3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
}

TEST(ShapeResize, NearestModesOnIntegers) {
  // 1-D, 4 -> 7 with asymmetric coordinates: x = o * 4/7.
  Tensor x = Tensor::from_vector<std::uint8_t>({4}, {10, 20, 30, 40});
  const double scale = 7.0 / 4.0;
  for (const std::string mode : {"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"}) {
    Attributes a;
    a.set("mode", std::string("nearest"));
    a.set("coordinate_transformation_mode", std::string("asymmetric"));
    a.set("nearest_mode", mode);
    auto out = run_op("Resize", {x, Tensor(), Tensor(), i64({7})}, a, 1, 13);
    ASSERT_EQ(out[0].dtype(), DType::kU8);
    std::vector<double> want;
    for (int o = 0; o < 7; ++o) {
      const double xo = o / scale;
      double i = 0;
      if (mode == "floor") i = std::floor(xo);
      if (mode == "ceil") i = std::ceil(xo);
      if (mode == "round_prefer_floor")
        i = (xo - std::floor(xo) > 0.5) ? std::ceil(xo) : std::floor(xo);
      if (mode == "round_prefer_ceil")
        i = (xo - std::floor(xo) >= 0.5) ? std::ceil(xo) : std::floor(xo);
      want.push_back(10 * (std::min(i, 3.0) + 1));
    }
    EXPECT_EQ(vals(out[0]), want) << mode;
  }
}

TEST(ShapeResize, LinearHalfPixelAndAlignCorners) {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Attributes a;
  a.set("mode", std::string("linear"));
  auto out = run_op("Resize", {x, Tensor(), f32({4}, {1, 1, 2, 2})}, a, 1, 13);
  expect_near(vals(out[0]),
              {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});

  a.set("coordinate_transformation_mode", std::string("align_corners"));
  out = run_op("Resize", {x, Tensor(), Tensor(), i64({1, 1, 4, 4})}, a, 1, 13);
  std::vector<double> want;
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c)
      want.push_back(1 + c / 3.0 + 2 * r / 3.0);  // a plane through the corners
  }
  expect_near(vals(out[0]), want);

  // f16 runs through f32.
  out = run_op("Resize", {x.cast(DType::kF16), Tensor(), Tensor(), i64({1, 1, 4, 4})}, a, 1, 13);
  EXPECT_EQ(out[0].dtype(), DType::kF16);
  expect_near(vals(out[0]), want, 2e-3);
}

TEST(ShapeResize, TfCropAndResizeExtrapolates) {
  Tensor x = f32({4}, {0, 1, 2, 3});
  Attributes a;
  a.set("mode", std::string("linear"));
  a.set("coordinate_transformation_mode", std::string("tf_crop_and_resize"));
  a.set("extrapolation_value", 10.0F);
  // Crop [0.5, 1.5] of the (len - 1) span: x = 1.5 + o * 3 / 2 -> 1.5, 3.0, 4.5 (outside).
  auto out = run_op("Resize", {x, f32({2}, {0.5F, 1.5F}), Tensor(), i64({3})}, a, 1, 13);
  expect_near(vals(out[0]), {1.5, 3.0, 10.0});
}

double keys(double d, double a) {
  d = std::abs(d);
  if (d <= 1) return (a + 2) * d * d * d - (a + 3) * d * d + 1;
  if (d < 2) return a * d * d * d - 5 * a * d * d + 8 * a * d - 4 * a;
  return 0;
}

TEST(ShapeResize, CubicMatchesKeysKernel) {
  const std::vector<float> data{0, 1, 4, 9, 16};
  Tensor x = f32({5}, data);
  for (bool exclude : {false, true}) {
    Attributes a;
    a.set("mode", std::string("cubic"));
    a.set("coordinate_transformation_mode", std::string("asymmetric"));
    a.set("cubic_coeff_a", -0.5F);
    a.set("exclude_outside", std::int64_t{exclude ? 1 : 0});
    auto out = run_op("Resize", {x, Tensor(), f32({1}, {2.0F})}, a, 1, 13);
    ASSERT_EQ(out[0].shape(), Shape{10});
    std::vector<double> want;
    for (int o = 0; o < 10; ++o) {
      const double xo = o / 2.0;
      double sum = 0;
      double wsum = 0;
      for (int i = static_cast<int>(std::floor(xo)) - 1; i <= static_cast<int>(std::floor(xo)) + 2;
           ++i) {
        double w = keys(xo - i, -0.5);
        if (exclude && (i < 0 || i > 4)) w = 0;
        sum += w * data[static_cast<std::size_t>(std::clamp(i, 0, 4))];
        wsum += w;
      }
      want.push_back(sum / wsum);
    }
    expect_near(vals(out[0]), want);
  }
}

TEST(ShapeResize, Errors) {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Attributes lin;
  lin.set("mode", std::string("linear"));
  EXPECT_THROW(
      run_op("Resize", {x.cast(DType::kI32), Tensor(), f32({4}, {1, 1, 2, 2})}, lin, 1, 13), Error);
  EXPECT_THROW(run_op("Resize", {x, Tensor(), f32({2}, {2, 2})}, lin, 1, 13), Error);
  EXPECT_THROW(
      run_op("Resize", {x, Tensor(), f32({4}, {1, 1, 2, 2}), i64({1, 1, 4, 4})}, lin, 1, 13),
      Error);
  Attributes anti = lin;
  anti.set("antialias", std::int64_t{1});
  EXPECT_THROW(run_op("Resize", {x, Tensor(), f32({4}, {1, 1, 2, 2})}, anti, 1, 18), Error);
  Attributes bad;
  bad.set("mode", std::string("area"));
  EXPECT_THROW(run_op("Resize", {x, Tensor(), f32({4}, {1, 1, 2, 2})}, bad, 1, 13), Error);
}

TEST(ShapeResize, Opset18AxesAndAspectRatio) {
  Tensor x = iota_f({1, 2, 4});
  Attributes a;
  a.set("mode", std::string("nearest"));
  a.set("axes", std::vector<std::int64_t>{2, 1});
  a.set("keep_aspect_ratio_policy", std::string("not_larger"));
  // sizes (axis 2 -> 2, axis 1 -> 2): scale = min(2/4, 2/2) = 0.5 for both: [1, 1, 2].
  auto out = run_op("Resize", {x, Tensor(), Tensor(), i64({2, 2})}, a, 1, 18);
  EXPECT_EQ(out[0].shape(), (Shape{1, 1, 2}));
}

}  // namespace
}  // namespace act
