// GraphTrainer: the optimizer step of `act compress`, over a graph that strategies rewrote.
//
// The loss is   task + sum_i weight_i * term_i
//   task:   cross-entropy of `logits` against one-hot labels (fed as "act_labels"), when a
//           logits value is named; a run on unlabelled data has none
//   term_i: scalar values of the graph that strategies declared (distillation losses,
//           regularizers); each weight is fed per step, so schedules change it without a
//           rebuild
// One step is split so the scheduler can run strategy hooks in between:
//   forward_backward(feeds, weights)   loss, its parts, and the gradients (gradient())
//   ... on_after_backward hooks edit gradients in place ...
//   apply(lr)                          clipping, then the optimizer update in place
//
// Trainable parameters (default): every f32 initializer of rank >= 1 that is not frozen
// (Graph::freeze), is not a BatchNormalization's running mean or variance, and that the loss
// depends on. Their tensors are cloned at construction, so the caller's graph is never written.
//
// Ownership: a GraphTrainer owns its graphs, parameters and optimizer state; tensors handed
// out share storage with them and stay valid while the trainer lives.
// Threading: one call at a time; kernels use the shared thread pool.
// Units: learning rates are plain factors; steps count optimizer updates from 0.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "act/kernel/batch_statistics.h"
#include "act/kernel/executor.h"
#include "act/kernel/graph.h"
#include "act/kernel/optimizer.h"

namespace act {

struct GraphTrainerOptions {
  // Graph inputs fed with data each step; their batch dimension is fixed to batch_size
  // (backward needs static shapes). Empty: the graph's first input.
  std::vector<std::string> data_inputs;
  std::string logits;                   // "" = no task loss
  std::vector<std::string> loss_terms;  // scalar graph values, weighted per step
  std::vector<std::string> trainable;   // empty: the default rule above
  std::int64_t batch_size = 32;
  OptimizerConfig optimizer;
  double clip_norm = 0.0;  // global-norm clipping, 0 = none
  // BatchNorm normalizes by each batch's statistics (PyTorch's model.train()); apply() writes
  // the updated running mean and variance (ONNX momentum 0.9 = PyTorch's 0.1) back into the
  // model's initializers (batch_statistics.h). False: the stored statistics stay frozen.
  // Evaluation (loss_only, graph()) always uses the running statistics.
  bool batch_statistics = false;
  // Per-node wall time of the training graph, read with profile() (benchmarks).
  bool profile = false;
};

// The loss of one batch and its parts (before the update).
struct LossParts {
  double total = 0.0;
  double task = 0.0;          // 0 without a task loss
  std::vector<double> terms;  // unweighted, in the order of GraphTrainerOptions::loss_terms
};

class GraphTrainer {
 public:
  // The name of the labels input when there is a task loss: f32 one-hot [batch, classes].
  static constexpr const char* kLabelsInput = "act_labels";

  // Throws act::Error when an input, the logits or a loss term is missing or has no static
  // shape, when a term is not a scalar, or when nothing is trainable.
  GraphTrainer(const Graph& graph, std::int64_t opset, GraphTrainerOptions options);
  ~GraphTrainer();
  GraphTrainer(const GraphTrainer&) = delete;
  GraphTrainer& operator=(const GraphTrainer&) = delete;

  // Runs forward and backward on one batch. `feeds` holds every data input (and kLabelsInput
  // with a task loss); `weights` one finite weight per loss term. A non-finite loss is
  // returned as is: the caller decides to stop (apply() refuses non-finite gradients).
  LossParts forward_backward(const std::map<std::string, Tensor>& feeds,
                             const std::vector<double>& weights);
  // The loss of one batch without backward or update (evaluation of unlabelled runs).
  LossParts loss_only(const std::map<std::string, Tensor>& feeds,
                      const std::vector<double>& weights);
  // The gradient of `name` from the last forward_backward; nullptr when none.
  Tensor* gradient(const std::string& name);
  // Clips and applies the last gradients with learning rate `lr`. Throws act::Error naming the
  // first parameter with a non-finite gradient (nothing is updated then).
  void apply(double lr);

  // Trainable parameters by name (shared storage: writes are what the optimizer sees).
  const std::vector<std::string>& trainable() const { return trainable_; }
  Tensor* parameter(const std::string& name);
  // The graph with the current weights, its inputs as the caller declared them.
  Graph graph() const;
  std::int64_t steps() const { return optimizer_.steps(); }
  std::size_t backward_nodes() const { return backward_nodes_; }
  // The training graph's per-node times (empty unless GraphTrainerOptions::profile).
  std::vector<NodeProfile> profile() const { return train_executor_->profile(); }
  // [batch, classes] of the logits with a task loss; empty without one.
  const Shape& logits_shape() const { return logits_shape_; }

  // Everything a bit-exact resume needs: "param/<name>", "opt/<name>/<slot>" and, with batch
  // statistics, "stat/<name>" tensors.
  std::map<std::string, Tensor> state() const;
  // Restores state() output; `steps` is the optimizer's step count. Throws act::Error on a
  // missing or mis-shaped entry (a checkpoint of another model or config).
  void load_state(const std::map<std::string, Tensor>& state, std::int64_t steps);

 private:
  LossParts read_loss(const RunResult& result) const;
  std::map<std::string, Tensor> with_weights(const std::map<std::string, Tensor>& feeds,
                                             const std::vector<double>& weights) const;

  GraphTrainerOptions options_;
  std::int64_t opset_;
  Graph model_;  // the caller's graph with cloned trainable weights
  std::vector<ValueInfo> declared_inputs_;
  Graph loss_graph_, train_graph_;  // forward + loss; forward + loss + backward
  std::string total_, task_;
  std::vector<std::string> weight_inputs_;
  std::vector<std::string> trainable_, grad_names_;
  std::unique_ptr<Executor> loss_executor_, train_executor_;
  std::map<std::string, Tensor> gradients_;
  std::vector<RunningStatUpdate> running_stats_;  // batch_statistics: outputs after the grads
  std::vector<Tensor> fresh_stats_;               // their values from the last forward_backward
  Optimizer optimizer_;
  std::size_t backward_nodes_ = 0;
  Shape logits_shape_;
};

}  // namespace act
