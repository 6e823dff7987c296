// Reverse-mode autograd over the graph IR.
//
// Backward is built as more graph: build_backward() appends, for every node between the
// parameters and the loss, the nodes its op's gradient builder emits, and returns the names of
// the gradient values. One Executor then runs forward and backward together, keeping exactly
// the activations backward reads (the executor frees every value after its last reader), and
// a caller reads gradients as outputs or taps.
//
// Gradient builders are written once per op, device-independently, mostly from other ops
// (ggml's approach); a few ops get helper kernels in domain "act" (SumToShape, the conv and
// pool gradients). Plugins register builders for their own ops the same way
// (OpRegistry::set_gradient), which is how straight-through and custom gradients work.
//
// What needs no gradient gets none: only nodes on a path from a `wrt` value to the loss are
// differentiated, so frozen parameters (not listed in `wrt`) and whole no-grad regions (a
// teacher model that reads no trainable parameter) cost nothing. StopGradient (domain "act")
// cuts a path explicitly.
//
// Threading: build_backward mutates the graph; one caller at a time.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "act/kernel/graph.h"

namespace act {

class OpRegistry;

// What a gradient builder sees and fills for one forward node.
class GradContext {
 public:
  // `fresh_name(hint)` returns a value name no one uses yet.
  GradContext(Graph& graph, const Node& node, std::vector<std::string> grad_outputs,
              std::vector<bool> wants, std::function<std::string(const std::string&)> fresh_name);

  const Node& node() const { return node_; }
  const Graph& graph() const { return graph_; }
  // dL/d(output i), or "" when no gradient flows into that output.
  const std::string& grad_output(std::size_t i) const;
  // True if the caller needs dL/d(input i).
  bool wants(std::size_t i) const { return i < wants_.size() && wants_[i]; }
  // Sets dL/d(input i). Leaving it unset means "no gradient" (zero).
  void set_grad_input(std::size_t i, const std::string& value);
  const std::vector<std::string>& grad_inputs() const { return grad_inputs_; }

  // Appends a node computing one output and returns that output's (fresh) name.
  std::string emit(const std::string& op, std::vector<std::string> inputs, Attributes attrs = {},
                   const std::string& domain = "");
  // Appends a node with several outputs; returns their names.
  std::vector<std::string> emit_multi(const std::string& op, std::vector<std::string> inputs,
                                      std::size_t outputs, Attributes attrs = {},
                                      const std::string& domain = "");
  // A new f32 (or i64) constant initializer; returns its name.
  std::string constant(const Tensor& value);
  std::string scalar(float value);
  std::string ints(const std::vector<std::int64_t>& values);
  // The statically known shape of `value` (from value infos or initializers); throws
  // act::Error naming the value and the node if it is not fully known.
  Shape static_shape(const std::string& value) const;
  // dy summed over the axes that broadcasting expanded from `input` (Add, Mul, ...).
  std::string sum_to_shape_of(const std::string& dy, const std::string& input);

 private:
  Graph& graph_;
  Node node_;  // a copy: emitting nodes may reallocate the graph's node list
  std::vector<std::string> grad_outputs_;
  std::vector<bool> wants_;
  std::vector<std::string> grad_inputs_;
  std::function<std::string(const std::string&)> fresh_name_;
};

using GradFn = std::function<void(GradContext&)>;

struct BackwardResult {
  // wrt value -> name of its gradient value. A parameter the loss does not depend on maps to
  // a zero-filled value of its shape.
  std::map<std::string, std::string> grads;
  std::size_t nodes_added = 0;
};

struct BackwardOptions {
  // Fold a ReluGrad into the training-mode BatchNormTrainingGrad it alone feeds (Relu right
  // after BatchNorm); off only to compare with the unfused graph.
  bool fuse = true;
};

// Appends the backward graph of `loss` (any shape; the seed gradient is all ones, so a
// non-scalar loss means the sum of its elements) with respect to the values in `wrt`
// (initializers or graph inputs). Shapes must be inferable: call infer_shapes first if the
// graph lacks value infos. Throws act::Error naming the op and node when a needed gradient
// has no builder.
BackwardResult build_backward(Graph& graph, const std::string& loss,
                              const std::vector<std::string>& wrt, std::int64_t opset,
                              const OpRegistry& registry, const BackwardOptions& options = {});

// Registers the built-in gradient builders and their helper ops (called by
// OpRegistry::global()).
void register_builtin_gradients(OpRegistry& registry);

}  // namespace act
