#include "quant_aware.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "act/kernel/op_registry.h"
#include "act/kernel/passes.h"
#include "quant_targets.h"
#include "value_range.h"

namespace act::quant {
namespace {

// Folds every calibration batch into the observers' states with the training rule itself, so
// the first training step starts where a longer run of the same observer would be.
class InitSink final : public sdk::ActivationSinkV1 {
 public:
  InitSink(Observer method, float rate, std::int64_t window,
           std::map<std::string, std::vector<float>>& states)
      : method_(method), rate_(rate), window_(window), states_(states) {}

  sdk::Status consume(std::int64_t batch, const char* value, const Tensor& t) noexcept override {
    try {
      batches_ = std::max(batches_, batch + 1);
      const float* x = t.data<float>();
      if (t.numel() == 0) return sdk::Status::success();
      const ValueRange range = value_range(x, t.numel());
      observe(method_, rate_, window_, states_.at(value).data(), range.lo, range.hi);
    } catch (const std::exception& e) {
      error_ = e.what();
      return sdk::Status::failure(error_.c_str());
    }
    return sdk::Status::success();
  }
  std::int64_t batches() const { return batches_; }

 private:
  Observer method_;
  float rate_;
  std::int64_t window_;
  std::map<std::string, std::vector<float>>& states_;
  std::int64_t batches_ = 0;
  std::string error_;
};

bool is_quantized(const Graph& g) {
  return std::any_of(g.nodes().begin(), g.nodes().end(), [](const Node& n) {
    return n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear" ||
           n.op_type.rfind("QLinear", 0) == 0 || n.op_type == "ConvInteger" ||
           n.op_type == "MatMulInteger" || n.domain == kQatDomain;
  });
}

Node op(Graph& g, const std::string& type, std::vector<std::string> inputs,
        const std::string& output) {
  Node n;
  n.name = g.unique_name(output + "_node");
  n.op_type = type;
  n.domain = kQatDomain;
  n.inputs = std::move(inputs);
  n.outputs = {output};
  return n;
}

}  // namespace

void QuantAware::configure(const sdk::ConfigViewV1& config) {
  sdk::ConfigReader cfg(config);
  section_ = cfg.section();
  const std::string s = section_ + ".";
  use_pact_ = cfg.flag("use_pact", false);
  weight_bits_ = static_cast<int>(cfg.integer("weight_bits", 8));
  const std::int64_t activation_bits = cfg.integer("activation_bits", 8);
  const std::string atype = cfg.text("activation_quantize_type", "moving_average_abs_max");
  const std::string wtype = cfg.text("weight_quantize_type", "channel_wise_abs_max");
  window_size_ = cfg.integer("window_size", 10000);
  const double rate = cfg.number("moving_rate", 0.9);
  std::vector<std::string> op_types = cfg.strings("quantize_op_types");
  if (op_types.empty()) op_types = {"conv2d", "depthwise_conv2d", "mul"};
  not_quant_patterns_ = cfg.has("not_quant_pattern") ? cfg.strings("not_quant_pattern")
                                                     : std::vector<std::string>{"skip_quant"};
  const bool for_tensorrt = cfg.flag("for_tensorrt", false);
  const bool onnx_format = cfg.flag("onnx_format", true);
  const bool full = cfg.flag("is_full_quantize", false);
  reduce_range_ = cfg.flag("reduce_range", !for_tensorrt);
  cfg.reject_unknown_keys();

  if (weight_bits_ < 2 || weight_bits_ > 8) {
    throw Error(s + "weight_bits must be in 2..8, got " + std::to_string(weight_bits_));
  }
  if (activation_bits != 8) {
    throw Error(s + "activation_bits must be 8: ONNX QDQ activations are int8/uint8, got " +
                std::to_string(activation_bits));
  }
  observer_ = parse_observer(atype, s + "activation_quantize_type");
  if (wtype != "channel_wise_abs_max" && wtype != "abs_max") {
    throw Error(s + "weight_quantize_type: '" + wtype + "' is not channel_wise_abs_max or abs_max");
  }
  per_channel_ = wtype == "channel_wise_abs_max";
  if (window_size_ < 1 || window_size_ > 1000000) {
    throw Error(s + "window_size must be in 1..1000000, got " + std::to_string(window_size_));
  }
  if (!(rate > 0.0 && rate < 1.0)) {
    throw Error(s + "moving_rate must be in (0, 1), got " + std::to_string(rate));
  }
  moving_rate_ = static_cast<float>(rate);
  if (!onnx_format) throw Error(s + "onnx_format: false is not supported (ACT writes QDQ ONNX)");
  profile_ = for_tensorrt ? Profile::kTensorRt : Profile::kOrtCpu;
  // ACT's is_full_quantize replaces the list with every type QAT quantizes (ConvTranspose
  // stays float here: decisions.md "QuantAware").
  if (full) op_types = {"conv2d", "depthwise_conv2d", "mul", "matmul"};
  onnx_types_ = onnx_op_types(op_types, s + "quantize_op_types");
}

void QuantAware::rewrite_graph(sdk::GraphEditorV1& editor) {
  Model& m = editor.model();
  Graph& g = m.graph;
  if (m.default_opset() < 13) {
    throw Error(section_ + ": the model's opset is " + std::to_string(m.default_opset()) +
                "; per-channel QDQ needs opset 13 or newer: set Global.opset_version: 13 "
                "(act converts the model with ONNX's version converter) or re-export it");
  }
  if (is_quantized(g)) {
    throw Error(section_ + ": the model is already quantized (it has Q/DQ or QLinear nodes)");
  }
  register_fake_quant_ops(OpRegistry::global());
  // Inference BatchNormalization folds into the Conv/Gemm before it, so training sees the
  // layer the int8 file will run; its statistics stay as the model had them (decisions.md).
  fold_batch_norm(g);
  std::vector<Target> targets = select_targets(g, onnx_types_, {}, not_quant_patterns_);
  // A frozen weight is not trained here (a teacher's): it stays in float.
  std::erase_if(targets, [&](const Target& t) { return g.is_frozen(t.weight); });
  if (targets.empty()) {
    throw Error(section_ +
                ".quantize_op_types: the model has no node of those types with a constant weight "
                "to quantize");
  }
  const QdqPlan plan = plan_qdq(g, targets, profile_);

  // Initial ranges: the observer run over the first training batches, in file order.
  std::vector<std::string> observed;
  std::map<std::string, std::vector<float>> states;
  for (const std::string& v : plan.values) {
    if (plan.same_scale.count(v) != 0) continue;
    observed.push_back(v);
    states[v].assign(static_cast<std::size_t>(state_size(observer_, window_size_)), 0.0F);
  }
  if (sdk::ModelDataV1* data = sdk::model_data(editor); data != nullptr && data->samples() > 0) {
    std::vector<const char*> names;
    for (const std::string& v : observed) names.push_back(v.c_str());
    InitSink sink(observer_, moving_rate_, window_size_, states);
    sdk::throw_if_failed(
        data->run(m, names.data(), names.size(), kInitBatchSize, kInitBatches, sink));
    init_batches_ = sink.batches();
  }

  // Weights: fake-quantized exactly as write_qdq() will store them (its largest code).
  WeightOptions codes;
  codes.bits = weight_bits_;
  codes.reduce_range = reduce_range_;
  const std::int64_t qmax = weight_qmax(codes);
  for (const Target& t : plan.targets) {
    const std::string out = g.unique_name(t.weight + "_fake_quantized");
    Node n = op(g, "FakeQuantizeWeight", {t.weight}, out);
    n.attrs.set("axis", std::int64_t{t.weight_axis});
    n.attrs.set("qmax", qmax);
    n.attrs.set("per_channel", std::int64_t{per_channel_ ? 1 : 0});
    g.mutable_nodes()[t.node].inputs[1] = out;
    weight_fakes_[out] = t.weight;
    g.add_node(std::move(n));
  }

  // Ranges (frozen state the trainer updates) and PACT clips (trainable) of observed values.
  std::map<std::string, std::pair<std::string, std::string>> range_of;  // value -> state, alpha
  for (const std::string& v : observed) {
    const std::vector<float>& st = states.at(v);
    const std::string state = g.unique_name(v + "_qat_range");
    g.set_initializer(state, Tensor::from_vector(Shape{static_cast<std::int64_t>(st.size())}, st));
    g.freeze(state);
    std::string alpha;
    if (use_pact_) {
      alpha = g.unique_name(v + "_qat_alpha");
      const float start = st[2] > 0.0F ? std::max(std::fabs(st[0]), std::fabs(st[1])) : 1.0F;
      g.set_initializer(alpha, Tensor::from_vector(Shape{1}, std::vector<float>{start}));
    }
    range_of[v] = {state, alpha};
  }

  for (const std::string& v : plan.values) {
    FakeValue f;
    f.value = v;
    const auto& source = plan.same_scale.count(v) != 0 ? plan.same_scale.at(v) : v;
    std::tie(f.state, f.alpha) = range_of.at(source);
    if (const auto p = g.producer(v)) {
      f.raw = g.unique_name(v + "_float");
      for (std::string& out : g.mutable_nodes()[*p].outputs) {
        if (out == v) out = f.raw;
      }
      f.output = v;
    } else {  // a graph input: its readers move to the fake quant's output
      f.graph_input = true;
      f.raw = v;
      f.output = g.unique_name(v + "_fake_quantized");
      g.replace_all_uses(v, f.output);
    }
    std::vector<std::string> inputs = {f.raw, f.state};
    if (!f.alpha.empty()) inputs.push_back(f.alpha);
    Node fq = op(g, "FakeQuantize", inputs, f.output);
    fq.attrs.set("profile", std::int64_t{profile_ == Profile::kTensorRt ? 1 : 0});
    g.add_node(std::move(fq));
    if (source == v) {
      const std::string next = g.unique_name(f.state + "_next");
      Node obs = op(g, "QuantObserve", {f.raw, f.state}, next);
      obs.attrs.set("method", static_cast<std::int64_t>(observer_));
      obs.attrs.set("moving_rate", moving_rate_);
      obs.attrs.set("window_size", window_size_);
      g.add_node(std::move(obs));
      g.set_state_update(f.state, next);
    }
    fakes_.push_back(std::move(f));
  }
  g.topological_sort();
}

void QuantAware::finalize(sdk::GraphEditorV1& editor) {
  Graph& g = editor.graph();
  // The ranges as training left them, keyed by the float graph's value names.
  std::map<std::string, ActivationQuant> quant;
  for (const FakeValue& f : fakes_) {
    const Tensor* state = g.initializer(f.state);
    if (state == nullptr) throw Error(section_ + ": the range of '" + f.value + "' is gone");
    const float* s = state->data<float>();
    if (s[2] <= 0.0F) {
      throw Error(section_ + ": '" + f.value +
                  "' was never observed (no calibration data and no training step)");
    }
    const float alpha = f.alpha.empty() ? 0.0F : g.initializer(f.alpha)->data<float>()[0];
    quant[f.value] = range_quant(s[0], s[1], alpha, profile_);
  }

  // Back to the float graph with the trained weights.
  g.remove_nodes_if([](const Node& n) { return n.domain == kQatDomain; });
  for (const FakeValue& f : fakes_) {
    if (f.graph_input) {
      g.replace_all_uses(f.output, f.raw);
    } else if (const auto p = g.producer(f.raw)) {
      for (std::string& out : g.mutable_nodes()[*p].outputs) {
        if (out == f.raw) out = f.value;
      }
    }
  }
  for (Node& n : g.mutable_nodes()) {
    for (std::string& in : n.inputs) {
      if (const auto it = weight_fakes_.find(in); it != weight_fakes_.end()) in = it->second;
    }
  }
  for (const FakeValue& f : fakes_) {
    for (const std::string& init : {f.state, f.alpha}) {
      if (init.empty() || !g.is_initializer(init)) continue;
      g.clear_state_update(init);
      g.unfreeze(init);
      g.remove_initializer(init);
    }
  }

  std::vector<Target> targets = select_targets(g, onnx_types_, {}, not_quant_patterns_);
  std::erase_if(targets, [&](const Target& t) { return g.is_frozen(t.weight); });
  const QdqPlan plan = plan_qdq(g, targets, profile_);
  for (const std::string& v : plan.values) {
    if (quant.count(v) == 0) {
      throw Error(section_ + ": the graph changed during training; '" + v +
                  "' has no trained range (another strategy rewrote the quantized region)");
    }
  }
  WeightOptions w;
  w.bits = weight_bits_;
  w.per_channel = per_channel_;
  w.reduce_range = reduce_range_;
  summary_ = write_qdq(g, plan, quant, w);
  quantized_values_ = plan.values.size();
  sdk::throw_if_failed(editor.validate());
}

void QuantAware::report(sdk::ReportWriterV1& report) {
  static const char* const kObservers[] = {"abs_max", "moving_average_abs_max", "range_abs_max"};
  report.text("activation_quantize_type", kObservers[static_cast<int>(observer_)]);
  report.text("target", profile_ == Profile::kTensorRt ? "tensorrt" : "ort_cpu");
  report.number("use_pact", use_pact_ ? 1 : 0);
  report.number("weight_bits", weight_bits_);
  report.number("reduce_range", reduce_range_ ? 1 : 0);
  report.number("init_batches", static_cast<double>(init_batches_));
  report.number("quantized_nodes", static_cast<double>(summary_.quantized_nodes));
  report.number("quantized_values", static_cast<double>(quantized_values_));
  report.number("channel_padded_convs", static_cast<double>(summary_.channel_padded));
  report.number("float_weight_bytes", static_cast<double>(summary_.float_weight_bytes));
  report.number("quantized_weight_bytes", static_cast<double>(summary_.int_weight_bytes));
}

}  // namespace act::quant
