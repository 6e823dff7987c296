// HyperParameterOptimization survives a kill: `act compress` is killed with SIGKILL once some
// trials are logged in QuantPost's state store, then resumed; the resumed run re-scores none of
// the logged trials and writes the very bytes an uninterrupted search writes. The state is
// gone after a completed run.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "compress/compress_test_util.h"
#include "compress/spawn_act.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;

std::size_t lines_in(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST(QuantSearch, KilledSearchResumesWithoutRescoringAndGivesTheSameModel) {
  if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  ScratchDir dir;
  const std::string train = write_idx_subset("train", 256, dir.path(), "train");
  const std::string eval = write_idx_subset("t10k", 1000, dir.path(), "t10k");
  const std::string config = dir.file("config.yaml");
  write_bytes(config,
              "Global:\n  batch_size: 32\nQuantPost:\n  batch_nums: 2\n"
              "HyperParameterOptimization:\n  ptq_algo: [abs_max, avg, hist, mse, emd, KL]\n"
              "  batch_num: [2, 4]\n  max_quant_count: 8\n");
  auto args = [&](const std::string& out) {
    return std::vector<std::string>{
        "compress",    "--config", config,       "--model", kBundledModel, "--data", train,
        "--eval-data", eval,       "--save-dir", out,       "--threads",   "2"};
  };

  const std::string full = dir.file("full");
  ASSERT_EQ(wait_exit(spawn_act(args(full), dir.file("full.log"))), 0)
      << read_bytes(dir.file("full.log"));
  EXPECT_FALSE(fs::exists(full + "/act_state")) << "a completed run left its state behind";

  const std::string cut = dir.file("cut");
  const std::string log = cut + "/act_state/stage0/QuantPost/search_trials";
  const pid_t pid = spawn_act(args(cut), dir.file("cut.log"));
  bool killed = false;
  for (int i = 0; i < 12000 && !killed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (fs::exists(log) && lines_in(log) >= 2) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    int status = 0;
    if (!killed && ::waitpid(pid, &status, WNOHANG) == pid) break;
  }
  ASSERT_TRUE(killed) << "the search finished before two trials were logged";
  EXPECT_EQ(wait_exit(pid), -SIGKILL);
  const std::size_t logged = lines_in(log);
  ASSERT_GE(logged, 2U);
  ASSERT_LT(logged, 8U) << "killed too late to test anything";

  std::vector<std::string> again = args(cut);
  again.push_back("--resume");
  ASSERT_EQ(wait_exit(spawn_act(again, dir.file("resume.log"))), 0)
      << read_bytes(dir.file("resume.log"));
  const std::string report = read_bytes(cut + "/report.json");
  EXPECT_EQ(number_after(report, "search_trials"), 8.0) << report;
  EXPECT_GE(number_after(report, "search_resumed_trials"), static_cast<double>(logged)) << report;
  EXPECT_EQ(read_bytes(cut + "/model.onnx"), read_bytes(full + "/model.onnx"))
      << "the resumed search chose or wrote a different model";
  EXPECT_FALSE(fs::exists(cut + "/act_state"));

  // Without --resume a run starts over, whatever a killed run left.
  ASSERT_EQ(wait_exit(spawn_act(args(cut), dir.file("again.log"))), 0);
  EXPECT_EQ(number_after(read_bytes(cut + "/report.json"), "search_resumed_trials"), 0.0);
}

}  // namespace
}  // namespace act::test
