// QuantPost end to end: `act compress` with the real quant plugin on the bundled Fashion-MNIST
// CNN, calibrated on real training images, then checked by someone else's runtime: ONNX
// Runtime must fuse every quantized Conv/Gemm into its integer kernels and score what our own
// executor scores on the QDQ file (within 0.1 point, issue 4's AVX2 rule) on the full test
// set. Plus the plugin's refusals, each naming the key or the problem.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "act/host/dataset.h"
#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "compress/compress_test_util.h"
#include "onnx/checker.h"
#include "plugins/quant/bn_model.h"
#include "plugins/quant/ort_check.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;

class QuantPost : public CompressFixture {
 protected:
  void SetUp() override { use_subsets(1000, 300); }
};

TEST_F(QuantPost, Int8QdqModelThatOnnxRuntimeFusesAndScoresLikeOurSimulation) {
  if (!python_has("onnxruntime, onnx, numpy")) GTEST_SKIP() << "onnxruntime is not installed";
  host::CompressOptions o = options("QuantPost:\n  batch_nums: 10\n  algo: hist\n");
  o.eval_data = kFashionDir + "/t10k-images-idx3-ubyte.gz";
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  const std::string out = dir_.file("out/model.onnx");

  // Real int8 weights: every Conv/Gemm weight arrives through a DequantizeLinear of an int8
  // initializer; no f32 weight tensor of the original is left.
  const Model q = host::load_onnx(out);
  const Model f = host::load_onnx(kBundledModel);
  std::size_t int8_weights = 0;
  for (const auto& [name, t] : q.graph.initializers()) {
    if (t.dtype() == DType::kI8 && t.rank() >= 2) ++int8_weights;
  }
  EXPECT_EQ(int8_weights, 4U) << "3 Conv + 1 Gemm weights";
  for (const auto& [name, t] : f.graph.initializers()) {
    if (t.rank() >= 2) {
      EXPECT_EQ(q.graph.initializer(name), nullptr) << name << " kept in f32";
    }
  }
  const std::string report = read_bytes(dir_.file("out/report.json"));
  const double before = number_after(report, "float_weight_bytes");
  const double after = number_after(report, "quantized_weight_bytes");
  EXPECT_GT(before / after, 3.5) << report;
  EXPECT_LT(fs::file_size(out) * 2, fs::file_size(kBundledModel)) << "the file did not shrink";

  const std::string ort = ort_check(out, dir_.path().string());
  ASSERT_FALSE(ort.empty());
  EXPECT_EQ(number_after(ort, "QLinearConv"), 3.0) << ort;
  EXPECT_EQ(number_after(ort, "QGemm"), 1.0) << ort;
  for (const char* float_op : {"Conv", "FusedConv", "Gemm", "FusedGemm", "MatMul", "Relu"}) {
    EXPECT_EQ(number_after(ort, float_op), -1.0) << float_op << " left in float: " << ort;
  }
  // 8 bits end to end: one Q for the image, one DQ for the logits, nothing back to float in
  // between (the Relus absorbed, pooling and Flatten on u8, the average pool a QLinear op).
  EXPECT_EQ(number_after(ort, "QuantizeLinear"), 1.0) << ort;
  EXPECT_EQ(number_after(ort, "DequantizeLinear"), 1.0) << ort;
  EXPECT_EQ(number_after(ort, "QLinearGlobalAveragePool"), 1.0) << ort;
  // The 1-channel stem reads its u8 image padded to 4 channels (channel_pad.h), and ONNX
  // Runtime still fuses it (the QLinearConv count above) with the same scores (below).
  EXPECT_EQ(number_after(report, "channel_padded_convs"), 1.0) << report;
  EXPECT_EQ(number_after(ort, "Pad"), 1.0) << ort;
  const double ours = number_after(report, "final_metric");
  const double original = number_after(report, "original_metric");
  const double theirs = number_after(ort, "top1");
  EXPECT_NEAR(theirs, ours, 0.001) << "ONNX Runtime and our simulation disagree";
  EXPECT_GT(ours, original - 0.005) << "PTQ lost more than half a point: " << report;
}

