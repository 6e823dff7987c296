// Checkpoints and --resume: `act compress` killed with SIGKILL after a checkpoint and resumed
// produces the very bytes an uninterrupted run produces; checkpoint files refuse corruption.
#include <gtest/gtest.h>

#include <filesystem>

#include "act/host/checkpoint.h"
#include "act/kernel/error.h"
#include "compress_test_util.h"
#include "spawn_act.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;

TEST(Resume, KilledRunResumedGivesTheSameBytesAsAnUninterruptedOne) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  ScratchDir dir;
  const std::string train = write_idx_subset("train", 640, dir.path(), "train");
  const std::string eval = write_idx_subset("t10k", 200, dir.path(), "t10k");
  const std::string config = dir.file("config.yaml");
  // 20 steps per epoch: the run crosses epochs (reshuffles) and evaluates on the way; Adam
  // keeps moment state that a resume must restore exactly.
  write_bytes(config, R"(
Global:
  batch_size: 32
  seed: 7
Distillation:
  l2_weight: 0.001
TrainConfig:
  train_iter: 150
  eval_iter: 25
  learning_rate:
    type: CosineAnnealingDecay
    learning_rate: 0.002
  optimizer_builder:
    optimizer:
      type: Adam
)");
  const auto args = checkpointed_compress(config, train, eval, {"--plugin-dir", kProbeDir});

  // Killed as soon as a checkpoint past the first epoch exists.
  ResumeOutcome r;
  ASSERT_NO_FATAL_FAILURE(r = run_killed_and_resumed(args, dir.path().string(), 25));
  EXPECT_FALSE(r.resumed_model.empty());
  EXPECT_EQ(r.resumed_model, r.full_model)
      << "the resumed run's model differs from the uninterrupted run's";
}

TEST(Checkpoint, RoundTripsTensorsAndMetadata) {
  ScratchDir dir;
  host::Checkpoint ck;
  ck.meta = {{"step", "42"}, {"fingerprint", "abc"}};
  ck.tensors["param/w"] = random_tensor({3, 4}, 1);
  Tensor steps(DType::kI64, {2});
  steps.data<std::int64_t>()[0] = 5;
  steps.data<std::int64_t>()[1] = -7;
  ck.tensors["opt/steps"] = steps;
  host::save_checkpoint(dir.file("c"), ck);
  const host::Checkpoint back = host::load_checkpoint(dir.file("c"));
  EXPECT_EQ(back.meta, ck.meta);
  ASSERT_EQ(back.tensors.size(), 2U);
  const Tensor& w = back.tensors.at("param/w");
  EXPECT_TRUE(
      std::equal(w.data<float>(), w.data<float>() + 12, ck.tensors["param/w"].data<float>()));
  EXPECT_EQ(back.tensors.at("opt/steps").data<std::int64_t>()[1], -7);
}

TEST(Checkpoint, CorruptedOrTruncatedFilesAreRefusedByName) {
  ScratchDir dir;
  host::Checkpoint ck;
  ck.meta = {{"step", "1"}};
  ck.tensors["param/w"] = random_tensor({16}, 2);
  host::save_checkpoint(dir.file("c"), ck);
  std::string bytes = read_bytes(dir.file("c"));
  auto error_for = [&](const std::string& content) {
    write_bytes(dir.file("bad"), content);
    return error_of([&] { host::load_checkpoint(dir.file("bad")); });
  };
  std::string flipped = bytes;
  flipped[40] = static_cast<char>(flipped[40] ^ 0x10);
  EXPECT_NE(error_for(flipped).find("bad: checkpoint is corrupted (checksum mismatch)"),
            std::string::npos);
  EXPECT_NE(error_for(bytes.substr(0, bytes.size() / 2)).find("checkpoint is corrupted"),
            std::string::npos);
  EXPECT_NE(error_for("hello").find("bad: not an ACT checkpoint"), std::string::npos);
  EXPECT_NE(error_for("").find("not an ACT checkpoint"), std::string::npos);
}

}  // namespace
}  // namespace act::test
