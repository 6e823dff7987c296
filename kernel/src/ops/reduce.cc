#include <algorithm>
#include <string>

#include "ops/families.h"
#include "ops/infer_util.h"

namespace act::ops {

namespace {

// Reduce* ops moved `axes` from an attribute to an optional input: ReduceSum at opset 13,
// the rest at 18.
bool axes_are_input(const std::string& op, std::int64_t opset) {
  return op == "ReduceSum" ? opset >= 13 : opset >= 18;
}

void infer_reduce(InferContext& ctx) {
  const Node& node = ctx.node;
  ValueInfo& out = ctx.outputs.at(0);
  if (!ctx.has_input(0)) return;
  const ValueInfo& in = *ctx.inputs[0];
  out.dtype = in.dtype;
  out.has_dtype = in.has_dtype;
  if (!in.has_shape) return;
  const bool keepdims = node.attrs.get_int("keepdims", 1) != 0;
  const bool noop = node.attrs.get_int("noop_with_empty_axes", 0) != 0;
  const auto rank = static_cast<std::int64_t>(in.shape.size());
  std::vector<std::int64_t> axes;
  if (axes_are_input(node.op_type, ctx.opset)) {
    if (ctx.has_input(1)) {
      const Tensor* t = ctx.constant(1);
      if (t == nullptr) {
        if (keepdims) {  // the rank survives even when the axes are not known yet
          out.has_shape = true;
          out.shape.assign(in.shape.size(), Dim{});
        }
        return;
      }
      axes = t->to_int_vector();
    }
  } else {
    axes = node.attrs.get_ints("axes", {});
  }
  if (axes.empty() && noop) {
    infer_same_as_input(ctx);
    return;
  }
  std::vector<bool> reduced(in.shape.size(), axes.empty());
  for (std::int64_t a : axes)
    reduced[static_cast<std::size_t>(normalize_axis(a, rank, "axes entry"))] = true;
  out.has_shape = true;
  out.shape.clear();
  for (std::size_t i = 0; i < in.shape.size(); ++i) {
    if (!reduced[i]) {
      out.shape.push_back(in.shape[i]);
    } else if (keepdims) {
      out.shape.push_back(Dim{1, ""});
    }
  }
}

void infer_arg(InferContext& ctx) {
  ValueInfo& out = ctx.outputs.at(0);
  out.dtype = DType::kI64;
  out.has_dtype = true;
  if (!ctx.has_input(0) || !ctx.inputs[0]->has_shape) return;
  const auto& shape = ctx.inputs[0]->shape;
  const std::int64_t axis =
      normalize_axis(ctx.node.attrs.get_int("axis", 0), static_cast<std::int64_t>(shape.size()));
  const bool keepdims = ctx.node.attrs.get_int("keepdims", 1) != 0;
  out.has_shape = true;
  out.shape.clear();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (static_cast<std::int64_t>(i) != axis) {
      out.shape.push_back(shape[i]);
    } else if (keepdims) {
      out.shape.push_back(Dim{1, ""});
    }
  }
}

void infer_softmax(InferContext& ctx) {
  if (ctx.has_input(0) && ctx.inputs[0]->has_shape) {
    const auto rank = static_cast<std::int64_t>(ctx.inputs[0]->shape.size());
    const std::int64_t axis = ctx.node.attrs.get_int("axis", ctx.opset >= 13 ? -1 : 1);
    if (rank > 0) normalize_axis(axis, rank);
  }
  infer_same_as_input(ctx);
}

OpSchema schema(const char* name, int min_in, int max_in, InferFn infer) {
  OpSchema s;
  s.name = name;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.infer = std::move(infer);
  return s;
}

}  // namespace

void register_reduce_schemas(OpRegistry& r) {
  for (const char* name :
       {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare"}) {
    r.add_schema(schema(name, 1, 2, infer_reduce));
  }
  r.add_schema(schema("ArgMax", 1, 1, infer_arg));
  r.add_schema(schema("ArgMin", 1, 1, infer_arg));
  r.add_schema(schema("Softmax", 1, 1, infer_softmax));
  r.add_schema(schema("LogSoftmax", 1, 1, infer_softmax));
}

}  // namespace act::ops
