// Resize (opsets 10-19): nearest (any dtype, on bytes), linear and cubic (float types).
//
// Interpolation is separable, so the kernel runs one 1-D pass per resized axis. Each pass
// precomputes, for every output index, the input taps and their weights; the inner loop is then
// a weighted sum of contiguous rows, which vectorizes. This matches ONNX's reference, which
// also interpolates one axis at a time.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "act/kernel/parallel.h"
#include "cpu/shape_kernels.h"

namespace act::ops::shape {
namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize
};
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct Params {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  float extrapolation = 0.0F;
  std::vector<std::int64_t> axes;
  std::string policy = "stretch";
  bool opset10 = false;
};

// The taps of one axis: output index o reads idx[o * n + t] with weight w[o * n + t].
struct AxisTaps {
  int n = 1;
  std::vector<std::int64_t> idx;
  std::vector<float> w;
  std::vector<char> extrapolate;  // output index lies outside the crop box
  bool identity = true;
};

double original_coordinate(const Params& p, double x, std::int64_t in_len, std::int64_t out_len,
                           double scale, double roi_start, double roi_end) {
  const double in = static_cast<double>(in_len);
  const double out_width = scale * in;  // the reference uses the unrounded width
  switch (p.coord) {
    case Coord::kHalfPixel:
      return (x + 0.5) / scale - 0.5;
    case Coord::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out_len) / out_width;
      const double center = in / 2;
      return center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
    }
    case Coord::kPytorchHalfPixel:
      return out_len > 1 ? (x + 0.5) / scale - 0.5 : -0.5;
    case Coord::kAlignCorners:
      return out_width == 1 ? 0.0 : x * (in - 1) / (out_width - 1);
    case Coord::kAsymmetric:
      return x / scale;
    case Coord::kTfHalfPixelForNn:
      return (x + 0.5) / scale;
    case Coord::kTfCropAndResize: {
      const double span = (roi_end - roi_start) * (in - 1);
      const double base = roi_start * (in - 1);
      return out_width == 1 ? base + span / 2 : base + x * span / (out_width - 1);
    }
  }
  return x;
}

std::int64_t round_nearest(const Params& p, double x, bool downsampling) {
  const double f = std::floor(x);
  if (x == f) return static_cast<std::int64_t>(f);
  if (p.opset10) {
    // Opset 10 had no nearest_mode; runtimes of the time floored up-sampling and ceiled
    // down-sampling.
    return static_cast<std::int64_t>(downsampling ? std::ceil(x) : f);
  }
  const double r = x - f;
  switch (p.nearest) {
    case Nearest::kRoundPreferFloor:
      return static_cast<std::int64_t>(r <= 0.5 ? f : f + 1);
    case Nearest::kRoundPreferCeil:
      return static_cast<std::int64_t>(r < 0.5 ? f : f + 1);
    case Nearest::kFloor:
      return static_cast<std::int64_t>(f);
    case Nearest::kCeil:
      return static_cast<std::int64_t>(f + 1);
  }
  return static_cast<std::int64_t>(f);
}

void cubic_coeffs(double t, double a, double* c) {
  auto far = [a](double s) { return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a; };  // 1 <= s < 2
  auto near = [a](double s) { return ((a + 2) * s - (a + 3)) * s * s + 1; };       // 0 <= s < 1
  c[0] = far(t + 1);
  c[1] = near(t);
  c[2] = near(1 - t);
  c[3] = far(2 - t);
}

