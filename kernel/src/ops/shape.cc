// Schemas of the shape family. Inference shares its arithmetic with the CPU kernels
// (cpu/shape_kernels.h). Shape-like inputs (Reshape's shape, Slice's starts, ...) only give an
// output shape when they are constants; otherwise inference keeps what it can (dtype, rank).
#include <algorithm>
#include <climits>
#include <cmath>

#include "cpu/shape_kernels.h"
#include "ops/families.h"

namespace act::ops {
namespace {

using Dims = std::vector<Dim>;

Dim known(std::int64_t v) {
  return Dim{v, {}};
}

bool has_rank(const InferContext& ctx, std::size_t i) {
  return ctx.has_input(i) && ctx.inputs[i]->has_shape;
}
const Dims& dims_of(const InferContext& ctx, std::size_t i) {
  return ctx.inputs[i]->shape;
}

bool all_known(const Dims& d) {
  return std::all_of(d.begin(), d.end(), [](const Dim& x) { return x.known(); });
}
Shape concrete(const Dims& d) {
  Shape s;
  for (const auto& x : d) s.push_back(x.value);
  return s;
}
Dims to_dims(const Shape& s) {
  Dims d;
  for (auto v : s) d.push_back(known(v));
  return d;
}

void set_dtype(InferContext& ctx, std::size_t out, DType t) {
  if (out >= ctx.outputs.size()) return;
  ctx.outputs[out].dtype = t;
  ctx.outputs[out].has_dtype = true;
}
void set_dims(InferContext& ctx, std::size_t out, Dims d) {
  if (out >= ctx.outputs.size()) return;
  ctx.outputs[out].shape = std::move(d);
  ctx.outputs[out].has_shape = true;
}
// Output `out` takes input `in`'s dtype (when known).
bool same_dtype(InferContext& ctx, std::size_t out, std::size_t in) {
  if (!ctx.has_input(in) || !ctx.inputs[in]->has_dtype) return false;
  set_dtype(ctx, out, ctx.inputs[in]->dtype);
  return true;
}
void same_type_and_shape(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (has_rank(ctx, 0)) set_dims(ctx, 0, dims_of(ctx, 0));
}

// An int list from an attribute (older opsets) or a constant input (newer ones).
// Returns false when it is an input that is not a constant.
bool int_list(const InferContext& ctx, const char* attr, std::size_t input,
              std::int64_t input_since, std::vector<std::int64_t>* out, bool* present) {
  if (ctx.opset >= input_since) {
    *present =
        ctx.has_input(input) || (input < ctx.node.inputs.size() && !ctx.node.inputs[input].empty());
    if (!*present) return true;
    const Tensor* c = ctx.constant(input);
    if (c == nullptr) return false;
    *out = c->to_int_vector();
    return true;
  }
  *present = ctx.node.attrs.has(attr);
  if (*present) *out = ctx.node.attrs.get_ints(attr);
  return true;
}

int large() {
  return INT_MAX;
}

void add(OpRegistry& r, const char* name, int min_in, int max_in, int min_out, int max_out,
         InferFn infer, int type_input = 0) {
  OpSchema s;
  s.name = name;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.min_outputs = min_out;
  s.max_outputs = max_out;
  s.type_input = type_input;
  s.infer = std::move(infer);
  r.add_schema(std::move(s));
}

void infer_reshape(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  std::vector<std::int64_t> spec;
  if (ctx.opset < 5) {
    if (!ctx.node.attrs.has("shape")) return;
    spec = ctx.node.attrs.get_ints("shape");
  } else {
    const Tensor* c = ctx.constant(1);
    if (c == nullptr) {
      // Rank is still known from the shape input's length.
      if (has_rank(ctx, 1) && dims_of(ctx, 1).size() == 1 && dims_of(ctx, 1)[0].known()) {
        set_dims(ctx, 0, Dims(static_cast<std::size_t>(dims_of(ctx, 1)[0].value)));
      }
      return;
    }
    spec = c->to_int_vector();
  }
  const bool allowzero = ctx.node.attrs.get_int("allowzero", 0) != 0;
  if (has_rank(ctx, 0) && all_known(dims_of(ctx, 0))) {
    set_dims(ctx, 0, to_dims(shape::reshape_output(concrete(dims_of(ctx, 0)), spec, allowzero)));
    return;
  }
  Dims out;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == 0 && !allowzero) {
      out.push_back(has_rank(ctx, 0) && i < dims_of(ctx, 0).size() ? dims_of(ctx, 0)[i] : Dim{});
    } else if (spec[i] < 0) {
      out.push_back(Dim{});
    } else {
      out.push_back(known(spec[i]));
    }
  }
  set_dims(ctx, 0, out);
}

