// Distillation nodes: checking configured names against a graph, ACT's automatic choice,
// and the static shapes the losses compare.
//
// Ownership: plain values. Threading: reentrant (graphs are only read).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "act/kernel/graph.h"

namespace act::distill {

// `name` as a value of `graph` (a node output or graph input). A name with ACT's "teacher_"
// prefix also matches without it, as ACT and PaddleSlim 1.x configs write teacher nodes.
// Throws act::Error "<where>: 'name' is not a value of <whose> (did you mean 'x'?)".
std::string resolve_value(const Graph& graph, const std::string& name, const std::string& whose,
                          const std::string& where);

// ACT's automatic nodes: for each graph output, the output of the last layer with weights
// (Conv, ConvTranspose, Gemm, MatMul reading an initializer) it depends on; no duplicates.
std::vector<std::string> automatic_nodes(const Graph& graph);

// Known shapes of every value, with unknown input dims (the batch) taken as 1. Throws
// act::Error naming a value whose shape cannot be inferred only when it is asked for.
class StaticShapes {
 public:
  StaticShapes(const Graph& graph, std::int64_t opset);
  // Throws act::Error "<where>: cannot infer the shape of 'value'".
  Shape of(const std::string& value, const std::string& where) const;

 private:
  Graph graph_;  // a copy with inferred value infos
};

std::string shape_text(const Shape& shape);

}  // namespace act::distill
