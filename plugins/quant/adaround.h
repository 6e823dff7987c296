// Layer-wise reconstruction of weight rounding (QuantPost's recon_level: layer-wise), in the
// manner of AdaRound (Nagel et al., 2020): each weight is rounded down or up, not to nearest,
// as a soft variable h(V) in [0, 1] optimized so the layer's output on the calibration data
// stays close to the float layer's, with a regularizer that anneals h to exactly 0 or 1.
//
//   W~ = s * clamp(floor(W / s) + h(V), -qmax, qmax),   h(V) = clip(sigmoid(V) * 1.2 - 0.1, 0, 1)
//   loss = ||W~ x~ - W x||^2 / E_nearest + lambda * mean(1 - |2 h(V) - 1|^beta)
//
// E_nearest, the output error of rounding to nearest, and the mean over the weights make the
// objective scale-free, so one lambda serves every layer. lambda 1000, measured (summed output
// error of nearest -> reconstructed): bundled CNN 0.094 -> 0.091 with lambda 0.01, 0.017 with 30
// or 1000; MobileNetV2-style 0.192 -> 0.186 with 0.01, 0.081 with 1000 or 10000; the correlated
// 4-bit layers of tests/plugins/quant/adaround_test.cc improve 2-5x with 30 or 1000 but not
// with 30000 (decided before the relaxation has moved). In effect the first 20% of the steps
// (no regularizer) find the relaxed optimum and the regularizer then commits each weight to
// the side it leans to.
//
// Units: scales per integer step, as qdq_writer.h. Ownership: plain values. Threading: none.
#pragma once

#include <vector>

#include "act/kernel/graph.h"
#include "gram_collector.h"
#include "quant_targets.h"

namespace act::quant {

struct AdaRoundOptions {
  int steps = 2000;
  double lr = 0.01;        // Adam step size on V
  double lambda = 1000.0;  // weight of the (mean) rounding regularizer
};

struct AdaRoundResult {
  Tensor codes;                // int8, the weight's shape
  double nearest_error = 0.0;  // output error of round-to-nearest (sum of squares / columns)
  double error = 0.0;          // output error of the rounding kept
};

// `scales` per output channel (size 1: per tensor) along target.weight_axis, `qmax` the largest
// integer magnitude. Throws act::Error on shapes it does not handle.
AdaRoundResult adaround(const Tensor& w, const Target& target, const std::vector<float>& scales,
                        int qmax, const LayerGram& gram, const AdaRoundOptions& options);

}  // namespace act::quant
