// GraphEmitter: appends small subgraphs (losses, distillation terms) to a graph under a name
// prefix that no node, value or initializer of the graph starts with yet, so two losses of
// one kind in one graph never share names (Graph::unique_name only checks whole names).
//
// Every op gets one output, named like the node: "<prefix>/<OpType>_<n>"; constants become
// initializers "<prefix>/const_<n>".
// Ownership: borrows the graph for its lifetime. Threading: one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "act/kernel/attributes.h"
#include "act/kernel/graph.h"
#include "act/kernel/tensor.h"

namespace act {

class GraphEmitter {
 public:
  GraphEmitter(Graph& graph, const std::string& prefix);

  // Adds one node and returns its output's name.
  std::string op(const std::string& type, std::vector<std::string> inputs, Attributes attrs = {},
                 const std::string& domain = "");
  // act's StopGradient: the value, with no gradient flowing back through it.
  std::string stop_gradient(const std::string& value);
  std::string constant(Tensor t);
  std::string scalar(float v) { return constant(Tensor::scalar(v)); }
  std::string ints(const std::vector<std::int64_t>& v);  // an i64 vector (axes, shapes)
  const std::string& prefix() const { return prefix_; }

 private:
  Graph& graph_;
  std::string prefix_;
  int count_ = 0;
};

}  // namespace act
