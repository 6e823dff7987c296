#include "act/host/analyze.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <sstream>

#include "act/host/atomic_file.h"
#include "act/host/compress_config.h"
#include "act/host/compress_plan.h"
#include "act/host/evaluate.h"
#include "act/host/layer_sensitivity.h"
#include "act/host/onnx_io.h"
#include "act/host/plugin_manager.h"
#include "act/kernel/error.h"
#include "act/sdk/host_objects.h"
#include "act/sdk/layerwise.h"
#include "dataset_model_data.h"
#include "json_text.h"
#include "model_intake.h"
#include "stage_runner.h"

namespace act::host {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSection = "QuantPost";

class LayerList final : public sdk::LayerSinkV1 {
 public:
  sdk::Status layer(const char* key, const char* node, const char* op_type) noexcept override {
    try {
      LayerSensitivity row;
      row.key = key;
      row.node = node;
      row.op_type = op_type;
      rows.push_back(std::move(row));
    } catch (...) {
      return sdk::Status::failure("out of memory listing layers");
    }
    return sdk::Status::success();
  }
  std::vector<LayerSensitivity> rows;
};

std::string display_name(const LayerSensitivity& row) {
  return row.node.empty() ? row.key : row.node;
}

struct Score {
  double top1 = -1.0;
  OutputError error;
};

// Everything a variant needs: the strategy, the data it calibrates on, the float reference.
class Analysis {
 public:
  Analysis(const PlannedStrategy& planned, sdk::LayerwiseV1& layerwise, DatasetModelData& data,
           const Dataset& eval, EvalOptions eval_options)
      : planned_(planned),
        layerwise_(layerwise),
        data_(data),
        eval_(eval),
        eval_options_(std::move(eval_options)) {
    eval_options_.keep_outputs = true;
  }

  // The model with every layer changed but `kept`.
  Model variant(const Model& original, const std::vector<std::string>& kept) {
    Model model = original;
    sdk::ModelEditor editor(model, nullptr, &data_);
    std::vector<const char*> keys;
    for (const std::string& k : kept) keys.push_back(k.c_str());
    check_strategy_hook(planned_, "apply_except",
                        layerwise_.apply_except(editor, keys.data(), keys.size()));
    const sdk::Status valid = editor.validate();
    if (!valid.ok()) {
      fail("plugin '", planned_.plugin, "' (", planned_.section,
           ") apply_except left an invalid graph: ", valid.error);
    }
    return model;
  }

  // Top-1 and output error against the float model; the first call sets the reference.
  Score score(const Model& model) {
    const EvalResult r = evaluate(model, eval_, eval_options_);
    if (!reference_.defined()) reference_ = r.outputs;
    Score s;
    s.top1 = r.has_labels ? r.top1 : -1.0;
    s.error = compare_outputs(reference_, r.outputs);
    samples_ = r.count;
    return s;
  }

  std::int64_t samples() const { return samples_; }
  const char* keep_config(const std::vector<std::string>& kept) {
    std::vector<const char*> keys;
    for (const std::string& k : kept) keys.push_back(k.c_str());
    const char* line = nullptr;
    check_strategy_hook(planned_, "keep_config",
                        layerwise_.keep_config(keys.data(), keys.size(), &line));
    return line;
  }

