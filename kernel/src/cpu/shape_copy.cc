// Kernels that move bytes: Transpose, Concat, Split, Slice, Gather, Pad. They work on raw
// element bytes, so one kernel serves every dtype.
#include <algorithm>
#include <cstring>

#include "act/kernel/parallel.h"
#include "cpu/shape_kernels.h"

namespace act::ops::shape {
namespace {

// Below this many bytes a loop runs on the calling thread: waking the pool costs more.
constexpr std::int64_t kParallelBytes = 1 << 16;
constexpr std::int64_t kTile = 16;

// Walks a multi-index over `dims`, keeping two linear offsets in step.
struct Odometer {
  const std::vector<std::int64_t>& dims;
  const std::vector<std::int64_t>& a_strides;
  const std::vector<std::int64_t>& b_strides;
  std::vector<std::int64_t> idx;
  std::int64_t a = 0;
  std::int64_t b = 0;

  Odometer(const std::vector<std::int64_t>& d, const std::vector<std::int64_t>& as,
           const std::vector<std::int64_t>& bs, std::int64_t linear)
      : dims(d), a_strides(as), b_strides(bs), idx(d.size(), 0) {
    for (std::size_t i = d.size(); i-- > 0;) {
      idx[i] = linear % d[i];
      linear /= d[i];
      a += idx[i] * as[i];
      b += idx[i] * bs[i];
    }
  }
  void next() {
    for (std::size_t i = dims.size(); i-- > 0;) {
      a += a_strides[i];
      b += b_strides[i];
      if (++idx[i] < dims[i]) return;
      a -= a_strides[i] * dims[i];
      b -= b_strides[i] * dims[i];
      idx[i] = 0;
    }
  }
};

template <typename T>
void copy_elems(char* dst, std::int64_t dst_stride, const char* src, std::int64_t src_stride,
                std::int64_t n) {
  auto* d = reinterpret_cast<T*>(dst);
  const auto* s = reinterpret_cast<const T*>(src);
  for (std::int64_t i = 0; i < n; ++i) d[i * dst_stride] = s[i * src_stride];
}

void copy_line(char* dst, std::int64_t dst_stride, const char* src, std::int64_t src_stride,
               std::int64_t n, std::size_t elem) {
  switch (elem) {
    case 1:
      return copy_elems<std::uint8_t>(dst, dst_stride, src, src_stride, n);
    case 2:
      return copy_elems<std::uint16_t>(dst, dst_stride, src, src_stride, n);
    case 4:
      return copy_elems<std::uint32_t>(dst, dst_stride, src, src_stride, n);
    case 8:
      return copy_elems<std::uint64_t>(dst, dst_stride, src, src_stride, n);
    default:
      break;
  }
  const auto e = static_cast<std::int64_t>(elem);
  for (std::int64_t i = 0; i < n; ++i)
    std::memcpy(dst + i * dst_stride * e, src + i * src_stride * e, elem);
}

// One strip of a transpose: d[a * dst_a_stride + b] = s[a + b * src_b_stride] for a < na
// (at most kTile) and all b. It moves 8x8 blocks through a small buffer so that both the
// reads and the writes are short contiguous runs (the compiler turns the fixed-size block
// into register shuffles), and walks b outermost so the strip's few dst rows stay in cache.
template <typename T>
void transpose_tile(char* dst, std::int64_t dst_a_stride, const char* src,
                    std::int64_t src_b_stride, std::int64_t na, std::int64_t nb) {
  constexpr std::int64_t kM = 8;
  auto* d = reinterpret_cast<T*>(dst);
  const auto* s = reinterpret_cast<const T*>(src);
  for (std::int64_t b0 = 0; b0 < nb; b0 += kM) {
    const std::int64_t bm = std::min(kM, nb - b0);
    for (std::int64_t a0 = 0; a0 < na; a0 += kM) {
      const std::int64_t am = std::min(kM, na - a0);
      if (am == kM && bm == kM) {
        T buf[kM][kM];
        for (std::int64_t b = 0; b < kM; ++b) {
          for (std::int64_t a = 0; a < kM; ++a) buf[a][b] = s[a0 + a + (b0 + b) * src_b_stride];
        }
        for (std::int64_t a = 0; a < kM; ++a) {
          for (std::int64_t b = 0; b < kM; ++b) d[(a0 + a) * dst_a_stride + b0 + b] = buf[a][b];
        }
        continue;
      }
      for (std::int64_t a = a0; a < a0 + am; ++a) {
        for (std::int64_t b = b0; b < b0 + bm; ++b)
          d[a * dst_a_stride + b] = s[a + b * src_b_stride];
      }
    }
  }
}

void tile(char* dst, std::int64_t dst_a_stride, const char* src, std::int64_t src_b_stride,
          std::int64_t na, std::int64_t nb, std::size_t elem) {
  switch (elem) {
    case 1:
      return transpose_tile<std::uint8_t>(dst, dst_a_stride, src, src_b_stride, na, nb);
    case 2:
      return transpose_tile<std::uint16_t>(dst, dst_a_stride, src, src_b_stride, na, nb);
    case 4:
      return transpose_tile<std::uint32_t>(dst, dst_a_stride, src, src_b_stride, na, nb);
    default:
      return transpose_tile<std::uint64_t>(dst, dst_a_stride, src, src_b_stride, na, nb);
  }
}

void fill_pattern(char* dst, std::int64_t count, const char* value, std::size_t elem) {
  if (std::all_of(value, value + elem, [](char c) { return c == 0; })) {
    std::memset(dst, 0, static_cast<std::size_t>(count) * elem);
    return;
  }
  for (std::int64_t i = 0; i < count; ++i)
    std::memcpy(dst + static_cast<std::size_t>(i) * elem, value, elem);
}

}  // namespace

std::vector<std::int64_t> contiguous_strides(const Shape& shape) {
  std::vector<std::int64_t> s(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

void strided_copy(char* dst, const std::vector<std::int64_t>& dst_strides_in, const char* src,
                  const std::vector<std::int64_t>& src_strides_in, const Shape& dims_in,
                  std::size_t elem) {
  if (shape_numel(dims_in) == 0) return;
  // Drop unit dims and fuse dims that are contiguous in both src and dst: fewer, longer loops.
  std::vector<std::int64_t> dims, ss, ds;
  for (std::size_t i = 0; i < dims_in.size(); ++i) {
    if (dims_in[i] == 1) continue;
    if (!dims.empty() && ss.back() == src_strides_in[i] * dims_in[i] &&
        ds.back() == dst_strides_in[i] * dims_in[i]) {
      dims.back() *= dims_in[i];
      ss.back() = src_strides_in[i];
      ds.back() = dst_strides_in[i];
      continue;
    }
    dims.push_back(dims_in[i]);
    ss.push_back(src_strides_in[i]);
    ds.push_back(dst_strides_in[i]);
  }
  if (dims.empty()) {
    std::memcpy(dst, src, elem);
    return;
  }
  const auto e = static_cast<std::int64_t>(elem);
  const std::size_t k = dims.size();
  const std::int64_t inner = dims.back();
  const std::int64_t total_bytes = shape_numel(dims) * e;

  // Transpose-like: the src's contiguous dim is not the dst's. Tile those two dims.
  std::size_t j = k;
  if (ss.back() != 1 && ds.back() == 1) {
    for (std::size_t i = 0; i + 1 < k; ++i) {
      if (ss[i] == 1) j = i;
    }
  }
  if (j < k && dims[j] >= 4 && inner >= 4) {
    std::vector<std::int64_t> od, os, odst;
    for (std::size_t i = 0; i + 1 < k; ++i) {
      if (i == j) continue;
      od.push_back(dims[i]);
      os.push_back(ss[i]);
      odst.push_back(ds[i]);
    }
    const std::int64_t outer = shape_numel(od);
    const std::int64_t blocks = (dims[j] + kTile - 1) / kTile;
    const std::int64_t units = outer * blocks;
    const std::int64_t grain =
        std::max<std::int64_t>(1, kParallelBytes / std::max<std::int64_t>(1, kTile * inner * e));
    parallel_for(units, total_bytes < kParallelBytes ? units : grain,
                 [&](std::int64_t b, std::int64_t end) {
                   for (std::int64_t u = b; u < end; ++u) {
                     Odometer o(od, os, odst, u / blocks);
                     const std::int64_t a0 = (u % blocks) * kTile;
                     const std::int64_t na = std::min(kTile, dims[j] - a0);
                     tile(dst + (o.b + a0 * ds[j]) * e, ds[j], src + (o.a + a0) * e, ss.back(), na,
                          inner, elem);
                   }
                 });
    return;
  }

  std::vector<std::int64_t> od(dims.begin(), dims.end() - 1);
  std::vector<std::int64_t> os(ss.begin(), ss.end() - 1);
  std::vector<std::int64_t> odst(ds.begin(), ds.end() - 1);
  const std::int64_t rows = shape_numel(od);
  const bool contiguous = ss.back() == 1 && ds.back() == 1;
  const std::int64_t row_bytes = inner * e;
  const std::int64_t grain = std::max<std::int64_t>(1, kParallelBytes / row_bytes);
  parallel_for(rows, total_bytes < kParallelBytes ? rows : grain,
               [&](std::int64_t b, std::int64_t end) {
                 Odometer o(od, os, odst, b);
                 for (std::int64_t r = b; r < end; ++r, o.next()) {
                   if (contiguous) {
                     std::memcpy(dst + o.b * e, src + o.a * e, static_cast<std::size_t>(row_bytes));
                   } else {
                     copy_line(dst + o.b * e, ds.back(), src + o.a * e, ss.back(), inner, elem);
                   }
                 }
               });
}

void transpose_bytes(char* dst, const char* src, const Shape& in_shape,
                     const std::vector<std::int64_t>& perm, std::size_t elem) {
  const auto in_strides = contiguous_strides(in_shape);
  Shape out_shape;
  std::vector<std::int64_t> src_strides;
  for (auto p : perm) {
    out_shape.push_back(in_shape[static_cast<std::size_t>(p)]);
    src_strides.push_back(in_strides[static_cast<std::size_t>(p)]);
  }
  strided_copy(dst, contiguous_strides(out_shape), src, src_strides, out_shape, elem);
}

namespace {

void add(OpRegistry& r, const std::string& op, KernelFactory f) {
  r.add_kernel(op, "", DeviceKind::kCpu, {}, std::move(f));
}

char* bytes(Tensor& t) {
  return static_cast<char*>(t.raw_data());
}
const char* bytes(const Tensor& t) {
  return static_cast<const char*>(t.raw_data());
}

// Copies `src` viewed as [outer, src_block] bytes into dst viewed as [outer, dst_block].
void copy_blocks(char* dst, std::int64_t dst_block, const char* src, std::int64_t src_block,
                 std::int64_t outer, std::int64_t block) {
  strided_copy(dst, {dst_block, 1}, src, {src_block, 1}, {outer, block}, 1);
}

std::int64_t prod(const Shape& s, std::size_t b, std::size_t e) {
  std::int64_t n = 1;
  for (std::size_t i = b; i < e; ++i) n *= s[i];
  return n;
}

// Index in the source for position i of a padded dim of length n (begin pad b), -1 for the
// constant. Reflect and wrap repeat as far as needed (pads may exceed the dim).
std::int64_t pad_source(std::int64_t i, std::int64_t b, std::int64_t n, int mode) {
  std::int64_t s = i - b;
  if (s >= 0 && s < n) return s;
  switch (mode) {
    case 0:
      return -1;
    case 1:
      return std::clamp<std::int64_t>(s, 0, n - 1);
    case 2: {
      if (n == 1) return 0;
      const std::int64_t period = 2 * (n - 1);
      s %= period;
      if (s < 0) s += period;
      return s < n ? s : period - s;
    }
    default: {
      s %= n;
      return s < 0 ? s + n : s;
    }
  }
}

}  // namespace

void register_copy_kernels(OpRegistry& r) {
  add(r, "Transpose", [](const KernelInit& init) {
    const auto perm_attr = init.node.attrs.get_ints("perm", {});
    return make_kernel([perm_attr](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const auto perm = transpose_perm(perm_attr, x.rank());
      Shape out_shape;
      for (auto p : perm) out_shape.push_back(x.shape()[static_cast<std::size_t>(p)]);
      // Moving only unit dims keeps the element order: relabel instead of copying.
      std::vector<std::int64_t> order;
      for (auto p : perm) {
        if (x.shape()[static_cast<std::size_t>(p)] != 1) order.push_back(p);
      }
      if (std::is_sorted(order.begin(), order.end())) {
        ctx.set_output(0, x.reshaped(out_shape));
        return;
      }
      Tensor& out = ctx.allocate(0, x.dtype(), out_shape);
      transpose_bytes(bytes(out), bytes(x), x.shape(), perm, dtype_size(x.dtype()));
    });
  });

  add(r, "Concat", [](const KernelInit& init) {
    const std::int64_t axis_attr = init.node.attrs.get_int("axis");
    return make_kernel([axis_attr](KernelContext& ctx) {
      const Tensor& first = ctx.input(0);
      const auto rank = first.rank();
      ACT_CHECK(rank > 0, "Concat: inputs must have rank >= 1, got ", first.describe());
      const auto axis = static_cast<std::size_t>(normalize_axis(axis_attr, rank, "Concat"));
      Shape out_shape = first.shape();
      out_shape[axis] = 0;
      for (int i = 0; i < ctx.num_inputs(); ++i) {
        const Tensor& t = ctx.input(i);
        ACT_CHECK(t.dtype() == first.dtype(), "Concat: input ", i, " is ", t.describe(),
                  " but input 0 is ", first.describe());
        bool ok = t.rank() == rank;
        for (std::size_t d = 0; ok && d < out_shape.size(); ++d) {
          ok = d == axis || t.shape()[d] == first.shape()[d];
        }
        ACT_CHECK(ok, "Concat: input ", i, " has shape ", shape_to_string(t.shape()),
                  ", which does not match input 0's ", shape_to_string(first.shape()),
                  " outside axis ", axis);
        out_shape[axis] += t.shape()[axis];
      }
      Tensor& out = ctx.allocate(0, first.dtype(), out_shape);
      const auto elem = static_cast<std::int64_t>(dtype_size(first.dtype()));
      const std::int64_t outer = prod(out_shape, 0, axis);
      const std::int64_t inner = prod(out_shape, axis + 1, out_shape.size()) * elem;
      const std::int64_t dst_block = out_shape[axis] * inner;
      std::int64_t offset = 0;
      for (int i = 0; i < ctx.num_inputs(); ++i) {
        const Tensor& t = ctx.input(i);
        const std::int64_t block = t.shape()[axis] * inner;
        if (block > 0) copy_blocks(bytes(out) + offset, dst_block, bytes(t), block, outer, block);
        offset += block;
      }
    });
  });

  add(r, "Split", [](const KernelInit& init) {
    const std::int64_t axis_attr = init.node.attrs.get_int("axis", 0);
    const bool split_input = init.opset >= 13;
    const bool has_attr = init.node.attrs.has("split");
    const auto split_attr = init.node.attrs.get_ints("split", {});
    const std::int64_t num_outputs = init.node.attrs.get_int("num_outputs", 0);
    return make_kernel([=](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const auto axis = static_cast<std::size_t>(normalize_axis(axis_attr, x.rank(), "Split"));
      const bool has = split_input ? ctx.has_input(1) : has_attr;
      const auto split = split_input
                             ? (has ? ctx.input(1).to_int_vector() : std::vector<std::int64_t>{})
                             : split_attr;
      const auto sizes = split_sizes(x.shape()[axis], split, has, ctx.num_outputs(), num_outputs);
      const auto elem = static_cast<std::int64_t>(dtype_size(x.dtype()));
      const std::int64_t outer = prod(x.shape(), 0, axis);
      const std::int64_t inner = prod(x.shape(), axis + 1, x.shape().size()) * elem;
      const std::int64_t src_block = x.shape()[axis] * inner;
      std::int64_t offset = 0;
      for (int i = 0; i < ctx.num_outputs(); ++i) {
        Shape s = x.shape();
        s[axis] = sizes[static_cast<std::size_t>(i)];
        Tensor& out = ctx.allocate(i, x.dtype(), s);
        const std::int64_t block = s[axis] * inner;
        if (block > 0) copy_blocks(bytes(out), block, bytes(x) + offset, src_block, outer, block);
        offset += block;
      }
    });
  });

  add(r, "Slice", [](const KernelInit& init) {
    const bool from_attrs = init.opset < 10;
    const auto& a = init.node.attrs;
    const auto starts_attr = a.get_ints("starts", {});
    const auto ends_attr = a.get_ints("ends", {});
    const bool has_axes_attr = a.has("axes");
    const auto axes_attr = a.get_ints("axes", {});
    return make_kernel([=](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      std::vector<SliceDim> dims;
      if (from_attrs) {
        dims = slice_dims(x.shape(), starts_attr, ends_attr, axes_attr, has_axes_attr, {}, false);
      } else {
        const bool has_axes = ctx.has_input(3);
        const bool has_steps = ctx.has_input(4);
        dims = slice_dims(
            x.shape(), ctx.input(1).to_int_vector(), ctx.input(2).to_int_vector(),
            has_axes ? ctx.input(3).to_int_vector() : std::vector<std::int64_t>{}, has_axes,
            has_steps ? ctx.input(4).to_int_vector() : std::vector<std::int64_t>{}, has_steps);
      }
      const auto in_strides = contiguous_strides(x.shape());
      Shape out_shape;
      std::vector<std::int64_t> src_strides;
      std::int64_t base = 0;
      bool whole = true;
      for (std::size_t i = 0; i < dims.size(); ++i) {
        out_shape.push_back(dims[i].count);
        src_strides.push_back(in_strides[i] * dims[i].step);
        base += dims[i].start * in_strides[i];
        whole = whole && dims[i].start == 0 && dims[i].step == 1 && dims[i].count == x.shape()[i];
      }
      if (whole) {
        ctx.set_output(0, x);
        return;
      }
      Tensor& out = ctx.allocate(0, x.dtype(), out_shape);
      const std::size_t elem = dtype_size(x.dtype());
      strided_copy(bytes(out), contiguous_strides(out_shape),
                   bytes(x) + base * static_cast<std::int64_t>(elem), src_strides, out_shape, elem);
    });
  });

  add(r, "Gather", [](const KernelInit& init) {
    const std::int64_t axis_attr = init.node.attrs.get_int("axis", 0);
    return make_kernel([axis_attr](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const Tensor& ind = ctx.input(1);
      ACT_CHECK(ind.dtype() == DType::kI64 || ind.dtype() == DType::kI32,
                "Gather: indices must be i32 or i64, got ", ind.describe());
      ACT_CHECK(x.rank() > 0, "Gather: data must have rank >= 1, got ", x.describe());
      const auto axis = static_cast<std::size_t>(normalize_axis(axis_attr, x.rank(), "Gather"));
      const std::int64_t n = x.shape()[axis];
      auto idx = ind.to_int_vector();
      for (auto& i : idx) {
        ACT_CHECK(i >= -n && i < n, "Gather: index ", i, " is out of range for axis ", axis,
                  " of length ", n);
        if (i < 0) i += n;
      }
      Shape out_shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis));
      out_shape.insert(out_shape.end(), ind.shape().begin(), ind.shape().end());
      out_shape.insert(out_shape.end(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis) + 1,
                       x.shape().end());
      Tensor& out = ctx.allocate(0, x.dtype(), out_shape);
      const auto elem = static_cast<std::int64_t>(dtype_size(x.dtype()));
      const std::int64_t outer = prod(x.shape(), 0, axis);
      const std::int64_t block = prod(x.shape(), axis + 1, x.shape().size()) * elem;
      const auto k = static_cast<std::int64_t>(idx.size());
      const char* src = bytes(x);
      char* dst = bytes(out);
      const std::int64_t units = outer * k;
      const std::int64_t grain =
          std::max<std::int64_t>(1, kParallelBytes / std::max<std::int64_t>(1, block));
      parallel_for(units, units * block < kParallelBytes ? std::max<std::int64_t>(units, 1) : grain,
                   [&](std::int64_t b, std::int64_t e) {
                     for (std::int64_t u = b; u < e; ++u) {
                       const std::int64_t o = u / k;
                       std::memcpy(dst + u * block,
                                   src + (o * n + idx[static_cast<std::size_t>(u % k)]) * block,
                                   static_cast<std::size_t>(block));
                     }
                   });
    });
  });

  add(r, "Pad", [](const KernelInit& init) {
    const auto& a = init.node.attrs;
    const std::string mode_name = a.get_string("mode", "constant");
    int mode = 0;
    if (mode_name == "edge") {
      mode = 1;
    } else if (mode_name == "reflect") {
      mode = 2;
    } else if (mode_name == "wrap") {
      mode = 3;
    } else {
      ACT_CHECK(mode_name == "constant", "Pad: unknown mode '", mode_name,
                "' (constant, reflect, edge, wrap)");
    }
    const bool from_attrs = init.opset < 11;
    const auto pads_attr = a.get_ints(init.opset < 2 ? "paddings" : "pads", {});
    const float value_attr = a.get_float("value", 0.0F);
    return make_kernel([=](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const auto rank = x.rank();
      const bool has_axes = !from_attrs && ctx.has_input(3);
      const auto pads = full_pads(
          from_attrs ? pads_attr : ctx.input(1).to_int_vector(),
          has_axes ? ctx.input(3).to_int_vector() : std::vector<std::int64_t>{}, has_axes, rank);
      const Shape out_shape = pad_output(x.shape(), pads);
      const std::size_t elem = dtype_size(x.dtype());
      // The fill value, as bytes of x's dtype.
      Tensor value;
      if (!from_attrs && ctx.has_input(2) && ctx.input(2).numel() > 0) {
        value = ctx.input(2);
        ACT_CHECK(value.dtype() == x.dtype(), "Pad: constant_value is ", value.describe(),
                  " but data is ", x.describe());
      } else {
        value = Tensor::scalar<float>(from_attrs ? value_attr : 0.0F).cast(x.dtype());
      }
      Tensor& out = ctx.allocate(0, x.dtype(), out_shape);
      if (out.numel() == 0) return;
      for (std::int64_t d = 0; d < rank && mode != 0; ++d) {
        const auto i = static_cast<std::size_t>(d);
        ACT_CHECK(
            x.shape()[i] > 0 || (pads[i] <= 0 && pads[i + static_cast<std::size_t>(rank)] <= 0),
            "Pad: ", mode_name, " mode cannot pad the empty dim ", d, " of ",
            shape_to_string(x.shape()));
      }
      const auto in_strides = contiguous_strides(x.shape());
      const auto out_strides = contiguous_strides(out_shape);
      if (mode == 0) {
        fill_pattern(bytes(out), out.numel(), bytes(value), elem);
        // The part of the input that survives negative pads, and where it lands.
        Shape box(static_cast<std::size_t>(rank));
        std::int64_t src_off = 0;
        std::int64_t dst_off = 0;
        for (std::size_t i = 0; i < box.size(); ++i) {
          const std::int64_t b = pads[i];
          const std::int64_t e = pads[i + box.size()];
          box[i] = x.shape()[i] + std::min<std::int64_t>(b, 0) + std::min<std::int64_t>(e, 0);
          if (box[i] <= 0) return;
          src_off += std::max<std::int64_t>(-b, 0) * in_strides[i];
          dst_off += std::max<std::int64_t>(b, 0) * out_strides[i];
        }
        const auto e = static_cast<std::int64_t>(elem);
        strided_copy(bytes(out) + dst_off * e, out_strides, bytes(x) + src_off * e, in_strides, box,
                     elem);
        return;
      }
      // Edge/reflect/wrap: each output index maps to one input index per dim.
      std::vector<std::vector<std::int64_t>> maps(static_cast<std::size_t>(rank));
      for (std::size_t i = 0; i < maps.size(); ++i) {
        for (std::int64_t o = 0; o < out_shape[i]; ++o) {
          maps[i].push_back(pad_source(o, pads[i], x.shape()[i], mode) * in_strides[i]);
        }
      }
      const std::int64_t inner = out_shape.back();
      const std::int64_t rows = out.numel() / inner;
      const auto& last = maps.back();
      const char* src = bytes(x);
      char* dst = bytes(out);
      parallel_for(
          rows,
          std::max<std::int64_t>(1, kParallelBytes / (inner * static_cast<std::int64_t>(elem))),
          [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t r = b; r < e; ++r) {
              std::int64_t rem = r;
              std::int64_t src_row = 0;
              for (std::size_t i = maps.size() - 1; i-- > 0;) {
                src_row += maps[i][static_cast<std::size_t>(rem % out_shape[i])];
                rem /= out_shape[i];
              }
              char* d = dst + static_cast<std::size_t>(r * inner) * elem;
              for (std::int64_t c = 0; c < inner; ++c) {
                std::memcpy(
                    d + static_cast<std::size_t>(c) * elem,
                    src + static_cast<std::size_t>(src_row + last[static_cast<std::size_t>(c)]) *
                              elem,
                    elem);
              }
            }
          });
    });
  });
}

}  // namespace act::ops::shape
