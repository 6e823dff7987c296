#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "act/kernel/parallel.h"
#include "cpu/broadcast.h"
#include "cpu/vec_math.h"
#include "ops/families.h"
#include "ops/infer_util.h"

namespace act::ops {

namespace {

// Below this many elements a loop runs on the calling thread (waking workers costs more).
constexpr std::int64_t kGrain = 32768;

using cpu::BroadcastPlan;

template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T>;

void add_cpu(OpRegistry& r, const char* op, DType dtype, KernelFactory f) {
  r.add_kernel(op, "", DeviceKind::kCpu, {dtype}, std::move(f));
}

// ---- unary

template <typename T, typename R = T, typename F>
void map_unary(const T* in, R* out, std::int64_t n, const F& f) {
  parallel_for(n, kGrain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) out[i] = static_cast<R>(f(in[i]));
  });
}

// `make(init)` parses attributes once and returns a generic functor applied per element.
template <typename... Ts, typename Make>
void add_unary(OpRegistry& r, const char* op, Make make) {
  (add_cpu(r, op, DTypeOf<Ts>::value,
           [make](const KernelInit& init) {
             auto f = make(init);
             return make_kernel([f](KernelContext& ctx) {
               const Tensor& x = ctx.input(0);
               Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
               map_unary(x.data<Ts>(), y.data<Ts>(), x.numel(), f);
             });
           }),
   ...);
}

template <typename F>
auto simple(F f) {
  return [f](const KernelInit&) { return f; };
}

template <typename T>
T clip_bound(const KernelContext& ctx, int i, T fallback) {
  if (!ctx.has_input(i)) return fallback;
  const Tensor& t = ctx.input(i);
  ACT_CHECK(t.numel() == 1, "Clip: ", i == 1 ? "min" : "max", " must be a scalar, got ",
            t.describe());
  return t.data<T>()[0];
}

template <typename... Ts>
void add_clip(OpRegistry& r) {
  (add_cpu(r, "Clip", DTypeOf<Ts>::value,
           [](const KernelInit& init) {
             using T = Ts;
             T lo = std::numeric_limits<T>::lowest();
             T hi = std::numeric_limits<T>::max();
             const bool from_attrs = init.opset < 11;
             if (from_attrs) {
               lo = static_cast<T>(init.node.attrs.get_float("min", static_cast<float>(lo)));
               hi = static_cast<T>(init.node.attrs.get_float("max", static_cast<float>(hi)));
             }
             return make_kernel([=](KernelContext& ctx) {
               const T l = from_attrs ? lo : clip_bound<T>(ctx, 1, lo);
               const T h = from_attrs ? hi : clip_bound<T>(ctx, 2, hi);
               const Tensor& x = ctx.input(0);
               Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
               // min(max(x, l), h): with l > h every element becomes h, as ONNX specifies.
               map_unary(x.data<T>(), y.data<T>(), x.numel(), [l, h](T v) {
                 v = v < l ? l : v;
                 return v > h ? h : v;
               });
             });
           }),
   ...);
}

// ---- broadcast binary / ternary

// The four stride patterns of a run as separate loops, so each one vectorizes.
template <typename A, typename B, typename R, typename F>
inline void binary_run(R* dst, const A* a, const B* b, std::int64_t n, bool va, bool vb,
                       const F& f) {
  if (va && vb) {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<R>(f(a[i], b[i]));
  } else if (va) {
    const B s = *b;
    for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<R>(f(a[i], s));
  } else if (vb) {
    const A s = *a;
    for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<R>(f(s, b[i]));
  } else {
    const R v = static_cast<R>(f(*a, *b));
    for (std::int64_t i = 0; i < n; ++i) dst[i] = v;
  }
}

template <typename A, typename B, typename R, typename F>
Tensor& broadcast_binary(KernelContext& ctx, const Tensor& a, const Tensor& b, const F& f) {
  const BroadcastPlan plan = cpu::plan_broadcast({&a.shape(), &b.shape()});
  Tensor& y = ctx.allocate(0, DTypeOf<R>::value, plan.out_shape);
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  R* py = y.data<R>();
  const bool va = plan.inner_vec[0];
  const bool vb = plan.inner_vec[1];
  parallel_for(plan.numel, kGrain, [&](std::int64_t begin, std::int64_t end) {
    cpu::for_each_run<2>(plan, begin, end, [&](std::int64_t o, const auto& in, std::int64_t n) {
      binary_run(py + o, pa + in[0], pb + in[1], n, va, vb, f);
    });
  });
  return y;
}

