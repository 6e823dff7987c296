#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "act/kernel/parallel.h"
#include "cpu/vec_math.h"
#include "ops/families.h"
#include "ops/infer_util.h"

namespace act::ops {

namespace {

constexpr std::int64_t kGrain = 32768;
// Independent partial results, so a reduction along contiguous memory vectorizes without
// -ffast-math (which would be needed to reassociate a single accumulator).
constexpr int kLanes = 16;

void add_cpu(OpRegistry& r, const char* op, DType dtype, KernelFactory f) {
  r.add_kernel(op, "", DeviceKind::kCpu, {dtype}, std::move(f));
}

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kSumSquare };

template <typename T>
struct Reducer {
  ReduceKind kind;
  T init() const {
    switch (kind) {
      case ReduceKind::kMax:
        if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
        return std::numeric_limits<T>::lowest();
      case ReduceKind::kMin:
        if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
        return std::numeric_limits<T>::max();
      case ReduceKind::kProd:
        return T(1);
      default:
        return T(0);
    }
  }
};

// Reduces the middle axis of a [outer, n, inner] view into [outer, inner]. `pre` maps each
// element first (squares for SumSquare on the first pass), `op` combines.
template <typename T, typename Pre, typename Op>
void reduce_middle(const T* in, T* out, std::int64_t outer, std::int64_t n, std::int64_t inner,
                   T init, const Pre& pre, const Op& op) {
  if (inner == 1) {
    const std::int64_t grain = std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(n, 1));
    parallel_for(outer, grain, [&](std::int64_t ob, std::int64_t oe) {
      for (std::int64_t o = ob; o < oe; ++o) {
        const T* src = in + o * n;
        T lanes[kLanes];
        for (T& l : lanes) l = init;
        std::int64_t i = 0;
        for (; i + kLanes <= n; i += kLanes) {
          for (int j = 0; j < kLanes; ++j) lanes[j] = op(lanes[j], pre(src[i + j]));
        }
        T acc = init;
        for (; i < n; ++i) acc = op(acc, pre(src[i]));
        for (T l : lanes) acc = op(acc, l);
        out[o] = acc;
      }
    });
    return;
  }
  // Blocks of the inner axis are the parallel unit, so [1, n, big] still uses every thread.
  const std::int64_t block = std::min<std::int64_t>(inner, 2048);
  const std::int64_t blocks = (inner + block - 1) / block;
  const std::int64_t grain =
      std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(n * block, 1));
  parallel_for(outer * blocks, grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t o = t / blocks;
      const std::int64_t i0 = (t % blocks) * block;
      const std::int64_t len = std::min(block, inner - i0);
      T* dst = out + o * inner + i0;
      const T* src = in + o * n * inner + i0;
      for (std::int64_t i = 0; i < len; ++i) dst[i] = init;
      for (std::int64_t r = 0; r < n; ++r) {
        const T* row = src + r * inner;
        for (std::int64_t i = 0; i < len; ++i) dst[i] = op(dst[i], pre(row[i]));
      }
    }
  });
}