void infer_flatten(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (!has_rank(ctx, 0)) {
    set_dims(ctx, 0, Dims(2));
    return;
  }
  const auto& d = dims_of(ctx, 0);
  const auto rank = static_cast<std::int64_t>(d.size());
  std::int64_t axis = ctx.node.attrs.get_int("axis", 1);
  ACT_CHECK(axis >= -rank && axis <= rank, "Flatten: axis ", axis, " is out of range for rank ",
            rank);
  if (axis < 0) axis += rank;
  Dim outer = known(1);
  Dim inner = known(1);
  for (std::int64_t i = 0; i < rank; ++i) {
    Dim& p = i < axis ? outer : inner;
    const Dim& x = d[static_cast<std::size_t>(i)];
    p = p.known() && x.known() ? known(p.value * x.value) : Dim{};
  }
  set_dims(ctx, 0, {outer, inner});
}

void infer_transpose(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (!has_rank(ctx, 0)) return;
  const auto& d = dims_of(ctx, 0);
  const auto perm = shape::transpose_perm(ctx.node.attrs.get_ints("perm", {}),
                                          static_cast<std::int64_t>(d.size()));
  Dims out;
  for (auto p : perm) out.push_back(d[static_cast<std::size_t>(p)]);
  set_dims(ctx, 0, out);
}

void infer_concat(InferContext& ctx) {
  for (std::size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (same_dtype(ctx, 0, i)) break;
  }
  const Dims* first = nullptr;
  for (std::size_t i = 0; i < ctx.inputs.size() && first == nullptr; ++i) {
    if (has_rank(ctx, i)) first = &dims_of(ctx, i);
  }
  if (first == nullptr) return;
  const auto rank = static_cast<std::int64_t>(first->size());
  const auto axis = static_cast<std::size_t>(
      shape::normalize_axis(ctx.node.attrs.get_int("axis"), rank, "Concat"));
  Dims out = *first;
  Dim sum = known(0);
  for (std::size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (!has_rank(ctx, i)) {
      sum = Dim{};
      continue;
    }
    const auto& d = dims_of(ctx, i);
    ACT_CHECK(d.size() == first->size(), "Concat: input ", i, " has rank ", d.size(),
              ", input 0 has rank ", first->size());
    for (std::size_t k = 0; k < d.size(); ++k) {
      if (k == axis) continue;
      if (!out[k].known() && d[k].known()) out[k] = d[k];
      ACT_CHECK(!out[k].known() || !d[k].known() || out[k].value == d[k].value, "Concat: input ", i,
                " has size ", d[k].value, " on axis ", k, " where others have ", out[k].value);
    }
    sum = sum.known() && d[axis].known() ? known(sum.value + d[axis].value) : Dim{};
  }
  out[axis] = sum;
  set_dims(ctx, 0, out);
}

void infer_split(InferContext& ctx) {
  const int outputs = static_cast<int>(ctx.outputs.size());
  for (int i = 0; i < outputs; ++i) same_dtype(ctx, static_cast<std::size_t>(i), 0);
  if (!has_rank(ctx, 0)) return;
  const auto& d = dims_of(ctx, 0);
  const auto axis = static_cast<std::size_t>(shape::normalize_axis(
      ctx.node.attrs.get_int("axis", 0), static_cast<std::int64_t>(d.size()), "Split"));
  std::vector<std::int64_t> split;
  bool present = false;
  const bool split_known = int_list(ctx, "split", 1, 13, &split, &present);
  std::vector<std::int64_t> sizes;
  if (split_known && d[axis].known()) {
    sizes = shape::split_sizes(d[axis].value, split, present, outputs,
                               ctx.node.attrs.get_int("num_outputs", 0));
  } else if (split_known && present) {
    sizes = split;
  }
  for (int i = 0; i < outputs; ++i) {
    Dims o = d;
    o[axis] = sizes.empty() ? Dim{} : known(sizes[static_cast<std::size_t>(i)]);
    set_dims(ctx, static_cast<std::size_t>(i), o);
  }
}

