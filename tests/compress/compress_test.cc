// `act compress` end to end on the bundled Fashion-MNIST CNN and real Fashion-MNIST samples,
// with the probe plugin (tests/plugins/fixtures/probe_plugin.cc) standing in for the real
// strategies: the plan and its order, training with loss terms and gradient hooks, outputs,
// failures that name their plugin, a non-finite loss, and the origin_metric check.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "compress_test_util.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;

class Compress : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_fashion()) return;
    data_dir_ = new ScratchDir;
    train_ = write_idx_subset("train", 2000, data_dir_->path(), "train");
    eval_ = write_idx_subset("t10k", 500, data_dir_->path(), "t10k");
  }
  static void TearDownTestSuite() {
    delete data_dir_;
    data_dir_ = nullptr;
  }
  void SetUp() override {
    if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }

  // Writes `yaml` as the config (Global.model, data and seed are filled in when absent).
  std::string config(const std::string& yaml) {
    const std::string path = dir_.file("config.yaml");
    write_bytes(path, yaml);
    return path;
  }

  host::CompressOptions options(const std::string& config_path) {
    host::CompressOptions o;
    o.config = config_path;
    o.model = kBundledModel;
    o.data = train_;
    o.eval_data = eval_;
    o.save_dir = dir_.file("out");
    o.plugin_dirs = {kProbeDir};
    o.log = log_.get();
    o.out = out_.get();
    return o;
  }

  std::string out_text() { return slurp(out_.get()); }
  std::string log_text() { return slurp(log_.get()); }

  static ScratchDir* data_dir_;
  static std::string train_, eval_;
  ScratchDir dir_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out_{std::tmpfile(), &std::fclose};
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log_{std::tmpfile(), &std::fclose};
};

ScratchDir* Compress::data_dir_ = nullptr;
std::string Compress::train_;
std::string Compress::eval_;

const char* kTrain = R"(
TrainConfig:
  train_iter: 20
  eval_iter: 10
  logging_iter: 5
  learning_rate: 0.01
  optimizer_builder:
    optimizer:
      type: Momentum
)";

const Tensor& weight(const Model& m, const std::string& name) {
  const Tensor* t = m.graph.initializer(name);
  EXPECT_NE(t, nullptr) << name;
  return *t;
}

// The number `key` in the report of the strategy for `section` (the probe's counters).
double report_number(const std::string& report, const std::string& section,
                     const std::string& key) {
  const auto at = report.find("{\"section\": \"" + section + "\"");
  if (at == std::string::npos) return -1.0;
  const auto k = report.find("\"" + key + "\": ", at);
  if (k == std::string::npos) return -1.0;
  return std::stod(report.substr(k + key.size() + 4));
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::equal(a.data<float>(), a.data<float>() + a.numel(), b.data<float>());
}