// A model whose Convs are followed by BatchNormalization: QuantPost folds them first, so ONNX
// Runtime runs the file in integer kernels end to end as it does the folded model; a weight
// named in skip_tensor_list is still found by its name after the fold.
TEST_F(QuantPost, BatchNormIsFoldedBeforeQuantization) {
  if (!python_has("onnxruntime, onnx, numpy")) GTEST_SKIP() << "onnxruntime is not installed";
  const std::string bn_model = bundled_model_with_batch_norm(dir_.file("bn.onnx"));
  const Model original = host::load_onnx(bn_model);
  std::string first_weight;
  for (const Node& n : original.graph.nodes()) {
    if (n.op_type == "Conv" && first_weight.empty()) first_weight = n.inputs[1];
  }
  for (const bool skip_first : {false, true}) {
    SCOPED_TRACE(skip_first ? "first conv skipped" : "all quantized");
    std::string yaml = "QuantPost:\n  batch_nums: 10\n  algo: hist\n";
    if (skip_first) yaml += "  skip_tensor_list: ['" + first_weight + "']\n";
    host::CompressOptions o = options(yaml);
    o.model = bn_model;
    o.eval_data = kFashionDir + "/t10k-images-idx3-ubyte.gz";
    ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
    const std::string out = dir_.file("out/model.onnx");
    expect_no_batch_norm(out);
    const std::string report = read_bytes(dir_.file("out/report.json"));
    EXPECT_EQ(number_after(report, "quantized_nodes"), skip_first ? 3.0 : 4.0) << report;
    const std::string ort = ort_check(out, dir_.path().string());
    ASSERT_FALSE(ort.empty());
    EXPECT_EQ(number_after(ort, "QLinearConv"), skip_first ? 2.0 : 3.0) << ort;
    EXPECT_EQ(number_after(ort, "BatchNormalization"), -1.0) << ort;
    if (!skip_first) {
      EXPECT_EQ(number_after(ort, "QuantizeLinear"), 1.0) << ort;
      EXPECT_EQ(number_after(ort, "DequantizeLinear"), 1.0) << ort;
    }
    EXPECT_NEAR(number_after(ort, "top1"), number_after(report, "final_metric"), 0.001) << ort;
    EXPECT_GT(number_after(report, "final_metric"), number_after(report, "original_metric") - 0.005)
        << report;
  }
}

// An opset-11 export: QuantPost says how to get per-channel int8 (Global.opset_version), and
// with it the model is converted by ONNX's version converter and quantized as usual.
TEST_F(QuantPost, AnOlderOpsetIsRaisedWhenTheConfigAsks) {
  Model old = host::load_onnx(kBundledModel);
  old.opset_imports = {{"", 11}};  // the CNN's ops mean the same in opsets 11 and 13
  old.ir_version = 6;
  const std::string model = dir_.file("opset11.onnx");
  host::save_onnx(old, model);
  host::CompressOptions refused = options("QuantPost:\n  batch_nums: 4\n");
  refused.model = model;
  EXPECT_NE(compress_error(refused).find("set Global.opset_version: 13"), std::string::npos);

  host::CompressOptions o = options("Global:\n  opset_version: 13\nQuantPost:\n  batch_nums: 4\n");
  o.model = model;
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  EXPECT_NE(slurp(log_.get()).find("opset 11 raised to 13"), std::string::npos);
  const Model out = host::load_onnx(dir_.file("out/model.onnx"));
  EXPECT_EQ(out.default_opset(), 13);
  EXPECT_NE(read_bytes(dir_.file("out/report.json")).find("\"quantized_nodes\": 4"),
            std::string::npos);
}

TEST_F(QuantPost, RefusalsNameTheKeyOrTheProblem) {
  EXPECT_NE(error_of("QuantPost:\n  quantize_op_types: [matmul]\n")
                .find("QuantPost.quantize_op_types: the model has no node of those types"),
            std::string::npos);
  EXPECT_NE(error_of("QuantPost:\n  quantize_op_types: [conv2d, matmul]\n")
                .find("QuantPost.quantize_op_types: the model has no node for 'matmul' (MatMul)"),
            std::string::npos);
  EXPECT_NE(
      error_of("QuantPost:\n  weight_bits: 9\n").find("QuantPost.weight_bits must be in 2..8"),
      std::string::npos);
  EXPECT_NE(error_of("QuantPost:\n  recon_level: blockwise\n")
                .find("QuantPost.recon_level: 'blockwise' is not layer-wise or region-wise"),
            std::string::npos);
  EXPECT_NE(error_of("QuantPost:\n  algo: kl2\n").find("is not an algorithm"), std::string::npos);
  EXPECT_NE(error_of("QuantPost:\n  batch_nmus: 3\n").find("did you mean 'batch_nums'?"),
            std::string::npos);
  host::CompressOptions no_data = options("QuantPost:\n  algo: abs_max\n");
  no_data.data.clear();
  no_data.eval_data.clear();
  std::string e;
  try {
    host::compress(no_data);
  } catch (const Error& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("QuantPost needs calibration data"), std::string::npos) << e;
}