void infer_slice(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (!has_rank(ctx, 0)) return;
  const auto& d = dims_of(ctx, 0);
  std::vector<std::int64_t> starts, ends, axes, steps;
  bool has_axes = false;
  bool has_steps = false;
  if (ctx.opset < 10) {
    starts = ctx.node.attrs.get_ints("starts");
    ends = ctx.node.attrs.get_ints("ends");
    has_axes = ctx.node.attrs.has("axes");
    if (has_axes) axes = ctx.node.attrs.get_ints("axes");
  } else {
    const Tensor* s = ctx.constant(1);
    const Tensor* e = ctx.constant(2);
    bool ok = s != nullptr && e != nullptr;
    has_axes = ctx.node.inputs.size() > 3 && !ctx.node.inputs[3].empty();
    has_steps = ctx.node.inputs.size() > 4 && !ctx.node.inputs[4].empty();
    ok = ok && (!has_axes || ctx.constant(3) != nullptr) &&
         (!has_steps || ctx.constant(4) != nullptr);
    if (!ok) {
      set_dims(ctx, 0, Dims(d.size()));
      return;
    }
    starts = s->to_int_vector();
    ends = e->to_int_vector();
    if (has_axes) axes = ctx.constant(3)->to_int_vector();
    if (has_steps) steps = ctx.constant(4)->to_int_vector();
  }
  // Unknown dims are sliced as if huge, then marked unknown.
  Shape probe;
  for (const auto& x : d) probe.push_back(x.known() ? x.value : (std::int64_t{1} << 40));
  const auto sd = shape::slice_dims(probe, starts, ends, axes, has_axes, steps, has_steps);
  Dims out;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const bool sliced = sd[i].start != 0 || sd[i].step != 1 || sd[i].count != probe[i];
    out.push_back(d[i].known() ? known(sd[i].count) : (sliced ? Dim{} : d[i]));
  }
  set_dims(ctx, 0, out);
}

void infer_gather(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (!has_rank(ctx, 0) || !has_rank(ctx, 1)) return;
  const auto& d = dims_of(ctx, 0);
  const auto axis = static_cast<std::size_t>(shape::normalize_axis(
      ctx.node.attrs.get_int("axis", 0), static_cast<std::int64_t>(d.size()), "Gather"));
  Dims out(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(axis));
  const auto& q = dims_of(ctx, 1);
  out.insert(out.end(), q.begin(), q.end());
  out.insert(out.end(), d.begin() + static_cast<std::ptrdiff_t>(axis) + 1, d.end());
  set_dims(ctx, 0, out);
}

void infer_squeeze(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (!has_rank(ctx, 0)) return;
  const auto& d = dims_of(ctx, 0);
  std::vector<std::int64_t> axes;
  bool present = false;
  if (!int_list(ctx, "axes", 1, 13, &axes, &present)) return;
  if (!present) {
    if (!all_known(d)) return;
    set_dims(ctx, 0, to_dims(shape::squeeze_output(concrete(d), {}, false)));
    return;
  }
  const auto norm = shape::normalize_axes(axes, static_cast<std::int64_t>(d.size()), "Squeeze");
  Dims out;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (std::find(norm.begin(), norm.end(), static_cast<std::int64_t>(i)) == norm.end()) {
      out.push_back(d[i]);
    } else {
      ACT_CHECK(!d[i].known() || d[i].value == 1, "Squeeze: axis ", i, " has size ", d[i].value,
                ", not 1");
    }
  }
  set_dims(ctx, 0, out);
}

