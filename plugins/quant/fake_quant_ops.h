// The ops of quantization-aware training, registered by the quant plugin into act's op
// registry (domain "act.quant"). They exist only in the training graph: QuantAware's finalize
// replaces them by the QuantizeLinear/DequantizeLinear pairs (qdq_writer.h) they simulate.
//
//   FakeQuantize(x, state[, alpha]) -> y         attr profile (0 ort_cpu, 1 tensorrt)
//     y = DequantizeLinear(QuantizeLinear(x)) with the scale and zero point write_qdq() would
//     store for the range [state[0], state[1]] (range_quant below), narrowed to
//     [-alpha, alpha] when a PACT clip alpha (shape [1]) is given. A range never observed
//     (state[2] == 0, a dry run without data) passes x through.
//     Gradient (straight-through): dx = dy where x lies inside the representable range
//     [(qmin - zp) * s, (qmax - zp) * s], else 0; with alpha, dalpha = sum of dy where
//     x > alpha minus sum of dy where x < -alpha (PACT's clip gradient).
//   FakeQuantizeGrad(dy, x, state[, alpha]) -> dx[, dalpha]   the gradient above
//   FakeQuantizeWeight(w) -> w_q                 attrs axis, qmax, per_channel
//     symmetric weight quantization exactly as write_qdq() stores it: per output channel
//     (or per tensor) scale absmax / qmax, q = clamp(round_half_even(w / s), -qmax, qmax),
//     w_q = q * s. Gradient: dy passes unchanged (every weight lies inside its own range).
//   QuantObserve(x, state) -> next_state         attrs method, moving_rate, window_size
//     the observer update of one batch (observe() below). The trainer writes next_state into
//     the state initializer after each optimizer step (Graph::set_state_update), so evaluation
//     runs compute it but never keep it.
//
// State layout (f32, units of x): [min, max, count] and, for range_abs_max, then the window:
// the last window_size batch minima, then the last window_size batch maxima (count says which
// slots are filled; exact as an f32 up to 2^24 batches).
//
// Threading: registration is not thread-safe (call from a strategy hook; it is idempotent).
// Kernels parallelize over the shared pool; results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <string>

#include "act/kernel/op_registry.h"
#include "qdq_writer.h"

namespace act::quant {

inline constexpr const char* kQatDomain = "act.quant";

enum class Observer { kAbsMax = 0, kMovingAverage = 1, kRangeAbsMax = 2 };

// "abs_max", "moving_average_abs_max" or "range_abs_max"; throws act::Error naming `key`.
Observer parse_observer(const std::string& name, const std::string& key);

// Number of floats in an observer's state.
std::int64_t state_size(Observer method, std::int64_t window_size);

// Folds one batch's [batch_min, batch_max] into `state` (state_size floats), in place:
//   abs_max                 the running min and max over every batch
//   moving_average_abs_max  min/max = rate * old + (1 - rate) * batch (the first batch sets them)
//   range_abs_max           the min and max over the last window_size batches
void observe(Observer method, float moving_rate, std::int64_t window_size, float* state,
             float batch_min, float batch_max);

// The 8-bit activation quantization of an observed range [lo, hi] (symmetric by |x| max on
// tensorrt; u8 from 0 for non-negative ranges and u8 with a zero point otherwise on ort_cpu;
// see activation_quant()). alpha > 0 narrows the range to [-alpha, alpha] first (PACT).
ActivationQuant range_quant(float lo, float hi, float alpha, Profile profile);

// Registers the four ops with their kernels and gradients, once per registry.
void register_fake_quant_ops(OpRegistry& registry);

}  // namespace act::quant