AxisTaps make_taps(const Params& p, std::int64_t in_len, std::int64_t out_len, double scale,
                   double roi_start, double roi_end) {
  AxisTaps taps;
  taps.n = p.mode == Mode::kNearest ? 1 : (p.mode == Mode::kLinear ? 2 : 4);
  const auto n = static_cast<std::size_t>(taps.n);
  taps.idx.resize(static_cast<std::size_t>(out_len) * n);
  taps.w.resize(static_cast<std::size_t>(out_len) * n);
  taps.extrapolate.assign(static_cast<std::size_t>(out_len), 0);
  taps.identity = in_len == out_len;
  const auto clamp = [in_len](std::int64_t i) {
    return std::clamp<std::int64_t>(i, 0, in_len - 1);
  };
  for (std::int64_t o = 0; o < out_len; ++o) {
    const double x =
        original_coordinate(p, static_cast<double>(o), in_len, out_len, scale, roi_start, roi_end);
    const auto base = static_cast<std::size_t>(o) * n;
    if (p.coord == Coord::kTfCropAndResize && (x < 0 || x > static_cast<double>(in_len - 1))) {
      taps.extrapolate[static_cast<std::size_t>(o)] = 1;
      taps.identity = false;
      for (std::size_t t = 0; t < n; ++t) {
        taps.idx[base + t] = 0;
        taps.w[base + t] = 0;
      }
      continue;
    }
    if (p.mode == Mode::kNearest) {
      taps.idx[base] = clamp(round_nearest(p, x, scale < 1));
      taps.w[base] = 1;
      taps.identity = taps.identity && taps.idx[base] == o;
      continue;
    }
    const double f = std::floor(x);
    const double t = x - f;
    const auto i0 = static_cast<std::int64_t>(f);
    double c[4];
    std::int64_t raw[4];
    if (p.mode == Mode::kLinear) {
      c[0] = 1 - t;
      c[1] = t;
      raw[0] = i0;
      raw[1] = i0 + 1;
    } else {
      cubic_coeffs(t, p.cubic_a, c);
      for (int k = 0; k < 4; ++k) raw[k] = i0 - 1 + k;
      if (p.exclude_outside) {
        double sum = 0;
        for (int k = 0; k < 4; ++k) {
          if (raw[k] < 0 || raw[k] >= in_len) c[k] = 0;
          sum += c[k];
        }
        for (int k = 0; k < 4; ++k) c[k] /= sum;
      }
    }
    for (std::size_t k = 0; k < n; ++k) {
      taps.idx[base + k] = clamp(raw[k]);
      taps.w[base + k] = static_cast<float>(c[k]);
      // A tap only breaks identity if it pulls weight from another index.
      if (c[k] != 0 && (taps.idx[base + k] != o || c[k] != 1)) taps.identity = false;
    }
  }
  return taps;
}

// One pass over axis d: src is [outer, in_len, inner], dst [outer, out_len, inner].
void pass_float(float* dst, const float* src, std::int64_t outer, std::int64_t in_len,
                std::int64_t out_len, std::int64_t inner, const AxisTaps& taps,
                float extrapolation) {
  const auto n = static_cast<std::size_t>(taps.n);
  const std::int64_t rows = outer * out_len;
  parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(inner * taps.n, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t r = b; r < e; ++r) {
                   const std::int64_t o = r % out_len;
                   const float* s = src + (r / out_len) * in_len * inner;
                   float* d = dst + r * inner;
                   if (taps.extrapolate[static_cast<std::size_t>(o)]) {
                     std::fill(d, d + inner, extrapolation);
                     continue;
                   }
                   const std::size_t base = static_cast<std::size_t>(o) * n;
                   const float* s0 = s + taps.idx[base] * inner;
                   const float w0 = taps.w[base];
                   for (std::int64_t i = 0; i < inner; ++i) d[i] = w0 * s0[i];
                   for (std::size_t t = 1; t < n; ++t) {
                     const float w = taps.w[base + t];
                     if (w == 0) continue;
                     const float* st = s + taps.idx[base + t] * inner;
                     for (std::int64_t i = 0; i < inner; ++i) d[i] += w * st[i];
                   }
                 }
               });
}

