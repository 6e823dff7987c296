// QuantAware end to end with the real quant plugin: a short fine-tune of the bundled CNN on
// real Fashion-MNIST images, exported as QDQ ONNX that ONNX Runtime must fuse completely and
// score as our fake-quant simulation and our executor score it (within 0.1 point, on the full
// test set); a run killed with SIGKILL and resumed gives the same bytes (observer ranges and
// PACT clips included); bad keys are refused by name.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "act/host/checkpoint.h"
#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "compress/compress_test_util.h"
#include "compress/spawn_act.h"
#include "plugins/quant/bn_model.h"
#include "plugins/quant/ort_check.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;

class QuantAware : public CompressFixture {
 protected:
  void SetUp() override { use_subsets(640, 200); }
};

constexpr const char* kTrain = R"(
TrainConfig:
  epochs: 1
  learning_rate: 0.0005
  optimizer_builder:
    optimizer:
      type: Momentum
)";

TEST_F(QuantAware, ExportThatOnnxRuntimeFusesAndScoresLikeOurFakeQuantSimulation) {
  if (!python_has("onnxruntime, onnx, numpy")) GTEST_SKIP() << "onnxruntime is not installed";
  host::CompressOptions o = options(std::string("Global:\n  batch_size: 32\nQuantAware:\n  "
                                                "quantize_op_types: [conv2d, mul]\n") +
                                    kTrain);
  o.eval_data = kFashionDir + "/t10k-images-idx3-ubyte.gz";
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  const std::string out = dir_.file("out/model.onnx");
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_EQ(number_after(report, "quantized_nodes"), 4.0) << report;
  EXPECT_GT(number_after(report, "init_batches"), 0.0) << report;
  const Model q = host::load_onnx(out);
  for (const Node& n : q.graph.nodes()) EXPECT_NE(n.domain, "act.quant") << n.name << " left over";

  const std::string ort = ort_check(out, dir_.path().string());
  ASSERT_FALSE(ort.empty());
  EXPECT_EQ(number_after(ort, "QLinearConv"), 3.0) << ort;
  EXPECT_EQ(number_after(ort, "QGemm"), 1.0) << ort;
  EXPECT_EQ(number_after(ort, "QuantizeLinear"), 1.0) << ort;
  EXPECT_EQ(number_after(ort, "DequantizeLinear"), 1.0) << ort;
  for (const char* float_op : {"Conv", "FusedConv", "Gemm", "FusedGemm", "Relu"}) {
    EXPECT_EQ(number_after(ort, float_op), -1.0) << float_op << " left in float: " << ort;
  }
  // Three scores of the same weights on the same 10,000 images: the training graph with its
  // fake quants (the stage's evaluation at its last step), our executor on the exported QDQ
  // file, ONNX Runtime's integer kernels on that file.
  const double simulated = number_after(report, "best_metric", report.find("\"stages\""));
  const double exported = number_after(report, "final_metric");
  const double theirs = number_after(ort, "top1");
  EXPECT_NEAR(exported, simulated, 0.001) << report;
  EXPECT_NEAR(theirs, simulated, 0.001) << "ONNX Runtime disagrees with the simulation";
  EXPECT_GT(exported, number_after(report, "original_metric") - 0.01) << report;
}

// Convs followed by BatchNormalization: QuantAware folds them before it places its fake
// quants, trains the folded layers, and exports a file ONNX Runtime fuses end to end.
TEST_F(QuantAware, BatchNormIsFoldedBeforeTraining) {
  if (!python_has("onnxruntime, onnx, numpy")) GTEST_SKIP() << "onnxruntime is not installed";
  const std::string bn_model = bundled_model_with_batch_norm(dir_.file("bn.onnx"));
  // Alone, and next to Distillation, whose loss terms reach no graph output and must survive
  // the fold.
  for (const char* distill : {"", "Distillation:\n  loss: l2\n"}) {
    SCOPED_TRACE(*distill != 0 ? "with Distillation" : "alone");
    host::CompressOptions o = options(std::string("Global:\n  batch_size: 32\n") + distill +
                                      "QuantAware:\n  quantize_op_types: [conv2d, mul]\n" + kTrain);
    o.model = bn_model;
    o.eval_data = kFashionDir + "/t10k-images-idx3-ubyte.gz";
    ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
    const std::string out = dir_.file("out/model.onnx");
    expect_no_batch_norm(out);
    const std::string report = read_bytes(dir_.file("out/report.json"));
    EXPECT_EQ(number_after(report, "quantized_nodes"), 4.0) << report;
    const std::string ort = ort_check(out, dir_.path().string());
    ASSERT_FALSE(ort.empty());
    EXPECT_EQ(number_after(ort, "QLinearConv"), 3.0) << ort;
    EXPECT_EQ(number_after(ort, "QuantizeLinear"), 1.0) << ort;
    EXPECT_EQ(number_after(ort, "DequantizeLinear"), 1.0) << ort;
    EXPECT_NEAR(number_after(ort, "top1"), number_after(report, "final_metric"), 0.001) << ort;
    EXPECT_GT(number_after(report, "final_metric"), number_after(report, "original_metric") - 0.01)
        << report;
  }
}