template <typename T>
void reduce_compute(KernelContext& ctx, ReduceKind kind, bool axes_input,
                    const std::vector<std::int64_t>& attr_axes, bool keepdims, bool noop) {
  const Tensor& x = ctx.input(0);
  std::vector<std::int64_t> axes = attr_axes;
  if (axes_input) {
    axes.clear();
    if (ctx.has_input(1)) axes = ctx.input(1).to_int_vector();
  }
  if (axes.empty() && noop) {
    ctx.set_output(0, x);
    return;
  }
  const int rank = x.rank();
  std::vector<bool> reduced(static_cast<std::size_t>(rank), axes.empty());
  for (std::int64_t a : axes)
    reduced[static_cast<std::size_t>(normalize_axis(a, rank, "axes entry"))] = true;

  Shape out_shape;
  Shape work = x.shape();  // the shape after each pass, reduced dims set to 1
  std::int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    if (reduced[static_cast<std::size_t>(i)]) {
      count *= x.shape()[static_cast<std::size_t>(i)];
      if (keepdims) out_shape.push_back(1);
    } else {
      out_shape.push_back(x.shape()[static_cast<std::size_t>(i)]);
    }
  }
  if (kind == ReduceKind::kMax || kind == ReduceKind::kMin) {
    ACT_CHECK(count > 0, "cannot take the max/min of an empty set (input ", x.describe(), ")");
  }

  const Reducer<T> red{kind};
  auto sum = [](T a, T b) { return static_cast<T>(a + b); };
  auto mul = [](T a, T b) { return static_cast<T>(a * b); };
  auto mx = [](T a, T b) { return a < b ? b : a; };
  auto mn = [](T a, T b) { return b < a ? b : a; };
  auto identity = [](T v) { return v; };
  auto square = [](T v) { return static_cast<T>(v * v); };

  // One pass per run of consecutive reduced axes, innermost first; each pass shrinks the data.
  Tensor cur = x;
  bool first = true;
  for (int end = rank; end > 0;) {
    if (!reduced[static_cast<std::size_t>(end - 1)]) {
      --end;
      continue;
    }
    int begin = end - 1;
    while (begin > 0 && reduced[static_cast<std::size_t>(begin - 1)]) --begin;
    std::int64_t outer = 1, n = 1, inner = 1;
    for (int i = 0; i < begin; ++i) outer *= work[static_cast<std::size_t>(i)];
    for (int i = begin; i < end; ++i) n *= work[static_cast<std::size_t>(i)];
    for (int i = end; i < rank; ++i) inner *= work[static_cast<std::size_t>(i)];
    for (int i = begin; i < end; ++i) work[static_cast<std::size_t>(i)] = 1;
    Tensor next(x.dtype(), work);
    const T* src = cur.data<T>();
    T* dst = next.data<T>();
    switch (kind) {
      case ReduceKind::kSum:
      case ReduceKind::kMean:
        reduce_middle(src, dst, outer, n, inner, red.init(), identity, sum);
        break;
      case ReduceKind::kSumSquare:
        if (first) {
          reduce_middle(src, dst, outer, n, inner, red.init(), square, sum);
        } else {
          reduce_middle(src, dst, outer, n, inner, red.init(), identity, sum);
        }
        break;
      case ReduceKind::kProd:
        reduce_middle(src, dst, outer, n, inner, red.init(), identity, mul);
        break;
      case ReduceKind::kMax:
        reduce_middle(src, dst, outer, n, inner, red.init(), identity, mx);
        break;
      case ReduceKind::kMin:
        reduce_middle(src, dst, outer, n, inner, red.init(), identity, mn);
        break;
    }
    cur = next;
    first = false;
    end = begin;
  }
  if (kind == ReduceKind::kMean) {
    T* p = cur.data<T>();
    const std::int64_t m = cur.numel();
    if constexpr (std::is_floating_point_v<T>) {
      const T scale =
          count > 0 ? T(1) / static_cast<T>(count) : std::numeric_limits<T>::quiet_NaN();
      for (std::int64_t i = 0; i < m; ++i) p[i] *= scale;
    } else {
      ACT_CHECK(count > 0, "ReduceMean over an empty set of integers");
      for (std::int64_t i = 0; i < m; ++i) p[i] = static_cast<T>(p[i] / count);
    }
  }
  ctx.set_output(0, cur.reshaped(out_shape));
}

template <typename... Ts>
void add_reduce(OpRegistry& r, const char* op, ReduceKind kind) {
  (add_cpu(r, op, DTypeOf<Ts>::value,
           [op = std::string(op), kind](const KernelInit& init) {
             const bool axes_input = op == "ReduceSum" ? init.opset >= 13 : init.opset >= 18;
             const std::vector<std::int64_t> axes =
                 axes_input ? std::vector<std::int64_t>{} : init.node.attrs.get_ints("axes", {});
             const bool keepdims = init.node.attrs.get_int("keepdims", 1) != 0;
             const bool noop = init.node.attrs.get_int("noop_with_empty_axes", 0) != 0;
             return make_kernel([=](KernelContext& ctx) {
               reduce_compute<Ts>(ctx, kind, axes_input, axes, keepdims, noop);
             });
           }),
   ...);
}

