#include "act/kernel/train_step.h"

#include <cmath>

namespace act {

TrainStep::TrainStep(const Graph& model, std::int64_t opset, const std::string& input,
                     const std::string& logits, TrainStepOptions options)
    : input_(input) {
  GraphTrainerOptions o;
  o.data_inputs = {input};
  o.logits = logits;
  o.trainable = std::move(options.trainable);
  o.batch_size = options.batch_size;
  o.optimizer = options.optimizer;
  o.clip_norm = options.clip_norm;
  o.batch_statistics = options.batch_statistics;
  o.profile = options.profile;
  trainer_ = std::make_unique<GraphTrainer>(model, opset, std::move(o));
}

double TrainStep::step(const Tensor& images, const Tensor& labels, double lr) {
  const LossParts loss =
      trainer_->forward_backward({{input_, images}, {GraphTrainer::kLabelsInput, labels}}, {});
  ACT_CHECK(std::isfinite(loss.total), "training: the loss is ", loss.total,
            "; stopping before the update");
  trainer_->apply(lr);
  return loss.total;
}

}  // namespace act
