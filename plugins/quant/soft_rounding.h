// The rounding relaxation shared by layer-wise (adaround.h) and region-wise (region_recon.h)
// reconstruction, as AdaRound (Nagel et al., 2020) defines it. Each weight is rounded down or
// up, written base + h with base = floor(w / s) and h in [0, 1] the rectified sigmoid of a
// free variable V:
//   h(V) = clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1),   zeta 1.1, gamma -0.1
// (the stretch lets h reach exactly 0 and 1 with a finite V, so the gradient can stop there).
// The regularizer 1 - |2h - 1|^beta pushes every h to 0 or 1; beta is annealed from 20 (flat,
// only h near 0.5 feels it) to 2 after a warm-up without it.
//
// Units: h in integer steps of the weight's scale. Ownership, threading: pure functions.
#pragma once

#include <algorithm>
#include <cmath>

namespace act::quant::soft_rounding {

inline constexpr double kZeta = 1.1, kGamma = -0.1;
inline constexpr double kBetaStart = 20.0, kBetaEnd = 2.0;

inline double sigmoid(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

// sigmoid(V) * (zeta - gamma) + gamma before the clip: h's gradient flows only inside (0, 1).
inline double stretched(double v) {
  return sigmoid(v) * (kZeta - kGamma) + kGamma;
}

inline double h_of(double v) {
  return std::clamp(stretched(v), 0.0, 1.0);
}

// dh/dV, zero where the clip holds h at 0 or 1.
inline double dh_dv(double v) {
  const double r = stretched(v);
  if (r <= 0.0 || r >= 1.0) return 0.0;
  const double s = sigmoid(v);
  return (kZeta - kGamma) * s * (1.0 - s);
}

// The V whose h is `frac` (the fractional part of w / s): the soft weight starts at the float
// weight. Kept a little inside (0, 1) so V stays finite.
inline double v_for_fraction(double frac) {
  const double f = std::clamp(frac, 1e-4, 1.0 - 1e-4);
  return -std::log((kZeta - kGamma) / (f - kGamma) - 1.0);
}

// The final decision: round up where h(V) >= 0.5.
inline bool rounds_up(double v) {
  return stretched(v) >= 0.5;
}

// beta at `step` of `steps`, or 0 while the regularizer is off (the warm-up, the first fifth:
// the relaxed optimum is found first, then the regularizer commits each weight to its side).
inline double beta_at(int step, int steps) {
  const int warmup = steps / 5;
  if (step < warmup) return 0.0;
  const double t = static_cast<double>(step - warmup) / std::max(1, steps - warmup);
  return kBetaStart + (kBetaEnd - kBetaStart) * t;
}

// d/dh of weight * (1 - |2h - 1|^beta).
inline double regularizer_dh(double h, double beta, double weight) {
  const double d = 2.0 * h - 1.0;
  return -weight * beta * std::pow(std::fabs(d), beta - 1.0) * (d >= 0 ? 2.0 : -2.0);
}

}  // namespace act::quant::soft_rounding