TEST_F(QuantAware, TensorRtExportIsSymmetricInt8OnWeightedOpsNextToAnotherStrategy) {
  // A third-party strategy in the same stage (the fixture's TestStrategy: a marker node on the
  // input that QuantAware's rewrite sees, step hooks, a finalize after QuantAware's).
  host::CompressOptions o =
      options(std::string("QuantAware:\n  for_tensorrt: true\n  activation_quantize_type: "
                          "abs_max\n  weight_quantize_type: abs_max\nTestStrategy:\n  "
                          "weight: 0.5\nTrainConfig:\n  train_iter: 4\n  learning_rate: "
                          "0.0001\n"));
  o.plugin_dirs = {ACT_FIXTURE_PLUGIN_DIR};
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  const Model q = host::load_onnx(dir_.file("out/model.onnx"));
  std::size_t quantize = 0, weighted = 0;
  for (const Node& n : q.graph.nodes()) {
    if (n.op_type == "QuantizeLinear") {
      ++quantize;
      EXPECT_EQ(q.graph.initializer(n.inputs.at(2))->dtype(), DType::kI8) << n.name;
      EXPECT_EQ(q.graph.initializer(n.inputs.at(1))->numel(), 1) << "per-tensor activations";
    }
    if (n.op_type == "Conv" || n.op_type == "Gemm") ++weighted;
    EXPECT_NE(n.op_type, "FakeQuantize");
  }
  EXPECT_EQ(weighted, 4U);
  EXPECT_EQ(quantize, 8U) << "one Q on the input and one on the output of each weighted op";
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("\"target\": \"tensorrt\""), std::string::npos) << report;
  EXPECT_EQ(number_after(report, "steps_begun"), 4.0) << report;
}

// is_full_quantize: the configured list is replaced by every type QAT quantizes: asking for
// nothing but Gemm still quantizes the three Convs.
TEST_F(QuantAware, FullQuantizeTakesEveryWeightedOp) {
  ASSERT_EQ(host::compress(options("QuantAware:\n  quantize_op_types: [mul]\n"
                                   "  is_full_quantize: true\n"
                                   "TrainConfig:\n  train_iter: 3\n")),
            0)
      << slurp(log_.get());
  EXPECT_EQ(number_after(read_bytes(dir_.file("out/report.json")), "quantized_nodes"), 4.0);
  ASSERT_EQ(host::compress(options("QuantAware:\n  quantize_op_types: [mul]\n"
                                   "TrainConfig:\n  train_iter: 3\n")),
            0)
      << slurp(log_.get());
  EXPECT_EQ(number_after(read_bytes(dir_.file("out/report.json")), "quantized_nodes"), 1.0);
}

TEST_F(QuantAware, BadKeysAreRefusedByName) {
  const std::string t = kTrain;
  auto has = [&](const std::string& yaml, const std::string& expected) {
    const std::string e = error_of(yaml + t);
    EXPECT_NE(e.find(expected), std::string::npos) << yaml << "\n-> " << e;
  };
  has("QuantAware:\n  moving_rat: 0.9\n", "did you mean 'moving_rate'?");
  has("QuantAware:\n  moving_rate: 1.5\n", "QuantAware.moving_rate must be in (0, 1)");
  has("QuantAware:\n  window_size: 0\n", "QuantAware.window_size must be in 1..1000000");
  has("QuantAware:\n  activation_quantize_type: hist\n",
      "QuantAware.activation_quantize_type: 'hist' is not abs_max, moving_average_abs_max or "
      "range_abs_max");
  has("QuantAware:\n  weight_quantize_type: mse\n", "QuantAware.weight_quantize_type: 'mse'");
  has("QuantAware:\n  weight_bits: 9\n", "QuantAware.weight_bits must be in 2..8");
  has("QuantAware:\n  activation_bits: 4\n", "QuantAware.activation_bits must be 8");
  has("QuantAware:\n  onnx_format: false\n", "QuantAware.onnx_format: false is not supported");
  has("QuantAware:\n  use_pact: maybe\n", "use_pact");
  has("QuantAware:\n  quantize_op_types: [matmul]\n",
      "QuantAware.quantize_op_types: the model has no node of those types");
  has("QuantAware:\n  quantize_op_types: [conv3d]\n", "conv3d");
  const std::string e = error_of("QuantAware:\n  use_pact: true\n");  // no TrainConfig
  EXPECT_NE(e.find("needs a TrainConfig"), std::string::npos) << e;
}

// The observer state and the PACT clips change every step and are not parameters of the
// optimizer: a resume that lost them would export other ranges, hence other bytes.
TEST_F(QuantAware, KilledRunResumedGivesTheSameBytes) {
  const std::string config = dir_.file("resume.yaml");
  write_bytes(config, R"(
Global:
  batch_size: 32
  seed: 3
QuantAware:
  use_pact: true
  activation_quantize_type: range_abs_max
  window_size: 8
TrainConfig:
  train_iter: 40
  eval_iter: 20
  learning_rate: 0.001
  optimizer_builder:
    optimizer:
      type: Adam
)");
  const auto args = checkpointed_compress(config, train_, eval_);
  // The checkpoint carries the observers' ranges next to the parameters.
  auto ranges_saved = [](const std::string& ckpt) {
    const host::Checkpoint ck = host::load_checkpoint(ckpt);
    std::size_t ranges = 0, clips = 0;
    for (const auto& [key, t] : ck.tensors) {
      ranges += key.rfind("stat/", 0) == 0 && key.find("_qat_range") != std::string::npos;
      clips += key.rfind("param/", 0) == 0 && key.find("_qat_alpha") != std::string::npos;
    }
    EXPECT_GT(ranges, 0U);
    EXPECT_EQ(ranges, clips) << "one PACT clip per observed value";
  };
  ResumeOutcome r;
  ASSERT_NO_FATAL_FAILURE(r = run_killed_and_resumed(args, dir_.path().string(), 15, ranges_saved));
  EXPECT_FALSE(r.resumed_model.empty());
  EXPECT_EQ(r.resumed_model, r.full_model)
      << "the resumed run's model differs from the uninterrupted run's";
}

}  // namespace
}  // namespace act::test
