// The quant plugin: QuantPost (post-training quantization) with PaddleSlim ACT's keys and
// defaults, writing QDQ ONNX with int8 weights (qdq_writer.h), HyperParameterOptimization,
// a search over QuantPost's recipe (QuantSearch below), and QuantAware (quant_aware.h).
//
// Keys (defaults as ACT's QuantPost): batch_size 32, batch_nums 10, algo hist
// (abs_max | avg | hist | mse | emd | KL), hist_percent 0.999, weight_quantize_type
// channel_wise_abs_max
// (| abs_max), weight_bits 8 (2..8), activation_bits 8, quantize_op_types [conv2d,
// depthwise_conv2d, mul] (Paddle or ONNX names), skip_tensor_list [], not_quant_pattern
// [skip_quant], is_full_quantize false (true: every quantizable op type), onnx_format true,
// bias_correct false (true: bias_correction.h; bias_correction is accepted too); plus
// target ort_cpu (| tensorrt) and reduce_range (default: true for ort_cpu, see
// docs/decisions.md "Quantization").
// recon_level layer-wise (adaround.h; keys epochs 20 -> epochs * 100 Adam steps, lr 0.01,
// simulate_activation_quant false) or region-wise (region_recon.h, same keys; regions
// [[start, end], ...] or automatic (region_finder.h), region_weights_names [[weight, ...], ...]
// per region, default every quantized weight of the region).
#include <act/sdk/flow_list.h>
#include <act/sdk/plugin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "act/kernel/passes.h"
#include "adaround.h"
#include "bias_correction.h"
#include "calibrator.h"
#include "gram_collector.h"
#include "qdq_placement.h"
#include "qdq_writer.h"
#include "quant_aware.h"
#include "quant_layerwise.h"
#include "quant_targets.h"
#include "region_finder.h"
#include "region_recon.h"

namespace {

using act::sdk::ConfigReader;
using act::sdk::ConfigViewV1;
using act::sdk::GraphEditorV1;
using act::sdk::ReportWriterV1;

// QuantPost's regions: [[start, end], ...] as ACT writes them.
std::vector<std::pair<std::string, std::string>> parse_regions(const std::string& text,
                                                               const std::string& key) {
  const act::sdk::FlowValue v = act::sdk::parse_flow(text, key);
  std::vector<std::pair<std::string, std::string>> out;
  for (const act::sdk::FlowValue& r : v.items) {
    if (!r.is_list || r.items.size() != 2 || r.items[0].is_list || r.items[1].is_list) {
      throw act::Error(key + ": each region is a [start_tensor, end_tensor] pair, got " +
                       act::sdk::flow_text(r));
    }
    out.emplace_back(r.items[0].scalar, r.items[1].scalar);
  }
  if (!v.is_list || out.empty()) {
    throw act::Error(key + ": give a list of [start_tensor, end_tensor] pairs, got '" + text + "'");
  }
  return out;
}

// QuantPost's region_weights_names: [[weight, ...], ...], one list per region.
std::vector<std::vector<std::string>> parse_region_weights(const std::string& text,
                                                           const std::string& key) {
  const act::sdk::FlowValue v = act::sdk::parse_flow(text, key);
  std::vector<std::vector<std::string>> out;
  for (const act::sdk::FlowValue& r : v.items) {
    std::vector<std::string> names;
    for (const act::sdk::FlowValue& w : r.is_list ? r.items : std::vector<act::sdk::FlowValue>{r}) {
      if (w.is_list) {
        throw act::Error(key + ": give one list of weight names per region, got " +
                         act::sdk::flow_text(r));
      }
      names.push_back(w.scalar);
    }
    out.push_back(std::move(names));
  }
  return out;
}

// Keeps every tapped value of every calibration batch (the regions' inputs and ends).
class BatchSink final : public act::sdk::ActivationSinkV1 {
 public:
  act::sdk::Status consume(std::int64_t batch, const char* value,
                           const act::Tensor& t) noexcept override {
    try {
      if (batches.size() <= static_cast<std::size_t>(batch)) {
        batches.resize(static_cast<std::size_t>(batch) + 1);
      }
      batches[static_cast<std::size_t>(batch)][value] = t.clone();
    } catch (...) {
      return act::sdk::Status::failure("out of memory keeping the regions' calibration values");
    }
    return act::sdk::Status::success();
  }
  std::vector<act::quant::RegionBatch> batches;
};

bool is_quantized_already(const act::Graph& g) {
  for (const act::Node& n : g.nodes()) {
    if (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear" ||
        n.op_type.rfind("QLinear", 0) == 0 || n.op_type == "ConvInteger" ||
        n.op_type == "MatMulInteger") {
      return true;
    }
  }
  return false;
}

// One post-training quantization recipe: what QuantPost's keys choose and what the search
// varies.
struct Params {
  std::string algo = "hist";
  double hist_percent = 0.999;
  std::int64_t batch_nums = 10;
  bool per_channel = true;
  bool bias_correct = false;
};

// HyperParameterOptimization's search space (ACT's keys). Set by that section's strategy in
// configure() and read by QuantPost's finalize(): two sections of one plugin, one search.
struct SearchSpace {
  std::vector<std::string> algos;
  std::vector<bool> per_channel;
  std::vector<double> hist_percent;  // candidates (a [low, high] range is sampled)
  std::vector<std::int64_t> batch_nums;
  std::vector<bool> bias_correct;
  std::int64_t max_trials = 20;
};

SearchSpace* g_search = nullptr;  // owned by the configured HyperParameterOptimization strategy
const SearchSpace* active_search() {
  return g_search;
}

// Collects tapped outputs of every calibration batch, in order (the search's label-free score).
class OutputSink final : public act::sdk::ActivationSinkV1 {
 public:
  act::sdk::Status consume(std::int64_t, const char*, const act::Tensor& t) noexcept override {
    try {
      outputs.push_back(t.clone());
    } catch (...) {
      return act::sdk::Status::failure("out of memory keeping model outputs");
    }
    return act::sdk::Status::success();
  }
  std::vector<act::Tensor> outputs;
};

// The search's trial log: one line per finished trial, "index recipe score", the score
// printed with enough digits to read back exactly.
std::string recipe_text(const Params& p) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %.17g %lld %d %d", p.algo.c_str(), p.hist_percent,
                static_cast<long long>(p.batch_nums), p.per_channel ? 1 : 0,
                p.bias_correct ? 1 : 0);
  return buf;
}

