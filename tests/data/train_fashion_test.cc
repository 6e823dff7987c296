// Training on real data, end to end: the bundled CNN's architecture with its weights
// re-drawn at random, trained by TrainStep on 6,400 Fashion-MNIST training images, must reach
// well above chance on the real test set, evaluated by `evaluate` (the code `act eval` runs).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "act/host/dataset.h"
#include "act/host/evaluate.h"
#include "act/host/onnx_io.h"
#include "act/kernel/train_step.h"

namespace act::host {
namespace {

const char* const kTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
const char* const kTest = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

TEST(TrainFashion, RandomlyInitializedCnnLearnsFashionMnist) {
  if (!std::filesystem::exists(kTrain)) GTEST_SKIP() << kTrain << " not installed";
  Model model = load_onnx(std::string(ACT_SOURCE_DIR) + "/models/fashion_cnn.onnx");
  // Forget what the bundled model learned: He-style random weights, zero biases.
  std::mt19937 rng(11);
  for (const auto& [name, t] : std::map<std::string, Tensor>(model.graph.initializers())) {
    if (t.dtype() != DType::kF32) continue;
    Tensor fresh(DType::kF32, t.shape());
    const std::int64_t fan_in = t.rank() > 1 ? t.numel() / t.dim(0) : 1;
    std::normal_distribution<float> n(0.0F, std::sqrt(2.0F / static_cast<float>(fan_in)));
    for (std::int64_t i = 0; i < fresh.numel(); ++i)
      fresh.data<float>()[i] = t.rank() > 1 ? n(rng) : 0.0F;
    model.graph.set_initializer(name, fresh);
  }
  const auto train = open_dataset(kTrain);
  const auto test = open_dataset(kTest);
  TrainStepOptions options;
  options.batch_size = 64;
  options.optimizer.kind = OptimizerConfig::Kind::kAdam;
  TrainStep step(model.graph, model.default_opset(), "image", "logits", options);

  BatchOptions bo;
  bo.batch_size = 64;
  bo.shuffle = true;
  bo.seed = 3;
  bo.drop_last = true;
  bo.limit = 6400;
  BatchIterator it(*train, bo);
  Batch b;
  double first = 0.0, last = 0.0;
  int steps = 0;
  while (it.next(b)) {
    Tensor onehot(DType::kF32, {64, 10});
    std::fill(onehot.data<float>(), onehot.data<float>() + onehot.numel(), 0.0F);
    for (std::int64_t i = 0; i < 64; ++i)
      onehot.data<float>()[i * 10 + b.labels->data<std::int64_t>()[i]] = 1.0F;
    const double loss = step.step(b.images, onehot, 3e-3);
    if (steps < 10) first += loss / 10;
    if (steps >= 90) last += loss / 10;
    ++steps;
  }
  ASSERT_EQ(steps, 100);
  EXPECT_LT(last, 0.6 * first) << "first " << first << " last " << last;

  Model trained = model;
  trained.graph = step.model();
  EvalOptions eo;
  eo.limit = 2000;
  const EvalResult r = evaluate(trained, *test, eo);
  std::printf("trained 100 steps: loss %.3f -> %.3f, test top-1 %.2f%% on 2000 images\n", first,
              last, 100.0 * r.top1);
  // 10 classes: chance is 10%.
  EXPECT_GT(r.top1, 0.5) << "top-1 " << r.top1;  // 65% here after 100 steps
}

}  // namespace
}  // namespace act::host
