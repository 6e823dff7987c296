// The helper ops gradients need beyond ONNX's set, all in domain "act": their schemas here,
// their CPU kernels here (SumToShape, StopGradient) or next to their forward kernels (the conv,
// pool and batch-norm gradients in cpu/nn_conv.cc, cpu/nn_pool.cc and cpu/nn_norm.cc).
#include <algorithm>

#include "act/kernel/op_registry.h"
#include "act/kernel/parallel.h"
#include "grad/builders.h"

namespace act::grad {

namespace {

OpSchema schema(const char* name, int min_in, int max_in, InferFn infer) {
  OpSchema s;
  s.name = name;
  s.domain = "act";
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.infer = std::move(infer);
  return s;
}

// Output i takes input j's type and shape.
InferFn like_input(std::size_t j) {
  return [j](InferContext& c) {
    if (!c.has_input(j)) return;
    const std::string name = c.outputs[0].name;
    c.outputs[0] = *c.inputs[j];
    c.outputs[0].name = name;
  };
}

// SumToShape(X, shape): X summed over the axes that numpy broadcasting would have expanded
// from `shape` to X's shape (leading axes, and axes where `shape` has 1).
void sum_to_shape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& shape_t = ctx.input(1);
  Shape target;
  for (std::int64_t i = 0; i < shape_t.numel(); ++i) target.push_back(shape_t.get_as_int(i));
  const auto rank = static_cast<std::int64_t>(x.rank());
  const auto trank = static_cast<std::int64_t>(target.size());
  ACT_CHECK(trank <= rank, "SumToShape: target ", shape_to_string(target), " has more axes than ",
            x.describe());
  // The target aligned to X's rank: 1 on every leading axis.
  Shape aligned(static_cast<std::size_t>(rank - trank), 1);
  aligned.insert(aligned.end(), target.begin(), target.end());
  for (std::int64_t a = 0; a < rank; ++a) {
    const auto i = static_cast<std::size_t>(a);
    ACT_CHECK(aligned[i] == x.shape()[i] || aligned[i] == 1, "SumToShape: ", x.describe(),
              " does not broadcast from ", shape_to_string(target));
  }
  Tensor& y = ctx.allocate(0, DType::kF32, target);
  float* yd = y.data<float>();
  std::fill(yd, yd + y.numel(), 0.0F);
  const float* xd = x.data<float>();
  // Walk X in order, keeping the matching Y offset by odometer; Y strides are 0 on summed axes.
  std::vector<std::int64_t> ystride(static_cast<std::size_t>(rank), 0);
  std::int64_t s = 1;
  for (std::int64_t a = rank - 1; a >= 0; --a) {
    const auto i = static_cast<std::size_t>(a);
    ystride[i] = aligned[i] == 1 ? 0 : s;
    s *= aligned[i];
  }
  std::vector<std::int64_t> idx(static_cast<std::size_t>(rank), 0);
  std::int64_t yo = 0;
  const std::int64_t inner = rank > 0 ? x.shape().back() : 1;
  const std::int64_t inner_stride = rank > 0 ? ystride.back() : 0;
  for (std::int64_t base = 0; base < x.numel(); base += inner) {
    if (inner_stride == 0) {
      float acc = 0.0F;
      for (std::int64_t k = 0; k < inner; ++k) acc += xd[base + k];
      yd[yo] += acc;
    } else {
      for (std::int64_t k = 0; k < inner; ++k) yd[yo + k] += xd[base + k];
    }
    for (std::int64_t a = rank - 2; a >= 0; --a) {  // advance the odometer above the last axis
      const auto i = static_cast<std::size_t>(a);
      yo += ystride[i];
      if (++idx[i] < x.shape()[i]) break;
      yo -= ystride[i] * idx[i];
      idx[i] = 0;
    }
  }
}

// dy where y > 0, else 0, over n floats. On restrict pointers the compiler turns the select
// into a vector compare and mask; on pointers captured by reference it compiled to a scalar
// loop with a data-dependent branch (random signs mispredict half the time), about 2 GB/s.
void relu_mask(const float* __restrict dy, const float* __restrict y, std::int64_t n,
               float* __restrict dx) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = dy[i];  // loaded unconditionally: a select, not a masked load
    dx[i] = y[i] > 0.0F ? g : 0.0F;
  }
}

// ReluGrad(dY, Y): dY where Y > 0, else 0. Relu's gradient as forward ops (Greater + Where)
// took two passes and a broadcast; it is on every layer of a CNN's backward pass.
void relu_grad(KernelContext& ctx) {
  const Tensor& dy = ctx.input(0);
  const Tensor& y = ctx.input(1);
  ACT_CHECK(dy.shape() == y.shape() && y.dtype() == DType::kF32, "ReluGrad: gradient ",
            dy.describe(), " and output ", y.describe(), " differ");
  Tensor& dx = ctx.allocate(0, DType::kF32, y.shape());
  const float* g = dy.data<float>();
  const float* v = y.data<float>();
  float* d = dx.data<float>();
  parallel_for(y.numel(), 16384, [g, v, d](std::int64_t i0, std::int64_t i1) {
    relu_mask(g + i0, v + i0, i1 - i0, d + i0);
  });
}

}  // namespace

void register_grad_ops(OpRegistry& r) {
  r.add_schema(schema("ReluGrad", 2, 2, like_input(1)));
  r.add_kernel("ReluGrad", "act", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit&) { return make_kernel(relu_grad); });
  r.add_schema(schema("SumToShape", 2, 2, [](InferContext& c) {
    if (!c.has_input(0) || !c.inputs[0]->has_dtype) return;
    c.outputs[0].dtype = c.inputs[0]->dtype;
    c.outputs[0].has_dtype = true;
  }));
  r.add_schema(schema("StopGradient", 1, 1, like_input(0)));
  r.add_schema(schema("ConvGradInput", 3, 3, like_input(2)));
  r.add_schema(schema("ConvGradWeight", 3, 3, like_input(2)));
  r.add_schema(schema("MaxPoolGrad", 2, 2, like_input(1)));
  // BatchNormTrainingGrad(dY, X, scale[, R]) -> dX, dScale, dB; kernel in cpu/nn_norm.cc. R,
  // the output of a Relu after the BatchNorm, masks dY first (fuse_backward.cc).
  OpSchema bn = schema("BatchNormTrainingGrad", 3, 4, [](InferContext& c) {
    for (std::size_t o = 0; o < c.outputs.size() && o < 3; ++o) {
      const std::size_t from = o == 0 ? 1 : 2;
      if (!c.has_input(from)) continue;
      const std::string name = c.outputs[o].name;
      c.outputs[o] = *c.inputs[from];
      c.outputs[o].name = name;
    }
  });
  bn.min_outputs = 1;
  bn.max_outputs = 3;
  r.add_schema(bn);
  r.add_kernel("SumToShape", "act", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit&) { return make_kernel(sum_to_shape); });
  r.add_kernel("StopGradient", "act", DeviceKind::kCpu, {}, [](const KernelInit&) {
    return make_kernel([](KernelContext& ctx) { ctx.set_output(0, ctx.input(0)); });
  });
}

}  // namespace act::grad