std::string trial_line(std::size_t index, const Params& p, double score) {
  char buf[64];
  std::snprintf(buf, sizeof buf, " %.17g\n", score);
  return std::to_string(index) + " " + recipe_text(p) + buf;
}

std::string load_trials(act::sdk::StateStoreV1* store) {
  if (store == nullptr) return {};
  const void* data = nullptr;
  std::size_t size = 0;
  act::sdk::throw_if_failed(store->get("search_trials", &data, &size));
  return data != nullptr ? std::string(static_cast<const char*>(data), size) : std::string();
}

// Index -> score of each logged trial whose recipe is still the grid's at that index.
std::map<std::size_t, double> parse_trials(const std::string& log,
                                           const std::vector<Params>& grid) {
  std::map<std::size_t, double> out;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    const auto first = line.find(' ');
    const auto last = line.rfind(' ');
    if (first == std::string::npos || last <= first) continue;
    char* end = nullptr;
    const unsigned long long index = std::strtoull(line.c_str(), &end, 10);
    if (end != line.c_str() + first || index >= grid.size()) continue;
    if (line.substr(first + 1, last - first - 1) != recipe_text(grid[index])) continue;
    const double score = std::strtod(line.c_str() + last + 1, &end);
    if (*end == '\0') out[index] = score;
  }
  return out;
}

// Hands each tapped value to the calibrator and, when given, to a second sink (the layers'
// input moments for reconstruction), so both fill in one pass over the data.
class BothSinks final : public act::sdk::ActivationSinkV1 {
 public:
  BothSinks(act::sdk::ActivationSinkV1& first, act::sdk::ActivationSinkV1* second)
      : first_(first), second_(second) {}
  act::sdk::Status consume(std::int64_t batch, const char* value,
                           const act::Tensor& t) noexcept override {
    const act::sdk::Status s = first_.consume(batch, value, t);
    if (!s.ok() || second_ == nullptr) return s;
    return second_->consume(batch, value, t);
  }

 private:
  act::sdk::ActivationSinkV1& first_;
  act::sdk::ActivationSinkV1* second_;
};

