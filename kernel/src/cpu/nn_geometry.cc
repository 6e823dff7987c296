#include "cpu/nn_geometry.h"

#include <algorithm>

#include "act/kernel/error.h"

namespace act::cpu {
namespace {

std::vector<std::int64_t> per_axis(const std::string& op, const Attributes& attrs,
                                   const std::string& name, std::size_t rank, std::int64_t fallback,
                                   std::int64_t min_value) {
  auto v = attrs.get_ints(name, std::vector<std::int64_t>(rank, fallback));
  ACT_CHECK(v.size() == rank, op, ": attribute '", name, "' has ", v.size(), " values for ", rank,
            " spatial axes");
  for (auto x : v) ACT_CHECK(x >= min_value, op, ": attribute '", name, "' has invalid value ", x);
  return v;
}

// Python-style floor division; ONNX's reference splits negative totals this way.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

WindowGeometry common(const std::string& op, const Attributes& attrs,
                      const std::vector<std::int64_t>& in,
                      const std::vector<std::int64_t>& kernel) {
  const std::size_t r = in.size();
  ACT_CHECK(r >= 1, op, ": input needs at least one spatial axis");
  ACT_CHECK(kernel.size() == r, op, ": kernel has ", kernel.size(), " spatial axes, input has ", r);
  WindowGeometry g;
  g.in = in;
  g.kernel = kernel;
  for (auto k : kernel) ACT_CHECK(k >= 1, op, ": kernel size ", k, " is invalid");
  g.stride = per_axis(op, attrs, "strides", r, 1, 1);
  g.dilation = per_axis(op, attrs, "dilations", r, 1, 1);
  g.pad_begin.assign(r, 0);
  g.pad_end.assign(r, 0);
  g.out.assign(r, -1);
  return g;
}

}  // namespace

WindowGeometry resolve_window(const std::string& op, const Attributes& attrs,
                              const std::vector<std::int64_t>& in,
                              const std::vector<std::int64_t>& kernel, bool allow_ceil) {
  WindowGeometry g = common(op, attrs, in, kernel);
  const std::size_t r = in.size();
  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  const bool ceil_mode = allow_ceil && attrs.get_int("ceil_mode", 0) != 0;
  if (auto_pad == "NOTSET") {
    auto pads = per_axis(op, attrs, "pads", 2 * r, 0, 0);
    for (std::size_t i = 0; i < r; ++i) {
      g.pad_begin[i] = pads[i];
      g.pad_end[i] = pads[i + r];
    }
  } else {
    ACT_CHECK(auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER" || auto_pad == "VALID", op,
              ": unknown auto_pad '", auto_pad, "'");
  }
  for (std::size_t i = 0; i < r; ++i) {
    if (in[i] < 0) continue;
    const std::int64_t span = g.span(static_cast<int>(i));
    const std::int64_t s = g.stride[i];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[i] = (in[i] + s - 1) / s;
      const std::int64_t total = std::max<std::int64_t>(0, (g.out[i] - 1) * s + span - in[i]);
      const std::int64_t small = total / 2;
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pad_end[i] = total - g.pad_begin[i];
    } else {
      const std::int64_t padded = in[i] + g.pad_begin[i] + g.pad_end[i] - span;
      ACT_CHECK(padded >= 0, op, ": window of ", span, " does not fit padded input of ",
                in[i] + g.pad_begin[i] + g.pad_end[i], " on spatial axis ", i);
      if (ceil_mode) {
        g.out[i] = (padded + s - 1) / s + 1;
        // The last window must start inside the input or its leading pad (as PyTorch/ONNX).
        if ((g.out[i] - 1) * s >= in[i] + g.pad_begin[i]) --g.out[i];
      } else {
        g.out[i] = padded / s + 1;
      }
    }
    ACT_CHECK(g.out[i] >= 1, op, ": output spatial axis ", i, " would be empty");
  }
  return g;
}

WindowGeometry resolve_transposed_window(const std::string& op, const Attributes& attrs,
                                         const std::vector<std::int64_t>& in,
                                         const std::vector<std::int64_t>& kernel) {
  WindowGeometry g = common(op, attrs, in, kernel);
  const std::size_t r = in.size();
  g.output_padding = per_axis(op, attrs, "output_padding", r, 0, 0);
  const std::string auto_pad = attrs.get_string("auto_pad", "NOTSET");
  ACT_CHECK(auto_pad == "NOTSET" || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER" ||
                auto_pad == "VALID",
            op, ": unknown auto_pad '", auto_pad, "'");
  std::vector<std::int64_t> out_shape = attrs.get_ints("output_shape", {});
  if (out_shape.size() == r + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  ACT_CHECK(out_shape.empty() || out_shape.size() == r, op, ": output_shape has ", out_shape.size(),
            " values for ", r, " spatial axes");
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  if (auto_pad == "NOTSET") {
    auto pads = per_axis(op, attrs, "pads", 2 * r, 0, 0);
    for (std::size_t i = 0; i < r; ++i) {
      g.pad_begin[i] = pads[i];
      g.pad_end[i] = pads[i + r];
    }
  }
  for (std::size_t i = 0; i < r; ++i) {
    ACT_CHECK(g.output_padding[i] < std::max(g.stride[i], g.dilation[i]), op, ": output_padding ",
              g.output_padding[i], " must be smaller than stride or dilation");
    if (in[i] < 0) continue;
    const std::int64_t full =
        g.stride[i] * (in[i] - 1) + g.output_padding[i] + g.span(static_cast<int>(i));
    if (same) {
      // The requested size (default in * stride) fixes the total padding, split as ONNX does.
      const std::int64_t want = out_shape.empty() ? in[i] * g.stride[i] : out_shape[i];
      const std::int64_t total = full - want;
      const std::int64_t half = floor_div(total, 2);
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      g.pad_end[i] = total - g.pad_begin[i];
      g.out[i] = want;
    } else if (!out_shape.empty()) {
      // Explicit output_shape wins; the explicit begin pads still place the result.
      g.out[i] = out_shape[i];
      g.pad_end[i] = full - g.pad_begin[i] - g.out[i];
    } else {
      g.out[i] = full - g.pad_begin[i] - g.pad_end[i];
    }
    ACT_CHECK(g.out[i] >= 1, op, ": output spatial axis ", i, " would be empty");
  }
  return g;
}

WindowGeometry as_3d(const std::string& op, const WindowGeometry& g) {
  const int r = g.rank();
  ACT_CHECK(r >= 1 && r <= 3, op, ": ", r, " spatial axes are not supported (1 to 3 are)");
  WindowGeometry o = g;
  const auto lead = static_cast<std::size_t>(3 - r);
  auto pad = [lead](std::vector<std::int64_t>& v, std::int64_t fill) {
    v.insert(v.begin(), lead, fill);
  };
  pad(o.in, 1);
  pad(o.kernel, 1);
  pad(o.stride, 1);
  pad(o.dilation, 1);
  pad(o.pad_begin, 0);
  pad(o.pad_end, 0);
  pad(o.out, 1);
  if (!o.output_padding.empty()) pad(o.output_padding, 0);
  return o;
}

}  // namespace act::cpu
