#include "act/kernel/train_step.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "act/kernel/autograd.h"
#include "act/kernel/losses.h"
#include "act/kernel/passes.h"

namespace act {

TrainStep::TrainStep(const Graph& model, std::int64_t opset, const std::string& input,
                     const std::string& logits, TrainStepOptions options)
    : model_(model),
      opset_(opset),
      input_(input),
      optimizer_(options.optimizer),
      options_(options) {
  ACT_CHECK(options_.batch_size >= 1, "training: batch size must be >= 1, got ",
            options_.batch_size);
  constexpr float kBatchNormMomentum = 0.9F;  // ONNX's form of PyTorch's default 0.1
  std::set<std::string> stats;                // running statistics: updated, not trained
  if (options_.batch_statistics) {
    Graph probe = model_;
    for (const auto& u : use_batch_statistics(probe, kBatchNormMomentum))
      stats.insert(u.initializer);
  }
  trainable_ = options_.trainable;
  if (trainable_.empty()) {
    for (const auto& [name, t] : model_.initializers()) {
      if (t.dtype() == DType::kF32 && t.rank() >= 1 && !model_.is_graph_input(name) &&
          stats.count(name) == 0) {
        trainable_.push_back(name);
      }
    }
  }
  // Own the weights (and the running statistics step() writes): clone them so updates never
  // reach the caller's tensors.
  std::vector<std::string> owned = trainable_;
  owned.insert(owned.end(), stats.begin(), stats.end());
  for (const auto& name : owned) {
    const Tensor* t = model_.initializer(name);
    ACT_CHECK(t != nullptr, "training: '", name, "' is not an initializer of the model");
    model_.set_initializer(name, t->clone());
  }
  original_inputs_ = model_.inputs();
  // Fix the batch dimension: backward needs static shapes.
  bool found = false;
  for (auto& in : model_.mutable_inputs()) {
    if (in.name != input) continue;
    found = true;
    ACT_CHECK(in.has_shape && !in.shape.empty(), "training: input '", input, "' has no shape");
    in.shape[0] = Dim{options_.batch_size, ""};
  }
  ACT_CHECK(found, "training: the model has no input named '", input, "'");
  model_.clear_value_infos();
  // The training graph declares its own outputs (loss, gradients); without the model's, shape
  // inference records every value, the logits included.
  train_graph_ = model_;
  train_graph_.mutable_outputs().clear();
  if (options_.batch_statistics)
    running_stats_ = use_batch_statistics(train_graph_, kBatchNormMomentum);
  infer_shapes(train_graph_, opset_);
  const ValueInfo* out = train_graph_.value_info(logits);
  ACT_CHECK(out != nullptr && out->fully_known() && out->shape.size() == 2, "training: output '",
            logits, "' must have a known [batch, classes] shape, got ",
            out ? out->shape_string() : std::string("nothing"));
  train_graph_.add_input(
      ValueInfo::from_tensor("labels", Tensor(DType::kF32, out->concrete_shape())));
  loss_ = add_cross_entropy(train_graph_, logits, "labels");
  infer_shapes(train_graph_, opset_);
  const std::size_t before = train_graph_.nodes().size();
  const BackwardResult back =
      build_backward(train_graph_, loss_, trainable_, opset_, OpRegistry::global());
  backward_nodes_ = train_graph_.nodes().size() - before;
  train_graph_.add_output(ValueInfo{loss_});
  for (const auto& p : trainable_) {
    grad_names_.push_back(back.grads.at(p));
    train_graph_.add_output(ValueInfo{grad_names_.back()});
  }
  for (const auto& u : running_stats_) train_graph_.add_output(ValueInfo{u.updated});
  executor_ = std::make_unique<Executor>(train_graph_, opset_);
}

TrainStep::~TrainStep() = default;

double TrainStep::step(const Tensor& images, const Tensor& labels, double lr) {
  RunResult r = executor_->run({{input_, images}, {"labels", labels}});
  const double loss = r.outputs[0].data<float>()[0];
  ACT_CHECK(std::isfinite(loss), "training: the loss is ", loss, "; stopping before the update");
  std::vector<ParamGrad> pg;
  for (std::size_t i = 0; i < trainable_.size(); ++i) {
    pg.push_back({trainable_[i], *train_graph_.initializer(trainable_[i]), r.outputs[i + 1]});
  }
  if (options_.clip_norm > 0.0) clip_by_global_norm(pg, options_.clip_norm);
  optimizer_.step(pg, lr);
  // New running statistics, in place: model_ and the executor share these tensors' storage.
  for (std::size_t i = 0; i < running_stats_.size(); ++i) {
    const Tensor& fresh = r.outputs[1 + trainable_.size() + i];
    Tensor stat = *train_graph_.initializer(running_stats_[i].initializer);
    ACT_CHECK(fresh.numel() == stat.numel() && stat.dtype() == DType::kF32,
              "training: ", running_stats_[i].updated, " ", fresh.describe(), " does not fit ",
              running_stats_[i].initializer, " ", stat.describe());
    std::copy_n(fresh.data<float>(), fresh.numel(), stat.data<float>());
  }
  return loss;
}

Graph TrainStep::model() const {
  Graph g = model_;
  g.mutable_inputs() = original_inputs_;  // the batch dimension as the model declared it
  g.clear_value_infos();
  return g;
}

}  // namespace act