// ---- ArgMax / ArgMin

template <typename T, bool kMax>
void arg_compute(KernelContext& ctx, std::int64_t axis_attr, bool keepdims, bool last) {
  const Tensor& x = ctx.input(0);
  const std::int64_t axis = normalize_axis(axis_attr, x.rank());
  const std::int64_t n = x.dim(static_cast<int>(axis));
  ACT_CHECK(n > 0, "ArgMax/ArgMin over an empty axis (input ", x.describe(), ")");
  std::int64_t outer = 1, inner = 1;
  Shape out_shape;
  for (int i = 0; i < x.rank(); ++i) {
    if (i < axis) outer *= x.dim(i);
    if (i > axis) inner *= x.dim(i);
    if (i != axis) out_shape.push_back(x.dim(i));
    if (i == axis && keepdims) out_shape.push_back(1);
  }
  Tensor& y = ctx.allocate(0, DType::kI64, out_shape);
  const T* src = x.data<T>();
  std::int64_t* dst = y.data<std::int64_t>();
  parallel_for(outer, std::max<std::int64_t>(1, kGrain / (n * inner)),
               [&](std::int64_t ob, std::int64_t oe) {
                 std::vector<T> best(static_cast<std::size_t>(inner));
                 for (std::int64_t o = ob; o < oe; ++o) {
                   const T* block = src + o * n * inner;
                   std::int64_t* idx = dst + o * inner;
                   std::copy(block, block + inner, best.begin());
                   std::fill(idx, idx + inner, 0);
                   for (std::int64_t r = 1; r < n; ++r) {
                     const T* row = block + r * inner;
                     for (std::int64_t i = 0; i < inner; ++i) {
                       const T v = row[i];
                       const T b = best[static_cast<std::size_t>(i)];
                       const bool better = kMax ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
                       if (better) {
                         best[static_cast<std::size_t>(i)] = v;
                         idx[i] = r;
                       }
                     }
                   }
                 }
               });
}

template <bool kMax, typename... Ts>
void add_arg(OpRegistry& r, const char* op) {
  (add_cpu(r, op, DTypeOf<Ts>::value,
           [](const KernelInit& init) {
             const std::int64_t axis = init.node.attrs.get_int("axis", 0);
             const bool keepdims = init.node.attrs.get_int("keepdims", 1) != 0;
             const bool last = init.node.attrs.get_int("select_last_index", 0) != 0;
             return make_kernel(
                 [=](KernelContext& ctx) { arg_compute<Ts, kMax>(ctx, axis, keepdims, last); });
           }),
   ...);
}

// ---- Softmax / LogSoftmax

template <typename T>
inline T exp_t(T v) {
  if constexpr (std::is_same_v<T, float>) {
    return cpu::fast_expf(v);
  } else {
    return std::exp(v);
  }
}

template <typename T, typename Op>
T lane_reduce(const T* p, std::int64_t n, T init, const Op& op) {
  T lanes[kLanes];
  for (T& l : lanes) l = init;
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] = op(lanes[j], p[i + j]);
  }
  T acc = init;
  for (; i < n; ++i) acc = op(acc, p[i]);
  for (T l : lanes) acc = op(acc, l);
  return acc;
}

