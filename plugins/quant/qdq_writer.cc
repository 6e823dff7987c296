#include "qdq_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>

#include "act/kernel/error.h"
#include "bias_correction.h"
#include "channel_pad.h"

namespace act::quant {
namespace {

Node make(Graph& g, const std::string& op, std::vector<std::string> inputs,
          const std::string& output, std::int64_t axis = -1) {
  Node n;
  n.name = g.unique_name(output + "_node");
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = {output};
  if (axis >= 0) n.attrs.set("axis", axis);
  return n;
}

// One Q/DQ pair reading `value`; the DQ output is named `dq_name`.
void add_qdq(Graph& g, const std::string& value, const ActivationQuant& q,
             const std::string& dq_name) {
  const std::string scale = g.unique_name(value + "_scale");
  const std::string zp = g.unique_name(value + "_zero_point");
  g.set_initializer(scale, Tensor::scalar(q.scale));
  Tensor zero_point = Tensor::zeros(q.is_unsigned ? DType::kU8 : DType::kI8, Shape{});
  if (q.is_unsigned) {
    zero_point.data<std::uint8_t>()[0] = static_cast<std::uint8_t>(q.zero_point);
  } else {
    zero_point.data<std::int8_t>()[0] = static_cast<std::int8_t>(q.zero_point);
  }
  g.set_initializer(zp, std::move(zero_point));
  const std::string quantized = g.unique_name(value + "_quantized");
  g.add_node(make(g, "QuantizeLinear", {value, scale, zp}, quantized));
  g.add_node(make(g, "DequantizeLinear", {quantized, scale, zp}, dq_name));
}

// Per-channel (or per-tensor) symmetric scales of `w` along `axis`.
std::vector<float> scales_along(const Tensor& w, int axis, const WeightOptions& o, int qmax) {
  const Shape& s = w.shape();
  const std::int64_t channels = o.per_channel ? s[static_cast<std::size_t>(axis)] : 1;
  std::int64_t inner = 1;
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  std::vector<float> absmax(static_cast<std::size_t>(channels), 0.0F);
  const float* x = w.data<float>();
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    const std::int64_t c = o.per_channel ? (i / inner) % channels : 0;
    absmax[static_cast<std::size_t>(c)] =
        std::max(absmax[static_cast<std::size_t>(c)], std::fabs(x[i]));
  }
  std::vector<float> scales;
  for (float m : absmax) scales.push_back(m > 0.0F ? m / static_cast<float>(qmax) : 1.0F);
  return scales;
}

// Bias correction for one target: writes the corrected float bias as a new initializer (the
// target reads it from now on) and returns its name, or the old bias when nothing applies.
std::string correct_bias(Graph& g, const Target& t, const Tensor& w, const Tensor& wq,
                         const std::vector<float>& scales, std::int64_t inner,
                         const std::vector<double>& means, QdqSummary& summary) {
  const auto channels = static_cast<std::int64_t>(scales.size());
  Tensor dequantized(DType::kF32, w.shape());
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    const float s = scales[static_cast<std::size_t>(channels > 1 ? (i / inner) % channels : 0)];
    dequantized.data<float>()[i] = static_cast<float>(wq.data<std::int8_t>()[i]) * s;
  }
  Node& node = g.mutable_nodes()[t.node];
  const auto shift = output_shift(node, t, w, dequantized, means);
  if (!shift) return t.bias;
  const auto outputs = static_cast<std::int64_t>(shift->size());
  Tensor b = Tensor::zeros(DType::kF32, Shape{outputs});
  if (!t.bias.empty()) {
    const Tensor* old = g.initializer(t.bias);
    if (old->rank() != 1 || old->numel() != outputs) return t.bias;
    std::copy(old->data<float>(), old->data<float>() + outputs, b.data<float>());
  } else if (node.op_type == "MatMul") {
    return t.bias;  // no bias input to correct through
  }
  for (std::int64_t o = 0; o < outputs; ++o)
    b.data<float>()[o] -= (*shift)[static_cast<std::size_t>(o)];
  const std::string name = g.unique_name(t.weight + "_corrected_bias");
  g.set_initializer(name, std::move(b));
  if (node.inputs.size() < 3) node.inputs.resize(3);
  node.inputs[2] = name;
  ++summary.bias_corrected;
  return name;
}

}  // namespace

int weight_qmax(const WeightOptions& o) {
  // reduce_range exists for the saturation of 8-bit u8 x s8 pairs (the AVX2 trap: vpmaddubsw
  // adds two u8 x s8 products in 16 bits). |q| <= 64 keeps 2 x 255 x 64 = 32,640 below 32,767,
  // as ONNX Runtime's reduce_range does ([-64, 64]); 63 cost the bundled CNN 0.1 point
  // against it. Narrower weights cannot saturate, and dropping a bit from 2-bit weights would
  // zero them.
  if (o.reduce_range && o.bits == 8) return 64;
  return (1 << (o.bits - 1)) - 1;
}

