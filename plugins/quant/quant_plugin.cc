// The quant plugin: QuantPost (post-training quantization) with PaddleSlim ACT's keys and
// defaults, writing QDQ ONNX with int8 weights (qdq_writer.h).
//
// Keys (defaults as ACT's QuantPost): batch_size 32, batch_nums 10, algo hist
// (abs_max | avg | hist | mse | KL), hist_percent 0.999, weight_quantize_type channel_wise_abs_max
// (| abs_max), weight_bits 8 (2..8), activation_bits 8, quantize_op_types [conv2d,
// depthwise_conv2d, mul] (Paddle or ONNX names), skip_tensor_list [], not_quant_pattern
// [skip_quant], is_full_quantize false, onnx_format true, bias_correct false; plus
// target ort_cpu (| tensorrt) and reduce_range (default: true for ort_cpu, see
// docs/decisions.md "Quantization").
// Keys ACT has whose methods are not written yet (algo emd, recon_level,
// bias_correct: true, is_full_quantize: true) are errors that say so, never silent no-ops.
#include <act/sdk/plugin.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "calibrator.h"
#include "qdq_writer.h"
#include "quant_targets.h"

namespace {

using act::sdk::ConfigReader;
using act::sdk::ConfigViewV1;
using act::sdk::GraphEditorV1;
using act::sdk::ReportWriterV1;

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
    const bool bias_correct = cfg.flag("bias_correct", false) || cfg.flag("bias_correction", false);
    const std::string recon = cfg.text("recon_level", "");
    target_ = cfg.text("target", "ort_cpu");
    reduce_range_ = cfg.flag("reduce_range", target_ == "ort_cpu");
    cfg.reject_unknown_keys();

    const std::string s = section_ + ".";
    if (batch_size_ < 1) throw act::Error(s + "batch_size must be >= 1");
    if (batch_nums_ < 1) throw act::Error(s + "batch_nums must be >= 1");
    if (algo_ == "emd") {
      throw act::Error(s + "algo: 'emd' is not implemented yet (abs_max, avg, hist, mse, KL are)");
    }
    if (algo_ != "abs_max" && algo_ != "avg" && algo_ != "hist" && algo_ != "mse" &&
        algo_ != "KL") {
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
    if (full) throw act::Error(s + "is_full_quantize: true is not implemented yet");
    if (!onnx_format)
      throw act::Error(s + "onnx_format: false is not supported (ACT writes QDQ ONNX)");
    if (bias_correct) throw act::Error(s + "bias_correct: true is not implemented yet");
    if (!recon.empty()) throw act::Error(s + "recon_level is not implemented yet");
    if (target_ != "ort_cpu" && target_ != "tensorrt") {
      throw act::Error(s + "target: '" + target_ + "' is not ort_cpu or tensorrt");
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
                       "; per-channel QDQ needs opset 13 or newer (re-export the model)");
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
  }

  void finalize(GraphEditorV1& editor) override {
    act::sdk::ModelDataV1* data = act::sdk::model_data(editor);
    if (data == nullptr || data->samples() == 0) {
      throw act::Error(section_ + " needs calibration data: give act compress --data");
    }
    act::Model& model = editor.model();
    const auto targets =
        act::quant::select_targets(model.graph, onnx_types_, skip_tensors_, not_quant_patterns_);
    std::vector<std::string> values;
    for (const auto& t : targets) {
      for (const std::string& v : {t.activation, model.graph.nodes()[t.node].outputs.at(0)}) {
        if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
      }
    }
    std::vector<const char*> names;
    for (const auto& v : values) names.push_back(v.c_str());
    act::quant::Calibrator calibrator;
    act::sdk::throw_if_failed(
        data->run(model, names.data(), names.size(), batch_size_, batch_nums_, calibrator));
    if (act::quant::Calibrator::needs_histogram(algo_)) {
      calibrator.set_pass(act::quant::Calibrator::Pass::kHistogram);
      act::sdk::throw_if_failed(
          data->run(model, names.data(), names.size(), batch_size_, batch_nums_, calibrator));
    }
    std::map<std::string, act::quant::ActivationQuant> quant;
    for (const auto& v : values) {
      const float min = calibrator.min_of(v);
      const int levels = min >= 0.0F && target_ != "tensorrt" ? 255 : 127;
      // The model's outputs keep their whole range: clipping logits ties the largest scores.
      const std::string algo = model.graph.is_graph_output(v) ? "abs_max" : algo_;
      act::quant::ActivationQuant q =
          act::quant::activation_quant(min, calibrator.threshold(v, algo, hist_percent_, levels));
      // TensorRT's explicit quantization takes symmetric int8 activations only.
      if (target_ == "tensorrt" && q.is_unsigned)
        q = act::quant::activation_quant(-1.0F, q.scale * 255.0F);
      quant[v] = q;
    }
    act::quant::WeightOptions w;
    w.bits = weight_bits_;
    w.per_channel = per_channel_;
    w.reduce_range = reduce_range_;
    summary_ = act::quant::write_qdq(model.graph, targets, quant, w);
    batches_ = calibrator.batches_seen();
    act::sdk::throw_if_failed(editor.validate());
  }

  void report(ReportWriterV1& report) override {
    report.text("algo", algo_.c_str());
    report.text("target", target_.c_str());
    report.number("quantized_nodes", static_cast<double>(summary_.quantized_nodes));
    report.number("calibration_batches", static_cast<double>(batches_));
    report.number("weight_bits", weight_bits_);
    report.number("reduce_range", reduce_range_ ? 1 : 0);
    report.number("float_weight_bytes", static_cast<double>(summary_.float_weight_bytes));
    report.number("quantized_weight_bytes", static_cast<double>(summary_.int_weight_bytes));
  }

 private:
  std::string section_, algo_, target_;
  std::int64_t batch_size_ = 32, batch_nums_ = 10;
  double hist_percent_ = 0.999;
  int weight_bits_ = 8;
  bool per_channel_ = true, reduce_range_ = true, explicit_op_types_ = false;
  std::vector<std::string> skip_tensors_, not_quant_patterns_, onnx_types_, op_names_;
  act::quant::QdqSummary summary_;
  std::int64_t batches_ = 0;
};

}  // namespace

ACT_PLUGIN(QuantPost, "quant", "0.1.0", "QuantPost")
