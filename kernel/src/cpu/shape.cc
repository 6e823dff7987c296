// Shape arithmetic shared with inference, and the kernels that only relabel or create tensors
// (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, Shape, Constant, ConstantOfShape,
// Cast). The copying kernels live in shape_copy.cc, Resize in shape_resize.cc.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "act/kernel/parallel.h"
#include "cpu/shape_kernels.h"
#include "ops/families.h"

namespace act::ops {
namespace shape {

std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank, const char* op) {
  ACT_CHECK(axis >= -rank && axis < rank, op, ": axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

std::vector<std::int64_t> normalize_axes(const std::vector<std::int64_t>& axes, std::int64_t rank,
                                         const char* op) {
  std::vector<std::int64_t> out;
  out.reserve(axes.size());
  for (auto a : axes) {
    const auto n = normalize_axis(a, rank, op);
    ACT_CHECK(std::find(out.begin(), out.end(), n) == out.end(), op, ": axis ", a,
              " is listed twice");
    out.push_back(n);
  }
  return out;
}

DType dtype_from_onnx(std::int64_t onnx_type, const char* op) {
  switch (onnx_type) {
    case 1:
      return DType::kF32;
    case 2:
      return DType::kU8;
    case 3:
      return DType::kI8;
    case 6:
      return DType::kI32;
    case 7:
      return DType::kI64;
    case 9:
      return DType::kBool;
    case 10:
      return DType::kF16;
    case 11:
      return DType::kF64;
    default:
      break;
  }
  fail(op, ": element type ", onnx_type,
       " (ONNX TensorProto::DataType) is not supported; ACT has f32, f64, f16, i8, u8, i32, i64, "
       "bool");
}

Shape reshape_output(const Shape& in, const std::vector<std::int64_t>& spec, bool allowzero) {
  Shape out(spec.size());
  int infer_at = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    std::int64_t d = spec[i];
    if (d == 0 && !allowzero) {
      ACT_CHECK(i < in.size(), "Reshape: shape ", shape_to_string(spec), " copies dim ", i,
                " (0) but the input ", shape_to_string(in), " has rank ", in.size());
      d = in[i];
    } else if (d == -1) {
      ACT_CHECK(infer_at < 0, "Reshape: shape ", shape_to_string(spec), " has more than one -1");
      infer_at = static_cast<int>(i);
      out[i] = -1;
      continue;
    }
    ACT_CHECK(d >= 0, "Reshape: shape ", shape_to_string(spec), " has invalid dim ", d);
    out[i] = d;
    known *= d;
  }
  const std::int64_t total = shape_numel(in);
  if (infer_at >= 0) {
    ACT_CHECK(known != 0 && total % known == 0, "Reshape: cannot reshape ", shape_to_string(in),
              " (", total, " elements) to ", shape_to_string(spec));
    out[static_cast<std::size_t>(infer_at)] = total / known;
  } else {
    ACT_CHECK(known == total, "Reshape: cannot reshape ", shape_to_string(in), " (", total,
              " elements) to ", shape_to_string(spec));
  }
  return out;
}

std::vector<std::int64_t> transpose_perm(const std::vector<std::int64_t>& perm, std::int64_t rank) {
  if (perm.empty()) {
    std::vector<std::int64_t> p(static_cast<std::size_t>(rank));
    for (std::int64_t i = 0; i < rank; ++i) p[static_cast<std::size_t>(i)] = rank - 1 - i;
    return p;
  }
  ACT_CHECK(static_cast<std::int64_t>(perm.size()) == rank, "Transpose: perm ",
            shape_to_string(perm), " has ", perm.size(), " entries for an input of rank ", rank);
  std::vector<bool> seen(static_cast<std::size_t>(rank), false);
  std::vector<std::int64_t> p;
  for (auto a : perm) {
    const auto n = normalize_axis(a, rank, "Transpose");
    ACT_CHECK(!seen[static_cast<std::size_t>(n)], "Transpose: perm ", shape_to_string(perm),
              " is not a permutation");
    seen[static_cast<std::size_t>(n)] = true;
    p.push_back(n);
  }
  return p;
}

Shape squeeze_output(const Shape& in, const std::vector<std::int64_t>& axes, bool has_axes) {
  const auto rank = static_cast<std::int64_t>(in.size());
  std::vector<bool> drop(in.size(), false);
  if (has_axes) {
    for (auto a : normalize_axes(axes, rank, "Squeeze")) {
      ACT_CHECK(in[static_cast<std::size_t>(a)] == 1, "Squeeze: axis ", a, " of ",
                shape_to_string(in), " has size ", in[static_cast<std::size_t>(a)], ", not 1");
      drop[static_cast<std::size_t>(a)] = true;
    }
  } else {
    for (std::size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
  }
  Shape out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (!drop[i]) out.push_back(in[i]);
  }
  return out;
}

Shape unsqueeze_output(const Shape& in, const std::vector<std::int64_t>& axes) {
  const auto rank = static_cast<std::int64_t>(in.size() + axes.size());
  std::vector<bool> ones(static_cast<std::size_t>(rank), false);
  for (auto a : normalize_axes(axes, rank, "Unsqueeze")) ones[static_cast<std::size_t>(a)] = true;
  Shape out;
  std::size_t next = 0;
  for (std::size_t i = 0; i < ones.size(); ++i) out.push_back(ones[i] ? 1 : in[next++]);
  return out;
}

std::vector<std::int64_t> split_sizes(std::int64_t dim, const std::vector<std::int64_t>& split,
                                      bool has_split, int outputs, std::int64_t num_outputs) {
  if (has_split) {
    ACT_CHECK(static_cast<int>(split.size()) == outputs, "Split: split ", shape_to_string(split),
              " has ", split.size(), " entries for ", outputs, " outputs");
    std::int64_t sum = 0;
    for (auto s : split) {
      ACT_CHECK(s >= 0, "Split: negative size in split ", shape_to_string(split));
      sum += s;
    }
    ACT_CHECK(sum == dim, "Split: split ", shape_to_string(split), " sums to ", sum,
              " but the axis has length ", dim);
    return split;
  }
  if (num_outputs > 0) {
    ACT_CHECK(num_outputs == outputs, "Split: num_outputs is ", num_outputs, " but the node has ",
              outputs, " outputs");
    const std::int64_t chunk = (dim + num_outputs - 1) / num_outputs;
    std::vector<std::int64_t> out;
    std::int64_t left = dim;
    for (std::int64_t i = 0; i < num_outputs; ++i) {
      out.push_back(std::min(chunk, left));
      left -= out.back();
    }
    ACT_CHECK(left == 0 && out.back() > 0, "Split: cannot split an axis of length ", dim, " into ",
              num_outputs, " outputs");
    return out;
  }
  ACT_CHECK(outputs > 0 && dim % outputs == 0, "Split: an axis of length ", dim,
            " cannot be split into ", outputs, " equal parts");
  return std::vector<std::int64_t>(static_cast<std::size_t>(outputs), dim / outputs);
}

std::vector<SliceDim> slice_dims(const Shape& in, const std::vector<std::int64_t>& starts,
                                 const std::vector<std::int64_t>& ends,
                                 const std::vector<std::int64_t>& axes_in, bool has_axes,
                                 const std::vector<std::int64_t>& steps, bool has_steps) {
  const auto rank = static_cast<std::int64_t>(in.size());
  ACT_CHECK(starts.size() == ends.size(), "Slice: starts has ", starts.size(), " values, ends ",
            ends.size());
  std::vector<std::int64_t> axes;
  if (has_axes) {
    ACT_CHECK(axes_in.size() == starts.size(), "Slice: axes has ", axes_in.size(),
              " values, starts ", starts.size());
    axes = normalize_axes(axes_in, rank, "Slice");
  } else {
    ACT_CHECK(static_cast<std::int64_t>(starts.size()) <= rank, "Slice: ", starts.size(),
              " starts for an input of rank ", rank);
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  }
  if (has_steps) {
    ACT_CHECK(steps.size() == starts.size(), "Slice: steps has ", steps.size(), " values, starts ",
              starts.size());
  }
  std::vector<SliceDim> out(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = {0, 1, in[i]};
  for (std::size_t k = 0; k < axes.size(); ++k) {
    const std::int64_t dim = in[static_cast<std::size_t>(axes[k])];
    const std::int64_t step = has_steps ? steps[k] : 1;
    ACT_CHECK(step != 0, "Slice: step 0 on axis ", axes[k]);
    std::int64_t start = starts[k];
    std::int64_t end = ends[k];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    std::int64_t count = 0;
    if (step > 0) {
      start = std::clamp<std::int64_t>(start, 0, dim);
      end = std::clamp<std::int64_t>(end, 0, dim);
      if (end > start) count = (end - start + step - 1) / step;
    } else {
      start = std::clamp<std::int64_t>(start, 0, dim - 1);
      end = std::clamp<std::int64_t>(end, -1, dim - 1);
      if (start > end) count = (start - end + (-step) - 1) / (-step);
    }
    out[static_cast<std::size_t>(axes[k])] = {count > 0 ? start : 0, step, count};
  }
  return out;
}

std::vector<std::int64_t> full_pads(const std::vector<std::int64_t>& pads,
                                    const std::vector<std::int64_t>& axes_in, bool has_axes,
                                    std::int64_t rank) {
  std::vector<std::int64_t> axes;
  if (has_axes) {
    axes = normalize_axes(axes_in, rank, "Pad");
  } else {
    for (std::int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  ACT_CHECK(pads.size() == 2 * axes.size(), "Pad: pads has ", pads.size(), " values, expected ",
            2 * axes.size(), " (begin and end for each of ", axes.size(), " axes)");
  std::vector<std::int64_t> out(static_cast<std::size_t>(2 * rank), 0);
  for (std::size_t k = 0; k < axes.size(); ++k) {
    out[static_cast<std::size_t>(axes[k])] = pads[k];
    out[static_cast<std::size_t>(axes[k] + rank)] = pads[k + axes.size()];
  }
  return out;
}

Shape pad_output(const Shape& in, const std::vector<std::int64_t>& pads) {
  Shape out(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    out[i] = in[i] + pads[i] + pads[i + in.size()];
    ACT_CHECK(out[i] >= 0, "Pad: pads ", shape_to_string(pads), " remove more than dim ", i, " of ",
              shape_to_string(in), " holds");
  }
  return out;
}

ResizeGeometry resize_geometry(const Shape& in, const std::vector<float>& scales,
                               const std::vector<std::int64_t>& sizes,
                               const std::vector<std::int64_t>& axes_in,
                               const std::string& policy) {
  const auto rank = static_cast<std::int64_t>(in.size());
  std::vector<std::int64_t> axes;
  if (!axes_in.empty()) {
    axes = normalize_axes(axes_in, rank, "Resize");
  } else {
    for (std::int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  ResizeGeometry g;
  g.out = in;
  g.scales.assign(in.size(), 1.0);
  ACT_CHECK(scales.empty() != sizes.empty(),
            "Resize: exactly one of scales and sizes must be given");
  if (!scales.empty()) {
    ACT_CHECK(scales.size() == axes.size(), "Resize: ", scales.size(), " scales for ", axes.size(),
              " axes of input ", shape_to_string(in));
    for (std::size_t k = 0; k < axes.size(); ++k) {
      const auto a = static_cast<std::size_t>(axes[k]);
      ACT_CHECK(scales[k] > 0, "Resize: scale ", scales[k], " on axis ", a, " is not positive");
      g.scales[a] = scales[k];
      g.out[a] = static_cast<std::int64_t>(std::floor(static_cast<double>(in[a]) * scales[k]));
    }
    return g;
  }
  ACT_CHECK(sizes.size() == axes.size(), "Resize: ", sizes.size(), " sizes for ", axes.size(),
            " axes of input ", shape_to_string(in));
  if (policy == "stretch") {
    for (std::size_t k = 0; k < axes.size(); ++k) {
      const auto a = static_cast<std::size_t>(axes[k]);
      ACT_CHECK(sizes[k] >= 0, "Resize: negative size ", sizes[k]);
      g.out[a] = sizes[k];
      g.scales[a] = in[a] == 0 ? 1.0 : static_cast<double>(sizes[k]) / static_cast<double>(in[a]);
    }
    return g;
  }
  ACT_CHECK(policy == "not_larger" || policy == "not_smaller",
            "Resize: unknown keep_aspect_ratio_policy '", policy, "'");
  // One scale for all listed axes keeps the aspect ratio.
  double scale = policy == "not_larger" ? std::numeric_limits<double>::max() : 0.0;
  for (std::size_t k = 0; k < axes.size(); ++k) {
    const double s =
        static_cast<double>(sizes[k]) / static_cast<double>(in[static_cast<std::size_t>(axes[k])]);
    scale = policy == "not_larger" ? std::min(scale, s) : std::max(scale, s);
  }
  for (auto a : axes) {
    const auto i = static_cast<std::size_t>(a);
    g.scales[i] = scale;
    g.out[i] = static_cast<std::int64_t>(std::round(scale * static_cast<double>(in[i])));
  }
  return g;
}

std::pair<std::int64_t, std::int64_t> shape_range(std::int64_t rank, std::int64_t start,
                                                  std::int64_t end) {
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<std::int64_t>(start, 0, rank);
  end = std::clamp<std::int64_t>(end, 0, rank);
  return {start, std::max(start, end)};
}

}  // namespace shape

namespace {

using shape::dtype_from_onnx;

std::vector<std::int64_t> ints_of(const KernelContext& ctx, int i) {
  return ctx.input(i).to_int_vector();
}

// ---- Cast: typed loops; Tensor::cast goes through get_as_double per element, too slow for
// a hot op. Semantics match Tensor::cast (float->int truncates and saturates, NaN -> 0).

template <typename T>
struct Elem {
  using type = T;
};

template <typename Fn>
void visit(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32:
      return fn(Elem<float>{});
    case DType::kF64:
      return fn(Elem<double>{});
    case DType::kF16:
      return fn(Elem<std::uint16_t>{});
    case DType::kI8:
      return fn(Elem<std::int8_t>{});
    case DType::kU8:
      return fn(Elem<std::uint8_t>{});
    case DType::kI32:
      return fn(Elem<std::int32_t>{});
    case DType::kI64:
      return fn(Elem<std::int64_t>{});
    case DType::kBool:
      return fn(Elem<bool>{});
  }
}

template <typename To, typename From>
To convert(From v, bool from_half, bool to_half) {
  if (from_half) {
    const float f = half_to_float(static_cast<std::uint16_t>(v));
    return convert<To, float>(f, false, to_half);
  }
  if (to_half) return static_cast<To>(float_to_half(static_cast<float>(v)));
  if constexpr (std::is_same_v<To, bool>) {
    return v != From{};
  } else if constexpr (std::is_floating_point_v<To> || !std::is_floating_point_v<From>) {
    return static_cast<To>(v);
  } else {
    if (std::isnan(v)) return To{};
    const double lo = static_cast<double>(std::numeric_limits<To>::lowest());
    const double hi = static_cast<double>(std::numeric_limits<To>::max());
    const double d = std::trunc(static_cast<double>(v));
    if (d <= lo) return std::numeric_limits<To>::lowest();
    if (d >= hi) return std::numeric_limits<To>::max();
    return static_cast<To>(d);
  }
}

Tensor cast_tensor(const Tensor& x, DType to) {
  Tensor out(to, x.shape());
  const bool from_half = x.dtype() == DType::kF16;
  const bool to_half = to == DType::kF16;
  visit(x.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    visit(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const auto* src = static_cast<const From*>(x.raw_data());
      auto* dst = static_cast<To*>(out.raw_data());
      parallel_for(x.numel(), 1 << 15, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) dst[i] = convert<To, From>(src[i], from_half, to_half);
      });
    });
  });
  return out;
}

void add(OpRegistry& r, const std::string& op, KernelFactory f) {
  r.add_kernel(op, "", DeviceKind::kCpu, {}, std::move(f));
}

}  // namespace

void register_shape_cpu(OpRegistry& r) {
  add(r, "Identity", [](const KernelInit&) {
    return make_kernel([](KernelContext& ctx) { ctx.set_output(0, ctx.input(0)); });
  });

  add(r, "Dropout", [](const KernelInit& init) {
    // Inference only. Training mode with ratio 0 is still deterministic (keep everything), so
    // it is allowed; any other training-mode dropout is refused rather than faked.
    return make_kernel([](KernelContext& ctx) {
      const bool training =
          ctx.has_input(2) && ctx.input(2).numel() == 1 && ctx.input(2).get_as_int(0) != 0;
      if (training) {
        const double ratio = ctx.has_input(1) ? ctx.input(1).get_as_double(0) : 0.5;
        ACT_CHECK(ratio == 0.0, "Dropout: training_mode with ratio ", ratio,
                  " is not supported (random masks; ACT runs Dropout for inference only)");
      }
      const Tensor& x = ctx.input(0);
      ctx.set_output(0, x);
      if (ctx.num_outputs() > 1) {
        Tensor& mask = ctx.allocate(1, DType::kBool, x.shape());
        std::memset(mask.raw_data(), 1, mask.nbytes());
      }
    });
  });

  add(r, "Flatten", [](const KernelInit& init) {
    const std::int64_t axis = init.node.attrs.get_int("axis", 1);
    return make_kernel([axis](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const std::int64_t rank = x.rank();
      ACT_CHECK(axis >= -rank && axis <= rank, "Flatten: axis ", axis, " is out of range for rank ",
                rank);
      const auto a = static_cast<std::size_t>(axis < 0 ? axis + rank : axis);
      std::int64_t outer = 1;
      std::int64_t inner = 1;
      for (std::size_t i = 0; i < x.shape().size(); ++i) (i < a ? outer : inner) *= x.shape()[i];
      ctx.set_output(0, x.reshaped({outer, inner}));
    });
  });

  add(r, "Reshape", [](const KernelInit& init) {
    const bool allowzero = init.node.attrs.get_int("allowzero", 0) != 0;
    std::vector<std::int64_t> attr_shape;
    const bool from_attr = init.opset < 5;
    if (from_attr) attr_shape = init.node.attrs.get_ints("shape");
    return make_kernel([=](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const auto spec = from_attr ? attr_shape : ints_of(ctx, 1);
      ctx.set_output(0, x.reshaped(shape::reshape_output(x.shape(), spec, allowzero)));
    });
  });

  add(r, "Squeeze", [](const KernelInit& init) {
    const bool axes_input = init.opset >= 13;
    const bool has_attr = init.node.attrs.has("axes");
    const auto attr = init.node.attrs.get_ints("axes", {});
    return make_kernel([=](KernelContext& ctx) {
      const bool has = axes_input ? ctx.has_input(1) : has_attr;
      const auto axes = axes_input ? (has ? ints_of(ctx, 1) : std::vector<std::int64_t>{}) : attr;
      const Tensor& x = ctx.input(0);
      ctx.set_output(0, x.reshaped(shape::squeeze_output(x.shape(), axes, has)));
    });
  });

  add(r, "Unsqueeze", [](const KernelInit& init) {
    const bool axes_input = init.opset >= 13;
    const auto attr = init.node.attrs.get_ints("axes", {});
    return make_kernel([=](KernelContext& ctx) {
      const auto axes = axes_input ? ints_of(ctx, 1) : attr;
      ACT_CHECK(!axes.empty(), "Unsqueeze: axes are required");
      const Tensor& x = ctx.input(0);
      ctx.set_output(0, x.reshaped(shape::unsqueeze_output(x.shape(), axes)));
    });
  });

  add(r, "Shape", [](const KernelInit& init) {
    const std::int64_t start = init.node.attrs.get_int("start", 0);
    const bool has_end = init.node.attrs.has("end");
    const std::int64_t end = init.node.attrs.get_int("end", 0);
    return make_kernel([=](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const auto [b, e] = shape::shape_range(x.rank(), start, has_end ? end : x.rank());
      Tensor& out = ctx.allocate(0, DType::kI64, {e - b});
      for (std::int64_t i = b; i < e; ++i)
        out.data<std::int64_t>()[i - b] = x.shape()[static_cast<std::size_t>(i)];
    });
  });

  add(r, "Constant", [](const KernelInit& init) {
    const auto& a = init.node.attrs;
    Tensor value;
    if (a.has("value")) {
      value = a.get_tensor("value");
    } else if (a.has("value_float")) {
      value = Tensor::scalar<float>(a.get_float("value_float"));
    } else if (a.has("value_floats")) {
      const auto& v = a.get_floats("value_floats");
      value = Tensor::from_vector<float>({static_cast<std::int64_t>(v.size())}, v);
    } else if (a.has("value_int")) {
      value = Tensor::scalar<std::int64_t>(a.get_int("value_int"));
    } else if (a.has("value_ints")) {
      const auto& v = a.get_ints("value_ints");
      value = Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(v.size())}, v);
    } else if (a.has("sparse_value")) {
      fail("Constant: sparse_value is not supported");
    } else {
      fail(
          "Constant: no value attribute (value, value_float(s), value_int(s)); string values "
          "are not supported");
    }
    return make_kernel([value](KernelContext& ctx) { ctx.set_output(0, value); });
  });

  add(r, "ConstantOfShape", [](const KernelInit& init) {
    Tensor value = init.node.attrs.has("value") ? init.node.attrs.get_tensor("value")
                                                : Tensor::scalar<float>(0.0F);
    ACT_CHECK(value.numel() == 1, "ConstantOfShape: value must hold one element, got ",
              value.describe());
    return make_kernel([value](KernelContext& ctx) {
      const auto shape = ctx.input(0).to_int_vector();
      for (auto d : shape) {
        ACT_CHECK(d >= 0, "ConstantOfShape: negative dimension in ", shape_to_string(shape));
      }
      Tensor& out = ctx.allocate(0, value.dtype(), shape);
      const std::size_t elem = dtype_size(value.dtype());
      auto* dst = static_cast<char*>(out.raw_data());
      const auto* v = static_cast<const char*>(value.raw_data());
      const bool zero = std::all_of(v, v + elem, [](char c) { return c == 0; });
      if (zero) {
        std::memset(dst, 0, out.nbytes());
      } else {
        for (std::int64_t i = 0; i < out.numel(); ++i) std::memcpy(dst + i * elem, v, elem);
      }
    });
  });

  add(r, "Cast", [](const KernelInit& init) {
    const DType to = dtype_from_onnx(init.node.attrs.get_int("to"), "Cast");
    return make_kernel([to](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      ctx.set_output(0, x.dtype() == to ? x : cast_tensor(x, to));
    });
  });

  add(r, "CastLike", [](const KernelInit&) {
    return make_kernel([](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const DType to = ctx.input(1).dtype();
      ctx.set_output(0, x.dtype() == to ? x : cast_tensor(x, to));
    });
  });

  shape::register_copy_kernels(r);
  shape::register_resize_kernels(r);
}

}  // namespace act::ops
