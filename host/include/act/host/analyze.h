// `act analyze quant`: per-layer quantization sensitivity and ACT's float fallback. The CLI
// (host/src/cli_analyze.cc) parses flags into AnalyzeOptions; tests may call analyze_quant().
//
// The recipe is the config's QuantPost section (defaults without one), run by the plugin that
// handles QuantPost through LayerwiseV1 (act/sdk/layerwise.h). For each layer it quantizes,
// the model is quantized with only that layer and scored on the evaluation data against the
// float model: SQNR and cosine of the model's output (the first graph output, not the
// layer's own output: that stays comparable whatever Q/DQ layout the plugin writes), and
// top-1 with its drop when the data has labels. Layers are ranked most sensitive first
// (layer_sensitivity.h). Then the fallback: quantize every layer and, while the target is not
// met, leave the next most sensitive layer in float.
//
// Outputs: the table and the fallback on `out`, progress on `log`; with save_dir,
// save_dir/model.onnx (the fallback model, atomic, onnx::checker) and save_dir/analysis.json;
// with json, that file too (same content). The input model is only read.
//
// Ownership: plain values. Threading: one run per process (kernels use the shared pool).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "act/host/dataset.h"

namespace act::host {

struct AnalyzeOptions {
  std::string config;       // optional: QuantPost (recipe), Global (model, data, input_list)
  std::string model;        // overrides Global.model
  std::string data;         // calibration data; overrides Global.data
  std::string eval_data;    // overrides Global.eval_data; neither: the calibration data
  std::int64_t limit = -1;  // evaluate on the first N samples only (-1: all)
  std::optional<double> target_metric;  // top-1 fraction the fallback must reach
  std::optional<double> max_drop;       // or: points below float (default 0.5)
  double min_sqnr_db = 30.0;            // the target without labels
  std::string save_dir;                 // optional
  std::string json;                     // optional
  std::int64_t top = -1;                // rows printed (-1: all); the JSON has every row
  std::vector<std::string> plugin_dirs;
  const char* env_plugin_path = nullptr;  // the value of ACT_PLUGIN_PATH
  DatasetOptions data_options;
  std::FILE* log = stderr;
  std::FILE* out = stdout;
};

// Returns 0 when the target holds with at least one layer quantized (then the model is
// saved), 1 when it holds only with every layer in float (the table is still printed and the
// JSON written). Throws act::Error for everything that prevents the analysis: a missing
// model or data, no plugin for QuantPost, a model with nothing to quantize or already
// quantized, a target above the float model's top-1.
int analyze_quant(const AnalyzeOptions& options);

}  // namespace act::host
