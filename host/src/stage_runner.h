// One stage of `act compress`: configure the stage's strategies, let each rewrite the graph
// (validated after each), train with their step hooks (or not, for a one-shot stage), keep
// the best weights, finalize in reverse order and collect the strategies' reports.
//
// Ownership: StageRunner borrows everything in StageSetup for run(); the outcome owns its
// model. Threading: one stage at a time, on the calling thread (kernels use the pool).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "act/host/checkpoint.h"
#include "act/host/compress_config.h"
#include "act/host/compress_plan.h"
#include "act/host/dataset.h"
#include "act/host/plugin_manager.h"
#include "act/kernel/graph.h"
#include "act/sdk/host_objects.h"

namespace act::host {

struct StageSetup {
  const PlannedStage* stage = nullptr;
  int index = 0;  // 0-based
  int count = 1;
  const CompressConfig* config = nullptr;
  const PluginManager* plugins = nullptr;
  const Dataset* train_data = nullptr;  // required when the stage trains
  const Dataset* eval_data = nullptr;   // nullptr: no evaluation
  std::string input;                    // the graph input fed with images
  std::int64_t checkpoint_iter = 0;     // 0: no checkpoints
  std::string checkpoint_path;
  std::string state_dir;    // this stage's state stores live in state_dir/<section>; "": none
  std::string fingerprint;  // written into checkpoints, checked on resume
  const Checkpoint* resume = nullptr;  // a checkpoint of this stage to continue from
  double original_metric = -1.0;       // the input model's top-1 on eval_data; < 0: unknown
  const Model* input_model = nullptr;  // as loaded, for strategies (sdk/model_source.h)
  std::FILE* log = stderr;
};

struct StrategyReport {
  std::string section;
  std::string plugin;
  std::vector<sdk::ReportEntry> entries;
};

struct StageOutcome {
  Model model;             // finalized
  std::int64_t steps = 0;  // optimizer steps this stage ran in total
  std::int64_t planned_steps = 0;
  std::int64_t epochs = 0;
  double best_metric = -1.0;  // top-1, or -loss when evaluated by loss; -1: no eval
  bool metric_is_loss = false;
  std::int64_t best_step = -1;  // -1: the weights the stage started with
  double last_loss = 0.0;
  double seconds = 0.0;
  std::string stop_reason;  // "", "target_metric", "origin_metric", "non-finite loss"
  bool failed = false;      // stopped by a non-finite loss (best weights kept)
  std::vector<StrategyReport> reports;
};

// Throws act::Error "plugin 'NAME' (SECTION) HOOK: message" when `status` failed. Call it right
// after the hook: the message is the strategy's until its next call.
void check_strategy_hook(const PlannedStrategy& strategy, const char* hook, sdk::Status status);

// A new strategy from the plugin of `strategy`, configured with its section; a failure reads
// as check_strategy_hook's.
StrategyPtr configured_strategy(const PluginManager& plugins, const PlannedStrategy& strategy);

// Throws act::Error naming the plugin and hook on a strategy failure, the step on bad data.
StageOutcome run_stage(const StageSetup& setup, Model model);

// The folder relative paths in `config` resolve against ("" for a config without a file).
std::string config_folder_of(const CompressConfig& config);

// Top-1 of `model` on `data` (labelled), for the origin_metric check and evaluation.
double top1_of(const Model& model, const Dataset& data);

}  // namespace act::host