class QuantPost final : public act::sdk::Strategy {
 public:
  void configure(const ConfigViewV1& config) override {
    ConfigReader cfg(config);
    section_ = cfg.section();
    batch_size_ = cfg.integer("batch_size", 32);
    batch_nums_ = cfg.integer("batch_nums", 10);
    algo_ = cfg.text("algo", "hist");
    hist_percent_ = cfg.number("hist_percent", 0.999);
    const std::string wtype = cfg.text("weight_quantize_type", "channel_wise_abs_max");
    weight_bits_ = static_cast<int>(cfg.integer("weight_bits", 8));
    const std::int64_t activation_bits = cfg.integer("activation_bits", 8);
    std::vector<std::string> op_types = cfg.strings("quantize_op_types");
    explicit_op_types_ = !op_types.empty();
    if (op_types.empty()) op_types = {"conv2d", "depthwise_conv2d", "mul"};
    skip_tensors_ = cfg.strings("skip_tensor_list");
    not_quant_patterns_ = cfg.has("not_quant_pattern") ? cfg.strings("not_quant_pattern")
                                                       : std::vector<std::string>{"skip_quant"};
    const bool full = cfg.flag("is_full_quantize", false);
    const bool onnx_format = cfg.flag("onnx_format", true);
    bias_correct_ = cfg.flag("bias_correct", false) || cfg.flag("bias_correction", false);
    recon_level_ = cfg.text("recon_level", "");
    recon_epochs_ = cfg.integer("epochs", 20);
    recon_lr_ = cfg.number("lr", 0.01);
    simulate_activation_quant_ = cfg.flag("simulate_activation_quant", false);
    const std::string regions_text = cfg.text("regions", "");
    const std::string weights_text = cfg.text("region_weights_names", "");
    target_ = cfg.text("target", "ort_cpu");
    reduce_range_ = cfg.flag("reduce_range", target_ == "ort_cpu");
    cfg.reject_unknown_keys();

    const std::string s = section_ + ".";
    if (batch_size_ < 1) throw act::Error(s + "batch_size must be >= 1");
    if (batch_nums_ < 1) throw act::Error(s + "batch_nums must be >= 1");
    if (algo_ != "abs_max" && algo_ != "avg" && algo_ != "hist" && algo_ != "mse" &&
        algo_ != "emd" && algo_ != "KL") {
      throw act::Error(s + "algo: '" + algo_ +
                       "' is not an algorithm (abs_max, avg, hist, KL, mse, emd)");
    }
    if (!(hist_percent_ > 0.0 && hist_percent_ <= 1.0)) {
      throw act::Error(s + "hist_percent must be in (0, 1]");
    }
    if (wtype != "channel_wise_abs_max" && wtype != "abs_max") {
      throw act::Error(s + "weight_quantize_type: '" + wtype +
                       "' is not channel_wise_abs_max or abs_max");
    }
    per_channel_ = wtype == "channel_wise_abs_max";
    if (weight_bits_ < 2 || weight_bits_ > 8) {
      throw act::Error(s + "weight_bits must be in 2..8, got " + std::to_string(weight_bits_));
    }
    if (activation_bits != 8) {
      throw act::Error(s + "activation_bits must be 8: ONNX QDQ activations are int8/uint8");
    }
    if (!onnx_format)
      throw act::Error(s + "onnx_format: false is not supported (ACT writes QDQ ONNX)");
    if (!recon_level_.empty() && recon_level_ != "layer-wise" && recon_level_ != "region-wise") {
      throw act::Error(s + "recon_level: '" + recon_level_ + "' is not layer-wise or region-wise");
    }
    if ((!regions_text.empty() || !weights_text.empty()) && recon_level_ != "region-wise") {
      throw act::Error(s + (regions_text.empty() ? "region_weights_names" : "regions") +
                       " needs recon_level: region-wise");
    }
    if (!regions_text.empty()) regions_ = parse_regions(regions_text, s + "regions");
    if (!weights_text.empty()) {
      if (regions_.empty()) {
        throw act::Error(s + "region_weights_names needs regions (one list of weights per region)");
      }
      region_weights_ = parse_region_weights(weights_text, s + "region_weights_names");
      if (region_weights_.size() != regions_.size()) {
        throw act::Error(s + "region_weights_names has " + std::to_string(region_weights_.size()) +
                         " lists for " + std::to_string(regions_.size()) + " regions");
      }
    }
    if (recon_epochs_ < 1) throw act::Error(s + "epochs must be >= 1");
    if (!(recon_lr_ > 0.0 && std::isfinite(recon_lr_))) throw act::Error(s + "lr must be > 0");
    profile_ = act::quant::parse_profile(target_, s + "target");
    // ACT's is_full_quantize replaces the list with every type the method can quantize.
    if (full) {
      op_types = {"conv2d", "depthwise_conv2d", "conv2d_transpose", "mul", "matmul"};
      explicit_op_types_ = false;
    }
    onnx_types_ = act::quant::onnx_op_types(op_types, s + "quantize_op_types");
    op_names_ = op_types;
  }

  // Checks the model can be quantized as configured; the quantization itself happens in
  // finalize, after every other strategy has produced its final float graph.
  void rewrite_graph(GraphEditorV1& editor) override {
    const act::Model& m = editor.model();
    if (m.default_opset() < 13) {
      throw act::Error(section_ + ": the model's opset is " + std::to_string(m.default_opset()) +
                       "; per-channel QDQ needs opset 13 or newer: set Global.opset_version: 13 "
                       "(act converts the model with ONNX's version converter) or re-export it");
    }
    if (is_quantized_already(m.graph)) {
      throw act::Error(section_ +
                       ": the model is already quantized (it has Q/DQ or QLinear nodes)");
    }
    const auto targets =
        act::quant::select_targets(m.graph, onnx_types_, skip_tensors_, not_quant_patterns_);
    if (targets.empty()) {
      throw act::Error(section_ +
                       ".quantize_op_types: the model has no node of those types with "
                       "a constant weight to quantize");
    }
    if (explicit_op_types_) {
      // Each configured name must match something ("mul" is Gemm or MatMul).
      for (const std::string& name : op_names_) {
        const auto types = act::quant::onnx_op_types({name}, section_ + ".quantize_op_types");
        const bool present =
            std::any_of(m.graph.nodes().begin(), m.graph.nodes().end(), [&](const act::Node& n) {
              return std::find(types.begin(), types.end(), n.op_type) != types.end();
            });
        if (!present) {
          throw act::Error(section_ + ".quantize_op_types: the model has no node for '" + name +
                           "' (" + types.front() + (types.size() > 1 ? " or " + types.back() : "") +
                           ")");
        }
      }
    }
    // Configured regions are checked against the model now rather than after calibration.
    if (recon_level_ == "region-wise") resolve_regions(m.graph, targets);
  }

