#include "cpu/broadcast.h"

namespace act::cpu {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    // Right-aligned: missing leading dims act as 1.
    const std::int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const std::int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    ACT_CHECK(da == db || da == 1 || db == 1, "shapes ", shape_to_string(a), " and ",
              shape_to_string(b), " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_shapes(std::initializer_list<const Shape*> shapes) {
  Shape out;
  for (const Shape* s : shapes) out = broadcast_shapes(out, *s);
  return out;
}

BroadcastPlan plan_broadcast(std::initializer_list<const Shape*> inputs) {
  BroadcastPlan p;
  p.out_shape = broadcast_shapes(inputs);
  p.numel = shape_numel(p.out_shape);
  const std::size_t rank = p.out_shape.size();
  const std::size_t n = inputs.size();

  // Full-rank strides per input, 0 where the input has size 1 (or lacks the dim).
  std::vector<std::vector<std::int64_t>> full(n, std::vector<std::int64_t>(rank, 0));
  std::size_t k = 0;
  for (const Shape* s : inputs) {
    std::int64_t stride = 1;
    for (std::size_t i = s->size(); i-- > 0;) {
      const std::size_t o = i + rank - s->size();
      full[k][o] = (*s)[i] == 1 ? 0 : stride;
      stride *= (*s)[i];
    }
    ++k;
  }

  p.strides.assign(n, {});
  for (std::size_t d = 0; d < rank; ++d) {
    if (p.out_shape[d] == 1) continue;  // contributes nothing to iteration
    bool merge = !p.dims.empty();
    for (std::size_t j = 0; merge && j < n; ++j) {
      const std::int64_t prev = p.strides[j].back();
      const std::int64_t cur = full[j][d];
      // Contiguous inputs make "both non-zero" always mergeable; "one zero" never is.
      merge = (prev == 0) == (cur == 0) && (cur == 0 || prev == cur * p.out_shape[d]);
    }
    if (merge) {
      p.dims.back() *= p.out_shape[d];
      for (std::size_t j = 0; j < n; ++j) p.strides[j].back() = full[j][d];
    } else {
      p.dims.push_back(p.out_shape[d]);
      for (std::size_t j = 0; j < n; ++j) p.strides[j].push_back(full[j][d]);
    }
  }
  if (p.dims.empty()) {  // scalar output (or all dims 1)
    p.dims.push_back(1);
    for (std::size_t j = 0; j < n; ++j) p.strides[j].push_back(0);
  }
  ACT_CHECK(p.dims.size() <= 16, "broadcast of rank ", p.dims.size(), " is not supported");
  p.inner_vec.resize(n);
  for (std::size_t j = 0; j < n; ++j) p.inner_vec[j] = p.strides[j].back() != 0;
  return p;
}

}  // namespace act::cpu
