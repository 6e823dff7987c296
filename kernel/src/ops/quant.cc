#include "ops/families.h"
#include "ops/infer_util.h"

namespace act::ops {

namespace {

OpSchema schema(const char* name, InferFn infer) {
  OpSchema s;
  s.name = name;
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.infer = std::move(infer);
  return s;
}

// y = saturate(round(x / scale) + zero_point); the zero point's type picks the output type,
// u8 when it is omitted.
void infer_quantize(InferContext& ctx) {
  infer_same_as_input(ctx);
  ValueInfo& out = ctx.outputs.at(0);
  out.has_dtype = true;
  out.dtype = DType::kU8;
  if (ctx.has_input(2) && ctx.inputs[2]->has_dtype) out.dtype = ctx.inputs[2]->dtype;
  ACT_CHECK(out.dtype == DType::kU8 || out.dtype == DType::kI8,
            "QuantizeLinear: zero point must be u8 or i8, got ", dtype_name(out.dtype));
}

// y = (x - zero_point) * scale, in the scale's type.
void infer_dequantize(InferContext& ctx) {
  infer_same_as_input(ctx);
  ValueInfo& out = ctx.outputs.at(0);
  out.has_dtype = true;
  out.dtype = DType::kF32;
  if (ctx.has_input(1) && ctx.inputs[1]->has_dtype) out.dtype = ctx.inputs[1]->dtype;
}

}  // namespace

void register_quant_schemas(OpRegistry& r) {
  r.add_schema(schema("QuantizeLinear", infer_quantize));
  r.add_schema(schema("DequantizeLinear", infer_dequantize));
}

}  // namespace act::ops