  void finalize(GraphEditorV1& editor) override {
    act::sdk::ModelDataV1* data = act::sdk::model_data(editor);
    if (data == nullptr || data->samples() == 0) {
      throw act::Error(section_ + " needs calibration data: give act compress --data");
    }
    act::Model& model = editor.model();
    // An inference BatchNormalization after a Conv/Gemm goes into its weights first: left in
    // place it would run in float between two Q/DQ pairs in every runtime (decisions.md).
    act::fold_batch_norm(model.graph);
    Params chosen{algo_, hist_percent_, batch_nums_, per_channel_, bias_correct_};
    if (const SearchSpace* space = active_search()) {
      chosen = search(model, *data, *space, act::sdk::state_store(editor));
    }
    act::Model result = model;
    summary_ = quantize(result, *data, chosen);
    model = std::move(result);
    chosen_ = chosen;
    act::sdk::throw_if_failed(editor.validate());
  }

  void report(ReportWriterV1& report) override {
    report.text("algo", chosen_.algo.c_str());
    if (active_search() != nullptr || trials_ > 0) {
      report.number("search_trials", static_cast<double>(trials_));
      report.number("search_resumed_trials", static_cast<double>(resumed_trials_));
      report.number("search_best_score", best_score_);
      report.number("hist_percent", chosen_.hist_percent);
      report.number("batch_nums", static_cast<double>(chosen_.batch_nums));
      report.text("weight_quantize_type", chosen_.per_channel ? "channel_wise_abs_max" : "abs_max");
      report.number("bias_correct", chosen_.bias_correct ? 1 : 0);
    }
    report.number("bias_corrected_nodes", static_cast<double>(summary_.bias_corrected));
    report.number("channel_padded_convs", static_cast<double>(summary_.channel_padded));
    if (!recon_level_.empty()) {
      report.text("recon_level", recon_level_.c_str());
      report.number("recon_output_error_nearest", recon_nearest_error_);
      report.number("recon_output_error", recon_error_);
      if (recon_level_ == "region-wise") {
        report.number("recon_regions", static_cast<double>(regions_reconstructed_));
      }
    }
    report.text("target", target_.c_str());
    report.number("quantized_nodes", static_cast<double>(summary_.quantized_nodes));
    report.number("calibration_batches", static_cast<double>(batches_));
    // The calibration passes alone (every trial's, with a search), without planning, writing
    // and checking the model: what the "calibration wall time" measures.
    report.number("calibration_seconds", calibration_seconds_);
    report.number("weight_bits", weight_bits_);
    report.number("reduce_range", reduce_range_ ? 1 : 0);
    report.number("float_weight_bytes", static_cast<double>(summary_.float_weight_bytes));
    report.number("quantized_weight_bytes", static_cast<double>(summary_.int_weight_bytes));
  }

  // The nodes this section quantizes in `model`: the layers of the per-layer analysis.
  std::vector<act::quant::Target> targets(const act::Model& model) const {
    return act::quant::select_targets(model.graph, onnx_types_, skip_tensors_, not_quant_patterns_);
  }

