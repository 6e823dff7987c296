// --resume with the real plugins: QuantAware + Distillation (the teacher merged, the observers'
// ranges as graph state, Adam moments, a cosine schedule) killed with SIGKILL after a
// checkpoint and resumed writes the same bytes as an uninterrupted run, on images without
// labels.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "compress/compress_test_util.h"
#include "compress/spawn_act.h"

namespace act::test {
namespace {

TEST(DistillResume, QuantAwareWithDistillationResumesToTheSameBytes) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  ScratchDir dir;
  const std::string train = write_idx_subset("train", 640, dir.path(), "train");
  std::filesystem::remove(dir.file("train-labels-idx1-ubyte"));  // nothing could read a label
  const std::string eval = write_idx_subset("t10k", 200, dir.path(), "t10k");
  const std::string config = dir.file("config.yaml");
  write_bytes(config, R"(
Global:
  batch_size: 32
  seed: 11
Distillation:
  loss: l2
QuantAware:
  activation_quantize_type: moving_average_abs_max
  onnx_format: true
TrainConfig:
  train_iter: 60
  eval_iter: 20
  learning_rate:
    type: CosineAnnealingDecay
    learning_rate: 0.0005
  optimizer_builder:
    optimizer:
      type: Adam
)");
  const auto args = checkpointed_compress(config, train, eval);
  ResumeOutcome r;
  ASSERT_NO_FATAL_FAILURE(r = run_killed_and_resumed(args, dir.path().string(), 25));
  EXPECT_NE(r.full_log.find("(distill+quant)"), std::string::npos)
      << "not one stage of the distill and quant plugins: " << r.full_log;
  EXPECT_NE(r.full_model.find("QuantizeLinear"), std::string::npos)
      << "the result is not quantized";
  EXPECT_FALSE(r.resumed_model.empty());
  EXPECT_EQ(r.resumed_model, r.full_model)
      << "the resumed run's model differs from the uninterrupted run's";
}

}  // namespace
}  // namespace act::test
