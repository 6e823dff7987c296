// Gemm and MatMul on f32, straight to gemm_f32 (OpenBLAS threads internally).
#include <vector>

#include "cpu/blas.h"
#include "cpu/nn_internal.h"

namespace act::cpu {
namespace {

class GemmKernel final : public OpKernel {
 public:
  explicit GemmKernel(const KernelInit& init)
      : alpha_(init.node.attrs.get_float("alpha", 1.0F)),
        beta_(init.node.attrs.get_float("beta", 1.0F)),
        trans_a_(init.node.attrs.get_int("transA", 0) != 0),
        trans_b_(init.node.attrs.get_int("transB", 0) != 0) {}

  void compute(KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    ACT_CHECK(a.rank() == 2 && b.rank() == 2, "Gemm: A and B must be matrices, got ", a.describe(),
              " and ", b.describe());
    ACT_CHECK(b.dtype() == DType::kF32, "Gemm: B must be f32, got ", b.describe());
    const std::int64_t m = trans_a_ ? a.dim(1) : a.dim(0);
    const std::int64_t k = trans_a_ ? a.dim(0) : a.dim(1);
    const std::int64_t kb = trans_b_ ? b.dim(1) : b.dim(0);
    const std::int64_t n = trans_b_ ? b.dim(0) : b.dim(1);
    ACT_CHECK(k == kb, "Gemm: inner dimensions differ: A ", a.describe(),
              (trans_a_ ? " (transA)" : ""), " and B ", b.describe(),
              (trans_b_ ? " (transB)" : ""));
    Tensor& y = ctx.allocate(0, DType::kF32, {m, n});
    float* yd = y.data<float>();
    float blas_beta = 0.0F;
    if (ctx.has_input(2) && beta_ != 0.0F) {
      // Y starts as beta * C broadcast to [M, N]; the GEMM then accumulates onto it.
      const Tensor& c = ctx.input(2);
      ACT_CHECK(c.dtype() == DType::kF32 && c.rank() <= 2,
                "Gemm: C must be an f32 scalar, vector or matrix, got ", c.describe());
      const std::int64_t cm = c.rank() == 2 ? c.dim(0) : 1;
      const std::int64_t cn = c.rank() >= 1 ? c.dim(-1) : 1;
      ACT_CHECK((cm == 1 || cm == m) && (cn == 1 || cn == n), "Gemm: C ", c.describe(),
                " does not broadcast to [", m, ", ", n, "]");
      const float* cd = c.data<float>();
      for (std::int64_t i = 0; i < m; ++i) {
        const float* cr = cd + (cm == 1 ? 0 : i) * cn;
        float* yr = yd + i * n;
        if (cn == 1) {
          for (std::int64_t j = 0; j < n; ++j) yr[j] = beta_ * cr[0];
        } else {
          for (std::int64_t j = 0; j < n; ++j) yr[j] = beta_ * cr[j];
        }
      }
      blas_beta = 1.0F;
    }
    if (k == 0) {
      if (blas_beta == 0.0F) std::fill(yd, yd + y.numel(), 0.0F);
      return;
    }
    gemm_f32(trans_a_, trans_b_, m, n, k, alpha_, a.data<float>(), a.dim(1), b.data<float>(),
             b.dim(1), blas_beta, yd, n);
  }

 private:
  float alpha_;
  float beta_;
  bool trans_a_;
  bool trans_b_;
};

void matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  ACT_CHECK(a.rank() >= 1 && b.rank() >= 1, "MatMul: operands must have rank >= 1, got ",
            a.describe(), " and ", b.describe());
  ACT_CHECK(b.dtype() == DType::kF32, "MatMul: B must be f32, got ", b.describe());
  Shape sa = a.shape(), sb = b.shape();
  const bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
  if (a_vec) sa.insert(sa.begin(), 1);
  if (b_vec) sb.push_back(1);
  const std::int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  ACT_CHECK(sb[sb.size() - 2] == k, "MatMul: inner dimensions differ: ", a.describe(), " x ",
            b.describe());
  const std::size_t ba = sa.size() - 2, bb = sb.size() - 2, nb = std::max(ba, bb);
  // Batch shape, and each operand's batch strides (0 where it broadcasts).
  Shape batch(nb);
  std::vector<std::int64_t> stride_a(nb, 0), stride_b(nb, 0);
  std::int64_t acc_a = m * k, acc_b = k * n;
  for (std::size_t i = nb; i-- > 0;) {
    const std::int64_t da = i + ba >= nb ? sa[i + ba - nb] : 1;
    const std::int64_t db = i + bb >= nb ? sb[i + bb - nb] : 1;
    ACT_CHECK(da == db || da == 1 || db == 1, "MatMul: batch dimensions of ", a.describe(), " and ",
              b.describe(), " do not broadcast");
    batch[i] = std::max(da, db);
    if (da == 0 || db == 0) batch[i] = 0;
    stride_a[i] = da == 1 ? 0 : acc_a;
    stride_b[i] = db == 1 ? 0 : acc_b;
    acc_a *= da;
    acc_b *= db;
  }
  Shape out = batch;
  if (!a_vec) out.push_back(m);
  if (!b_vec) out.push_back(n);
  Tensor& y = ctx.allocate(0, DType::kF32, out);
  float* yd = y.data<float>();
  if (y.numel() == 0) return;
  if (k == 0) {
    std::fill(yd, yd + y.numel(), 0.0F);
    return;
  }
  const float* ad = a.data<float>();
  const float* bd = b.data<float>();
  const std::int64_t count = shape_numel(batch);
  const bool b_shared =
      std::all_of(stride_b.begin(), stride_b.end(), [](auto s) { return s == 0; });
  const bool a_full = acc_a == count * m * k;
  if (b_shared && a_full) {
    // A's batches are contiguous rows: one tall GEMM beats many small ones.
    gemm_f32(false, false, count * m, n, k, 1.0F, ad, k, bd, n, 0.0F, yd, n);
    return;
  }
  std::vector<std::int64_t> idx(nb, 0);
  for (std::int64_t t = 0; t < count; ++t) {
    std::int64_t oa = 0, ob = 0;
    for (std::size_t i = 0; i < nb; ++i) {
      oa += idx[i] * stride_a[i];
      ob += idx[i] * stride_b[i];
    }
    gemm_f32(false, false, m, n, k, 1.0F, ad + oa, k, bd + ob, n, 0.0F, yd + t * m * n, n);
    for (std::size_t i = nb; i-- > 0;) {
      if (++idx[i] < batch[i]) break;
      idx[i] = 0;
    }
  }
}

}  // namespace

void register_gemm_cpu(OpRegistry& r) {
  r.add_kernel("Gemm", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit& init) { return std::make_unique<GemmKernel>(init); });
  r.add_kernel("MatMul", "", DeviceKind::kCpu, {DType::kF32},
               [](const KernelInit&) { return make_kernel(matmul); });
}

}  // namespace act::cpu
