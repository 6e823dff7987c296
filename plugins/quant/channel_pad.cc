#include "channel_pad.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace act::quant {
namespace {

// The DequantizeLinear producing `value`, or nullopt.
std::optional<Node> dequantizer_of(const Graph& g, const std::string& value) {
  const auto p = g.producer(value);
  if (!p || g.nodes()[*p].op_type != "DequantizeLinear" || !g.nodes()[*p].domain.empty()) {
    return std::nullopt;
  }
  return g.nodes()[*p];
}

bool all_zero(const Tensor& t) {
  const auto* b = reinterpret_cast<const unsigned char*>(t.raw_data());
  return std::all_of(b, b + t.nbytes(), [](unsigned char c) { return c == 0; });
}

Node renamed(const Graph& g, Node n, std::vector<std::string> inputs, const std::string& output) {
  n.name = g.unique_name(output + "_node");
  n.inputs = std::move(inputs);
  n.outputs = {output};
  return n;
}

}  // namespace

ChannelPadding pad_conv_input_channels(Graph& graph) {
  ChannelPadding done;
  std::set<std::string> maybe_dead;  // DQ outputs and initializers the padded copies replace
  const std::size_t count = graph.nodes().size();
  for (std::size_t i = 0; i < count; ++i) {
    const Node conv = graph.nodes()[i];  // a copy: add_node() below may move the nodes
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.inputs.size() < 2) continue;
    if (conv.attrs.get_int("group", 1) != 1) continue;
    const auto x_dq = dequantizer_of(graph, conv.inputs[0]);
    const auto w_dq = dequantizer_of(graph, conv.inputs[1]);
    if (!x_dq || !w_dq || x_dq->inputs.size() < 3) continue;
    const Tensor* x_zero = graph.initializer(x_dq->inputs[2]);
    const Tensor* w = graph.initializer(w_dq->inputs[0]);
    const Tensor* x_scale = graph.initializer(x_dq->inputs[1]);
    if (x_zero == nullptr || x_zero->dtype() != DType::kU8 || x_zero->numel() != 1) continue;
    if (x_scale == nullptr || x_scale->numel() != 1) continue;  // per-tensor: padding fits it
    if (w == nullptr || w->dtype() != DType::kI8 || w->rank() != 4) continue;
    // ONNX Runtime's symmetric kernels need every weight zero point at 0 (ours always are).
    if (w_dq->inputs.size() >= 3 && !w_dq->inputs[2].empty()) {
      const Tensor* w_zero = graph.initializer(w_dq->inputs[2]);
      if (w_zero == nullptr || !all_zero(*w_zero)) continue;
    }
    const Shape& ws = w->shape();
    const std::int64_t outputs = ws[0];
    const std::int64_t inputs = ws[1];
    if (inputs % 4 == 0 || outputs < 16 || outputs % 8 != 0) continue;

    const std::int64_t padded = (inputs + 3) / 4 * 4;
    const std::int64_t taps = ws[2] * ws[3];
    Tensor wide = Tensor::zeros(DType::kI8, Shape{outputs, padded, ws[2], ws[3]});
    for (std::int64_t o = 0; o < outputs; ++o) {
      std::memcpy(wide.data<std::int8_t>() + o * padded * taps,
                  w->data<std::int8_t>() + o * inputs * taps,
                  static_cast<std::size_t>(inputs * taps));
    }
    done.added_bytes += wide.nbytes() - w->nbytes();
    const std::string wide_name = graph.unique_name(w_dq->inputs[0] + "_channel_padded");
    graph.set_initializer(wide_name, std::move(wide));
    std::vector<std::string> w_inputs = w_dq->inputs;
    w_inputs[0] = wide_name;
    const std::string w_out = graph.unique_name(conv.inputs[1] + "_channel_padded");
    graph.add_node(renamed(graph, *w_dq, w_inputs, w_out));

    const std::string pads = graph.unique_name(conv.inputs[0] + "_channel_pads");
    graph.set_initializer(
        pads, Tensor::from_vector(Shape{8},
                                  std::vector<std::int64_t>{0, 0, 0, 0, 0, padded - inputs, 0, 0}));
    const std::string x_wide = graph.unique_name(x_dq->inputs[0] + "_channel_padded");
    Node pad;
    pad.name = graph.unique_name(x_wide + "_node");
    pad.op_type = "Pad";
    pad.inputs = {x_dq->inputs[0], pads, x_dq->inputs[2]};
    pad.outputs = {x_wide};
    graph.add_node(std::move(pad));
    const std::string x_out = graph.unique_name(conv.inputs[0] + "_channel_padded");
    std::vector<std::string> x_inputs = x_dq->inputs;
    x_inputs[0] = x_wide;
    graph.add_node(renamed(graph, *x_dq, x_inputs, x_out));

    Node& target = graph.mutable_nodes()[i];
    target.inputs[0] = x_out;
    target.inputs[1] = w_out;
    maybe_dead.insert({conv.inputs[0], conv.inputs[1], w_dq->inputs[0]});
    ++done.convolutions;
  }
  // The unpadded dequantizers nobody reads any more (another reader keeps one alive), then
  // their weight.
  std::set<std::string> dead;
  for (const std::string& v : maybe_dead) {
    if (graph.consumers(v).empty() && !graph.is_graph_output(v)) dead.insert(v);
  }
  graph.remove_nodes_if([&](const Node& n) {
    return n.op_type == "DequantizeLinear" && dead.count(n.outputs.at(0)) != 0;
  });
  for (const std::string& v : maybe_dead) {
    if (graph.is_initializer(v) && graph.consumers(v).empty() && !graph.is_graph_output(v))
      graph.remove_initializer(v);
  }
  return done;
}

}  // namespace act::quant
