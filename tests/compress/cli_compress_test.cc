// `act compress` as users run it: bad flags, configs, models and output folders each give one
// clear message and a nonzero exit, and leave the inputs untouched and no half output behind.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "compress_test_util.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string err;
};

Result act(const ScratchDir& dir, const std::string& args) {
  const std::string cmd = "env -u ACT_PLUGIN_PATH " + kAct + " compress " + args + " </dev/null >" +
                          dir.file("stdout") + " 2>" + dir.file("stderr");
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_bytes(dir.file("stderr"))};
}

class CompressCli : public ::testing::Test {
 protected:
  std::string config(const std::string& yaml) {
    write_bytes(dir_.file("c.yaml"), yaml);
    return dir_.file("c.yaml");
  }
  ScratchDir dir_;
};

TEST_F(CompressCli, MissingConfigFlagIsAUsageError) {
  const Result r = act(dir_, "--save-dir " + dir_.file("out"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--config is required"), std::string::npos) << r.err;
}

TEST_F(CompressCli, UnknownFlagIsAUsageError) {
  const Result r = act(dir_, "--config x.yaml --save-dir out --learning-rate 3");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("learning-rate"), std::string::npos) << r.err;
}

TEST_F(CompressCli, MissingConfigFileIsNamedAndNothingIsCreated) {
  const Result r =
      act(dir_, "--config " + dir_.file("nope.yaml") + " --save-dir " + dir_.file("out"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nope.yaml"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_.file("out")));
}

TEST_F(CompressCli, UnknownTrainConfigKeyGetsASuggestion) {
  const std::string c = config("TrainConfig:\n  epochs: 1\n  eval_itr: 5\n");
  const Result r =
      act(dir_, "--config " + c + " --model " + kBundledModel + " --save-dir " + dir_.file("out"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("c.yaml:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'eval_iter'?"), std::string::npos) << r.err;
}

TEST_F(CompressCli, CorruptModelIsNamedAndNoOutputAppears) {
  write_bytes(dir_.file("bad.onnx"), "this is not protobuf at all");
  const std::string c = config("HelloNobody:\n  x: 1\n");
  const Result r = act(dir_, "--config " + c + " --model " + dir_.file("bad.onnx") +
                                 " --save-dir " + dir_.file("out"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.onnx"), std::string::npos) << r.err;
  EXPECT_EQ(read_bytes(dir_.file("bad.onnx")), "this is not protobuf at all");
  EXPECT_FALSE(fs::exists(dir_.file("out/model.onnx")));
}

TEST_F(CompressCli, RefusesToWriteOverTheInputModel) {
  fs::copy_file(kBundledModel, dir_.file("model.onnx"));
  const std::string before = read_bytes(dir_.file("model.onnx"));
  const std::string c = config("Global:\n  seed: 1\n");
  const Result r = act(dir_, "--config " + c + " --model " + dir_.file("model.onnx") +
                                 " --save-dir " + dir_.path().string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("this is the input model"), std::string::npos) << r.err;
  EXPECT_EQ(read_bytes(dir_.file("model.onnx")), before);
}

TEST_F(CompressCli, DataWithTheWrongShapeIsNamed) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  // 2-D samples [N, 5] for a model that takes [N, 1, 28, 28].
  const std::string npy = dir_.file("x.npy");
  const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (40, 5), }";
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  std::string padded = header + std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
  bytes += static_cast<char>(padded.size() & 0xFF);
  bytes += static_cast<char>(padded.size() >> 8);
  bytes += padded + std::string(40 * 5 * 4, '\0');
  write_bytes(npy, bytes);
  const std::string c = config("TrainConfig:\n  train_iter: 2\n");
  const Result r = act(dir_, "--config " + c + " --model " + kBundledModel + " --data " + npy +
                                 " --save-dir " + dir_.file("out"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("input 'image' expects [N, 1, 28, 28], but the data gives samples of [5]"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_.file("out/model.onnx")));
}

}  // namespace
}  // namespace act::test
