// Fusions over the nodes build_backward appended. They run after every builder, so builders
// stay one op at a time and know nothing of their neighbours.
#include <unordered_map>
#include <unordered_set>

#include "grad/builders.h"

namespace act::grad {

// Relu directly after a training-mode BatchNormalization (conv -> BN -> Relu, every CNN block):
// backward was ReluGrad(dZ, Z) -> dY, then BatchNormTrainingGrad(dY, X, scale). When dY feeds
// that one node and nothing else, the mask moves into the BatchNorm gradient as its fourth
// input, BatchNormTrainingGrad(dZ, X, scale, Z), and the ReluGrad node goes: one
// activation-sized tensor less written and read per block.
std::size_t fuse_relu_into_batchnorm_grad(Graph& graph, std::size_t first,
                                          const std::unordered_set<std::string>& keep) {
  std::unordered_map<std::string, std::size_t> readers;
  for (const Node& n : graph.nodes()) {
    for (const std::string& in : n.inputs) {
      if (!in.empty()) ++readers[in];
    }
  }
  for (const ValueInfo& out : graph.outputs()) ++readers[out.name];
  std::unordered_map<std::string, std::size_t> relu_grad_of;  // output -> node index
  for (std::size_t i = first; i < graph.nodes().size(); ++i) {
    const Node& n = graph.nodes()[i];
    if (n.op_type == "ReluGrad" && n.domain == "act" && n.inputs.size() == 2 &&
        n.outputs.size() == 1) {
      relu_grad_of[n.outputs[0]] = i;
    }
  }
  std::unordered_set<std::string> fused;  // outputs of the ReluGrad nodes folded away
  for (std::size_t i = first; i < graph.nodes().size(); ++i) {
    Node& bn = graph.mutable_nodes()[i];
    if (bn.op_type != "BatchNormTrainingGrad" || bn.domain != "act" || bn.inputs.size() != 3) {
      continue;
    }
    const std::string dy = bn.inputs[0];
    auto it = relu_grad_of.find(dy);
    if (it == relu_grad_of.end() || readers[dy] != 1 || keep.count(dy) != 0) continue;
    const Node& relu = graph.nodes()[it->second];
    if (relu.inputs[1].empty()) continue;
    bn.inputs[0] = relu.inputs[0];
    bn.inputs.push_back(relu.inputs[1]);
    fused.insert(dy);
  }
  if (fused.empty()) return 0;
  // A value has one producer, so its name identifies the node.
  graph.remove_nodes_if([&](const Node& n) {
    return n.op_type == "ReluGrad" && n.outputs.size() == 1 && fused.count(n.outputs[0]) != 0;
  });
  return fused.size();
}

}  // namespace act::grad
