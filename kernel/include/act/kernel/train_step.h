// One supervised training step over an imported inference graph: forward, cross-entropy
// against one-hot labels, backward, optional clipping, optimizer update. A convenience over
// GraphTrainer (graph_trainer.h) for the common case of images in, logits out, no strategy
// hooks in between; `act compress` uses GraphTrainer directly.
//
// Ownership: a TrainStep owns its copy of the graph (the caller's is untouched).
// Threading: one step() at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "act/kernel/graph_trainer.h"
#include "act/kernel/optimizer.h"

namespace act {

struct TrainStepOptions {
  // Initializers to train; empty: GraphTrainer's default rule.
  std::vector<std::string> trainable;
  OptimizerConfig optimizer;
  double clip_norm = 0.0;        // 0: no clipping
  std::int64_t batch_size = 32;  // fixed: backward needs static shapes
  // BatchNorm with batch statistics and running statistics written back (graph_trainer.h).
  bool batch_statistics = false;
  bool profile = false;  // per-node times of the training graph, see trainer().profile()
};

class TrainStep {
 public:
  // `input` and `logits` name the model's image input and its [N, classes] output.
  TrainStep(const Graph& model, std::int64_t opset, const std::string& input,
            const std::string& logits, TrainStepOptions options);

  // images [batch, ...] and one-hot labels [batch, classes]; returns the loss before the update.
  // Throws act::Error on a non-finite loss (nothing is updated then).
  double step(const Tensor& images, const Tensor& labels, double lr);

  // The model graph with the current weights, its inputs as declared (batch not baked in).
  Graph model() const { return trainer_->graph(); }
  const std::vector<std::string>& trainable() const { return trainer_->trainable(); }
  std::size_t backward_nodes() const { return trainer_->backward_nodes(); }
  GraphTrainer& trainer() { return *trainer_; }

 private:
  std::string input_;
  std::unique_ptr<GraphTrainer> trainer_;
};

}  // namespace act