 private:
  // Calibrates `model` with `p` and rewrites it into QDQ form in place.
  act::quant::QdqSummary quantize(act::Model& model, act::sdk::ModelDataV1& data, const Params& p) {
    const act::quant::QdqPlan plan = act::quant::plan_qdq(
        model.graph,
        act::quant::select_targets(model.graph, onnx_types_, skip_tensors_, not_quant_patterns_),
        profile_);
    std::vector<const char*> names;
    for (const auto& v : plan.values) names.push_back(v.c_str());
    act::quant::Calibrator calibrator(act::quant::Calibrator::needs_histogram(p.algo));
    // Layer-wise reconstruction needs the layers' input moments. Unsimulated, they come from
    // the float inputs, which the calibration pass sees anyway (every target's input is a
    // planned value); simulated, they need the input quantization, so a second pass.
    std::optional<act::quant::GramCollector> grams;
    const bool recon = recon_level_ == "layer-wise";
    const bool regionwise = recon_level_ == "region-wise";
    if (recon && !simulate_activation_quant_) grams.emplace(model.graph, plan.targets, nullptr);
    BothSinks calibration(calibrator, grams ? &*grams : nullptr);
    if (p.bias_correct) {
      for (const auto& t : plan.targets) {
        calibrator.track_channel_means(t.activation,
                                       act::quant::input_channel_axis(model.graph.nodes()[t.node]));
      }
    }
    const auto started = std::chrono::steady_clock::now();
    act::sdk::throw_if_failed(
        data.run(model, names.data(), names.size(), batch_size_, p.batch_nums, calibration));
    calibration_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::map<std::string, act::quant::ActivationQuant> quant;
    for (const auto& v : plan.values) {
      const float min = calibrator.min_of(v);
      const bool u8_from_zero = min >= 0.0F && profile_ == act::quant::Profile::kOrtCpu;
      // The model's outputs keep their whole range: clipping logits ties the largest scores.
      const std::string algo = model.graph.is_graph_output(v) ? "abs_max" : p.algo;
      const float threshold =
          calibrator.threshold(v, algo, p.hist_percent, u8_from_zero ? 255 : 127);
      quant[v] = act::quant::activation_quant(min, calibrator.max_of(v), threshold, profile_);
    }
    // Ops that only move values must keep their input's scale for ONNX Runtime to drop their
    // Q/DQ pairs.
    for (const auto& [value, source] : plan.same_scale) quant[value] = quant.at(source);
    act::quant::WeightOptions w;
    w.bits = weight_bits_;
    w.per_channel = p.per_channel;
    w.reduce_range = reduce_range_;
    std::map<std::string, std::vector<double>> means;
    if (p.bias_correct) {
      for (const auto& t : plan.targets)
        means[t.activation] = calibrator.channel_means(t.activation);
      w.input_means = &means;
    }
    std::map<std::string, act::Tensor> codes;
    if (recon) {
      if (!grams) {
        grams.emplace(model.graph, plan.targets, &quant);
        std::vector<const char*> inputs;  // each once: a layer's moments add up per value
        for (const auto& t : plan.targets) {
          const bool seen = std::any_of(inputs.begin(), inputs.end(),
                                        [&](const char* v) { return t.activation == v; });
          if (!seen) inputs.push_back(t.activation.c_str());
        }
        act::sdk::throw_if_failed(
            data.run(model, inputs.data(), inputs.size(), batch_size_, p.batch_nums, *grams));
      }
      codes = reconstruct(model, plan, w, *grams);
      w.codes = &codes;
    }
    if (regionwise) {
      codes = reconstruct_regions(model, plan, w, quant, data, p);
      w.codes = &codes;
    }
    batches_ = calibrator.batches_seen();
    return act::quant::write_qdq(model.graph, plan, quant, w);
  }

  // Layer-wise reconstruction of each target's weight rounding (adaround.h) from the second
  // moments of its input over the calibration batches.
  std::map<std::string, act::Tensor> reconstruct(const act::Model& model,
                                                 const act::quant::QdqPlan& plan,
                                                 const act::quant::WeightOptions& w,
                                                 const act::quant::GramCollector& grams) {
    act::quant::AdaRoundOptions o;
    o.steps = static_cast<int>(recon_epochs_ * 100);
    o.lr = recon_lr_;
    std::map<std::string, act::Tensor> codes;
    recon_nearest_error_ = recon_error_ = 0.0;
    for (std::size_t i = 0; i < plan.targets.size(); ++i) {
      const auto& t = plan.targets[i];
      const act::Tensor& weight = *model.graph.initializer(t.weight);
      const auto r =
          act::quant::adaround(weight, t, act::quant::weight_scales(weight, t.weight_axis, w),
                               act::quant::weight_qmax(w), grams.gram(i), o);
      recon_nearest_error_ += r.nearest_error;
      recon_error_ += r.error;
      codes[t.weight] = r.codes;
    }
    return codes;
  }

  // The regions of region-wise reconstruction in `graph`: the configured ones (each name
  // checked, each weight of region_weights_names a quantized weight inside its region) or the
  // automatic ones (region_finder.h). Returns per region the weights to optimize.
  std::vector<std::pair<act::quant::Region, std::vector<std::string>>> resolve_regions(
      const act::Graph& graph, const std::vector<act::quant::Target>& targets) const {
    std::vector<std::pair<act::quant::Region, std::vector<std::string>>> out;
    std::vector<act::quant::Region> regions;
    if (regions_.empty()) {
      regions = act::quant::find_regions(graph, targets);
      if (regions.empty()) {
        throw act::Error(section_ + ".regions: no region found automatically (no tensor that " +
                         "every path passes through feeds a quantized layer); give regions");
      }
    }
    for (std::size_t i = 0; i < regions_.size(); ++i) {
      regions.push_back(act::quant::make_region(graph, regions_[i].first, regions_[i].second,
                                                targets,
                                                section_ + ".regions[" + std::to_string(i) + "]"));
    }
    std::map<std::string, std::size_t> owner;  // weight -> region
    for (std::size_t i = 0; i < regions.size(); ++i) {
      const std::string where = section_ + ".regions[" + std::to_string(i) + "]";
      std::vector<std::string> inside;
      for (std::size_t t : regions[i].targets) inside.push_back(targets[t].weight);
      std::vector<std::string> chosen = inside;
      if (!region_weights_.empty()) {
        chosen = region_weights_[i];
        for (const std::string& w : chosen) {
          if (std::find(inside.begin(), inside.end(), w) != inside.end()) continue;
          const std::string guess = act::sdk::closest_name(w, inside);
          throw act::Error(section_ + ".region_weights_names[" + std::to_string(i) + "]: '" + w +
                           "' is not a quantized weight of the region from '" + regions[i].start +
                           "' to '" + regions[i].end + "'" +
                           (guess.empty() ? std::string() : "; did you mean '" + guess + "'?"));
        }
        if (chosen.empty()) {
          throw act::Error(section_ + ".region_weights_names[" + std::to_string(i) +
                           "] names no weight");
        }
      }
      for (const std::string& w : chosen) {
        const auto [it, fresh] = owner.emplace(w, i);
        if (!fresh) {
          throw act::Error(where + ": the weight '" + w + "' is also optimized in regions[" +
                           std::to_string(it->second) + "]; regions must not share weights");
        }
      }
      out.emplace_back(std::move(regions[i]), std::move(chosen));
    }
    return out;
  }

