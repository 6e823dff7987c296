// Schemas of the neural-network family: Conv, ConvTranspose, Gemm, MatMul, the norms and the
// pools. Inference fills in whatever is known; unknown dims stay symbolic (-1).
#include <algorithm>

#include "cpu/nn_geometry.h"
#include "ops/families.h"

namespace act::ops {
namespace {

// Dims of input i as int64 (-1 unknown); false when its rank is unknown.
bool dims_of(const InferContext& ctx, std::size_t i, std::vector<std::int64_t>& dims) {
  if (!ctx.has_input(i) || !ctx.inputs[i]->has_shape) return false;
  dims.clear();
  for (const auto& d : ctx.inputs[i]->shape) dims.push_back(d.known() ? d.value : -1);
  return true;
}

void set_output(InferContext& ctx, std::size_t o, DType dtype, const std::vector<Dim>* shape) {
  if (o >= ctx.outputs.size()) return;
  auto& out = ctx.outputs[o];
  out.dtype = dtype;
  out.has_dtype = true;
  if (shape != nullptr) {
    out.has_shape = true;
    out.shape = *shape;
  }
}

Dim dim_of(std::int64_t v) {
  Dim d;
  d.value = v < 0 ? -1 : v;
  return d;
}

// Output dtype follows input 0; returns false when input 0's dtype is unknown.
bool same_dtype(InferContext& ctx, DType& dtype) {
  if (!ctx.has_input(0) || !ctx.inputs[0]->has_dtype) return false;
  dtype = ctx.inputs[0]->dtype;
  return true;
}

void infer_conv(InferContext& ctx, bool transposed) {
  const char* op = transposed ? "ConvTranspose" : "Conv";
  DType dtype;
  if (!same_dtype(ctx, dtype)) return;
  std::vector<std::int64_t> x, w;
  const bool hx = dims_of(ctx, 0, x);
  const bool hw = dims_of(ctx, 1, w);
  const auto& attrs = ctx.node.attrs;
  const std::int64_t group = attrs.get_int("group", 1);
  ACT_CHECK(group >= 1, op, ": group ", group, " is invalid");
  if (!hx) {
    set_output(ctx, 0, dtype, nullptr);
    return;
  }
  ACT_CHECK(x.size() >= 3, op, ": input must have rank >= 3 (N, C, spatial...), got rank ",
            x.size());
  const std::size_t r = x.size() - 2;
  std::vector<std::int64_t> kernel = attrs.get_ints("kernel_shape", {});
  if (hw) {
    ACT_CHECK(w.size() == x.size(), op, ": weight has rank ", w.size(), ", input has rank ",
              x.size());
    if (kernel.empty()) kernel.assign(w.begin() + 2, w.end());
    if (!transposed && x[1] >= 0 && w[1] >= 0) {
      ACT_CHECK(x[1] == w[1] * group, op, ": input has ", x[1], " channels, weight expects ",
                w[1] * group, " (group ", group, ")");
    }
    if (transposed && x[1] >= 0 && w[0] >= 0) {
      ACT_CHECK(x[1] == w[0], op, ": input has ", x[1], " channels, weight expects ", w[0]);
    }
  }
  std::vector<Dim> out(x.size());
  out[0] = ctx.inputs[0]->shape[0];
  if (hw) out[1] = dim_of(transposed ? (w[1] < 0 ? -1 : w[1] * group) : w[0]);
  const bool kernel_known = kernel.size() == r && std::all_of(kernel.begin(), kernel.end(),
                                                              [](auto k) { return k >= 0; });
  if (kernel_known) {
    std::vector<std::int64_t> in(x.begin() + 2, x.end());
    auto g = transposed ? cpu::resolve_transposed_window(op, attrs, in, kernel)
                        : cpu::resolve_window(op, attrs, in, kernel, false);
    for (std::size_t i = 0; i < r; ++i) out[i + 2] = dim_of(g.out[i]);
  }
  set_output(ctx, 0, dtype, &out);
}

void infer_pool(InferContext& ctx, const char* op) {
  DType dtype;
  if (!same_dtype(ctx, dtype)) return;
  std::vector<std::int64_t> x;
  if (!dims_of(ctx, 0, x)) {
    set_output(ctx, 0, dtype, nullptr);
    set_output(ctx, 1, DType::kI64, nullptr);
    return;
  }
  ACT_CHECK(x.size() >= 3, op, ": input must have rank >= 3 (N, C, spatial...), got rank ",
            x.size());
  const auto kernel = ctx.node.attrs.get_ints("kernel_shape");
  std::vector<std::int64_t> in(x.begin() + 2, x.end());
  auto g = cpu::resolve_window(op, ctx.node.attrs, in, kernel, true);
  std::vector<Dim> out(ctx.inputs[0]->shape.begin(), ctx.inputs[0]->shape.begin() + 2);
  for (auto o : g.out) out.push_back(dim_of(o));
  set_output(ctx, 0, dtype, &out);
  set_output(ctx, 1, DType::kI64, &out);
}

void infer_global_pool(InferContext& ctx) {
  DType dtype;
  if (!same_dtype(ctx, dtype)) return;
  if (!ctx.inputs[0]->has_shape) {
    set_output(ctx, 0, dtype, nullptr);
    return;
  }
  auto out = ctx.inputs[0]->shape;
  ACT_CHECK(out.size() >= 3, ctx.node.op_type, ": input must have rank >= 3, got rank ",
            out.size());
  for (std::size_t i = 2; i < out.size(); ++i) out[i] = dim_of(1);
  set_output(ctx, 0, dtype, &out);
}

void infer_gemm(InferContext& ctx) {
  DType dtype;
  if (!same_dtype(ctx, dtype)) return;
  std::vector<std::int64_t> a, b;
  if (!dims_of(ctx, 0, a) || !dims_of(ctx, 1, b)) {
    set_output(ctx, 0, dtype, nullptr);
    return;
  }
  ACT_CHECK(a.size() == 2 && b.size() == 2, "Gemm: A and B must be matrices, got ranks ", a.size(),
            " and ", b.size());
  const bool ta = ctx.node.attrs.get_int("transA", 0) != 0;
  const bool tb = ctx.node.attrs.get_int("transB", 0) != 0;
  const std::int64_t ka = ta ? a[0] : a[1];
  const std::int64_t kb = tb ? b[1] : b[0];
  ACT_CHECK(ka < 0 || kb < 0 || ka == kb, "Gemm: inner dimensions differ (A gives ", ka,
            ", B gives ", kb, ")");
  std::vector<Dim> out{ctx.inputs[0]->shape[ta ? 1 : 0], ctx.inputs[1]->shape[tb ? 0 : 1]};
  set_output(ctx, 0, dtype, &out);
}

void infer_matmul(InferContext& ctx) {
  DType dtype;
  if (!same_dtype(ctx, dtype)) return;
  std::vector<std::int64_t> a, b;
  if (!dims_of(ctx, 0, a) || !dims_of(ctx, 1, b)) {
    set_output(ctx, 0, dtype, nullptr);
    return;
  }
  ACT_CHECK(!a.empty() && !b.empty(), "MatMul: operands must have rank >= 1");
  std::vector<Dim> sa = ctx.inputs[0]->shape, sb = ctx.inputs[1]->shape;
  const bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
  if (a_vec) sa.insert(sa.begin(), dim_of(1));
  if (b_vec) sb.push_back(dim_of(1));
  const Dim& ka = sa.back();
  const Dim& kb = sb[sb.size() - 2];
  ACT_CHECK(!ka.known() || !kb.known() || ka.value == kb.value, "MatMul: inner dimensions differ (",
            ka.value, " vs ", kb.value, ")");
  const std::size_t ba = sa.size() - 2, bb = sb.size() - 2, nb = std::max(ba, bb);
  std::vector<Dim> out;
  for (std::size_t i = 0; i < nb; ++i) {
    const Dim* da = i + ba >= nb ? &sa[i + ba - nb] : nullptr;
    const Dim* db = i + bb >= nb ? &sb[i + bb - nb] : nullptr;
    if (da == nullptr || (da->known() && da->value == 1)) {
      out.push_back(db ? *db : *da);
    } else if (db == nullptr || (db->known() && db->value == 1)) {
      out.push_back(*da);
    } else {
      ACT_CHECK(!da->known() || !db->known() || da->value == db->value, "MatMul: batch dimensions ",
                da->value, " and ", db->value, " do not broadcast");
      out.push_back(da->known() ? *da : *db);
    }
  }
  if (!a_vec) out.push_back(sa[sa.size() - 2]);
  if (!b_vec) out.push_back(sb.back());
  set_output(ctx, 0, dtype, &out);
}

void infer_same_shape(InferContext& ctx) {
  DType dtype;
  if (!same_dtype(ctx, dtype)) return;
  const ValueInfo& x = *ctx.inputs[0];
  set_output(ctx, 0, dtype, x.has_shape ? &x.shape : nullptr);
}

void infer_batch_norm(InferContext& ctx) {
  infer_same_shape(ctx);
  DType dtype;
  if (!same_dtype(ctx, dtype)) return;
  // Training-mode running statistics have the shape of the input mean/var.
  for (std::size_t o = 1; o < 3; ++o) {
    const ValueInfo* stat = ctx.has_input(o + 2) ? ctx.inputs[o + 2] : nullptr;
    set_output(ctx, o, dtype, stat && stat->has_shape ? &stat->shape : nullptr);
  }
}

void infer_layer_norm(InferContext& ctx) {
  infer_same_shape(ctx);
  DType dtype;
  if (!same_dtype(ctx, dtype)) return;
  const ValueInfo& x = *ctx.inputs[0];
  if (!x.has_shape) return;
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  std::int64_t axis = ctx.node.attrs.get_int("axis", -1);
  ACT_CHECK(axis >= -rank && axis < rank, "LayerNormalization: axis ", axis,
            " is out of range for rank ", rank);
  if (axis < 0) axis += rank;
  std::vector<Dim> stat(x.shape.begin(), x.shape.begin() + axis);
  stat.resize(static_cast<std::size_t>(rank), dim_of(1));
  // Mean and InvStdDev are stored in stash_type (float) precision.
  set_output(ctx, 1, DType::kF32, &stat);
  set_output(ctx, 2, DType::kF32, &stat);
}

OpSchema schema(const char* name, int min_in, int max_in, int min_out, int max_out, InferFn fn) {
  OpSchema s;
  s.name = name;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.min_outputs = min_out;
  s.max_outputs = max_out;
  s.infer = std::move(fn);
  return s;
}

}  // namespace

void register_nn_schemas(OpRegistry& r) {
  r.add_schema(schema("Conv", 2, 3, 1, 1, [](InferContext& c) { infer_conv(c, false); }));
  // ACT's own fused Conv (passes.h: fuse_conv_epilogues); never written to a file.
  OpSchema fused = schema("FusedConv", 2, 4, 1, 1, [](InferContext& c) { infer_conv(c, false); });
  fused.domain = "act";
  r.add_schema(fused);
  r.add_schema(schema("ConvTranspose", 2, 3, 1, 1, [](InferContext& c) { infer_conv(c, true); }));
  r.add_schema(schema("Gemm", 2, 3, 1, 1, infer_gemm));
  r.add_schema(schema("MatMul", 2, 2, 1, 1, infer_matmul));
  r.add_schema(schema("BatchNormalization", 5, 5, 1, 3, infer_batch_norm));
  r.add_schema(schema("LayerNormalization", 2, 3, 1, 3, infer_layer_norm));
  r.add_schema(schema("InstanceNormalization", 3, 3, 1, 1, infer_same_shape));
  r.add_schema(schema("MaxPool", 1, 1, 1, 2, [](InferContext& c) { infer_pool(c, "MaxPool"); }));
  r.add_schema(
      schema("AveragePool", 1, 1, 1, 1, [](InferContext& c) { infer_pool(c, "AveragePool"); }));
  r.add_schema(schema("GlobalAveragePool", 1, 1, 1, 1, infer_global_pool));
  r.add_schema(schema("GlobalMaxPool", 1, 1, 1, 1, infer_global_pool));
}

}  // namespace act::ops
