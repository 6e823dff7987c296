// The activation quantization of every value a plan quantizes, from one float run of the
// graph: each value's observed [min, max] with its largest magnitude as the clip (a one-batch
// abs_max calibration), the same-scale values taking their source's. Used by tests that check
// a written graph against the float one. Ownership: returns plain values.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "act/kernel/executor.h"
#include "qdq_placement.h"
#include "qdq_writer.h"

namespace act::quant {

struct FloatRun {
  RunResult reference;                           // the float graph's outputs, every value tapped
  std::map<std::string, ActivationQuant> quant;  // by planned value
};

inline FloatRun abs_max_run(const Graph& g, const QdqPlan& plan, const Tensor& x,
                            std::int64_t opset, Profile profile) {
  ExecutorOptions taps;
  taps.tap_all = true;
  FloatRun run{Executor(g, opset, taps).run({x}), {}};
  for (const std::string& v : plan.values) {
    const Tensor& t = run.reference.tapped.at(v);
    const float* d = t.data<float>();
    const auto [lo, hi] = std::minmax_element(d, d + t.numel());
    run.quant[v] = activation_quant(*lo, *hi, std::max(std::fabs(*lo), std::fabs(*hi)), profile);
  }
  for (const auto& [value, source] : plan.same_scale) run.quant[value] = run.quant.at(source);
  return run;
}

}  // namespace act::quant
