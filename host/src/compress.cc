#include "act/host/compress.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "act/host/atomic_file.h"
#include "act/host/checkpoint.h"
#include "act/host/compress_config.h"
#include "act/host/compress_plan.h"
#include "act/host/evaluate.h"
#include "act/host/onnx_io.h"
#include "act/host/plugin_manager.h"
#include "act/host/version.h"
#include "act/kernel/error.h"
#include "act/sdk/host_objects.h"
#include "fnv1a.h"
#include "json_text.h"
#include "model_intake.h"
#include "run_editor.h"
#include "stage_runner.h"

namespace act::host {
namespace {

namespace fs = std::filesystem;

std::string hex(std::uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// What a strategy's rewrite changed, for --dry-run: nodes added and removed (by name), and
// initializers added or replaced.
std::string describe_changes(const Graph& before, const Graph& after) {
  std::set<std::string> old_nodes, new_nodes;
  for (const Node& n : before.nodes()) old_nodes.insert(n.name + " (" + n.op_type + ")");
  for (const Node& n : after.nodes()) new_nodes.insert(n.name + " (" + n.op_type + ")");
  std::vector<std::string> added, removed, weights;
  for (const auto& n : new_nodes)
    if (!old_nodes.count(n)) added.push_back(n);
  for (const auto& n : old_nodes)
    if (!new_nodes.count(n)) removed.push_back(n);
  for (const auto& [name, t] : after.initializers()) {
    const Tensor* old = before.initializer(name);
    if (old == nullptr || old->shape() != t.shape() || old->raw_data() != t.raw_data()) {
      weights.push_back(name);
    }
  }
  auto list = [](const char* what, const std::vector<std::string>& items) {
    std::string s = "        " + std::string(what) + ": " + std::to_string(items.size());
    for (std::size_t i = 0; i < items.size() && i < 8; ++i) s += (i ? ", " : " - ") + items[i];
    if (items.size() > 8) s += ", ...";
    return s + "\n";
  };
  if (added.empty() && removed.empty() && weights.empty())
    return "        no change to the graph\n";
  return list("nodes added", added) + list("nodes removed", removed) +
         list("initializers added or changed", weights);
}

void print_plan(std::FILE* out, const CompressConfig& config, const CompressPlan& plan,
                const PluginManager& plugins, const Model& model, const Dataset* data) {
  std::fprintf(out, "plan for %s (%zu stage%s)\n", config.path.c_str(), plan.stages.size(),
               plan.stages.size() == 1 ? "" : "s");
  for (std::size_t k = 0; k < plan.stages.size(); ++k) {
    const PlannedStage& stage = plan.stages[k];
    std::fprintf(out, "\nstage %zu: %s\n", k + 1, stage.name.c_str());
    if (stage.trains) {
      const std::int64_t per_epoch =
          data ? data->size() / config.global.batch_size : std::int64_t{-1};
      if (per_epoch > 0) {
        const std::int64_t steps = stage_steps(stage, per_epoch);
        const auto lr = make_lr_schedule(config.train->learning_rate, steps, stage.lr_scale);
        std::fprintf(out,
                     "  training: %lld steps (%lld per epoch, %lld epochs), batch %lld, seed "
                     "%llu\n  learning rate: %.4g at step 0, %.4g at step %lld, %.4g at the "
                     "last step\n",
                     static_cast<long long>(steps), static_cast<long long>(per_epoch),
                     static_cast<long long>((steps + per_epoch - 1) / per_epoch),
                     static_cast<long long>(config.global.batch_size),
                     static_cast<unsigned long long>(config.global.seed), lr->at(0),
                     lr->at(steps / 2), static_cast<long long>(steps / 2), lr->at(steps - 1));
      } else {
        std::fprintf(out, "  training: %s x%.2g, learning rate x%.2g (no data given)\n",
                     stage.train_iter ? "train_iter" : "epochs", stage.budget_scale,
                     stage.lr_scale);
      }
    } else {
      std::fprintf(out, "  no training (no TrainConfig): rewrite, then finalize\n");
    }
    std::fprintf(out, "  strategies (rewrite order; finalize runs in reverse):\n");
    Model work = model;
    for (const PlannedStrategy& s : stage.strategies) {
      const PluginInfo* p = plugins.find(s.plugin);
      std::fprintf(out, "    %s -> plugin '%s' %s (%s)\n", s.section.c_str(), s.plugin.c_str(),
                   p->version.c_str(), p->path.c_str());
      // Rewriting a copy shows which nodes the strategy will touch on this very model.
      StrategyPtr strategy = configured_strategy(plugins, s);
      const Graph before = work.graph;
      RunEditor editor(work, nullptr, &model, config_folder_of(config));
      check_strategy_hook(s, "rewrite_graph", strategy->rewrite_graph(editor));
      std::fputs(describe_changes(before, work.graph).c_str(), out);
    }
  }
}

struct RunRecord {
  std::string model_path, output_path;
  double original_metric = -1.0, final_metric = -1.0;
  std::vector<std::pair<const PlannedStage*, StageOutcome>> stages;
  std::string status = "completed";
  double seconds = 0.0;
};

std::string report_json(const CompressOptions& options, const CompressConfig& config,
                        const std::string& config_text, const PluginManager& plugins,
                        const RunRecord& run) {
  std::ostringstream o;
  o << "{\n  \"act_version\": " << json_quote(version()) << ",\n"
    << "  \"command\": " << json_quote(options.command_line) << ",\n"
    << "  \"status\": " << json_quote(run.status) << ",\n"
    << "  \"input_model\": " << json_quote(run.model_path) << ",\n"
    << "  \"output_model\": " << json_quote(run.output_path) << ",\n"
    << "  \"config_path\": " << json_quote(config.path) << ",\n"
    << "  \"config\": " << json_quote(config_text) << ",\n"
    << "  \"seed\": " << config.global.seed << ",\n"
    << "  \"batch_size\": " << config.global.batch_size << ",\n"
    << "  \"original_metric\": " << json_number(run.original_metric) << ",\n"
    << "  \"final_metric\": " << json_number(run.final_metric) << ",\n"
    << "  \"seconds\": " << json_number(run.seconds) << ",\n  \"plugins\": [";
  for (std::size_t i = 0; i < plugins.plugins().size(); ++i) {
    const PluginInfo& p = plugins.plugins()[i];
    o << (i ? "," : "") << "\n    {\"name\": " << json_quote(p.name)
      << ", \"version\": " << json_quote(p.version) << ", \"path\": " << json_quote(p.path.string())
      << "}";
  }
  o << "\n  ],\n  \"stages\": [";
  for (std::size_t k = 0; k < run.stages.size(); ++k) {
    const auto& [stage, out] = run.stages[k];
    o << (k ? "," : "") << "\n    {\"name\": " << json_quote(stage->name)
      << ", \"trains\": " << (stage->trains ? "true" : "false") << ", \"steps\": " << out.steps
      << ", \"planned_steps\": " << out.planned_steps << ", \"epochs\": " << out.epochs
      << ", \"lr_scale\": " << json_number(stage->lr_scale) << ", \"best_metric\": "
      << json_number(out.metric_is_loss ? -out.best_metric : out.best_metric)
      << ", \"metric\": " << json_quote(out.metric_is_loss ? "loss" : "top1")
      << ", \"best_step\": " << out.best_step << ", \"last_loss\": " << json_number(out.last_loss)
      << ", \"stop_reason\": " << json_quote(out.stop_reason)
      << ", \"seconds\": " << json_number(out.seconds) << ",\n      \"strategies\": [";
    for (std::size_t i = 0; i < out.reports.size(); ++i) {
      const StrategyReport& r = out.reports[i];
      o << (i ? "," : "") << "\n        {\"section\": " << json_quote(r.section)
        << ", \"plugin\": " << json_quote(r.plugin) << ", \"report\": {";
      for (std::size_t j = 0; j < r.entries.size(); ++j) {
        const auto& e = r.entries[j];
        o << (j ? ", " : "") << json_quote(e.key) << ": "
          << (e.is_number ? json_number(e.number) : json_quote(e.text));
      }
      o << "}}";
    }
    o << "\n      ]}";
  }
  o << "\n  ]\n}\n";
  return o.str();
}

std::string resolve(const std::string& cli, const std::string& configured) {
  return cli.empty() ? configured : cli;
}

}  // namespace

int compress(const CompressOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  ACT_CHECK(!options.config.empty(), "--config is required");
  const std::string config_text = read_whole_file(options.config);
  CompressConfig config = load_compress_config(options.config);
  for (const std::string& w : config.warnings)
    std::fprintf(options.log, "warning: %s\n", w.c_str());
  if (options.seed) config.global.seed = *options.seed;
  if (options.checkpoint_iter && config.train)
    config.train->checkpoint_iter = *options.checkpoint_iter;

  RunRecord run;
  run.model_path = resolve(options.model, config.global.model);
  ACT_CHECK(!run.model_path.empty(), "no model: give --model or set Global.model in ",
            options.config);
  const Model original =
      load_model_to_compress(run.model_path, config.global.opset_version, options.log);
  const std::string input =
      config.global.input_list.empty()
          ? (original.graph.inputs().empty() ? std::string() : original.graph.inputs()[0].name)
          : config.global.input_list[0];
  ACT_CHECK(!input.empty(), run.model_path, ": the model has no input");
  ACT_CHECK(std::any_of(original.graph.inputs().begin(), original.graph.inputs().end(),
                        [&](const ValueInfo& in) { return in.name == input; }),
            "Global.input_list names '", input, "', which is not an input of ", run.model_path);

  PluginManager plugins;
  plugins.load(plugin_search_path(options.plugin_dirs, options.env_plugin_path));
  for (const SkippedPlugin& s : plugins.skipped()) {
    std::fprintf(options.log, "warning: skipped plugin %s: %s\n", s.path.c_str(), s.reason.c_str());
  }
  const CompressPlan plan = build_plan(config, plugins);

  const std::string data_path = resolve(options.data, config.global.data);
  const std::string eval_path = resolve(options.eval_data, config.global.eval_data);
  std::unique_ptr<Dataset> data, eval;
  if (!data_path.empty()) data = open_dataset(data_path, options.data_options);
  if (!eval_path.empty()) eval = open_dataset(eval_path, options.data_options);
  const Dataset* eval_data = eval ? eval.get() : data.get();
  for (const ValueInfo& in : original.graph.inputs()) {
    if (in.name != input) continue;
    if (data) check_data_fits(in, *data);
    if (eval) check_data_fits(in, *eval);
  }

  if (options.dry_run) {
    print_plan(options.out, config, plan, plugins, original, data.get());
    return 0;
  }
  const bool trains = std::any_of(plan.stages.begin(), plan.stages.end(),
                                  [](const PlannedStage& s) { return s.trains; });
  ACT_CHECK(!trains || data,
            "the config trains (TrainConfig) but there is no data: give --data "
            "or set Global.data");
  ACT_CHECK(!options.save_dir.empty(), "--save-dir is required");

  std::error_code ec;
  fs::create_directories(options.save_dir, ec);
  ACT_CHECK(!ec, options.save_dir, ": cannot create the folder (", ec.message(), ")");
  run.output_path = (fs::path(options.save_dir) / "model.onnx").string();
  ACT_CHECK(!fs::exists(run.output_path) || !fs::equivalent(run.output_path, run.model_path),
            run.output_path,
            ": this is the input model; choose another --save-dir (the input "
            "is never overwritten)");
  const std::string checkpoint_path = (fs::path(options.save_dir) / "checkpoint.actckpt").string();
  const std::string fingerprint = hex(fnv1a(config_text, fnv1a(read_whole_file(run.model_path)))) +
                                  "/" + data_path + "/" + std::to_string(config.global.seed);

  // Resume: the checkpoint names its stage; earlier stages' models were saved as stage<k>.onnx.
  std::optional<Checkpoint> resume;
  if (options.resume && fs::exists(checkpoint_path)) {
    resume = load_checkpoint(checkpoint_path);
    ACT_CHECK(resume->meta["fingerprint"] == fingerprint, checkpoint_path,
              ": this checkpoint belongs to another model, config, data or seed; remove it or "
              "run without --resume");
  } else if (options.resume) {
    std::fprintf(options.log, "resume: no checkpoint in %s; starting from the beginning\n",
                 options.save_dir.c_str());
  }
  const int first_stage = resume ? std::stoi(resume->meta["stage"]) : 0;

  // Strategies' state stores (directory_state_store.h): kept for --resume, which must find the
  // same inputs; emptied otherwise.
  // Only a folder ACT wrote (it holds the fingerprint file) is ever removed.
  const fs::path state_root = fs::path(options.save_dir) / "act_state";
  const fs::path state_fingerprint = state_root / "fingerprint";
  ACT_CHECK(!fs::exists(state_root) || fs::exists(state_fingerprint), state_root.string(),
            ": exists but is not ACT's run state; move it or choose another --save-dir");
  if (options.resume && fs::exists(state_fingerprint)) {
    ACT_CHECK(read_whole_file(state_fingerprint.string()) == fingerprint, state_root.string(),
              ": this state belongs to another model, config, data or seed; remove it or run "
              "without --resume");
  } else {
    fs::remove_all(state_root, ec);
    ACT_CHECK(!ec, state_root.string(), ": cannot clear the previous run's state (", ec.message(),
              ")");
  }
  fs::create_directories(state_root, ec);
  ACT_CHECK(!ec, state_root.string(), ": cannot create the folder (", ec.message(), ")");
  write_file_atomically(state_fingerprint.string(), fingerprint);

  // Every section's keys are checked before the (possibly long) evaluation of the input model.
  for (const PlannedStage& stage : plan.stages) {
    for (const PlannedStrategy& s : stage.strategies) configured_strategy(plugins, s);
  }

  if (eval_data != nullptr && eval_data->has_labels()) {
    run.original_metric = top1_of(original, *eval_data);
    std::fprintf(options.log, "original model: top-1 %.4f on %s\n", run.original_metric,
                 eval_data->describe().c_str());
    if (config.train && config.train->origin_metric &&
        std::fabs(*config.train->origin_metric - run.original_metric) > 0.02) {
      fail("TrainConfig.origin_metric is ", *config.train->origin_metric,
           " but the input model scores ", run.original_metric,
           " on the evaluation data; check the data, its normalization and the model");
    }
  }

  Model model = first_stage == 0 ? original
                                 : load_onnx((fs::path(options.save_dir) /
                                              ("stage" + std::to_string(first_stage) + ".onnx"))
                                                 .string());
  int exit_code = 0;
  for (int k = first_stage; k < static_cast<int>(plan.stages.size()); ++k) {
    StageSetup setup;
    setup.stage = &plan.stages[k];
    setup.index = k;
    setup.count = static_cast<int>(plan.stages.size());
    setup.config = &config;
    setup.plugins = &plugins;
    setup.train_data = data.get();
    setup.eval_data = eval_data;
    setup.input = input;
    setup.checkpoint_iter = config.train ? config.train->checkpoint_iter : 0;
    setup.checkpoint_path = checkpoint_path;
    setup.state_dir = (state_root / ("stage" + std::to_string(k))).string();
    setup.fingerprint = fingerprint;
    setup.resume = resume && k == first_stage ? &*resume : nullptr;
    setup.original_metric = run.original_metric;
    setup.input_model = &original;
    setup.log = options.log;
    StageOutcome outcome = run_stage(setup, std::move(model));
    model = outcome.model;
    const bool failed = outcome.failed;
    run.stages.emplace_back(&plan.stages[k], std::move(outcome));
    if (failed) {
      run.status = "stopped: non-finite loss (best weights kept)";
      exit_code = 1;
      break;
    }
    if (k + 1 < static_cast<int>(plan.stages.size())) {
      save_onnx(
          model,
          (fs::path(options.save_dir) / ("stage" + std::to_string(k + 1) + ".onnx")).string());
    }
  }

  save_onnx(model, run.output_path);
  if (eval_data != nullptr && eval_data->has_labels()) {
    run.final_metric = top1_of(load_onnx(run.output_path), *eval_data);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_file_atomically((fs::path(options.save_dir) / "report.json").string(),
                        report_json(options, config, config_text, plugins, run));
  if (exit_code == 0) {
    fs::remove(checkpoint_path, ec);
    fs::remove_all(state_root, ec);
    for (std::size_t k = 1; k < plan.stages.size(); ++k) {
      fs::remove(fs::path(options.save_dir) / ("stage" + std::to_string(k) + ".onnx"), ec);
    }
  }
  std::fprintf(options.out, "saved %s", run.output_path.c_str());
  if (run.final_metric >= 0) {
    std::fprintf(options.out, " (top-1 %.4f, original %.4f)", run.final_metric,
                 run.original_metric);
  }
  std::fprintf(options.out, "\nreport %s\n", (fs::path(options.save_dir) / "report.json").c_str());
  return exit_code;
}

}  // namespace act::host