void pass_bytes(char* dst, const char* src, std::int64_t outer, std::int64_t in_len,
                std::int64_t out_len, std::int64_t inner, const AxisTaps& taps,
                const char* extrapolation, std::size_t elem) {
  const auto row = static_cast<std::size_t>(inner) * elem;
  const std::int64_t rows = outer * out_len;
  parallel_for(
      rows,
      std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(static_cast<std::int64_t>(row), 1)),
      [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t r = b; r < e; ++r) {
          const std::int64_t o = r % out_len;
          char* d = dst + static_cast<std::size_t>(r) * row;
          if (taps.extrapolate[static_cast<std::size_t>(o)]) {
            for (std::int64_t i = 0; i < inner; ++i)
              std::memcpy(d + static_cast<std::size_t>(i) * elem, extrapolation, elem);
            continue;
          }
          const char* s = src + static_cast<std::size_t>((r / out_len) * in_len +
                                                         taps.idx[static_cast<std::size_t>(o)]) *
                                    row;
          std::memcpy(d, s, row);
        }
      });
}

Params parse(const KernelInit& init) {
  const auto& a = init.node.attrs;
  Params p;
  p.opset10 = init.opset < 11;
  const std::string mode = a.get_string("mode", "nearest");
  if (mode == "nearest") {
    p.mode = Mode::kNearest;
  } else if (mode == "linear" || mode == "bilinear" || mode == "trilinear") {
    p.mode = Mode::kLinear;
  } else if (mode == "cubic" || mode == "bicubic") {
    p.mode = Mode::kCubic;
  } else {
    fail("Resize: unknown mode '", mode, "' (nearest, linear, cubic)");
  }
  const std::string coord =
      a.get_string("coordinate_transformation_mode", p.opset10 ? "asymmetric" : "half_pixel");
  if (coord == "half_pixel") {
    p.coord = Coord::kHalfPixel;
  } else if (coord == "half_pixel_symmetric") {
    p.coord = Coord::kHalfPixelSymmetric;
  } else if (coord == "pytorch_half_pixel") {
    p.coord = Coord::kPytorchHalfPixel;
  } else if (coord == "align_corners") {
    p.coord = Coord::kAlignCorners;
  } else if (coord == "asymmetric") {
    p.coord = Coord::kAsymmetric;
  } else if (coord == "tf_half_pixel_for_nn") {
    p.coord = Coord::kTfHalfPixelForNn;
  } else if (coord == "tf_crop_and_resize") {
    p.coord = Coord::kTfCropAndResize;
  } else {
    fail("Resize: unknown coordinate_transformation_mode '", coord, "'");
  }
  const std::string nearest = a.get_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") {
    p.nearest = Nearest::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    p.nearest = Nearest::kRoundPreferCeil;
  } else if (nearest == "floor") {
    p.nearest = Nearest::kFloor;
  } else if (nearest == "ceil") {
    p.nearest = Nearest::kCeil;
  } else {
    fail("Resize: unknown nearest_mode '", nearest, "'");
  }
  p.cubic_a = a.get_float("cubic_coeff_a", -0.75F);
  p.exclude_outside = a.get_int("exclude_outside", 0) != 0;
  p.extrapolation = a.get_float("extrapolation_value", 0.0F);
  ACT_CHECK(a.get_int("antialias", 0) == 0, "Resize: antialias is not supported");
  p.axes = a.get_ints("axes", {});
  p.policy = a.get_string("keep_aspect_ratio_policy", "stretch");
  return p;
}

std::vector<float> floats_of(const Tensor& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i)
    v[static_cast<std::size_t>(i)] = static_cast<float>(t.get_as_double(i));
  return v;
}