template <typename R, typename... Ts, typename F>
void add_binary(OpRegistry& r, const char* op, F f) {
  (add_cpu(r, op, DTypeOf<Ts>::value,
           [f](const KernelInit&) {
             return make_kernel([f](KernelContext& ctx) {
               using Out = std::conditional_t<std::is_same_v<R, void>, Ts, R>;
               broadcast_binary<Ts, Ts, Out>(ctx, ctx.input(0), ctx.input(1), f);
             });
           }),
   ...);
}

template <typename... Ts>
void add_div(OpRegistry& r) {
  (add_cpu(r, "Div", DTypeOf<Ts>::value,
           [](const KernelInit&) {
             return make_kernel([](KernelContext& ctx) {
               using T = Ts;
               const Tensor& b = ctx.input(1);
               if constexpr (!kIsFloat<T>) {
                 // Integer division by zero would crash the process, not just give garbage.
                 for (T v : b.values<T>()) ACT_CHECK(v != 0, "Div: integer division by zero");
               }
               broadcast_binary<T, T, T>(ctx, ctx.input(0), b, [](T x, T y) { return x / y; });
             });
           }),
   ...);
}

template <typename T>
void pow_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if constexpr (kIsFloat<T>) {
    // Common exponents in models (x^2 in norms, x^0.5, x^3 in GELU) skip std::pow.
    if (b.numel() == 1 && b.shape().size() <= a.shape().size()) {
      const double e = b.get_as_double(0);
      if (e == 1.0 || e == 2.0 || e == 3.0 || e == 0.5) {
        Tensor& y = ctx.allocate(0, a.dtype(), cpu::broadcast_shapes(a.shape(), b.shape()));
        const T* x = a.data<T>();
        T* out = y.data<T>();
        if (e == 1.0) map_unary(x, out, a.numel(), [](T v) { return v; });
        if (e == 2.0) map_unary(x, out, a.numel(), [](T v) { return v * v; });
        if (e == 3.0) map_unary(x, out, a.numel(), [](T v) { return v * v * v; });
        if (e == 0.5) map_unary(x, out, a.numel(), [](T v) { return std::sqrt(v); });
        return;
      }
    }
    const Tensor be = b.dtype() == a.dtype() ? b : b.cast(a.dtype());
    broadcast_binary<T, T, T>(ctx, a, be, [](T x, T y) { return std::pow(x, y); });
  } else {
    // Integer bases: numpy semantics through double, exact for the results that fit 2^53.
    const Tensor be = b.dtype() == DType::kF64 ? b : b.cast(DType::kF64);
    broadcast_binary<T, double, T>(
        ctx, a, be, [](T x, double y) { return std::pow(static_cast<double>(x), y); });
  }
}

template <typename... Ts>
void add_pow(OpRegistry& r) {
  (add_cpu(r, "Pow", DTypeOf<Ts>::value,
           [](const KernelInit&) { return make_kernel(pow_kernel<Ts>); }),
   ...);
}

template <typename... Ts>
void add_prelu(OpRegistry& r) {
  (add_cpu(r, "PRelu", DTypeOf<Ts>::value,
           [](const KernelInit&) {
             return make_kernel([](KernelContext& ctx) {
               using T = Ts;
               const Tensor& x = ctx.input(0);
               const Tensor& s = ctx.input(1);
               const Shape out = cpu::broadcast_shapes(x.shape(), s.shape());
               ACT_CHECK(out == x.shape(), "PRelu: slope ", shape_to_string(s.shape()),
                         " does not broadcast to X ", shape_to_string(x.shape()));
               broadcast_binary<T, T, T>(ctx, x, s, [](T v, T a) { return v < T(0) ? v * a : v; });
             });
           }),
   ...);
}

