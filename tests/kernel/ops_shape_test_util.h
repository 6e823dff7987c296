// Helpers for the shape-family op tests: run one node through the Executor.
#pragma once

#include <string>
#include <vector>

#include "act/kernel/executor.h"
#include "act/kernel/graph.h"

namespace act::shape_test {

// Runs a single `op` node. Input 0 is fed at run time; the others are initializers (so shape
// inputs are constants, as exporters write them). An undefined Tensor marks an omitted input.
inline std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& inputs,
                                  const Attributes& attrs = {}, int outputs = 1,
                                  std::int64_t opset = 17) {
  Graph g;
  Node n;
  n.name = "node";
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
    if (i == 0) {
      g.add_input(ValueInfo{name});
      feeds[name] = inputs[i];
    } else {
      g.set_initializer(name, inputs[i]);
    }
  }
  for (int i = 0; i < outputs; ++i) {
    n.outputs.push_back("out" + std::to_string(i));
    g.add_output(ValueInfo{n.outputs.back()});
  }
  g.add_node(n);
  Executor ex(g, opset);
  return ex.run(feeds).outputs;
}

// f32 tensor holding start, start+1, ...
inline Tensor iota_f(const Shape& shape, float start = 0.0F) {
  Tensor t(DType::kF32, shape);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = start + static_cast<float>(i);
  return t;
}

inline std::vector<double> vals(const Tensor& t) {
  std::vector<double> v;
  for (std::int64_t i = 0; i < t.numel(); ++i) v.push_back(t.get_as_double(i));
  return v;
}

}  // namespace act::shape_test