  // Region-wise reconstruction (region_recon.h): one more pass over the calibration batches
  // keeps every region's inputs and end (float model), then each region learns the rounding of
  // its weights. Layers in no region keep round-to-nearest.
  std::map<std::string, act::Tensor> reconstruct_regions(
      const act::Model& model, const act::quant::QdqPlan& plan, const act::quant::WeightOptions& w,
      const std::map<std::string, act::quant::ActivationQuant>& quant, act::sdk::ModelDataV1& data,
      const Params& p) {
    const auto regions = resolve_regions(model.graph, plan.targets);
    std::vector<std::string> values;
    for (const auto& [r, chosen] : regions) {
      for (const std::string& v : r.inputs) values.push_back(v);
      values.push_back(r.end);
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    std::vector<const char*> names;
    for (const auto& v : values) names.push_back(v.c_str());
    BatchSink sink;
    act::sdk::throw_if_failed(
        data.run(model, names.data(), names.size(), batch_size_, p.batch_nums, sink));
    // The training graph has a static batch: a last, shorter batch is left out.
    std::vector<act::quant::RegionBatch> batches;
    for (auto& b : sink.batches) {
      if (b.empty()) continue;
      const std::int64_t n = b.begin()->second.shape().empty() ? 0 : b.begin()->second.shape()[0];
      const std::int64_t first =
          batches.empty() ? n : batches.front().begin()->second.shape().at(0);
      if (n == first) batches.push_back(std::move(b));
    }
    if (batches.empty()) throw act::Error(section_ + ": no calibration batch for region-wise");

    act::quant::RegionReconOptions o;
    o.steps = static_cast<int>(recon_epochs_ * 100);
    o.lr = recon_lr_;
    std::map<std::string, act::Tensor> codes;
    recon_nearest_error_ = recon_error_ = 0.0;
    regions_reconstructed_ = 0;
    for (const auto& [r, chosen] : regions) {
      std::vector<act::quant::RegionLayer> layers;
      for (std::size_t t : r.targets) {
        const auto& target = plan.targets[t];
        const act::Tensor& weight = *model.graph.initializer(target.weight);
        layers.push_back({target.weight, target.weight_axis,
                          act::quant::weight_scales(weight, target.weight_axis, w),
                          std::find(chosen.begin(), chosen.end(), target.weight) != chosen.end()});
      }
      std::vector<act::quant::RegionBatch> own;  // this region's values only
      for (const auto& b : batches) {
        act::quant::RegionBatch mine;
        for (const std::string& v : r.inputs) mine[v] = b.at(v);
        mine[r.end] = b.at(r.end);
        own.push_back(std::move(mine));
      }
      act::quant::RegionReconstructor recon(
          model.graph, model.default_opset(), r, layers, act::quant::weight_qmax(w), std::move(own),
          simulate_activation_quant_ ? &quant : nullptr, profile_);
      const auto result = recon.reconstruct(o);
      recon_nearest_error_ += result.nearest_error;
      recon_error_ += result.error;
      ++regions_reconstructed_;
      for (const auto& [name, c] : result.codes) codes[name] = c;
    }
    return codes;
  }

  // Tries recipes from `space` (the grid in order, or a seeded sample of it when larger than
  // max_trials) and returns the best: highest metric on the evaluation data when it has labels,
  // else smallest mean squared difference between the float and quantized model's outputs on
  // the calibration batches.
  //
  // Every finished trial is appended to the strategy's state store (when the host offers one),
  // so `act compress --resume` after a kill re-scores nothing it already scored: the grid's
  // order is fixed, and a logged trial is reused only when its recipe is the one at its index.
  Params search(const act::Model& model, act::sdk::ModelDataV1& data, const SearchSpace& space,
                act::sdk::StateStoreV1* store) {
    std::vector<Params> grid;
    for (const auto& algo : space.algos)
      for (bool pc : space.per_channel)
        for (double hp : space.hist_percent)
          for (std::int64_t bn : space.batch_nums) {
            // hist_percent only matters to hist.
            if (algo != "hist" && hp != space.hist_percent.front()) continue;
            for (bool bc : space.bias_correct) grid.push_back({algo, hp, bn, pc, bc});
          }
    if (static_cast<std::int64_t>(grid.size()) > space.max_trials) {
      std::mt19937_64 rng(0);
      for (std::size_t i = grid.size(); i > 1; --i) std::swap(grid[i - 1], grid[rng() % i]);
      grid.resize(static_cast<std::size_t>(space.max_trials));
    }
    const bool by_metric = data.has_metric();
    const std::string out = model.graph.outputs().at(0).name;
    const char* out_name = out.c_str();
    OutputSink reference;
    std::string log = load_trials(store);
    const std::map<std::size_t, double> logged = parse_trials(log, grid);
    Params best = grid.front();
    best_score_ = -INFINITY;
    for (std::size_t i = 0; i < grid.size(); ++i) {
      const Params& p = grid[i];
      ++trials_;
      if (auto found = logged.find(i); found != logged.end()) {
        ++resumed_trials_;
        if (found->second > best_score_) {
          best_score_ = found->second;
          best = p;
        }
        continue;
      }
      if (!by_metric && reference.outputs.empty()) {
        const std::int64_t most =
            *std::max_element(space.batch_nums.begin(), space.batch_nums.end());
        act::sdk::throw_if_failed(data.run(model, &out_name, 1, batch_size_, most, reference));
      }
      act::Model candidate = model;
      quantize(candidate, data, p);
      double score = 0.0;
      if (by_metric) {
        act::sdk::throw_if_failed(data.evaluate(candidate, &score));
      } else {
        OutputSink quantized;
        act::sdk::throw_if_failed(data.run(candidate, &out_name, 1, batch_size_,
                                           static_cast<std::int64_t>(reference.outputs.size()),
                                           quantized));
        double sum = 0.0;
        std::int64_t count = 0;
        for (std::size_t b = 0; b < quantized.outputs.size(); ++b) {
          const float* x = reference.outputs[b].data<float>();
          const float* y = quantized.outputs[b].data<float>();
          for (std::int64_t i = 0; i < quantized.outputs[b].numel(); ++i, ++count) {
            sum += (x[i] - y[i]) * (x[i] - y[i]);
          }
        }
        score = count > 0 ? -sum / static_cast<double>(count) : 0.0;
      }
      if (store != nullptr) {
        log += trial_line(i, p, score);
        act::sdk::throw_if_failed(store->put("search_trials", log.data(), log.size()));
      }
      if (score > best_score_) {
        best_score_ = score;
        best = p;
      }
    }
    return best;
  }

 private:
  std::string section_, algo_, target_;
  std::int64_t batch_size_ = 32, batch_nums_ = 10;
  double hist_percent_ = 0.999;
  int weight_bits_ = 8;
  act::quant::Profile profile_ = act::quant::Profile::kOrtCpu;
  bool per_channel_ = true, reduce_range_ = true, explicit_op_types_ = false, bias_correct_ = false;
  std::string recon_level_;
  std::int64_t recon_epochs_ = 20;
  double recon_lr_ = 0.01, recon_nearest_error_ = 0.0, recon_error_ = 0.0;
  bool simulate_activation_quant_ = false;
  std::vector<std::pair<std::string, std::string>> regions_;  // configured [start, end]
  std::vector<std::vector<std::string>> region_weights_;      // per configured region
  std::size_t regions_reconstructed_ = 0;
  std::vector<std::string> skip_tensors_, not_quant_patterns_, onnx_types_, op_names_;
  act::quant::QdqSummary summary_;
  std::int64_t batches_ = 0;
  double calibration_seconds_ = 0.0;  // wall time inside the calibration passes
  Params chosen_;
  std::int64_t trials_ = 0, resumed_trials_ = 0;
  double best_score_ = 0.0;
};

// HyperParameterOptimization: ACT's keys ptq_algo, bias_correct, weight_quantize_type,
// hist_percent (a list, or [low, high] sampled at 4 points), batch_num (likewise),
// max_quant_count. It changes nothing itself: QuantPost runs the search in its finalize.
class QuantSearch {
 public:
  QuantSearch() = default;
  QuantSearch(const QuantSearch&) = delete;
  QuantSearch& operator=(const QuantSearch&) = delete;
  ~QuantSearch() {
    if (g_search == &space_) g_search = nullptr;
  }

