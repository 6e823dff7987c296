// The numbers of a per-layer analysis (`act analyze quant`): how far a model's outputs move
// when one layer is changed, how the layers rank, and when a partly changed model is good
// enough. Pure functions; host/src/analyze.cc produces the inputs.
//
// Units: SQNR in dB (10 log10 of signal power over noise power); top-1 as a fraction in
// [0, 1]; drops in percentage points (100 x the top-1 difference).
// Ownership: plain values. Threading: reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "act/kernel/tensor.h"

namespace act::host {

struct OutputError {
  // 10 log10(sum ref^2 / sum (ref - test)^2) over every element; +inf when they are equal.
  double sqnr_db = 0.0;
  // Mean over samples (first dimension) of the cosine between the two samples' values; a pair
  // of all-zero samples counts 1, one all-zero sample against another 0.
  double cosine = 1.0;
};

// `reference` and `test` are f32 of the same shape [N, ...] with N >= 1. Throws act::Error
// when the shapes differ.
OutputError compare_outputs(const Tensor& reference, const Tensor& test);

struct LayerSensitivity {
  std::string key;      // the strategy's name for the layer (LayerwiseV1)
  std::string node;     // the node's name, or "" in ONNX
  std::string op_type;  // "Conv"
  OutputError error;    // of the model's output, with only this layer changed
  double top1 = -1.0;   // with only this layer changed; < 0 without labels
  double drop = 0.0;    // points below the unchanged model's top-1 (negative: above it)
};

// Most sensitive first. With labels (by_metric): larger drop first, ties broken by lower SQNR;
// without: lower SQNR first. Equal rows keep their order (graph order).
void rank_layers(std::vector<LayerSensitivity>& rows, bool by_metric);

// When a partly changed model is good enough: top-1 at least min_top1 (with labels), else an
// output SQNR of at least min_sqnr_db.
struct SensitivityTarget {
  bool by_metric = true;
  double min_top1 = 0.0;
  double min_sqnr_db = 30.0;

  bool met(double top1, double sqnr_db) const {
    return by_metric ? top1 >= min_top1 - 1e-12 : sqnr_db >= min_sqnr_db;
  }
};

}  // namespace act::host
