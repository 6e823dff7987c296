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

namespace fs = std::filesystem;

TEST(DistillResume, QuantAwareWithDistillationResumesToTheSameBytes) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  ScratchDir dir;
  const std::string train = write_idx_subset("train", 640, dir.path(), "train");
  fs::remove(dir.file("train-labels-idx1-ubyte"));  // nothing could read a label
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
  auto args = [&](const std::string& out) {
    return std::vector<std::string>{"compress",    "--config",   config, "--model",
                                    kBundledModel, "--data",     train,  "--eval-data",
                                    eval,          "--save-dir", out,    "--checkpoint-iter",
                                    "5",           "--threads",  "2"};
  };
  const std::string full = dir.file("full");
  ASSERT_EQ(wait_exit(spawn_act(args(full), dir.file("full.log"))), 0)
      << read_bytes(dir.file("full.log"));

  EXPECT_NE(read_bytes(dir.file("full.log")).find("(distill+quant)"), std::string::npos)
      << "not one stage of the distill and quant plugins: " << read_bytes(dir.file("full.log"));

  const std::string cut = dir.file("cut");
  const pid_t pid = spawn_act(args(cut), dir.file("cut.log"));
  ASSERT_TRUE(kill_at_checkpoint(pid, cut + "/checkpoint.actckpt", 25))
      << "the run finished before a checkpoint appeared: " << read_bytes(dir.file("cut.log"));
  EXPECT_EQ(wait_exit(pid), -SIGKILL);
  EXPECT_FALSE(fs::exists(cut + "/model.onnx")) << "a killed run left a model behind";

  std::vector<std::string> again = args(cut);
  again.push_back("--resume");
  ASSERT_EQ(wait_exit(spawn_act(again, dir.file("resume.log"))), 0)
      << read_bytes(dir.file("resume.log"));
  EXPECT_NE(read_bytes(dir.file("resume.log")).find("resuming at step"), std::string::npos);
  const std::string model = read_bytes(full + "/model.onnx");
  EXPECT_NE(model.find("QuantizeLinear"), std::string::npos) << "the result is not quantized";
  EXPECT_EQ(read_bytes(cut + "/model.onnx"), model)
      << "the resumed run's model differs from the uninterrupted run's";
}

}  // namespace
}  // namespace act::test