// Where and Expand only move bytes, so they dispatch on element size, covering every dtype.
template <typename W>
void where_bytes(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  ACT_CHECK(c.dtype() == DType::kBool, "Where: condition must be bool, got ", c.describe());
  ACT_CHECK(x.dtype() == y.dtype(), "Where: X is ", dtype_name(x.dtype()), " but Y is ",
            dtype_name(y.dtype()));
  const BroadcastPlan plan = cpu::plan_broadcast({&c.shape(), &x.shape(), &y.shape()});
  Tensor& out = ctx.allocate(0, x.dtype(), plan.out_shape);
  const auto* pc = static_cast<const std::uint8_t*>(c.raw_data());
  const auto* px = static_cast<const W*>(x.raw_data());
  const auto* py = static_cast<const W*>(y.raw_data());
  auto* po = static_cast<W*>(out.raw_data());
  const std::int64_t sc = plan.inner_vec[0], sx = plan.inner_vec[1], sy = plan.inner_vec[2];
  parallel_for(plan.numel, kGrain, [&](std::int64_t begin, std::int64_t end) {
    cpu::for_each_run<3>(plan, begin, end, [&](std::int64_t o, const auto& in, std::int64_t n) {
      const std::uint8_t* cc = pc + in[0];
      const W* xx = px + in[1];
      const W* yy = py + in[2];
      W* dst = po + o;
      if (sc && sx && sy) {
        for (std::int64_t i = 0; i < n; ++i) dst[i] = cc[i] ? xx[i] : yy[i];
      } else {
        for (std::int64_t i = 0; i < n; ++i) dst[i] = cc[i * sc] ? xx[i * sx] : yy[i * sy];
      }
    });
  });
}

template <typename W>
void expand_bytes(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& shape_t = ctx.input(1);
  ACT_CHECK(shape_t.rank() == 1, "Expand: shape must be 1-D, got ", shape_t.describe());
  const Shape target = shape_t.to_int_vector();
  for (std::int64_t d : target) ACT_CHECK(d >= 0, "Expand: negative dim ", d, " in shape");
  const BroadcastPlan plan = cpu::plan_broadcast({&x.shape(), &target});
  Tensor& out = ctx.allocate(0, x.dtype(), plan.out_shape);
  const auto* px = static_cast<const W*>(x.raw_data());
  auto* po = static_cast<W*>(out.raw_data());
  const bool vx = plan.inner_vec[0];
  parallel_for(plan.numel, kGrain, [&](std::int64_t begin, std::int64_t end) {
    cpu::for_each_run<2>(plan, begin, end, [&](std::int64_t o, const auto& in, std::int64_t n) {
      if (vx) {
        std::memcpy(po + o, px + in[0], static_cast<std::size_t>(n) * sizeof(W));
      } else {
        std::fill(po + o, po + o + n, px[in[0]]);
      }
    });
  });
}

template <void (*K8)(KernelContext&), void (*K16)(KernelContext&), void (*K32)(KernelContext&),
          void (*K64)(KernelContext&)>
void add_by_size(OpRegistry& r, const char* op) {
  for (int d = 0; d < kNumDTypes; ++d) {
    const auto dtype = static_cast<DType>(d);
    void (*k)(KernelContext&) = K8;
    if (dtype_size(dtype) == 2) k = K16;
    if (dtype_size(dtype) == 4) k = K32;
    if (dtype_size(dtype) == 8) k = K64;
    add_cpu(r, op, dtype, [k](const KernelInit&) { return make_kernel(k); });
  }
}

}  // namespace

