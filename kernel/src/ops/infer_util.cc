#include "ops/infer_util.h"

#include <algorithm>

namespace act::ops {

void infer_same_as_input(InferContext& ctx, std::size_t in, std::size_t out) {
  if (!ctx.has_input(in) || out >= ctx.outputs.size()) return;
  const ValueInfo& src = *ctx.inputs[in];
  ValueInfo& dst = ctx.outputs[out];
  dst.has_dtype = src.has_dtype;
  dst.dtype = src.dtype;
  dst.has_shape = src.has_shape;
  dst.shape = src.shape;
}

namespace {
std::string dims_string(const std::vector<Dim>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += dims[i].known() ? std::to_string(dims[i].value)
                         : (dims[i].param.empty() ? "?" : dims[i].param);
  }
  return s + "]";
}
}  // namespace

std::optional<std::vector<Dim>> broadcast_dims(std::initializer_list<const ValueInfo*> inputs) {
  std::vector<Dim> out;
  for (const ValueInfo* vi : inputs) {
    if (vi == nullptr || !vi->has_shape) return std::nullopt;
    const std::vector<Dim>& b = vi->shape;
    const std::size_t rank = std::max(out.size(), b.size());
    std::vector<Dim> next(rank);
    for (std::size_t i = 0; i < rank; ++i) {
      const Dim one{1, ""};
      const Dim& da = i + out.size() >= rank ? out[i + out.size() - rank] : one;
      const Dim& db = i + b.size() >= rank ? b[i + b.size() - rank] : one;
      if (da.known() && db.known()) {
        ACT_CHECK(da.value == db.value || da.value == 1 || db.value == 1, "shapes ",
                  dims_string(out), " and ", dims_string(b), " do not broadcast");
        next[i] = da.value == 1 ? db : da;
      } else if (da.known() && da.value == 1) {
        next[i] = db;
      } else if (db.known() && db.value == 1) {
        next[i] = da;
      } else if (da.known()) {
        next[i] = da;  // the unknown dim must be 1 or equal
      } else if (db.known()) {
        next[i] = db;
      } else {
        next[i] = da == db ? da : Dim{};
      }
    }
    out = std::move(next);
  }
  return out;
}

void infer_broadcast(InferContext& ctx, std::initializer_list<std::size_t> inputs,
                     std::optional<DType> dtype, std::size_t dtype_from) {
  ValueInfo& out = ctx.outputs.at(0);
  if (dtype) {
    out.dtype = *dtype;
    out.has_dtype = true;
  } else if (ctx.has_input(dtype_from) && ctx.inputs[dtype_from]->has_dtype) {
    out.dtype = ctx.inputs[dtype_from]->dtype;
    out.has_dtype = true;
  }
  std::vector<const ValueInfo*> infos;
  for (std::size_t i : inputs) {
    if (!ctx.has_input(i)) return;
    infos.push_back(ctx.inputs[i]);
  }
  // initializer_list cannot be built at run time; fold pairwise instead.
  std::optional<std::vector<Dim>> dims = std::vector<Dim>{};
  for (const ValueInfo* vi : infos) {
    ValueInfo acc;
    acc.has_shape = true;
    acc.shape = *dims;
    dims = broadcast_dims({&acc, vi});
    if (!dims) return;
  }
  out.has_shape = true;
  out.shape = std::move(*dims);
}

std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank, const char* what) {
  ACT_CHECK(axis >= -rank && axis < rank, what, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

void infer_dtype_only(InferContext& ctx, DType dtype, std::size_t out) {
  if (out >= ctx.outputs.size()) return;
  ctx.outputs[out].dtype = dtype;
  ctx.outputs[out].has_dtype = true;
}

}  // namespace act::ops