void infer_unsqueeze(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (!has_rank(ctx, 0)) return;
  const auto& d = dims_of(ctx, 0);
  std::vector<std::int64_t> axes;
  bool present = false;
  if (!int_list(ctx, "axes", 1, 13, &axes, &present)) return;
  ACT_CHECK(present, "Unsqueeze: axes are required");
  const auto rank = static_cast<std::int64_t>(d.size() + axes.size());
  const auto norm = shape::normalize_axes(axes, rank, "Unsqueeze");
  Dims out;
  std::size_t next = 0;
  for (std::int64_t i = 0; i < rank; ++i) {
    out.push_back(std::find(norm.begin(), norm.end(), i) != norm.end() ? known(1) : d[next++]);
  }
  set_dims(ctx, 0, out);
}

void infer_shape(InferContext& ctx) {
  set_dtype(ctx, 0, DType::kI64);
  if (!has_rank(ctx, 0)) {
    set_dims(ctx, 0, Dims(1));
    return;
  }
  const auto rank = static_cast<std::int64_t>(dims_of(ctx, 0).size());
  const auto [b, e] = shape::shape_range(rank, ctx.node.attrs.get_int("start", 0),
                                         ctx.node.attrs.get_int("end", rank));
  set_dims(ctx, 0, {known(e - b)});
}

void infer_constant(InferContext& ctx) {
  const auto& a = ctx.node.attrs;
  if (a.has("value")) {
    const Tensor& t = a.get_tensor("value");
    set_dtype(ctx, 0, t.dtype());
    set_dims(ctx, 0, to_dims(t.shape()));
  } else if (a.has("value_float")) {
    set_dtype(ctx, 0, DType::kF32);
    set_dims(ctx, 0, {});
  } else if (a.has("value_floats")) {
    set_dtype(ctx, 0, DType::kF32);
    set_dims(ctx, 0, {known(static_cast<std::int64_t>(a.get_floats("value_floats").size()))});
  } else if (a.has("value_int")) {
    set_dtype(ctx, 0, DType::kI64);
    set_dims(ctx, 0, {});
  } else if (a.has("value_ints")) {
    set_dtype(ctx, 0, DType::kI64);
    set_dims(ctx, 0, {known(static_cast<std::int64_t>(a.get_ints("value_ints").size()))});
  } else if (a.has("sparse_value")) {
    fail("Constant: sparse_value is not supported");
  } else {
    fail("Constant: no value attribute (value, value_float(s), value_int(s))");
  }
}

void infer_constant_of_shape(InferContext& ctx) {
  const auto& a = ctx.node.attrs;
  set_dtype(ctx, 0, a.has("value") ? a.get_tensor("value").dtype() : DType::kF32);
  if (const Tensor* c = ctx.constant(0)) {
    set_dims(ctx, 0, to_dims(c->to_int_vector()));
  } else if (has_rank(ctx, 0) && dims_of(ctx, 0).size() == 1 && dims_of(ctx, 0)[0].known()) {
    set_dims(ctx, 0, Dims(static_cast<std::size_t>(dims_of(ctx, 0)[0].value)));
  }
}

void infer_pad(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (!has_rank(ctx, 0)) return;
  const auto& d = dims_of(ctx, 0);
  const auto rank = static_cast<std::int64_t>(d.size());
  std::vector<std::int64_t> pads, axes;
  bool has_axes = false;
  if (ctx.opset < 11) {
    pads = ctx.node.attrs.get_ints(ctx.opset < 2 ? "paddings" : "pads", {});
  } else {
    const Tensor* p = ctx.constant(1);
    has_axes = ctx.node.inputs.size() > 3 && !ctx.node.inputs[3].empty();
    if (p == nullptr || (has_axes && ctx.constant(3) == nullptr)) {
      set_dims(ctx, 0, Dims(d.size()));
      return;
    }
    pads = p->to_int_vector();
    if (has_axes) axes = ctx.constant(3)->to_int_vector();
  }
  const auto full = shape::full_pads(pads, axes, has_axes, rank);
  Dims out;
  for (std::size_t i = 0; i < d.size(); ++i) {
    out.push_back(d[i].known() ? known(d[i].value + full[i] + full[i + d.size()]) : Dim{});
  }
  set_dims(ctx, 0, out);
}

