#include "fake_quant_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "act/kernel/autograd.h"
#include "act/kernel/error.h"
#include "act/kernel/parallel.h"
#include "value_range.h"

namespace act::quant {
namespace {

// Reductions run over fixed blocks combined in block order, so sums (PACT's dalpha) are the
// same bits whatever the thread count: a resumed run must repeat the uninterrupted one.
constexpr std::int64_t kBlock = 8192;

struct Grid {
  float scale = 1.0F, zero_point = 0.0F, qmin = 0.0F, qmax = 255.0F;
  bool pass_through = false;  // never observed
  float lowest() const { return (qmin - zero_point) * scale; }
  float highest() const { return (qmax - zero_point) * scale; }
};

Grid grid_of(const Tensor& state, const Tensor* alpha_t, int profile) {
  ACT_CHECK(state.dtype() == DType::kF32 && state.numel() >= 3,
            "FakeQuantize: the observer state must be f32 with at least 3 values, got ",
            state.describe());
  const float* s = state.data<float>();
  Grid g;
  if (s[2] <= 0.0F) {
    g.pass_through = true;
    return g;
  }
  const float alpha = alpha_t != nullptr ? alpha_t->data<float>()[0] : 0.0F;
  const ActivationQuant q =
      range_quant(s[0], s[1], alpha, profile == 1 ? Profile::kTensorRt : Profile::kOrtCpu);
  g.scale = q.scale;
  g.zero_point = static_cast<float>(q.zero_point);
  g.qmin = q.is_unsigned ? 0.0F : -128.0F;
  g.qmax = q.is_unsigned ? 255.0F : 127.0F;
  return g;
}

// What QuantizeLinear then DequantizeLinear compute (kernel/src/cpu/quant.cc): division, round
// half to even, saturation, and (q - zp) * s, all exact in f32 for 8-bit integers.
inline float fake(float x, const Grid& g) {
  const float q = std::min(std::max(std::nearbyint(x / g.scale) + g.zero_point, g.qmin), g.qmax);
  return (q - g.zero_point) * g.scale;
}

std::int64_t blocks_of(std::int64_t n) {
  return (n + kBlock - 1) / kBlock;
}

void fake_quantize(KernelContext& ctx, int profile) {
  const Tensor& x = ctx.input(0);
  const Grid g = grid_of(ctx.input(1), ctx.has_input(2) ? &ctx.input(2) : nullptr, profile);
  if (g.pass_through) {
    ctx.set_output(0, x);
    return;
  }
  Tensor& y = ctx.allocate(0, DType::kF32, x.shape());
  const float* in = x.data<float>();
  float* out = y.data<float>();
  parallel_for(x.numel(), kBlock, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) out[i] = fake(in[i], g);
  });
}

void fake_quantize_grad(KernelContext& ctx, int profile) {
  const Tensor& dy = ctx.input(0);
  const Tensor& x = ctx.input(1);
  ACT_CHECK(dy.numel() == x.numel(), "FakeQuantizeGrad: dy ", dy.describe(), " does not match x ",
            x.describe());
  const Grid g = grid_of(ctx.input(2), ctx.has_input(3) ? &ctx.input(3) : nullptr, profile);
  const float lo = g.pass_through ? -std::numeric_limits<float>::infinity() : g.lowest();
  const float hi = g.pass_through ? std::numeric_limits<float>::infinity() : g.highest();
  Tensor& dx = ctx.allocate(0, DType::kF32, x.shape());
  const float* d = dy.data<float>();
  const float* in = x.data<float>();
  float* out = dx.data<float>();
  const bool pact = ctx.has_input(3) && ctx.num_outputs() > 1;
  const float alpha = pact ? ctx.input(3).data<float>()[0] : 0.0F;
  std::vector<double> partial(static_cast<std::size_t>(blocks_of(x.numel())), 0.0);
  parallel_for(blocks_of(x.numel()), 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t e = std::min(x.numel(), (b + 1) * kBlock);
      double sum = 0.0;
      for (std::int64_t i = b * kBlock; i < e; ++i) {
        out[i] = in[i] >= lo && in[i] <= hi ? d[i] : 0.0F;
        if (pact) sum += in[i] > alpha ? d[i] : in[i] < -alpha ? -d[i] : 0.0F;
      }
      partial[static_cast<std::size_t>(b)] = sum;
    }
  });
  if (pact) {
    double total = 0.0;
    for (double p : partial) total += p;
    ctx.allocate(1, DType::kF32, ctx.input(3).shape()).data<float>()[0] = static_cast<float>(total);
  }
}

