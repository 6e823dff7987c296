// Region-wise reconstruction of weight rounding (QuantPost's recon_level: region-wise), in the
// manner of BRECQ (Li et al., 2021): the rounding of every quantized weight of a region
// (region_finder.h; e.g. a residual block) is learned jointly, so that the region's output with
// quantized weights matches the float region's output on the calibration data, through the
// region's nonlinearities, pooling and residual additions. The relaxation is AdaRound's
// (soft_rounding.h):
//
//   W~ = s * (base + h(V) * live),  base = clamp(floor(W / s), -qmax, qmax),
//        live = 0 where base + 1 would pass qmax (that weight is fixed at the bound)
//   loss = mean((region(x; W~) - region(x; W))^2) / E_nearest
//        + lambda * mean over every V of the region (1 - |2 h(V) - 1|^beta)
//
// E_nearest (the region's output error with round-to-nearest) makes the objective scale-free,
// as in adaround.h, so the same lambda serves. The region's training graph is the region's own
// nodes with each optimized weight computed from its V (Sigmoid, Clip, Mul, Add), trained by
// the kernel's GraphTrainer (Adam, one calibration batch per step, in order); the regularizer's
// gradient is elementwise and added by hand between backward and the update. Final codes:
// base + (h(V) >= 0.5), kept only when the region's error with them is below nearest's.
//
// The region's inputs are the float model's values there (not the quantized model's), its
// target the float model's value at the region's end. With `activations` given
// (simulate_activation_quant), every planned activation inside the region except its end is
// fake-quantized as the written model will quantize it (FakeQuantize, straight-through).
//
// Units: scales per integer step (qdq_writer.h); errors are mean squares per output element,
// in the squared units of the region's output. Ownership: the reconstructor owns its training
// graph and copies of the batches (shared tensor storage). Threading: one call at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "act/kernel/graph_trainer.h"
#include "qdq_placement.h"
#include "qdq_writer.h"
#include "region_finder.h"

namespace act::quant {

// One quantized layer of the region.
struct RegionLayer {
  std::string weight;         // its f32 initializer
  int axis = 0;               // output-channel axis of the weight
  std::vector<float> scales;  // per channel along axis (size 1: per tensor)
  bool optimized = true;      // false: rounded to nearest, as the writer does
};

struct RegionReconOptions {
  int steps = 2000;        // Adam steps, one calibration batch each
  double lr = 0.01;        // Adam step size on V
  double lambda = 1000.0;  // weight of the (mean) rounding regularizer, as adaround.h
};

struct RegionReconResult {
  std::map<std::string, Tensor> codes;  // int8, the weight's shape, per optimized weight
  double nearest_error = 0.0;           // region output error with round-to-nearest
  double error = 0.0;                   // with the codes kept
};

// One calibration batch: every value of Region::inputs and the float value of Region::end.
using RegionBatch = std::map<std::string, Tensor>;

class RegionReconstructor {
 public:
  // `graph` is the float model's graph the region was found in (read here only). `batches`
  // must hold at least one batch; all batches have the first batch's size (the training graph
  // has a static batch). `activations` (nullptr: not simulated) holds the calibrated
  // quantization of the planned values. Throws act::Error on a region it cannot train (an op
  // without a gradient names itself).
  RegionReconstructor(const Graph& graph, std::int64_t opset, const Region& region,
                      std::vector<RegionLayer> layers, int qmax, std::vector<RegionBatch> batches,
                      const std::map<std::string, ActivationQuant>* activations, Profile profile);
  ~RegionReconstructor();
  RegionReconstructor(const RegionReconstructor&) = delete;
  RegionReconstructor& operator=(const RegionReconstructor&) = delete;

  // The region's output error over every batch with `codes` (int8 per optimized weight; each
  // code must be its weight's floor or ceiling; a missing weight: round-to-nearest).
  double error(const std::map<std::string, Tensor>& codes);

  // Learns the rounding of the optimized layers.
  RegionReconResult reconstruct(const RegionReconOptions& options);

 private:
  struct Rounding {  // per optimized weight, elementwise, the weight's shape
    std::string weight, v;
    std::vector<float> base, live, frac;
  };
  // Sets every V to exactly rounding down (h = 0) or up (h = 1).
  void set_hard(const Rounding& r, const std::vector<bool>& up);
  std::vector<bool> ups_of(const Rounding& r, const Tensor& codes) const;
  std::vector<bool> nearest_ups(const Rounding& r) const;
  Tensor codes_of(const Rounding& r, const std::vector<bool>& up) const;
  double evaluate();  // mean over batches of the hard or soft region error, as V stands

  std::vector<Rounding> roundings_;
  std::vector<RegionBatch> batches_;
  std::string target_input_, loss_, end_;
  int qmax_ = 127;
  std::unique_ptr<GraphTrainer> trainer_;
};

}  // namespace act::quant