 private:
  const PlannedStrategy& planned_;
  sdk::LayerwiseV1& layerwise_;
  DatasetModelData& data_;
  const Dataset& eval_;
  EvalOptions eval_options_;
  Tensor reference_;
  std::int64_t samples_ = 0;
};

std::vector<std::string> keys_of(const std::vector<LayerSensitivity>& rows, std::size_t first,
                                 std::size_t last) {
  std::vector<std::string> out;
  for (std::size_t i = first; i < last && i < rows.size(); ++i) out.push_back(rows[i].key);
  return out;
}

std::string sqnr_text(double db) {
  if (!std::isfinite(db)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", db);
  return buf;
}

struct FallbackStep {
  std::size_t floats = 0;  // the first `floats` ranked layers stay float
  Score score;
};

struct Outcome {
  double float_top1 = -1.0;
  std::vector<LayerSensitivity> rows;  // ranked
  std::vector<FallbackStep> steps;
  bool met = false;        // with at least one layer quantized
  std::size_t floats = 0;  // of the last step
  std::string config_line;
  SensitivityTarget target;
  std::int64_t samples = 0;
  std::string saved_model;
};

void print_table(std::FILE* out, const Outcome& o, bool by_metric, std::int64_t top) {
  std::size_t width = 5;
  for (const auto& r : o.rows) width = std::max(width, display_name(r).size());
  std::fprintf(out, "\n%4s  %-*s  %-8s %8s %9s", "rank", static_cast<int>(width), "layer", "op",
               "SQNR dB", "cosine");
  if (by_metric) std::fprintf(out, " %8s %7s", "top-1", "drop");
  std::fputc('\n', out);
  const std::size_t shown =
      top < 0 ? o.rows.size() : std::min(o.rows.size(), static_cast<std::size_t>(top));
  for (std::size_t i = 0; i < shown; ++i) {
    const LayerSensitivity& r = o.rows[i];
    std::fprintf(out, "%4zu  %-*s  %-8s %8s %9.5f", i + 1, static_cast<int>(width),
                 display_name(r).c_str(), r.op_type.c_str(), sqnr_text(r.error.sqnr_db).c_str(),
                 r.error.cosine);
    if (by_metric) std::fprintf(out, " %7.2f%% %7.2f", 100.0 * r.top1, r.drop);
    std::fputc('\n', out);
  }
  if (shown < o.rows.size()) {
    std::fprintf(out, "  (%zu more in the JSON)\n", o.rows.size() - shown);
  }
}

std::string analysis_json(const std::string& model_path, const PlannedStrategy& planned,
                          const Outcome& o, bool by_metric) {
  std::ostringstream j;
  j << "{\n  \"model\": " << json_quote(model_path)
    << ",\n  \"plugin\": " << json_quote(planned.plugin)
    << ",\n  \"section\": " << json_quote(planned.section)
    << ",\n  \"metric\": " << json_quote(by_metric ? "top1" : "output_sqnr_db")
    << ",\n  \"output_error_of\": \"the model's first output\",\n  \"eval_samples\": " << o.samples
    << ",\n  \"float_top1\": " << json_number(o.float_top1) << ",\n  \"target\": {\"min_top1\": "
    << (by_metric ? json_number(o.target.min_top1) : std::string("null")) << ", \"min_sqnr_db\": "
    << (by_metric ? std::string("null") : json_number(o.target.min_sqnr_db))
    << "},\n  \"layers\": [";
  for (std::size_t i = 0; i < o.rows.size(); ++i) {
    const LayerSensitivity& r = o.rows[i];
    j << (i ? "," : "") << "\n    {\"rank\": " << i + 1 << ", \"layer\": " << json_quote(r.node)
      << ", \"key\": " << json_quote(r.key) << ", \"op_type\": " << json_quote(r.op_type)
      << ", \"sqnr_db\": " << json_number(r.error.sqnr_db)
      << ", \"cosine\": " << json_number(r.error.cosine)
      << ", \"top1\": " << (by_metric ? json_number(r.top1) : std::string("null"))
      << ", \"drop_points\": " << (by_metric ? json_number(r.drop) : std::string("null")) << "}";
  }
  j << "\n  ],\n  \"fallback\": [";
  for (std::size_t i = 0; i < o.steps.size(); ++i) {
    const FallbackStep& s = o.steps[i];
    j << (i ? "," : "") << "\n    {\"layers_in_float\": " << s.floats
      << ", \"top1\": " << (by_metric ? json_number(s.score.top1) : std::string("null"))
      << ", \"sqnr_db\": " << json_number(s.score.error.sqnr_db)
      << ", \"cosine\": " << json_number(s.score.error.cosine) << "}";
  }
  j << "\n  ],\n  \"target_met\": " << (o.met ? "true" : "false") << ",\n  \"float_layers\": [";
  for (std::size_t i = 0; i < o.floats; ++i) {
    j << (i ? ", " : "") << "{\"layer\": " << json_quote(o.rows[i].node)
      << ", \"key\": " << json_quote(o.rows[i].key) << "}";
  }
  j << "],\n  \"config_line\": " << json_quote(o.config_line) << ",\n  \"saved_model\": "
    << (o.saved_model.empty() ? std::string("null") : json_quote(o.saved_model)) << "\n}\n";
  return j.str();
}

std::string resolve(const std::string& cli, const std::string& configured) {
  return cli.empty() ? configured : cli;
}

}  // namespace

int analyze_quant(const AnalyzeOptions& options) {
  CompressConfig config;
  SectionConfig section{kSection, 0, {}};
  if (!options.config.empty()) {
    config = load_compress_config(options.config);
    for (const std::string& w : config.warnings)
      std::fprintf(options.log, "warning: %s\n", w.c_str());
    for (const SectionConfig& s : config.sections) {
      if (s.name == kSection) {
        section = s;
      } else {
        std::fprintf(options.log, "note: %s: section %s is not part of the analysis\n",
                     options.config.c_str(), s.name.c_str());
      }
    }
  }
  const std::string model_path = resolve(options.model, config.global.model);
  ACT_CHECK(!model_path.empty(), "no model: give --model or set Global.model in the config");
  const std::string data_path = resolve(options.data, config.global.data);
  ACT_CHECK(!data_path.empty(),
            "no data: give --data (calibration images, and evaluation images unless --eval-data "
            "is given) or set Global.data in the config");
  const Model original =
      load_model_to_compress(model_path, config.global.opset_version, options.log);
  const std::string input =
      config.global.input_list.empty()
          ? (original.graph.inputs().empty() ? std::string() : original.graph.inputs()[0].name)
          : config.global.input_list[0];
  ACT_CHECK(!input.empty(), model_path, ": the model has no input");
  const auto fed = std::find_if(original.graph.inputs().begin(), original.graph.inputs().end(),
                                [&](const ValueInfo& in) { return in.name == input; });
  ACT_CHECK(fed != original.graph.inputs().end(), "Global.input_list names '", input,
            "', which is not an input of ", model_path);

  const std::unique_ptr<Dataset> data = open_dataset(data_path, options.data_options);
  const std::string eval_path = resolve(options.eval_data, config.global.eval_data);
  const std::unique_ptr<Dataset> eval_owned =
      eval_path.empty() ? nullptr : open_dataset(eval_path, options.data_options);
  const Dataset& eval = eval_owned ? *eval_owned : *data;
  check_data_fits(*fed, *data);
  check_data_fits(*fed, eval);
  const bool by_metric = eval.has_labels();

  PluginManager plugins;
  plugins.load(plugin_search_path(options.plugin_dirs, options.env_plugin_path));
  const PluginInfo* plugin = plugins.find_section(kSection);
  if (plugin == nullptr) {
    std::string why;
    for (const SkippedPlugin& s : plugins.skipped())
      why += "\n  skipped " + s.path.string() + ": " + s.reason;
    fail("no plugin handles ", kSection,
         " (the quant plugin, quant.so, was not found in the "
         "plugin search path; see 'act plugins')",
         why);
  }
  PlannedStrategy planned;
  planned.section = kSection;
  planned.plugin = plugin->name;
  planned.role = StrategyRole::kQuant;
  planned.config = &section;
  StrategyPtr strategy = configured_strategy(plugins, planned);
  sdk::LayerwiseV1* layerwise = sdk::layerwise(*strategy);
  ACT_CHECK(layerwise != nullptr, "plugin '", plugin->name, "' (", plugin->path.string(),
            ") cannot be analyzed layer by layer: it does not implement LayerwiseV1 "
            "(rebuild it against this SDK)");

  // rewrite_graph is QuantPost's check of the model (opset, already quantized, nothing to
  // quantize): its refusals read the same here as in act compress.
  {
    Model probe = original;
    sdk::ModelEditor editor(probe);
    check_strategy_hook(planned, "rewrite_graph", strategy->rewrite_graph(editor));
  }
  Outcome o;
  {
    Model probe = original;
    sdk::ModelEditor editor(probe);
    LayerList list;
    check_strategy_hook(planned, "list_layers", layerwise->list_layers(editor, list));
    o.rows = std::move(list.rows);
  }
  ACT_CHECK(!o.rows.empty(), model_path, ": ", kSection,
            " finds no layer to quantize in this model (quantize_op_types, skip_tensor_list)");

  DatasetModelData model_data(*data, &eval, input);
  EvalOptions eval_options;
  eval_options.limit = options.limit;
  eval_options.model_name = model_path;
  Analysis analysis(planned, *layerwise, model_data, eval, eval_options);

  const Score float_score = analysis.score(original);
  o.samples = analysis.samples();
  o.float_top1 = float_score.top1;
  o.target.by_metric = by_metric;
  o.target.min_sqnr_db = options.min_sqnr_db;
  if (by_metric) {
    if (options.target_metric) {
      o.target.min_top1 = *options.target_metric;
    } else if (!options.max_drop && config.train && config.train->target_metric) {
      o.target.min_top1 = *config.train->target_metric;
    } else {
      o.target.min_top1 = o.float_top1 - options.max_drop.value_or(0.5) / 100.0;
    }
    ACT_CHECK(o.target.min_top1 <= o.float_top1 + 1e-12, "the target top-1 ", o.target.min_top1,
              " is above the float model's own (", o.float_top1, " on ", eval.describe(),
              "): no quantized model can reach it");
    std::fprintf(options.out, "float model: top-1 %.2f%% on %lld samples (%s)\n",
                 100.0 * o.float_top1, static_cast<long long>(o.samples), eval.describe().c_str());
  } else {
    std::fprintf(options.out,
                 "float model: %lld samples without labels (%s); sensitivity is the output "
                 "SQNR\n",
                 static_cast<long long>(o.samples), eval.describe().c_str());
  }

  std::vector<std::string> all_keys = keys_of(o.rows, 0, o.rows.size());
  for (std::size_t i = 0; i < o.rows.size(); ++i) {
    LayerSensitivity& row = o.rows[i];
    std::vector<std::string> others = all_keys;
    others.erase(others.begin() + static_cast<std::ptrdiff_t>(i));
    const Score s = analysis.score(analysis.variant(original, others));
    row.error = s.error;
    row.top1 = s.top1;
    row.drop = by_metric ? 100.0 * (o.float_top1 - s.top1) : 0.0;
    std::fprintf(options.log, "analyze: layer %zu/%zu %s: SQNR %s dB", i + 1, o.rows.size(),
                 display_name(row).c_str(), sqnr_text(s.error.sqnr_db).c_str());
    if (by_metric) std::fprintf(options.log, ", top-1 %.2f%%", 100.0 * s.top1);
    std::fputc('\n', options.log);
  }
  rank_layers(o.rows, by_metric);
  print_table(options.out, o, by_metric, options.top);

  if (by_metric) {
    std::fprintf(options.out, "\nfallback: target top-1 >= %.2f%% (float %.2f%%)\n",
                 100.0 * o.target.min_top1, 100.0 * o.float_top1);
  } else {
    std::fprintf(options.out, "\nfallback: target output SQNR >= %.2f dB\n", o.target.min_sqnr_db);
  }
  Model chosen;
  for (std::size_t floats = 0; floats < o.rows.size(); ++floats) {
    Model candidate = analysis.variant(original, keys_of(o.rows, 0, floats));
    FallbackStep step{floats, analysis.score(candidate)};
    o.steps.push_back(step);
    const bool met = o.target.met(step.score.top1, step.score.error.sqnr_db);
    const std::string what = floats == 0
                                 ? "all " + std::to_string(o.rows.size()) + " layers quantized"
                                 : "+ " + display_name(o.rows[floats - 1]) + " in float";
    std::fprintf(options.out, "  %-40s", what.c_str());
    if (by_metric) std::fprintf(options.out, " top-1 %.2f%%", 100.0 * step.score.top1);
    std::fprintf(options.out, " SQNR %s dB: %s\n", sqnr_text(step.score.error.sqnr_db).c_str(),
                 met ? "target met" : "below target");
    if (met) {
      o.met = true;
      o.floats = floats;
      chosen = std::move(candidate);
      break;
    }
  }
  if (!o.met) o.floats = o.rows.size();
  o.config_line = analysis.keep_config(keys_of(o.rows, 0, o.floats));

  if (o.met) {
    if (o.floats == 0) {
      std::fprintf(options.out, "every layer can be quantized: no layer needs to stay in float\n");
    } else {
      std::fprintf(options.out, "layers left in float (%zu of %zu):", o.floats, o.rows.size());
      for (std::size_t i = 0; i < o.floats; ++i)
        std::fprintf(options.out, " %s", display_name(o.rows[i]).c_str());
      std::fprintf(options.out, "\n%s line (add it to your config): %s\n", kSection,
                   o.config_line.c_str());
    }
  } else {
    std::fprintf(options.out,
                 "the target holds only with every layer in float: nothing was saved\n");
  }

  if (!options.save_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options.save_dir, ec);
    ACT_CHECK(!ec, options.save_dir, ": cannot create the folder (", ec.message(), ")");
    if (o.met) {
      const std::string out = (fs::path(options.save_dir) / "model.onnx").string();
      ACT_CHECK(!fs::exists(out) || !fs::equivalent(out, model_path), out,
                ": this is the input model; choose another --save-dir (the input is never "
                "overwritten)");
      save_onnx(chosen, out);
      o.saved_model = out;
      std::fprintf(options.out, "saved %s\n", out.c_str());
    }
    const std::string json = (fs::path(options.save_dir) / "analysis.json").string();
    write_file_atomically(json, analysis_json(model_path, planned, o, by_metric));
    std::fprintf(options.out, "table %s\n", json.c_str());
  }
  if (!options.json.empty()) {
    write_file_atomically(options.json, analysis_json(model_path, planned, o, by_metric));
  }
  return o.met ? 0 : 1;
}

}  // namespace act::host
