// The plan of `act compress`: which plugin runs which config section, in which order, in
// which stage, for how many steps. Built before anything runs, so a config that cannot work
// fails in a second, and `--dry-run` prints it.
//
// Ordering rules (the scheduler's contract, docs/decisions.md "Scheduler"):
// - Each strategy section belongs to the plugin that declares it (PluginManager). An unknown
//   section is an error with a did-you-mean; an ACT section whose plugin is not installed
//   names the plugin to install.
// - Within a stage: prune (ChannelPrune, UnstructurePrune, ASPPrune, TransformerPrune), then
//   distill (Distillation, MultiTeacherDistillation) and third-party sections in file order,
//   then quant (QuantAware, QuantPost, HyperParameterOptimization) always last. Finalize runs in
//   the reverse order.
// - ACT's sequential stages: a pruning section together with QuantAware makes two training
//   stages, prune (+ distill) with the configured epochs and learning rate, then quant
//   (+ distill) with 10% of both (at least one epoch or step).
// - A stage trains when the config has a TrainConfig; sections that need training
//   (everything but QuantPost, HyperParameterOptimization and third-party sections) without a
//   TrainConfig are an error.
//
// Ownership: plain values. Threading: none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "act/host/compress_config.h"
#include "act/host/plugin_manager.h"

namespace act::host {

enum class StrategyRole { kPrune = 0, kDistill = 1, kQuant = 2 };

struct PlannedStrategy {
  std::string section;  // e.g. "QuantAware"
  std::string plugin;   // e.g. "quant"
  StrategyRole role = StrategyRole::kDistill;
  const SectionConfig* config = nullptr;  // points into the CompressConfig the plan came from
};

struct PlannedStage {
  std::string name;                         // "prune+distill", "quant+distill", "train", ...
  std::vector<PlannedStrategy> strategies;  // rewrite (and step-hook) order
  bool trains = false;
  // Budget: at least one is set when trains; with both, whichever ends first.
  std::optional<std::int64_t> epochs, train_iter;
  double budget_scale = 1.0;  // fraction of the configured epochs / train_iter
  double lr_scale = 1.0;      // factor on every learning rate of the schedule
};

struct CompressPlan {
  std::vector<PlannedStage> stages;
};

// The plugin that ships with ACT for an ACT section ("QuantAware" -> "quant"); "" for a
// section ACT does not know.
std::string builtin_plugin_for(const std::string& section);
// The role of a section (third-party sections are kDistill: between prune and quant).
StrategyRole role_of(const std::string& section);

// Throws act::Error "<config>:<line>: section 'X' ..." for an unknown or uninstalled section,
// and for training sections without a TrainConfig.
CompressPlan build_plan(const CompressConfig& config, const PluginManager& plugins);

// The stage's optimizer steps, given the steps of one epoch of the training data.
std::int64_t stage_steps(const PlannedStage& stage, std::int64_t steps_per_epoch);

}  // namespace act::host