std::vector<float> weight_scales(const Tensor& w, int axis, const WeightOptions& o) {
  return scales_along(w, axis, o, weight_qmax(o));
}

ActivationQuant activation_quant(float min, float max, float threshold, Profile profile) {
  ActivationQuant q;
  const float t = threshold > 0.0F ? threshold : 1.0F;
  if (profile == Profile::kTensorRt) {
    q.scale = t / 127.0F;
    return q;
  }
  q.is_unsigned = true;
  if (min >= 0.0F) {
    q.scale = t / 255.0F;
    return q;
  }
  // The range must hold 0 exactly (padding, Relu) and stay within the clipping threshold.
  const float lo = std::min(std::max(min, -t), 0.0F);
  const float hi = std::max(std::min(max, t), 0.0F);
  q.scale = hi > lo ? (hi - lo) / 255.0F : 1.0F;
  q.zero_point = static_cast<int>(std::clamp(std::nearbyint(-lo / q.scale), 0.0F, 255.0F));
  return q;
}

QdqSummary write_qdq(Graph& graph, const QdqPlan& plan,
                     const std::map<std::string, ActivationQuant>& activations,
                     const WeightOptions& weights) {
  ACT_CHECK(weights.bits >= 2 && weights.bits <= 8, "weight_bits must be in 2..8, got ",
            weights.bits);
  const int qmax = weight_qmax(weights);
  auto quant_of = [&](const std::string& v) -> const ActivationQuant& {
    auto it = activations.find(v);
    ACT_CHECK(it != activations.end(), "quantization: no calibration for '", v, "'");
    return it->second;
  };
  QdqSummary summary;

  // Weights and biases first, while the plan's node indices still hold (only appends so far).
  std::vector<std::string> replaced;  // float weights and biases the integer ones replace
  for (const Target& t : plan.targets) {
    const ActivationQuant& xq = quant_of(t.activation);
    // Weight: int8 values and their scales along the output-channel axis.
    const Tensor w = *graph.initializer(t.weight);
    const std::vector<float> scales = scales_along(w, t.weight_axis, weights, qmax);
    const Shape& ws = w.shape();
    std::int64_t inner = 1;
    for (std::size_t d = static_cast<std::size_t>(t.weight_axis) + 1; d < ws.size(); ++d)
      inner *= ws[d];
    const auto channels = static_cast<std::int64_t>(scales.size());
    Tensor wq(DType::kI8, ws);
    const auto chosen = weights.codes != nullptr ? weights.codes->find(t.weight)
                                                 : std::map<std::string, Tensor>::const_iterator{};
    if (weights.codes != nullptr && chosen != weights.codes->end()) {
      ACT_CHECK(chosen->second.shape() == ws && chosen->second.dtype() == DType::kI8,
                "quantization: the codes given for '", t.weight, "' do not fit it");
      wq = chosen->second.clone();
    } else {
      for (std::int64_t i = 0; i < w.numel(); ++i) {
        const float s = scales[static_cast<std::size_t>(channels > 1 ? (i / inner) % channels : 0)];
        const float q = std::nearbyint(w.data<float>()[i] / s);
        wq.data<std::int8_t>()[i] = static_cast<std::int8_t>(
            std::clamp(q, static_cast<float>(-qmax), static_cast<float>(qmax)));
      }
    }
    const std::string wq_name = graph.unique_name(t.weight + "_quantized");
    const std::string ws_name = graph.unique_name(t.weight + "_scale");
    const std::string wz_name = graph.unique_name(t.weight + "_zero_point");
    graph.set_initializer(wq_name, wq);
    Tensor scale_t(DType::kF32, channels > 1 ? Shape{channels} : Shape{});
    std::copy(scales.begin(), scales.end(), scale_t.data<float>());
    graph.set_initializer(ws_name, scale_t);
    graph.set_initializer(wz_name, Tensor::zeros(DType::kI8, scale_t.shape()));
    const std::string w_dq = graph.unique_name(t.weight + "_dequantized");
    graph.add_node(make(graph, "DequantizeLinear", {wq_name, ws_name, wz_name}, w_dq,
                        channels > 1 ? t.weight_axis : -1));
    summary.float_weight_bytes += w.nbytes();
    summary.int_weight_bytes += wq.nbytes() + scale_t.nbytes() + scale_t.numel();

    graph.mutable_nodes()[t.node].inputs[1] = w_dq;

    std::string bias = t.bias;
    if (weights.input_means != nullptr) {
      if (auto means = weights.input_means->find(t.activation); means != weights.input_means->end())
        bias = correct_bias(graph, t, w, wq, scales, inner, means->second, summary);
    }
    replaced.insert(replaced.end(), {t.weight, t.bias, bias});

    // Bias: int32 with scale s_x * s_w[c], the form the integer kernels accumulate in.
    if (!bias.empty()) {
      const Tensor b = *graph.initializer(bias);
      if (b.rank() == 1 && (channels == 1 || b.numel() == channels)) {
        Tensor bq(DType::kI32, b.shape());
        Tensor bs(DType::kF32, b.shape());
        for (std::int64_t i = 0; i < b.numel(); ++i) {
          const float s = xq.scale * scales[static_cast<std::size_t>(channels > 1 ? i : 0)];
          bs.data<float>()[i] = s;
          const double q = std::nearbyint(static_cast<double>(b.data<float>()[i]) / s);
          bq.data<std::int32_t>()[i] = static_cast<std::int32_t>(
              std::clamp(q, static_cast<double>(std::numeric_limits<std::int32_t>::min()),
                         static_cast<double>(std::numeric_limits<std::int32_t>::max())));
        }
        const std::string bq_name = graph.unique_name(bias + "_quantized");
        const std::string bs_name = graph.unique_name(bias + "_scale");
        graph.set_initializer(bq_name, bq);
        graph.set_initializer(bs_name, bs);
        const std::string b_dq = graph.unique_name(bias + "_dequantized");
        graph.mutable_nodes()[t.node].inputs[2] = b_dq;
        // No zero point: int32 bias is symmetric, and the input omitted means 0.
        graph.add_node(make(graph, "DequantizeLinear", {bq_name, bs_name}, b_dq, 0));
        summary.float_weight_bytes += b.nbytes();
        summary.int_weight_bytes += bq.nbytes() + bs.nbytes();
      }
    }
    ++summary.quantized_nodes;
  }

  // An absorbed Relu/Clip: its producer writes the activation's output name directly, and the
  // u8 Q planned on that name does the clamping.
  const std::set<std::string> absorbed(plan.absorbed.begin(), plan.absorbed.end());
  for (const Node& n : std::vector<Node>(graph.nodes())) {
    if (absorbed.count(n.name) == 0) continue;
    const auto p = graph.producer(n.inputs.at(0));
    ACT_CHECK(p.has_value(), "quantization: '", n.name, "' has no producer to absorb it");
    for (std::string& out : graph.mutable_nodes()[*p].outputs) {
      if (out == n.inputs[0]) out = n.outputs.at(0);
    }
  }
  std::set<std::string> bounds;  // Clip's min/max, dead once the Clip is gone
  for (const Node& n : graph.nodes()) {
    if (absorbed.count(n.name) != 0) bounds.insert(n.inputs.begin() + 1, n.inputs.end());
  }
  graph.remove_nodes_if([&](const Node& n) { return absorbed.count(n.name) != 0; });
  std::set<std::string> dead;
  for (const std::string& v : bounds) {
    if (graph.consumers(v).empty() && !graph.is_graph_output(v)) dead.insert(v);
  }
  graph.remove_nodes_if([&](const Node& n) {
    return n.op_type == "Constant" && n.outputs.size() == 1 && dead.count(n.outputs[0]) != 0;
  });

  for (const std::string& v : plan.values) {
    const ActivationQuant& q = quant_of(v);
    if (const auto p = graph.producer(v)) {
      const std::string raw = graph.unique_name(v + "_float");
      for (std::string& out : graph.mutable_nodes()[*p].outputs) {
        if (out == v) out = raw;
      }
      add_qdq(graph, raw, q, v);
    } else {  // a graph input: its readers move to the DQ
      const std::string dq = graph.unique_name(v + "_dequantized");
      graph.replace_all_uses(v, dq);
      add_qdq(graph, v, q, dq);
    }
  }

  if (plan.profile == Profile::kOrtCpu) {
    const ChannelPadding padding = pad_conv_input_channels(graph);
    summary.channel_padded = padding.convolutions;
    summary.int_weight_bytes += padding.added_bytes;
  }

  // Float weights and biases nobody reads any more.
  std::set<std::string> read;
  for (const Node& n : graph.nodes()) read.insert(n.inputs.begin(), n.inputs.end());
  for (const std::string& v : replaced) {
    if (!v.empty() && read.count(v) == 0 && !graph.is_graph_output(v) && graph.is_initializer(v))
      graph.remove_initializer(v);
  }
  graph.topological_sort();
  return summary;
}

}  // namespace act::quant