  void configure(ConfigReader& cfg) {
    const std::string s = std::string(cfg.section()) + ".";
    space_.algos = cfg.strings("ptq_algo");
    if (space_.algos.empty()) space_.algos = {"hist", "avg", "mse"};
    for (const auto& a : space_.algos) {
      if (a != "abs_max" && a != "avg" && a != "hist" && a != "mse" && a != "emd" && a != "KL") {
        throw act::Error(s + "ptq_algo: '" + a + "' is not abs_max, avg, hist, mse, emd or KL");
      }
    }
    for (const std::string& b : cfg.strings("bias_correct")) {
      if (b != "true" && b != "True" && b != "false" && b != "False")
        throw act::Error(s + "bias_correct: '" + b + "' is not true or false");
      space_.bias_correct.push_back(b == "true" || b == "True");
    }
    if (space_.bias_correct.empty()) space_.bias_correct = {false};
    const std::vector<std::string> wtypes = cfg.strings("weight_quantize_type");
    for (const auto& w :
         wtypes.empty() ? std::vector<std::string>{"channel_wise_abs_max"} : wtypes) {
      if (w != "channel_wise_abs_max" && w != "abs_max") {
        throw act::Error(s + "weight_quantize_type: '" + w +
                         "' is not channel_wise_abs_max or abs_max");
      }
      space_.per_channel.push_back(w == "channel_wise_abs_max");
    }
    space_.hist_percent = range(cfg.numbers("hist_percent"), {0.999});
    for (double h : space_.hist_percent) {
      if (!(h > 0.0 && h <= 1.0)) throw act::Error(s + "hist_percent values must be in (0, 1]");
    }
    for (double b : range(cfg.numbers("batch_num"), {10.0})) {
      if (b < 1.0) throw act::Error(s + "batch_num values must be >= 1");
      space_.batch_nums.push_back(static_cast<std::int64_t>(std::llround(b)));
    }
    space_.max_trials = cfg.integer("max_quant_count", 20);
    if (space_.max_trials < 1) throw act::Error(s + "max_quant_count must be >= 1");
    cfg.reject_unknown_keys();
    g_search = &space_;
  }

