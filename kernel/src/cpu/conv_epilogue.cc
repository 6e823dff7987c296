#include "cpu/conv_epilogue.h"

#include <limits>

#include "act/kernel/error.h"

namespace act::cpu {

ConvEpilogue ConvEpilogue::from_attributes(const Attributes& attrs) {
  ConvEpilogue e;
  const std::string name = attrs.get_string("activation", "");
  const std::vector<float> params = attrs.get_floats("activation_params", {});
  auto param = [&](std::size_t i, float fallback) {
    return i < params.size() ? params[i] : fallback;
  };
  if (name.empty()) {
    e.activation = Activation::kNone;
  } else if (name == "Relu") {
    e.activation = Activation::kRelu;
  } else if (name == "Clip") {
    e.activation = Activation::kClip;
    e.lo = param(0, -3.4028235e38F);
    e.hi = param(1, 3.4028235e38F);
  } else if (name == "LeakyRelu") {
    e.activation = Activation::kLeakyRelu;
    e.alpha = param(0, 0.01F);
  } else if (name == "HardSwish") {
    e.activation = Activation::kHardSwish;
  } else {
    fail("FusedConv: unknown activation '", name, "'");
  }
  return e;
}

namespace {

// One row; the switch sits outside the loops and the parameters are copied into locals so
// that each case compiles to packed min/max (a loop reading e.lo through a reference did not).
void activate(float* __restrict y, std::int64_t n, const ConvEpilogue& e) {
  switch (e.activation) {
    case Activation::kNone:
      return;
    case Activation::kRelu:
      for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] < 0.0F ? 0.0F : y[i];
      return;
    case Activation::kClip: {
      const float lo = e.lo, hi = e.hi;
      for (std::int64_t i = 0; i < n; ++i) {
        const float v = y[i] < lo ? lo : y[i];
        y[i] = v > hi ? hi : v;
      }
      return;
    }
    case Activation::kLeakyRelu: {
      const float alpha = e.alpha;
      for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] < 0.0F ? y[i] * alpha : y[i];
      return;
    }
    case Activation::kHardSwish:
      // ONNX: x * max(0, min(1, x / 6 + 0.5)), with the HardSwish kernel's rounding.
      for (std::int64_t i = 0; i < n; ++i) {
        const float t = y[i] / 6.0F + 0.5F;
        y[i] = y[i] * (t < 0.0F ? 0.0F : (t > 1.0F ? 1.0F : t));
      }
      return;
  }
}

}  // namespace

bool ConvEpilogue::clamp_bounds(float& lo, float& hi) const {
  lo = -std::numeric_limits<float>::infinity();
  hi = std::numeric_limits<float>::infinity();
  switch (activation) {
    case Activation::kNone:
      return true;
    case Activation::kRelu:
      lo = 0.0F;
      return true;
    case Activation::kClip:
      lo = this->lo;
      hi = this->hi;
      return true;
    default:
      return false;
  }
}

void ConvEpilogue::apply(float* y, std::int64_t ldy, std::int64_t rows, std::int64_t cols,
                         const float* bias, const float* sum, std::int64_t ldsum) const {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* __restrict yr = y + r * ldy;
    if (bias != nullptr) {
      const float b = bias[r];
      for (std::int64_t c = 0; c < cols; ++c) yr[c] += b;
    }
    if (sum != nullptr) {
      const float* __restrict sr = sum + r * ldsum;
      for (std::int64_t c = 0; c < cols; ++c) yr[c] += sr[c];
    }
    activate(yr, cols, *this);
  }
}

}  // namespace act::cpu
