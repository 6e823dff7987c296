// One supervised training step over an imported inference graph: forward, cross-entropy
// against one-hot labels, backward (autograd.h), optional clipping, optimizer update of the
// trainable initializers in place. The training loop, data and configs live in the host; this
// is the part every strategy shares.
//
// Ownership: a TrainStep owns its copy of the graph (the caller's is untouched; weights share
// storage until the first update writes them, see below). Threading: one step() at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "act/kernel/batch_statistics.h"
#include "act/kernel/executor.h"
#include "act/kernel/graph.h"
#include "act/kernel/optimizer.h"

namespace act {

struct TrainStepOptions {
  // Initializers to train; empty: every f32 initializer with at least one dimension.
  std::vector<std::string> trainable;
  OptimizerConfig optimizer;
  double clip_norm = 0.0;        // 0: no clipping
  std::int64_t batch_size = 32;  // fixed: backward needs static shapes
  // BatchNorm normalizes by each batch's statistics (as PyTorch's model.train()) and the step
  // writes the updated running mean and variance (ONNX momentum 0.9, PyTorch's 0.1) back into
  // the model's initializers, which then are not trained (batch_statistics.h). False: the
  // stored statistics stay frozen.
  bool batch_statistics = false;
};

class TrainStep {
 public:
  // `model` is copied and its trained weights are cloned (so the caller's tensors are never
  // written). `input` and `logits` name the model's image input and its [N, classes] output.
  TrainStep(const Graph& model, std::int64_t opset, const std::string& input,
            const std::string& logits, TrainStepOptions options);
  ~TrainStep();

  // images [batch, ...] and one-hot labels [batch, classes]; returns the loss before the update.
  // Throws act::Error on a non-finite loss (nothing is updated then).
  double step(const Tensor& images, const Tensor& labels, double lr);

  // The model graph with the current weights (shares storage with the training state) and
  // its inputs as declared (the training batch size is not baked in).
  Graph model() const;
  const std::vector<std::string>& trainable() const { return trainable_; }
  std::size_t backward_nodes() const { return backward_nodes_; }

 private:
  Graph train_graph_;
  Graph model_;
  std::vector<ValueInfo> original_inputs_;
  std::int64_t opset_;
  std::string input_, loss_;
  std::vector<std::string> trainable_, grad_names_;
  std::vector<RunningStatUpdate> running_stats_;  // batch_statistics: outputs after the grads
  std::unique_ptr<Executor> executor_;
  Optimizer optimizer_;
  TrainStepOptions options_;
  std::size_t backward_nodes_ = 0;
};

}  // namespace act