template <typename T, bool kLog>
void softmax_compute(KernelContext& ctx, std::int64_t axis_attr, bool coerce_2d) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.allocate(0, x.dtype(), x.shape());
  if (x.numel() == 0) return;
  const std::int64_t axis = normalize_axis(axis_attr, std::max(x.rank(), 1));
  std::int64_t outer = 1, n = 1, inner = 1;
  for (int i = 0; i < x.rank(); ++i) {
    if (i < axis) {
      outer *= x.dim(i);
    } else if (i == axis || coerce_2d) {
      n *= x.dim(i);  // opset < 13 flattens [axis, rank) into one softmax row
    } else {
      inner *= x.dim(i);
    }
  }
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  auto mx = [](T a, T b) { return a < b ? b : a; };
  auto add = [](T a, T b) { return a + b; };
  parallel_for(outer, std::max<std::int64_t>(1, kGrain / (n * inner)),
               [&](std::int64_t ob, std::int64_t oe) {
                 std::vector<T> colmax, colsum;
                 for (std::int64_t o = ob; o < oe; ++o) {
                   const T* in = src + o * n * inner;
                   T* out = dst + o * n * inner;
                   if (inner == 1) {
                     const T m = lane_reduce(in, n, -std::numeric_limits<T>::infinity(), mx);
                     for (std::int64_t i = 0; i < n; ++i) out[i] = exp_t(in[i] - m);
                     const T s = lane_reduce(out, n, T(0), add);
                     if constexpr (kLog) {
                       // (x - max) first: folding max into the shift loses digits when |max| is
                       // large.
                       const T ls = std::log(s);
                       for (std::int64_t i = 0; i < n; ++i) out[i] = (in[i] - m) - ls;
                     } else {
                       const T inv = T(1) / s;
                       for (std::int64_t i = 0; i < n; ++i) out[i] *= inv;
                     }
                     continue;
                   }
                   // Softmax across rows of a [n, inner] block: per-column statistics, row-wise
                   // passes.
                   colmax.assign(in, in + inner);
                   colsum.assign(static_cast<std::size_t>(inner), T(0));
                   for (std::int64_t r = 1; r < n; ++r) {
                     for (std::int64_t i = 0; i < inner; ++i)
                       colmax[i] = mx(colmax[i], in[r * inner + i]);
                   }
                   for (std::int64_t r = 0; r < n; ++r) {
                     for (std::int64_t i = 0; i < inner; ++i) {
                       const T e = exp_t(in[r * inner + i] - colmax[i]);
                       out[r * inner + i] = e;
                       colsum[i] += e;
                     }
                   }
                   if constexpr (kLog) {
                     for (std::int64_t i = 0; i < inner; ++i) colsum[i] = std::log(colsum[i]);
                     for (std::int64_t r = 0; r < n; ++r) {
                       for (std::int64_t i = 0; i < inner; ++i) {
                         out[r * inner + i] = (in[r * inner + i] - colmax[i]) - colsum[i];
                       }
                     }
                   } else {
                     for (std::int64_t i = 0; i < inner; ++i) colsum[i] = T(1) / colsum[i];
                     for (std::int64_t r = 0; r < n; ++r) {
                       for (std::int64_t i = 0; i < inner; ++i) out[r * inner + i] *= colsum[i];
                     }
                   }
                 }
               });
}

template <bool kLog, typename... Ts>
void add_softmax(OpRegistry& r, const char* op) {
  (add_cpu(r, op, DTypeOf<Ts>::value,
           [](const KernelInit& init) {
             const bool coerce = init.opset < 13;
             const std::int64_t axis = init.node.attrs.get_int("axis", coerce ? 1 : -1);
             return make_kernel(
                 [=](KernelContext& ctx) { softmax_compute<Ts, kLog>(ctx, axis, coerce); });
           }),
   ...);
}

}  // namespace

void register_reduce_cpu(OpRegistry& r) {
  using i32 = std::int32_t;
  using i64 = std::int64_t;
  add_reduce<float, double, i32, i64>(r, "ReduceSum", ReduceKind::kSum);
  add_reduce<float, double, i32, i64>(r, "ReduceMean", ReduceKind::kMean);
  add_reduce<float, double, i32, i64, std::int8_t, std::uint8_t>(r, "ReduceMax", ReduceKind::kMax);
  add_reduce<float, double, i32, i64, std::int8_t, std::uint8_t>(r, "ReduceMin", ReduceKind::kMin);
  add_reduce<float, double, i32, i64>(r, "ReduceProd", ReduceKind::kProd);
  add_reduce<float, double, i32, i64>(r, "ReduceSumSquare", ReduceKind::kSumSquare);
  add_arg<true, float, double, i32, i64, std::int8_t, std::uint8_t>(r, "ArgMax");
  add_arg<false, float, double, i32, i64, std::int8_t, std::uint8_t>(r, "ArgMin");
  add_softmax<false, float, double>(r, "Softmax");
  add_softmax<true, float, double>(r, "LogSoftmax");
}

}  // namespace act::ops
