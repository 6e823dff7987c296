// Helpers the kernel test files share: building nodes and running a single op.
#pragma once

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "act/kernel/executor.h"
#include "act/kernel/graph.h"

namespace act::test {

// Deterministic f32 tensor with elements drawn from N(mean, stddev^2).
inline Tensor normal_tensor(Shape shape, std::uint32_t seed, float mean = 0.0F,
                            float stddev = 1.0F) {
  Tensor t(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, stddev);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

inline Node make_node(std::string name, std::string op, std::vector<std::string> in,
                      std::vector<std::string> out, Attributes attrs = {},
                      std::string domain = "") {
  Node n;
  n.name = std::move(name);
  n.op_type = std::move(op);
  n.domain = std::move(domain);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.attrs = std::move(attrs);
  return n;
}

// Runs one `op` node with every defined input fed at run time (an undefined Tensor marks an
// omitted optional input) and returns its `outputs` outputs.
inline std::vector<Tensor> run_node(const std::string& op, const std::vector<Tensor>& inputs,
                                    const Attributes& attrs = {}, int outputs = 1,
                                    std::int64_t opset = 17) {
  Graph g;
  Node n;
  n.name = "n";
  n.op_type = op;
  n.attrs = attrs;
  std::map<std::string, Tensor> feeds;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      n.inputs.emplace_back();
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    n.inputs.push_back(name);
    g.add_input(ValueInfo{name});
    feeds[name] = inputs[i];
  }
  for (int o = 0; o < outputs; ++o) {
    n.outputs.push_back("out" + std::to_string(o));
    g.add_output(ValueInfo{n.outputs.back()});
  }
  g.add_node(n);
  return Executor(g, opset).run(feeds).outputs;
}

}  // namespace act::test
