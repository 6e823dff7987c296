// GCC 12 reports Eigen's own AVX-512 reductions (predux) as maybe-uninitialized when they are
// inlined here: a false positive inside Eigen (benchmarks/CMakeLists.txt silences it likewise).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "adaround.h"

#include <algorithm>
#include <cmath>

#include "act/kernel/error.h"
#include "soft_rounding.h"

namespace act::quant {
namespace {

namespace sr = soft_rounding;

// Output error sum ||W~ x~ - W x||^2 over the gram's columns, per group rows.
double output_error(const Eigen::MatrixXd& wq, const Eigen::MatrixXd& w, const LayerGram& g,
                    std::size_t group) {
  if (g.qq.empty()) {
    const Eigen::MatrixXd d = wq - w;
    return (d * g.ff[group]).cwiseProduct(d).sum();
  }
  return (wq * g.qq[group]).cwiseProduct(wq).sum() -
         2.0 * (wq * g.qf[group]).cwiseProduct(w).sum() + (w * g.ff[group]).cwiseProduct(w).sum();
}

}  // namespace

AdaRoundResult adaround(const Tensor& w, const Target& target, const std::vector<float>& scales,
                        int qmax, const LayerGram& gram, const AdaRoundOptions& o) {
  // Rows: one per output channel, K columns each (the layout the gram's K follows).
  const Shape& s = w.shape();
  const bool rows_first = target.weight_axis == 0;  // Conv [O, Cg, kh, kw], Gemm transB [N, K]
  const std::int64_t outputs = rows_first ? s[0] : s.at(1);
  const std::int64_t k = w.numel() / outputs;
  ACT_CHECK(rows_first || s.size() == 2, "recon_level: weight of rank ", s.size());
  const auto groups = static_cast<std::int64_t>(gram.ff.size());
  ACT_CHECK(outputs % groups == 0 && gram.ff[0].rows() == k, "recon_level: the weight's shape ",
            "does not match its input's statistics");
  const std::int64_t per_group = outputs / groups;
  const double columns = static_cast<double>(std::max<std::int64_t>(gram.columns, 1));
  const float* wf = w.data<float>();
  auto at = [&](std::int64_t row, std::int64_t col) {
    return rows_first ? row * k + col : col * outputs + row;
  };

  AdaRoundResult result;
  result.codes = Tensor(DType::kI8, s);
  for (std::int64_t g = 0; g < groups; ++g) {
    const auto gi = static_cast<std::size_t>(g);
    Eigen::MatrixXd wm(per_group, k), scale(per_group, k), base(per_group, k), v(per_group, k);
    for (std::int64_t r = 0; r < per_group; ++r) {
      const std::int64_t row = g * per_group + r;
      const double sc = scales[static_cast<std::size_t>(scales.size() > 1 ? row : 0)];
      for (std::int64_t c = 0; c < k; ++c) {
        const double x = wf[at(row, c)];
        wm(r, c) = x;
        scale(r, c) = sc;
        base(r, c) = std::floor(x / sc);
        // h(V) starts at the fractional part: the soft weight equals the float weight.
        v(r, c) = sr::v_for_fraction(x / sc - base(r, c));
      }
    }
    const Eigen::MatrixXd lo = Eigen::MatrixXd::Constant(per_group, k, -qmax);
    const Eigen::MatrixXd hi = Eigen::MatrixXd::Constant(per_group, k, qmax);
    auto weights_for = [&](const Eigen::MatrixXd& h) {
      return scale.cwiseProduct((base + h).cwiseMax(lo).cwiseMin(hi));
    };
    const Eigen::MatrixXd nearest_h =
        (wm.cwiseQuotient(scale) - base).unaryExpr([](double f) { return f >= 0.5 ? 1.0 : 0.0; });
    const double nearest = output_error(weights_for(nearest_h), wm, gram, gi) / columns;

    Eigen::MatrixXd m1 = Eigen::MatrixXd::Zero(per_group, k), m2 = m1;
    const double lambda = o.lambda / static_cast<double>(per_group * k);
    for (int step = 0; step < o.steps; ++step) {
      const Eigen::MatrixXd h = v.unaryExpr([](double z) { return sr::h_of(z); });
      const Eigen::MatrixXd wq = weights_for(h);
      // d loss / d W~ of the output error, then through the clamp and the soft rounding.
      Eigen::MatrixXd grad =
          gram.qq.empty()
              ? Eigen::MatrixXd(2.0 * (wq - wm) * gram.ff[gi])
              : Eigen::MatrixXd(2.0 * (wq * gram.qq[gi] - wm * gram.qf[gi].transpose()));
      // Scale-free objective: the output error relative to round-to-nearest's, plus lambda times
      // the mean regularizer, so one lambda suits every layer and data scale.
      grad /= columns * std::max(nearest, 1e-30);
      Eigen::MatrixXd dh = grad.cwiseProduct(scale);
      if (const double beta = sr::beta_at(step, o.steps); beta > 0.0) {
        dh += h.unaryExpr([&](double x) { return sr::regularizer_dh(x, beta, lambda); });
      }
      // Through the soft rounding; nothing flows where h(V) or the integer is clamped.
      const Eigen::ArrayXXd q = (base + h).array();
      const Eigen::ArrayXXd live = ((q > -qmax) && (q < qmax)).cast<double>();
      const Eigen::ArrayXXd gv =
          live * dh.array() * v.unaryExpr([](double z) { return sr::dh_dv(z); }).array();
      m1 = 0.9 * m1 + 0.1 * gv.matrix();
      m2 = 0.999 * m2 + 0.001 * gv.square().matrix();
      const double c1 = 1.0 - std::pow(0.9, step + 1), c2 = 1.0 - std::pow(0.999, step + 1);
      v.array() -= o.lr * (m1.array() / c1) / ((m2.array() / c2).sqrt() + 1e-8);
    }
    const Eigen::MatrixXd hard = v.unaryExpr([](double z) { return sr::rounds_up(z) ? 1.0 : 0.0; });
    const double learned = output_error(weights_for(hard), wm, gram, gi) / columns;
    const Eigen::MatrixXd& kept = learned < nearest ? hard : nearest_h;
    result.nearest_error += nearest;
    result.error += std::min(learned, nearest);
    for (std::int64_t r = 0; r < per_group; ++r) {
      for (std::int64_t c = 0; c < k; ++c) {
        const double q = std::clamp(base(r, c) + kept(r, c), -static_cast<double>(qmax),
                                    static_cast<double>(qmax));
        result.codes.data<std::int8_t>()[at(g * per_group + r, c)] = static_cast<std::int8_t>(q);
      }
    }
  }
  return result;
}

}  // namespace act::quant
