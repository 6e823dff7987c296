// What a fused convolution does to its output while the block is still in cache: add the
// bias, add a residual ("sum") input, apply an activation. The fusion pass (passes_fusion.cc)
// folds Add/Relu/Clip/LeakyRelu/HardSwish nodes that follow a Conv into these fields; running
// them here saves a full read and write of the activation per folded node.
//
// Units: rows are output channels, columns output pixels; leading dimensions in elements.
// Threading: pure; apply() may run concurrently on disjoint blocks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "act/kernel/attributes.h"

namespace act::cpu {

enum class Activation { kNone, kRelu, kClip, kLeakyRelu, kHardSwish };

struct ConvEpilogue {
  Activation activation = Activation::kNone;
  float lo = 0.0F;     // Clip min
  float hi = 0.0F;     // Clip max
  float alpha = 0.0F;  // LeakyRelu slope

  // Reads the FusedConv attributes `activation` and `activation_params`. Throws act::Error on
  // an activation it does not know.
  static ConvEpilogue from_attributes(const Attributes& attrs);

  // When the activation is a clamp (none, Relu or Clip), its bounds into lo and hi (infinite
  // where there is none) and true, so kernels can apply it while they store; false for the
  // others (LeakyRelu, HardSwish), which go through apply().
  bool clamp_bounds(float& lo, float& hi) const;

  // y[r][c] = act(y[r][c] + bias[r] + sum[r][c]) for r < rows, c < cols. bias and sum may be
  // null.
  void apply(float* y, std::int64_t ldy, std::int64_t rows, std::int64_t cols, const float* bias,
             const float* sum, std::int64_t ldsum) const;
};

}  // namespace act::cpu