void register_elementwise_cpu(OpRegistry& r) {
  using f32 = float;
  using f64 = double;
  using i8 = std::int8_t;
  using u8 = std::uint8_t;
  using i32 = std::int32_t;
  using i64 = std::int64_t;

  add_unary<f32, f64>(r, "Sqrt", simple([](auto v) { return std::sqrt(v); }));
  add_unary<f32, f64>(r, "Exp", simple([](auto v) {
                        if constexpr (std::is_same_v<decltype(v), float>) {
                          return cpu::fast_expf(v);
                        } else {
                          return std::exp(v);
                        }
                      }));
  add_unary<f32, f64>(r, "Log", simple([](auto v) { return std::log(v); }));
  add_unary<f32, f64, i8, i32, i64>(r, "Neg", simple([](auto v) { return -v; }));
  add_unary<f32, f64, i8, u8, i32, i64>(r, "Abs", simple([](auto v) {
                                          using T = decltype(v);
                                          if constexpr (std::is_unsigned_v<T>) {
                                            return v;
                                          } else {
                                            return v < T(0) ? T(-v) : v;
                                          }
                                        }));
  add_unary<f32, f64>(r, "Reciprocal", simple([](auto v) { return decltype(v)(1) / v; }));
  add_unary<f32, f64, i8, i32, i64>(
      r, "Relu", simple([](auto v) { return v > decltype(v)(0) ? v : decltype(v)(0); }));
  add_unary<f32, f64>(r, "LeakyRelu", [](const KernelInit& init) {
    const float alpha = init.node.attrs.get_float("alpha", 0.01F);
    return [alpha](auto v) { return v < 0 ? v * static_cast<decltype(v)>(alpha) : v; };
  });
  add_unary<f32, f64>(r, "Sigmoid", simple([](auto v) {
                        if constexpr (std::is_same_v<decltype(v), float>) {
                          return cpu::fast_sigmoidf(v);
                        } else {
                          return 1.0 / (1.0 + std::exp(-v));
                        }
                      }));
  add_unary<f32, f64>(r, "HardSigmoid", [](const KernelInit& init) {
    const float alpha = init.node.attrs.get_float("alpha", 0.2F);
    const float beta = init.node.attrs.get_float("beta", 0.5F);
    return [alpha, beta](auto v) {
      using T = decltype(v);
      const T y = static_cast<T>(alpha) * v + static_cast<T>(beta);
      return y < T(0) ? T(0) : (y > T(1) ? T(1) : y);
    };
  });
  add_unary<f32, f64>(r, "HardSwish", simple([](auto v) {
                        using T = decltype(v);
                        const T y = v / T(6) + T(0.5);
                        return v * (y < T(0) ? T(0) : (y > T(1) ? T(1) : y));
                      }));
  add_unary<f32, f64>(r, "Tanh", simple([](auto v) {
                        if constexpr (std::is_same_v<decltype(v), float>) {
                          return cpu::fast_tanhf(v);
                        } else {
                          return std::tanh(v);
                        }
                      }));
  add_unary<f32, f64>(r, "Erf", simple([](auto v) { return std::erf(v); }));
  add_unary<bool>(r, "Not", simple([](bool v) { return !v; }));
  add_clip<f32, f64, i8, u8, i32, i64>(r);

  add_binary<void, f32, f64, i8, u8, i32, i64>(r, "Add", [](auto a, auto b) { return a + b; });
  add_binary<void, f32, f64, i8, u8, i32, i64>(r, "Sub", [](auto a, auto b) { return a - b; });
  add_binary<void, f32, f64, i8, u8, i32, i64>(r, "Mul", [](auto a, auto b) { return a * b; });
  add_div<f32, f64, i8, u8, i32, i64>(r);
  add_pow<f32, f64, i32, i64>(r);
  add_prelu<f32, f64>(r);
  add_binary<bool, f32, f64, i8, u8, i32, i64, bool>(r, "Equal",
                                                     [](auto a, auto b) { return a == b; });
  add_binary<bool, f32, f64, i8, u8, i32, i64>(r, "Less", [](auto a, auto b) { return a < b; });
  add_binary<bool, f32, f64, i8, u8, i32, i64>(r, "Greater", [](auto a, auto b) { return a > b; });
  add_binary<bool, f32, f64, i8, u8, i32, i64>(r, "LessOrEqual",
                                               [](auto a, auto b) { return a <= b; });
  add_binary<bool, f32, f64, i8, u8, i32, i64>(r, "GreaterOrEqual",
                                               [](auto a, auto b) { return a >= b; });

  add_by_size<where_bytes<std::uint8_t>, where_bytes<std::uint16_t>, where_bytes<std::uint32_t>,
              where_bytes<std::uint64_t>>(r, "Where");
  add_by_size<expand_bytes<std::uint8_t>, expand_bytes<std::uint16_t>, expand_bytes<std::uint32_t>,
              expand_bytes<std::uint64_t>>(r, "Expand");
}

}  // namespace act::ops