void fake_quantize_weight(KernelContext& ctx, std::int64_t axis, float qmax, bool per_channel) {
  const Tensor& w = ctx.input(0);
  ACT_CHECK(axis >= 0 && axis < static_cast<std::int64_t>(w.rank()), "FakeQuantizeWeight: axis ",
            axis, " is outside ", w.describe());
  const std::int64_t channels = per_channel ? w.dim(static_cast<int>(axis)) : 1;
  std::int64_t inner = 1;
  for (std::int64_t d = axis + 1; d < static_cast<std::int64_t>(w.rank()); ++d)
    inner *= w.dim(static_cast<int>(d));
  const float* in = w.data<float>();
  std::vector<float> scale(static_cast<std::size_t>(channels), 0.0F);
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    float& m = scale[static_cast<std::size_t>(per_channel ? (i / inner) % channels : 0)];
    m = std::max(m, std::fabs(in[i]));
  }
  // The same expression write_qdq() stores as the weight's scale.
  for (float& s : scale) s = s > 0.0F ? s / qmax : 1.0F;
  Tensor& y = ctx.allocate(0, DType::kF32, w.shape());
  float* out = y.data<float>();
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    const float s = scale[static_cast<std::size_t>(per_channel ? (i / inner) % channels : 0)];
    out[i] = std::clamp(std::nearbyint(in[i] / s), -qmax, qmax) * s;
  }
}

void quant_observe(KernelContext& ctx, Observer method, float rate, std::int64_t window) {
  const Tensor& x = ctx.input(0);
  const Tensor& state = ctx.input(1);
  ACT_CHECK(state.dtype() == DType::kF32 && state.numel() == state_size(method, window),
            "QuantObserve: the state has ", state.numel(), " values, the observer needs ",
            state_size(method, window));
  const ValueRange range = value_range(x.data<float>(), x.numel());
  Tensor& next = ctx.allocate(0, DType::kF32, state.shape());
  std::copy_n(state.data<float>(), state.numel(), next.data<float>());
  if (x.numel() == 0) return;
  observe(method, rate, window, next.data<float>(), range.lo, range.hi);
}

// Output 0 takes input `j`'s type and shape.
InferFn like_input(std::size_t j, std::size_t out = 0) {
  return [j, out](InferContext& c) {
    if (!c.has_input(j) || c.outputs.size() <= out) return;
    const std::string name = c.outputs[out].name;
    c.outputs[out] = *c.inputs[j];
    c.outputs[out].name = name;
  };
}

OpSchema schema(const char* name, int min_in, int max_in, int outputs, InferFn infer) {
  OpSchema s;
  s.name = name;
  s.domain = kQatDomain;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.min_outputs = 1;
  s.max_outputs = outputs;
  s.infer = std::move(infer);
  return s;
}

void fake_quantize_gradient(GradContext& g) {
  const Node& n = g.node();
  const bool pact = n.inputs.size() > 2 && !n.inputs[2].empty();
  const std::string& dy = g.grad_output(0);
  if (dy.empty() || (!g.wants(0) && !(pact && g.wants(2)))) return;
  std::vector<std::string> inputs = {dy, n.inputs[0], n.inputs[1]};
  if (pact) inputs.push_back(n.inputs[2]);
  Attributes a;
  a.set("profile", n.attrs.get_int("profile", 0));
  const auto grads = g.emit_multi("FakeQuantizeGrad", inputs, pact ? 2 : 1, a, kQatDomain);
  if (g.wants(0)) g.set_grad_input(0, grads[0]);
  if (pact && g.wants(2)) g.set_grad_input(2, grads[1]);
}

}  // namespace

Observer parse_observer(const std::string& name, const std::string& key) {
  if (name == "abs_max") return Observer::kAbsMax;
  if (name == "moving_average_abs_max") return Observer::kMovingAverage;
  if (name == "range_abs_max") return Observer::kRangeAbsMax;
  fail(key, ": '", name, "' is not abs_max, moving_average_abs_max or range_abs_max");
}

std::int64_t state_size(Observer method, std::int64_t window_size) {
  return method == Observer::kRangeAbsMax ? 3 + 2 * window_size : 3;
}