TEST_F(QuantPost, SearchKeepsTheBestTrialByMetricOrByOutputDistance) {
  const char* yaml =
      "QuantPost:\n  batch_nums: 4\nHyperParameterOptimization:\n  ptq_algo: [abs_max, hist]\n"
      "  hist_percent: [0.99, 0.9999]\n  batch_num: [2, 4]\n  max_quant_count: 3\n";
  ASSERT_EQ(host::compress(options(yaml)), 0) << slurp(log_.get());
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_EQ(number_after(report, "search_trials"), 3.0) << report;
  // Scored by top-1 on the labelled evaluation data: the kept trial's score is the final metric.
  EXPECT_NEAR(number_after(report, "search_best_score"), number_after(report, "final_metric"), 1e-4)
      << report;

  // Without labels the score is minus the mean squared output difference: negative, small.
  const host::Batch batch =
      host::open_idx(eval_)->get(std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  host::save_npy(dir_.file("unlabelled.npy"), batch.images);
  host::CompressOptions o = options(yaml);
  o.data = dir_.file("unlabelled.npy");
  o.eval_data.clear();
  o.save_dir = dir_.file("out2");
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  const std::string report2 = read_bytes(dir_.file("out2/report.json"));
  const double score = number_after(report2, "search_best_score");
  EXPECT_LT(score, 0.0) << report2;
  EXPECT_GT(score, -1.0) << report2;
}

// recon_level: layer-wise reconstructs the rounding of every quantized layer: the summed
// output error it reports is below round-to-nearest's, and the model stays int8 and valid.
TEST_F(QuantPost, LayerWiseReconstructionLowersTheOutputError) {
  ASSERT_EQ(host::compress(options("QuantPost:\n  batch_nums: 4\n  algo: hist\n"
                                   "  recon_level: layer-wise\n")),
            0)
      << slurp(log_.get());
  const std::string report = read_bytes(dir_.file("out/report.json"));
  const double nearest = number_after(report, "recon_output_error_nearest");
  const double learned = number_after(report, "recon_output_error");
  EXPECT_GT(nearest, 0.0) << report;
  EXPECT_LT(learned, 0.8 * nearest) << report;
  EXPECT_GT(number_after(report, "final_metric"), number_after(report, "original_metric") - 0.02)
      << report;
}

// recon_level: region-wise learns the rounding of each automatic region (one per layer with its
// Relu and pooling on this plain CNN) jointly: the summed region output error it reports is
// below round-to-nearest's, and the int8 model passes ONNX's checker and scores in ONNX Runtime
// what our executor scores.
TEST_F(QuantPost, RegionWiseReconstructionLowersTheRegionErrorAndRunsInOnnxRuntime) {
  host::CompressOptions o = options(
      "QuantPost:\n  batch_nums: 4\n  algo: hist\n  recon_level: region-wise\n  epochs: 2\n");
  o.eval_data = kFashionDir + "/t10k-images-idx3-ubyte.gz";
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_EQ(number_after(report, "recon_regions"), 4.0) << report;
  const double nearest = number_after(report, "recon_output_error_nearest");
  const double learned = number_after(report, "recon_output_error");
  EXPECT_GT(nearest, 0.0) << report;
  EXPECT_LT(learned, 0.8 * nearest) << report;
  const double ours = number_after(report, "final_metric");
  EXPECT_GT(ours, number_after(report, "original_metric") - 0.02) << report;

  const std::string out = dir_.file("out/model.onnx");
  EXPECT_NO_THROW(onnx::checker::check_model(out));
  if (!python_has("onnxruntime, onnx, numpy")) GTEST_SKIP() << "onnxruntime is not installed";
  const std::string ort = ort_check(out, dir_.path().string());
  ASSERT_FALSE(ort.empty());
  EXPECT_EQ(number_after(ort, "QLinearConv"), 3.0) << ort;
  EXPECT_NEAR(number_after(ort, "top1"), ours, 0.001) << "ONNX Runtime and our simulation disagree";
}

// Configured regions: one span over conv2 and conv3 with only conv3's weight learned
// (region_weights_names), the activations fake-quantized inside (simulate_activation_quant).
TEST_F(QuantPost, ConfiguredRegionLearnsOnlyTheNamedWeights) {
  ASSERT_EQ(host::compress(options("QuantPost:\n  batch_nums: 4\n  recon_level: region-wise\n"
                                   "  epochs: 2\n  simulate_activation_quant: true\n"
                                   "  regions: [['/MaxPool_output_0', '/Relu_2_output_0']]\n"
                                   "  region_weights_names: [['onnx::Conv_42']]\n")),
            0)
      << slurp(log_.get());
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_EQ(number_after(report, "recon_regions"), 1.0) << report;
  EXPECT_LT(number_after(report, "recon_output_error"),
            number_after(report, "recon_output_error_nearest"))
      << report;
  // conv2 (not named) keeps round-to-nearest: the same int8 weight as a run without regions.
  host::CompressOptions plain = options("QuantPost:\n  batch_nums: 4\n");
  plain.save_dir = dir_.file("plain");
  ASSERT_EQ(host::compress(plain), 0) << slurp(log_.get());
  const Model a = host::load_onnx(dir_.file("out/model.onnx"));
  const Model b = host::load_onnx(dir_.file("plain/model.onnx"));
  const Tensor* conv2_a = a.graph.initializer("onnx::Conv_39_quantized");
  const Tensor* conv2_b = b.graph.initializer("onnx::Conv_39_quantized");
  const Tensor* conv3_a = a.graph.initializer("onnx::Conv_42_quantized");
  const Tensor* conv3_b = b.graph.initializer("onnx::Conv_42_quantized");
  ASSERT_TRUE(conv2_a && conv2_b && conv3_a && conv3_b);
  auto same = [](const Tensor* x, const Tensor* y) {
    return std::equal(x->data<std::int8_t>(), x->data<std::int8_t>() + x->numel(),
                      y->data<std::int8_t>());
  };
  EXPECT_TRUE(same(conv2_a, conv2_b)) << "a weight not named was changed";
  EXPECT_FALSE(same(conv3_a, conv3_b)) << "the named weight kept nearest rounding";
}

TEST_F(QuantPost, BadRegionsAreNamed) {
  const std::string rw = "QuantPost:\n  batch_nums: 2\n  recon_level: region-wise\n";
  const std::string typo = error_of(rw + "  regions: [['/MaxPool_output_O', logits]]\n");
  EXPECT_NE(typo.find("QuantPost.regions[0]: the start '/MaxPool_output_O' is not a tensor of the "
                      "model; did you mean '/MaxPool_output_0'?"),
            std::string::npos)
      << typo;
  const std::string backwards = error_of(rw + "  regions: [[logits, '/MaxPool_output_0']]\n");
  EXPECT_NE(backwards.find("'/MaxPool_output_0' is not computed from 'logits'"), std::string::npos)
      << backwards;
  const std::string no_layer =
      error_of(rw + "  regions: [['/Relu_2_output_0', '/Flatten_output_0']]\n");
  EXPECT_NE(no_layer.find("holds no quantized layer"), std::string::npos) << no_layer;
  const std::string weight = error_of(rw + "  regions: [['/Flatten_output_0', logits]]\n" +
                                      "  region_weights_names: [[fc.weigth]]\n");
  EXPECT_NE(weight.find("QuantPost.region_weights_names[0]: 'fc.weigth' is not a quantized weight "
                        "of the region from '/Flatten_output_0' to 'logits'; did you mean "
                        "'fc.weight'?"),
            std::string::npos)
      << weight;
  EXPECT_NE(error_of("QuantPost:\n  recon_level: layer-wise\n  regions: [[image, logits]]\n")
                .find("QuantPost.regions needs recon_level: region-wise"),
            std::string::npos);
  EXPECT_NE(error_of(rw + "  regions: [image, logits]\n")
                .find("each region is a [start_tensor, end_tensor] pair"),
            std::string::npos);
}

// The run state folder is removed only when ACT wrote it: a folder of that name without ACT's
// fingerprint in it is refused and left as it was.
TEST_F(QuantPost, AForeignStateFolderInTheSaveDirIsLeftAlone) {
  fs::create_directories(dir_.path() / "out" / "act_state");
  write_bytes(dir_.file("out/act_state/notes.txt"), "mine");
  EXPECT_NE(error_of("QuantPost:\n  batch_nums: 2\n").find("is not ACT's run state"),
            std::string::npos);
  EXPECT_EQ(read_bytes(dir_.file("out/act_state/notes.txt")), "mine");
}

TEST_F(QuantPost, AnAlreadyQuantizedModelIsRefused) {
  ASSERT_EQ(host::compress(options("QuantPost:\n  batch_nums: 4\n  algo: hist\n")), 0);
  fs::copy_file(dir_.file("out/model.onnx"), dir_.file("int8.onnx"));
  host::CompressOptions again = options("QuantPost:\n  batch_nums: 2\n");
  again.model = dir_.file("int8.onnx");
  again.save_dir = dir_.file("again");
  std::string e;
  try {
    host::compress(again);
  } catch (const Error& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("the model is already quantized"), std::string::npos) << e;
}

}  // namespace
}  // namespace act::test