TEST_F(Compress, DryRunOrdersPruneDistillQuantInActsTwoStagesAndWritesNothing) {
  host::CompressOptions o = options(config(std::string(R"(
Global:
  batch_size: 32
QuantAware:
  l2_weight: 0
Distillation:
  l2_weight: 0.5
ChannelPrune:
  l2_weight: 0
TrainConfig:
  epochs: 10
  learning_rate: 0.01
)")));
  o.dry_run = true;
  ASSERT_EQ(host::compress(o), 0);
  const std::string plan = out_text();
  const auto s1 = plan.find("stage 1: prune+distill");
  const auto s2 = plan.find("stage 2: quant+distill");
  ASSERT_NE(s1, std::string::npos) << plan;
  ASSERT_NE(s2, std::string::npos) << plan;
  const auto prune = plan.find("ChannelPrune -> plugin 'probe'", s1);
  const auto distill1 = plan.find("Distillation -> plugin 'probe'", s1);
  const auto quant = plan.find("QuantAware -> plugin 'probe'", s1);
  const auto distill2 = plan.find("Distillation -> plugin 'probe'", s2);
  EXPECT_TRUE(prune < distill1 && distill1 < s2 && s2 < distill2 && distill2 < quant) << plan;
  // 2000 samples / 32 = 62 steps per epoch: 10 epochs, then 10% of them at 10% of the rate.
  EXPECT_NE(plan.find("training: 620 steps (62 per epoch, 10 epochs)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("training: 62 steps (62 per epoch, 1 epochs)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("learning rate: 0.01 at step 0"), std::string::npos) << plan;
  EXPECT_NE(plan.find("learning rate: 0.001 at step 0"), std::string::npos) << plan;
  // The distillation probe adds its two loss nodes; the others change nothing.
  EXPECT_NE(plan.find("nodes added: 2 - probe_mean_Distillation (ReduceMean)"), std::string::npos)
      << plan;
  EXPECT_FALSE(fs::exists(dir_.file("out")));
}

TEST_F(Compress, UnknownSectionIsAnErrorWithASuggestion) {
  const std::string e =
      compress_error(options(config(std::string("QuantAwre:\n  l2_weight: 0\n") + kTrain)));
  EXPECT_NE(e.find("config.yaml:1: section 'QuantAwre' is not a section any installed plugin "
                   "handles; did you mean 'QuantAware'?"),
            std::string::npos)
      << e;
}

TEST_F(Compress, SectionOfAMissingPluginNamesThePluginToInstall) {
  const std::string e =
      compress_error(options(config(std::string("ASPPrune:\n  ratio: 0.5\n") + kTrain)));
  EXPECT_NE(e.find("section 'ASPPrune' is handled by the 'asp' plugin, which is not installed"),
            std::string::npos)
      << e;
}

TEST_F(Compress, AnUnknownKeyInAStrategySectionNamesSectionAndKey) {
  const std::string e =
      compress_error(options(config(std::string("Distillation:\n  l2_wieght: 1\n") + kTrain)));
  EXPECT_NE(e.find("plugin 'probe' (Distillation) configure: Distillation: unknown key "
                   "'l2_wieght'; did you mean 'l2_weight'?"),
            std::string::npos)
      << e;
}

TEST_F(Compress, TrainsWithLossTermsAndHooksThenSavesModelAndReport) {
  const std::string input_before = read_bytes(kBundledModel);
  host::CompressOptions o = options(config(std::string(R"(
QuantAware:
  zero_gradient: fc.bias
Distillation:
  l2_weight: 0.01
)") + kTrain));
  ASSERT_EQ(host::compress(o), 0) << log_text();
  EXPECT_EQ(read_bytes(kBundledModel), input_before) << "the input model was modified";

  const Model in = host::load_onnx(kBundledModel);
  const Model out = host::load_onnx(dir_.file("out/model.onnx"));  // loads: the checker passed
  EXPECT_EQ(out.graph.nodes().size(), in.graph.nodes().size()) << "finalize left probe nodes";
  EXPECT_TRUE(same_values(weight(out, "fc.bias"), weight(in, "fc.bias")))
      << "on_after_backward zeroed fc.bias's gradient: it must not move";
  EXPECT_FALSE(same_values(weight(out, "fc.weight"), weight(in, "fc.weight")));
  EXPECT_FALSE(fs::exists(dir_.file("out/checkpoint.actckpt")));

  const std::string report = read_bytes(dir_.file("out/report.json"));
  for (const char* expected :
       {"\"status\": \"completed\"", "\"name\": \"distill+quant\"", "\"steps\": 20",
        "\"metric\": \"top1\"", "\"first_step\": 0, \"last_learning_rate\": 0.01}"}) {
    EXPECT_NE(report.find(expected), std::string::npos) << expected << "\n" << report;
  }
  // Distillation rewrites first and quant last; finalize runs in reverse.
  const double distill_rewrite = report_number(report, "Distillation", "rewrite_order");
  const double quant_rewrite = report_number(report, "QuantAware", "rewrite_order");
  const double quant_finalize = report_number(report, "QuantAware", "finalize_order");
  const double distill_finalize = report_number(report, "Distillation", "finalize_order");
  EXPECT_TRUE(distill_rewrite < quant_rewrite && quant_rewrite < quant_finalize &&
              quant_finalize < distill_finalize)
      << report;
  EXPECT_EQ(report_number(report, "Distillation", "steps"), 20.0);
  // The bundled model scores ~0.89; 20 small steps must not wreck it.
  const auto pos = report.find("\"final_metric\": ");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_GT(std::stod(report.substr(pos + 16)), 0.7) << report;
}

// An exporter's keep_initializers_as_inputs lists every weight as a graph input too, which
// ONNX reads as an overridable default: without help nothing would be trained. compress takes
// them as weights, says so, and the saved model has the image as its only input.
TEST_F(Compress, WeightsListedAsInputsAreTrainedAndLeaveTheInputs) {
  Model listed = host::load_onnx(kBundledModel);
  for (const auto& [name, t] : listed.graph.initializers()) {
    listed.graph.add_input(ValueInfo::from_tensor(name, t));
  }
  const std::string model = dir_.file("listed.onnx");
  host::save_onnx(listed, model);
  host::CompressOptions o = options(config(kTrain));
  o.model = model;
  ASSERT_EQ(host::compress(o), 0) << log_text();
  EXPECT_NE(log_text().find("lists 8 of its initializers as graph inputs too"), std::string::npos)
      << log_text();
  const Model in = host::load_onnx(kBundledModel);
  const Model out = host::load_onnx(dir_.file("out/model.onnx"));
  ASSERT_EQ(out.graph.inputs().size(), 1U);
  EXPECT_EQ(out.graph.inputs()[0].name, in.graph.inputs()[0].name);
  EXPECT_FALSE(same_values(weight(out, "fc.weight"), weight(in, "fc.weight"))) << "not trained";
}

TEST_F(Compress, SecondStageRunsTenPercentOfTheStepsAtATenthOfTheRate) {
  host::CompressOptions o = options(
      config(std::string("ChannelPrune:\n  l2_weight: 0\nQuantAware:\n  l2_weight: 0\n") + kTrain));
  ASSERT_EQ(host::compress(o), 0) << log_text();
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("\"name\": \"prune+distill\", \"trains\": true, \"steps\": 20"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("\"name\": \"quant+distill\", \"trains\": true, \"steps\": 2, "
                        "\"planned_steps\": 2, \"epochs\": 1, \"lr_scale\": 0.1"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("\"steps\": 2, \"first_step\": 0, \"last_learning_rate\": 0.001"),
            std::string::npos)
      << report;
  EXPECT_FALSE(fs::exists(dir_.file("out/stage1.onnx"))) << "intermediate model left behind";
}

TEST_F(Compress, AFaultyRewriteFailsRightAfterItsStepNamingThePlugin) {
  const std::string e = compress_error(options(config(std::string(R"(
Distillation:
  l2_weight: 0
QuantAware:
  break_in: rewrite_graph
)") + kTrain)));
  EXPECT_NE(e.find("plugin 'probe' (QuantAware) rewrite_graph left an invalid graph"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("probe_no_such_value"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir_.file("out/model.onnx")));
}

TEST_F(Compress, ANonFiniteLossStopsTheRunAndKeepsTheBestWeights) {
  host::CompressOptions o = options(config(std::string(R"(
QuantAware:
  nan_at_step: 13
TrainConfig:
  train_iter: 30
  eval_iter: 5
  learning_rate: 0.01
)")));
  EXPECT_EQ(host::compress(o), 1);
  const std::string log = log_text();
  EXPECT_NE(log.find("the loss is NaN at step 13; stopping and keeping the best weights"),
            std::string::npos)
      << log;
  const Model out = host::load_onnx(dir_.file("out/model.onnx"));
  const Tensor& w = weight(out, "fc.weight");
  EXPECT_TRUE(std::all_of(w.data<float>(), w.data<float>() + w.numel(),
                          [](float v) { return std::isfinite(v); }));
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("\"status\": \"stopped: non-finite loss (best weights kept)\""),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("\"stop_reason\": \"non-finite loss\""), std::string::npos) << report;
}

TEST_F(Compress, OriginMetricFarFromTheMeasuredOneIsRefused) {
  const std::string e = compress_error(options(config(R"(
TrainConfig:
  train_iter: 5
  learning_rate: 0.01
  origin_metric: 0.5
)")));
  EXPECT_NE(e.find("TrainConfig.origin_metric is 0.5 but the input model scores"),
            std::string::npos)
      << e;
}

TEST_F(Compress, TargetMetricStopsEarly) {
  host::CompressOptions o = options(config(R"(
TrainConfig:
  train_iter: 40
  eval_iter: 5
  learning_rate: 0.001
  target_metric: 0.5
)"));
  ASSERT_EQ(host::compress(o), 0) << log_text();
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("\"steps\": 5, \"planned_steps\": 40"), std::string::npos) << report;
  EXPECT_NE(report.find("\"stop_reason\": \"target_metric\""), std::string::npos) << report;
}

}  // namespace
}  // namespace act::test