 private:
  // ACT writes a search range as [low, high]; it is sampled at four evenly spaced points.
  static std::vector<double> range(const std::vector<double>& v, std::vector<double> fallback) {
    if (v.empty()) return fallback;
    if (v.size() != 2) return v;
    std::vector<double> out;
    for (int i = 0; i < 4; ++i) out.push_back(v[0] + (v[1] - v[0]) * i / 3.0);
    return out;
  }

  SearchSpace space_;
};

// The plugin's one Strategy class: it becomes QuantPost, QuantAware (quant_aware.h) or the
// search by the section it is configured with. As QuantPost it is also Layerwise (act analyze
// quant): a variant leaves layers in float through a fresh QuantPost whose skip_tensor_list
// names them.
class QuantStrategy final : public act::sdk::Strategy, public act::sdk::Layerwise {
 public:
  void configure(const ConfigViewV1& config) override {
    section_.capture(config);
    if (std::string(config.section()) == "HyperParameterOptimization") {
      search_ = std::make_unique<QuantSearch>();
      ConfigReader cfg(config);
      search_->configure(cfg);
    } else if (std::string(config.section()) == "QuantAware") {
      aware_ = std::make_unique<act::quant::QuantAware>();
      aware_->configure(config);
    } else {
      post_ = std::make_unique<QuantPost>();
      post_->configure(config);
    }
  }
  void rewrite_graph(GraphEditorV1& editor) override {
    if (post_) post_->rewrite_graph(editor);
    if (aware_) aware_->rewrite_graph(editor);
  }
  void finalize(GraphEditorV1& editor) override {
    if (post_) post_->finalize(editor);
    if (aware_) aware_->finalize(editor);
  }
  void report(ReportWriterV1& report) override {
    if (post_) post_->report(report);
    if (aware_) aware_->report(report);
  }

  std::vector<act::sdk::LayerInfo> list_layers(GraphEditorV1& editor) override {
    const act::Model& model = editor.model();
    return act::quant::layer_infos(model.graph, configured_post().targets(model));
  }
  void apply_except(GraphEditorV1& editor, const std::vector<std::string>& kept) override {
    const auto layers = list_layers(editor);
    if (std::all_of(layers.begin(), layers.end(), [&](const act::sdk::LayerInfo& l) {
          return std::find(kept.begin(), kept.end(), l.key) != kept.end();
        })) {
      return;  // nothing left to quantize (QuantPost would refuse): the float model as it is
    }
    QuantPost variant;
    variant.configure(section_.keeping(kept));
    variant.rewrite_graph(editor);
    variant.finalize(editor);
  }
  std::string keep_config(const std::vector<std::string>& kept) override {
    configured_post();
    return section_.keep_line(kept);
  }

 private:
  QuantPost& configured_post() {
    if (!post_) throw act::Error("only QuantPost can be analyzed layer by layer");
    return *post_;
  }

  act::quant::QuantSectionCopy section_;
  std::unique_ptr<QuantPost> post_;
  std::unique_ptr<QuantSearch> search_;
  std::unique_ptr<act::quant::QuantAware> aware_;
};

}  // namespace

ACT_PLUGIN(QuantStrategy, "quant", "0.1.0", "QuantPost", "HyperParameterOptimization", "QuantAware")
