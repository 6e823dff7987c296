#include "ops/families.h"
#include "ops/infer_util.h"

namespace act::ops {

namespace {

OpSchema schema(const char* name, int min_in, int max_in, InferFn infer, int type_input = 0) {
  OpSchema s;
  s.name = name;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.type_input = type_input;
  s.infer = std::move(infer);
  return s;
}

void infer_unary(InferContext& ctx) {
  infer_same_as_input(ctx);
}

void infer_binary(InferContext& ctx) {
  infer_broadcast(ctx, {0, 1}, std::nullopt);
}

void infer_compare(InferContext& ctx) {
  infer_broadcast(ctx, {0, 1}, DType::kBool);
}

void infer_prelu(InferContext& ctx) {
  // The slope broadcasts into X (unidirectionally), so the output is X; still check it fits.
  if (ctx.has_input(0) && ctx.has_input(1)) broadcast_dims({ctx.inputs[0], ctx.inputs[1]});
  infer_same_as_input(ctx);
}

void infer_where(InferContext& ctx) {
  infer_broadcast(ctx, {0, 1, 2}, std::nullopt, 1);
}

void infer_expand(InferContext& ctx) {
  ValueInfo& out = ctx.outputs.at(0);
  if (ctx.has_input(0) && ctx.inputs[0]->has_dtype) {
    out.dtype = ctx.inputs[0]->dtype;
    out.has_dtype = true;
  }
  const Tensor* shape = ctx.constant(1);
  if (shape == nullptr || !ctx.has_input(0)) return;
  ValueInfo target;
  target.has_shape = true;
  for (std::int64_t d : shape->to_int_vector()) {
    ACT_CHECK(d >= 0, "Expand: negative dim ", d, " in the target shape");
    target.shape.push_back(Dim{d, ""});
  }
  auto dims = broadcast_dims({ctx.inputs[0], &target});
  if (!dims) return;
  out.has_shape = true;
  out.shape = std::move(*dims);
}

}  // namespace

void register_elementwise_schemas(OpRegistry& r) {
  for (const char* name : {"Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Relu", "LeakyRelu",
                           "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Not"}) {
    r.add_schema(schema(name, 1, 1, infer_unary));
  }
  // Opset >= 11 takes min/max as optional inputs; older ones as attributes.
  r.add_schema(schema("Clip", 1, 3, infer_unary));
  r.add_schema(schema("PRelu", 2, 2, infer_prelu));
  for (const char* name : {"Add", "Sub", "Mul", "Div", "Pow"}) {
    r.add_schema(schema(name, 2, 2, infer_binary));
  }
  for (const char* name : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
    r.add_schema(schema(name, 2, 2, infer_compare));
  }
  // Where's kernel is chosen by X's dtype; the condition is always bool.
  r.add_schema(schema("Where", 3, 3, infer_where, 1));
  r.add_schema(schema("Expand", 2, 2, infer_expand));
}

}  // namespace act::ops