void observe(Observer method, float moving_rate, std::int64_t window_size, float* state,
             float batch_min, float batch_max) {
  float& lo = state[0];
  float& hi = state[1];
  const float seen = state[2];
  state[2] = seen + 1.0F;
  if (method == Observer::kRangeAbsMax) {
    const auto slot = static_cast<std::int64_t>(seen) % window_size;
    float* mins = state + 3;
    float* maxs = mins + window_size;
    mins[slot] = batch_min;
    maxs[slot] = batch_max;
    const std::int64_t filled =
        std::min<std::int64_t>(static_cast<std::int64_t>(seen) + 1, window_size);
    lo = *std::min_element(mins, mins + filled);
    hi = *std::max_element(maxs, maxs + filled);
    return;
  }
  if (seen <= 0.0F) {
    lo = batch_min;
    hi = batch_max;
  } else if (method == Observer::kAbsMax) {
    lo = std::min(lo, batch_min);
    hi = std::max(hi, batch_max);
  } else {
    lo = moving_rate * lo + (1.0F - moving_rate) * batch_min;
    hi = moving_rate * hi + (1.0F - moving_rate) * batch_max;
  }
}

ActivationQuant range_quant(float lo, float hi, float alpha, Profile profile) {
  if (alpha > 0.0F) {
    lo = std::max(lo, -alpha);
    hi = std::min(hi, alpha);
  }
  return activation_quant(lo, hi, std::max(-lo, hi), profile);
}

void register_fake_quant_ops(OpRegistry& r) {
  if (r.schema("FakeQuantize", kQatDomain) != nullptr) return;
  r.add_schema(schema("FakeQuantize", 2, 3, 1, like_input(0)));
  r.add_schema(schema("FakeQuantizeGrad", 3, 4, 2, [](InferContext& c) {
    like_input(1)(c);
    like_input(3, 1)(c);
  }));
  r.add_schema(schema("FakeQuantizeWeight", 1, 1, 1, like_input(0)));
  r.add_schema(schema("QuantObserve", 2, 2, 1, like_input(1)));
  r.set_gradient("FakeQuantize", kQatDomain, fake_quantize_gradient);
  r.set_gradient("FakeQuantizeWeight", kQatDomain, [](GradContext& g) {
    if (g.wants(0) && !g.grad_output(0).empty())
      g.set_grad_input(0, g.emit("Identity", {g.grad_output(0)}));
  });

  const std::vector<DType> f32 = {DType::kF32};
  r.add_kernel("FakeQuantize", kQatDomain, DeviceKind::kCpu, f32, [](const KernelInit& init) {
    const auto profile = static_cast<int>(init.node.attrs.get_int("profile", 0));
    return make_kernel([profile](KernelContext& ctx) { fake_quantize(ctx, profile); });
  });
  r.add_kernel("FakeQuantizeGrad", kQatDomain, DeviceKind::kCpu, f32, [](const KernelInit& init) {
    const auto profile = static_cast<int>(init.node.attrs.get_int("profile", 0));
    return make_kernel([profile](KernelContext& ctx) { fake_quantize_grad(ctx, profile); });
  });
  r.add_kernel("FakeQuantizeWeight", kQatDomain, DeviceKind::kCpu, f32, [](const KernelInit& init) {
    const std::int64_t axis = init.node.attrs.get_int("axis", 0);
    const auto qmax = static_cast<float>(init.node.attrs.get_int("qmax", 127));
    const bool per_channel = init.node.attrs.get_int("per_channel", 1) != 0;
    ACT_CHECK(qmax >= 1.0F, "FakeQuantizeWeight: qmax must be >= 1, got ", qmax);
    return make_kernel(
        [=](KernelContext& ctx) { fake_quantize_weight(ctx, axis, qmax, per_channel); });
  });
  r.add_kernel("QuantObserve", kQatDomain, DeviceKind::kCpu, f32, [](const KernelInit& init) {
    const auto method = static_cast<Observer>(init.node.attrs.get_int("method", 1));
    const float rate = init.node.attrs.get_float("moving_rate", 0.9F);
    const std::int64_t window = init.node.attrs.get_int("window_size", 10000);
    ACT_CHECK(window >= 1, "QuantObserve: window_size must be >= 1");
    return make_kernel([=](KernelContext& ctx) { quant_observe(ctx, method, rate, window); });
  });
}

}  // namespace act::quant
