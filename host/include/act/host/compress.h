// `act compress`: load, plan, run the stages, save. The CLI (host/src/cli_compress.cc) parses
// flags into CompressOptions; tests call compress() directly.
//
// Outputs, all in save_dir and each written atomically (temporary name, then rename):
//   model.onnx          the compressed model (passes onnx::checker; written only when a stage
//                       finished or stopped with its best weights)
//   report.json         config, versions, plugins, seeds, per-stage metrics and timings
//   checkpoint.actckpt  while training with checkpoints; removed after a successful run
//   stage<k>.onnx       the model after stage k when later stages follow (resume needs it)
// The input model and config are only read.
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

struct CompressOptions {
  std::string config;     // required
  std::string model;      // overrides Global.model
  std::string data;       // overrides Global.data
  std::string eval_data;  // overrides Global.eval_data; neither: evaluate on the training data
  std::string save_dir;   // required unless dry_run
  std::vector<std::string> plugin_dirs;
  const char* env_plugin_path = nullptr;  // the value of ACT_PLUGIN_PATH
  bool dry_run = false;
  bool resume = false;
  std::optional<std::int64_t> checkpoint_iter;  // overrides TrainConfig.checkpoint_iter
  std::optional<std::uint64_t> seed;            // overrides Global.seed
  DatasetOptions data_options;
  std::string command_line;  // recorded in the report
  std::FILE* log = stderr;   // progress and messages
  std::FILE* out = stdout;   // the dry-run plan and the summary
};

// Returns the exit code: 0 done, 1 stopped early by a non-finite loss (the best model so far
// was saved). Throws act::Error for everything that prevents a run (bad config, missing
// plugin, bad data, a failing strategy); nothing in save_dir is half-written then.
int compress(const CompressOptions& options);

}  // namespace act::host