void infer_resize(InferContext& ctx) {
  same_dtype(ctx, 0, 0);
  if (!has_rank(ctx, 0)) return;
  const auto& d = dims_of(ctx, 0);
  const auto axes = ctx.node.attrs.get_ints("axes", {});
  const std::size_t scales_at = ctx.opset < 11 ? 1 : 2;
  const Tensor* scales = ctx.constant(scales_at);
  const Tensor* sizes = ctx.opset < 11 ? nullptr : ctx.constant(3);
  std::vector<float> sv;
  std::vector<std::int64_t> zv;
  if (scales != nullptr && scales->numel() > 0) {
    for (std::int64_t i = 0; i < scales->numel(); ++i)
      sv.push_back(static_cast<float>(scales->get_as_double(i)));
  }
  if (sizes != nullptr && sizes->numel() > 0) zv = sizes->to_int_vector();
  if (sv.empty() == zv.empty()) {
    // Neither is a constant (or the node is malformed; the kernel says which).
    set_dims(ctx, 0, Dims(d.size()));
    return;
  }
  // Unknown dims resize as 1 and are then marked unknown, unless sizes fix them.
  Shape probe;
  for (const auto& x : d) probe.push_back(x.known() ? x.value : 1);
  const auto policy = ctx.node.attrs.get_string("keep_aspect_ratio_policy", "stretch");
  const auto g = shape::resize_geometry(probe, sv, zv, axes, policy);
  Dims out;
  const bool exact_sizes = !zv.empty() && policy == "stretch";
  for (std::size_t i = 0; i < d.size(); ++i) {
    const bool resized = g.scales[i] != 1.0 || g.out[i] != probe[i];
    if (d[i].known() || (exact_sizes && resized)) {
      out.push_back(known(g.out[i]));
    } else {
      out.push_back(resized ? Dim{} : d[i]);
    }
  }
  set_dims(ctx, 0, out);
}

}  // namespace

void register_shape_schemas(OpRegistry& r) {
  add(r, "Identity", 1, 1, 1, 1, same_type_and_shape);
  add(r, "Dropout", 1, 3, 1, 2, [](InferContext& ctx) {
    same_type_and_shape(ctx);
    set_dtype(ctx, 1, DType::kBool);
    if (has_rank(ctx, 0)) set_dims(ctx, 1, dims_of(ctx, 0));
  });
  add(r, "Cast", 1, 1, 1, 1, [](InferContext& ctx) {
    set_dtype(ctx, 0, shape::dtype_from_onnx(ctx.node.attrs.get_int("to"), "Cast"));
    if (has_rank(ctx, 0)) set_dims(ctx, 0, dims_of(ctx, 0));
  });
  add(r, "CastLike", 2, 2, 1, 1, [](InferContext& ctx) {
    same_dtype(ctx, 0, 1);
    if (has_rank(ctx, 0)) set_dims(ctx, 0, dims_of(ctx, 0));
  });
  add(r, "Flatten", 1, 1, 1, 1, infer_flatten);
  add(r, "Reshape", 1, 2, 1, 1, infer_reshape);
  add(r, "Transpose", 1, 1, 1, 1, infer_transpose);
  add(r, "Concat", 1, large(), 1, 1, infer_concat);
  add(r, "Split", 1, 2, 1, large(), infer_split);
  add(r, "Slice", 1, 5, 1, 1, infer_slice);
  add(r, "Gather", 2, 2, 1, 1, infer_gather);
  add(r, "Squeeze", 1, 2, 1, 1, infer_squeeze);
  add(r, "Unsqueeze", 1, 2, 1, 1, infer_unsqueeze);
  add(r, "Shape", 1, 1, 1, 1, infer_shape);
  add(r, "Constant", 0, 0, 1, 1, infer_constant, -1);
  add(r, "ConstantOfShape", 1, 1, 1, 1, infer_constant_of_shape);
  add(r, "Pad", 1, 4, 1, 1, infer_pad);
  add(r, "Resize", 1, 4, 1, 1, infer_resize);
}

}  // namespace act::ops