void resize(const Params& p, KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int scales_at = p.opset10 ? 1 : 2;
  std::vector<float> scales;
  std::vector<std::int64_t> sizes;
  if (ctx.has_input(scales_at) && ctx.input(scales_at).numel() > 0)
    scales = floats_of(ctx.input(scales_at));
  if (!p.opset10 && ctx.has_input(3) && ctx.input(3).numel() > 0)
    sizes = ctx.input(3).to_int_vector();
  const ResizeGeometry g = resize_geometry(x.shape(), scales, sizes, p.axes, p.policy);
  const auto rank = static_cast<std::size_t>(x.rank());

  // roi per dim as (start, end); only tf_crop_and_resize reads it.
  std::vector<double> roi_start(rank, 0.0);
  std::vector<double> roi_end(rank, 1.0);
  if (p.coord == Coord::kTfCropAndResize) {
    ACT_CHECK(!p.opset10 && ctx.has_input(1), "Resize: tf_crop_and_resize needs the roi input");
    const auto roi = floats_of(ctx.input(1));
    std::vector<std::int64_t> axes;
    if (p.axes.empty()) {
      for (std::size_t i = 0; i < rank; ++i) axes.push_back(static_cast<std::int64_t>(i));
    } else {
      axes = normalize_axes(p.axes, static_cast<std::int64_t>(rank), "Resize");
    }
    ACT_CHECK(roi.size() == 2 * axes.size(), "Resize: roi has ", roi.size(), " values, expected ",
              2 * axes.size());
    for (std::size_t k = 0; k < axes.size(); ++k) {
      roi_start[static_cast<std::size_t>(axes[k])] = roi[k];
      roi_end[static_cast<std::size_t>(axes[k])] = roi[k + axes.size()];
    }
  }

  const DType dtype = x.dtype();
  const bool nearest = p.mode == Mode::kNearest;
  ACT_CHECK(nearest || is_floating(dtype), "Resize: ", p.mode == Mode::kLinear ? "linear" : "cubic",
            " mode needs a floating-point input, got ", x.describe());
  for (std::size_t d = 0; d < rank; ++d) {
    ACT_CHECK(x.shape()[d] > 0 || g.out[d] == 0, "Resize: cannot resize the empty dim ", d, " of ",
              shape_to_string(x.shape()), " to ", g.out[d]);
  }
  if (shape_numel(g.out) == 0) {
    ctx.allocate(0, dtype, g.out);
    return;
  }

  // Linear and cubic run in f32; f16 and f64 convert around the passes.
  Tensor cur = nearest || dtype == DType::kF32 ? x : x.cast(DType::kF32);
  const Tensor extrapolation = Tensor::scalar<float>(p.extrapolation).cast(cur.dtype());
  Shape shape = x.shape();
  for (std::size_t d = 0; d < rank; ++d) {
    const AxisTaps taps = make_taps(p, shape[d], g.out[d], g.scales[d], roi_start[d], roi_end[d]);
    if (taps.identity) continue;
    std::int64_t outer = 1;
    std::int64_t inner = 1;
    for (std::size_t i = 0; i < rank; ++i) {
      if (i < d) outer *= shape[i];
      if (i > d) inner *= shape[i];
    }
    Shape next_shape = shape;
    next_shape[d] = g.out[d];
    Tensor next(cur.dtype(), next_shape);
    if (nearest) {
      pass_bytes(static_cast<char*>(next.raw_data()), static_cast<const char*>(cur.raw_data()),
                 outer, shape[d], g.out[d], inner, taps,
                 static_cast<const char*>(extrapolation.raw_data()), dtype_size(cur.dtype()));
    } else {
      pass_float(next.data<float>(), cur.data<float>(), outer, shape[d], g.out[d], inner, taps,
                 p.extrapolation);
    }
    cur = std::move(next);
    shape = std::move(next_shape);
  }
  if (cur.dtype() != dtype) cur = cur.cast(dtype);
  ctx.set_output(0, cur.shape() == g.out ? cur : cur.reshaped(g.out));
}

}  // namespace

void register_resize_kernels(OpRegistry& r) {
  r.add_kernel("Resize", "", DeviceKind::kCpu, {}, [](const KernelInit& init) {
    return make_kernel([p = parse(init)](KernelContext& ctx) { resize(p, ctx); });
  });
}

}  // namespace act::ops::shape
