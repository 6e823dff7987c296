#include "act/host/compress_plan.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

#include "act/kernel/error.h"

namespace act::host {
namespace {

struct BuiltinSection {
  const char* section;
  const char* plugin;
  StrategyRole role;
  bool needs_training;
};

// PaddleSlim ACT's strategy sections and the plugin of this project that handles each.
constexpr BuiltinSection kBuiltinSections[] = {
    {"ChannelPrune", "prune", StrategyRole::kPrune, true},
    {"UnstructurePrune", "prune", StrategyRole::kPrune, true},
    {"ASPPrune", "asp", StrategyRole::kPrune, true},
    {"TransformerPrune", "transformer_prune", StrategyRole::kPrune, true},
    {"Distillation", "distill", StrategyRole::kDistill, true},
    {"MultiTeacherDistillation", "distill", StrategyRole::kDistill, true},
    {"QuantAware", "quant", StrategyRole::kQuant, true},
    {"QuantPost", "quant", StrategyRole::kQuant, false},
    {"HyperParameterOptimization", "quant", StrategyRole::kQuant, false},
};

const BuiltinSection* builtin(const std::string& section) {
  for (const auto& b : kBuiltinSections) {
    if (section == b.section) return &b;
  }
  return nullptr;
}

std::string where(const CompressConfig& config, const SectionConfig& section) {
  return config.path + ":" + std::to_string(section.line) + ": section '" + section.name + "'";
}

}  // namespace

std::string builtin_plugin_for(const std::string& section) {
  const BuiltinSection* b = builtin(section);
  return b ? b->plugin : "";
}

StrategyRole role_of(const std::string& section) {
  const BuiltinSection* b = builtin(section);
  return b ? b->role : StrategyRole::kDistill;
}

CompressPlan build_plan(const CompressConfig& config, const PluginManager& plugins) {
  std::vector<PlannedStrategy> all;
  for (const SectionConfig& section : config.sections) {
    const PluginInfo* plugin = plugins.find_section(section.name);
    if (plugin == nullptr) {
      const std::string owner = builtin_plugin_for(section.name);
      if (const PluginInfo* installed = owner.empty() ? nullptr : plugins.find(owner)) {
        fail(where(config, section), " belongs to the '", owner,
             "' plugin, but the installed one (", installed->version, ", ",
             installed->path.string(), ") does not handle it yet");
      }
      if (!owner.empty()) {
        fail(where(config, section), " is handled by the '", owner,
             "' plugin, which is not installed; install it (lib/act/plugins/", owner,
             ".so) or point --plugin-dir or ACT_PLUGIN_PATH at the folder that has it");
      }
      std::vector<std::string> known = {"Global", "TrainConfig"};
      for (const auto& b : kBuiltinSections) known.emplace_back(b.section);
      for (const PluginInfo& p : plugins.plugins()) {
        known.insert(known.end(), p.sections.begin(), p.sections.end());
      }
      const std::string guess = closest_name(section.name, known);
      fail(where(config, section), " is not a section any installed plugin handles",
           guess.empty() ? std::string() : "; did you mean '" + guess + "'?",
           " ('act plugins' lists the installed plugins and their sections)");
    }
    const BuiltinSection* b = builtin(section.name);
    if (b != nullptr && b->needs_training && !config.train) {
      fail(where(config, section),
           " trains the model and needs a TrainConfig section (epochs or train_iter)");
    }
    all.push_back({section.name, plugin->name, role_of(section.name), &section});
  }
  // Stable: equal roles keep the file's order.
  std::stable_sort(all.begin(), all.end(), [](const PlannedStrategy& a, const PlannedStrategy& b) {
    return static_cast<int>(a.role) < static_cast<int>(b.role);
  });

  auto base_stage = [&](std::string name) {
    PlannedStage stage;
    stage.name = std::move(name);
    stage.trains = config.train.has_value();
    if (config.train) {
      stage.train_iter = config.train->train_iter;
      stage.epochs = config.train->epochs;
    }
    return stage;
  };
  auto has = [&](const char* section) {
    return std::any_of(all.begin(), all.end(),
                       [&](const PlannedStrategy& s) { return s.section == section; });
  };
  const bool prunes = std::any_of(all.begin(), all.end(), [](const PlannedStrategy& s) {
    return s.role == StrategyRole::kPrune;
  });

  CompressPlan plan;
  if (prunes && has("QuantAware")) {
    PlannedStage first = base_stage("prune+distill");
    PlannedStage second = base_stage("quant+distill");
    second.budget_scale = 0.1;
    second.lr_scale = 0.1;
    for (const PlannedStrategy& s : all) {
      if (s.role != StrategyRole::kQuant) first.strategies.push_back(s);
      // Distillation (and third-party strategies) guide both stages.
      if (s.role != StrategyRole::kPrune) second.strategies.push_back(s);
    }
    plan.stages = {first, second};
  } else {
    std::string name;
    for (const PlannedStrategy& s : all) {
      // Named by what the sections do, so a plan reads the same whoever implements them.
      const std::string part = s.role == StrategyRole::kPrune   ? "prune"
                               : s.role == StrategyRole::kQuant ? "quant"
                               : builtin(s.section)             ? "distill"
                                                                : s.plugin;
      if (name.find(part) == std::string::npos) name += (name.empty() ? "" : "+") + part;
    }
    PlannedStage only = base_stage(name.empty() ? std::string("train") : name);
    only.strategies = all;
    plan.stages = {only};
  }
  return plan;
}

std::int64_t stage_steps(const PlannedStage& stage, std::int64_t steps_per_epoch) {
  if (!stage.trains) return 0;
  // Both set: whichever ends first (ACT stops at train_iter inside the epoch loop).
  std::int64_t steps = INT64_MAX;
  if (stage.train_iter) {
    steps = std::max<std::int64_t>(
        1, std::llround(static_cast<double>(*stage.train_iter) * stage.budget_scale));
  }
  if (stage.epochs) {
    const std::int64_t epochs = std::max<std::int64_t>(
        1, std::llround(static_cast<double>(*stage.epochs) * stage.budget_scale));
    steps = std::min(steps, epochs * steps_per_epoch);
  }
  return steps;
}

}  // namespace act::host
