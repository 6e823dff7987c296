// Graph IR: values, nodes, initializers, graph inputs/outputs; a small mutation API; validation.
//
// Ownership: a Graph owns its nodes and initializer tensors (tensors share storage on copy,
// so copying a Graph is cheap for weights; mutate initializers via set_initializer).
// Threading: not thread-safe; one writer at a time, no readers while it writes.
// Node order: nodes_ is kept topologically sorted by every mutation that calls
// topological_sort(); validate() checks it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "act/kernel/attributes.h"
#include "act/kernel/tensor.h"

namespace act {

class OpRegistry;

// One dimension: a known size (value >= 0) or symbolic (value == -1, param may name it).
struct Dim {
  std::int64_t value = -1;
  std::string param;
  bool known() const { return value >= 0; }
  bool operator==(const Dim&) const = default;
};

// Type and (optional) shape of a value.
struct ValueInfo {
  std::string name;
  DType dtype = DType::kF32;
  bool has_dtype = false;
  bool has_shape = false;  // false: rank unknown
  std::vector<Dim> shape;

  bool fully_known() const;
  Shape concrete_shape() const;      // requires fully_known()
  std::string shape_string() const;  // "[N, 3, 224, 224]" or "?"
  static ValueInfo from_tensor(const std::string& name, const Tensor& t);
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;                // "" is the default ONNX domain ("ai.onnx")
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;  // "" marks an omitted optional output
  Attributes attrs;
  std::string doc_string;
};

class Graph {
 public:
  std::string name;
  std::string doc_string;

  // ---- read access
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& mutable_nodes() { return nodes_; }
  const std::vector<ValueInfo>& inputs() const { return inputs_; }
  const std::vector<ValueInfo>& outputs() const { return outputs_; }
  std::vector<ValueInfo>& mutable_inputs() { return inputs_; }
  std::vector<ValueInfo>& mutable_outputs() { return outputs_; }
  const std::map<std::string, Tensor>& initializers() const { return initializers_; }
  bool is_initializer(const std::string& value) const { return initializers_.count(value) != 0; }
  const Tensor* initializer(const std::string& value) const;
  bool is_graph_input(const std::string& value) const;
  bool is_graph_output(const std::string& value) const;
  // Initializers a strategy froze (a teacher's weights, calibrated scales): training leaves
  // them alone. A training-time mark only; ONNX files do not carry it.
  bool is_frozen(const std::string& value) const { return frozen_.count(value) != 0; }
  const std::set<std::string>& frozen() const { return frozen_; }
  // Training-time state (quantization observers' ranges): initializer -> the value that holds
  // its next state. After every optimizer step the trainer copies the value, as that step's
  // forward computed it, into the initializer, and checkpoints the initializer; evaluation and
  // inference never update it. A training-time mark only, like frozen(); ONNX files do not
  // carry it (ONNX's TrainingInfoProto.update_binding is the same idea).
  const std::map<std::string, std::string>& state_updates() const { return state_updates_; }

  // Known type/shape information for intermediate values (ONNX value_info).
  const std::map<std::string, ValueInfo>& value_infos() const { return value_info_; }
  const ValueInfo* value_info(const std::string& value) const;  // inputs, outputs, inits too
  void set_value_info(ValueInfo info);
  void clear_value_infos() { value_info_.clear(); }

  // Index of the node producing `value`, or nullopt (graph input, initializer, or unknown).
  std::optional<std::size_t> producer(const std::string& value) const;
  // Indices of nodes reading `value`.
  std::vector<std::size_t> consumers(const std::string& value) const;

  // ---- mutation
  // Appends a node; call topological_sort() if it was not appended in order.
  Node& add_node(Node node);
  // Removes nodes for which pred is true (order of the rest kept).
  void remove_nodes_if(const std::function<bool(const Node&)>& pred);
  void set_initializer(const std::string& value, Tensor tensor);
  void remove_initializer(const std::string& value);
  void freeze(const std::string& value) { frozen_.insert(value); }
  void unfreeze(const std::string& value) { frozen_.erase(value); }
  void set_state_update(const std::string& initializer, const std::string& value) {
    state_updates_[initializer] = value;
  }
  void clear_state_update(const std::string& initializer) { state_updates_.erase(initializer); }
  void add_input(ValueInfo info) { inputs_.push_back(std::move(info)); }
  void add_output(ValueInfo info) { outputs_.push_back(std::move(info)); }
  // Rewrites every use of `from` (node inputs and graph outputs) to `to`.
  void replace_all_uses(const std::string& from, const std::string& to);
  // Returns `base` or `base_N`, a name no value or node uses yet.
  std::string unique_name(const std::string& base) const;
  // Stable topological sort; throws act::Error naming a value on a cycle.
  void topological_sort();

  // Checks structure: unique value producers, every input defined before use, outputs
  // produced, no cycles, every op known to `registry` with valid arity. With a registry,
  // also infers types and checks they agree. Throws act::Error with the first problem found.
  void validate(const OpRegistry* registry = nullptr) const;

 private:
  std::vector<Node> nodes_;
  std::map<std::string, Tensor> initializers_;
  std::vector<ValueInfo> inputs_;
  std::vector<ValueInfo> outputs_;
  std::map<std::string, ValueInfo> value_info_;
  std::set<std::string> frozen_;
  std::map<std::string, std::string> state_updates_;
};

// A model: a graph plus the file-level facts ONNX keeps, preserved on save.
struct Model {
  Graph graph;
  std::int64_t ir_version = 8;
  std::vector<std::pair<std::string, std::int64_t>> opset_imports;  // domain -> version
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  std::int64_t model_version = 0;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata_props;

  // Opset version of the default domain ("" or "ai.onnx"); 0 if not imported.
  std::int64_t default_opset() const;
};

}  // namespace act
