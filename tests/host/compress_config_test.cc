// The `act compress` config: ACT-style files parse into the right values, every mistake is
// reported as "<file>:<line>: <Section.key>: <problem>", and the configured learning-rate
// schedules match their closed forms.
#include "act/host/compress_config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "act/kernel/error.h"
#include "act/sdk/config_reader.h"
#include "act/sdk/host_objects.h"
#include "error_of.h"
#include "test_util.h"

namespace act::host {
namespace {

namespace fs = std::filesystem;

std::string parse_error(const std::string& yaml) {
  return error_of([&] { parse_compress_config(yaml, "cfg.yaml"); });
}

// Written like the configs of PaddleSlim's ACT examples (block lists, quoted scalars, a
// schedule map, an example script's keys), plus ACT's own extensions.
constexpr const char* kRealistic = R"(Global:
  model_dir: ../models/mobilenet_v2.onnx
  input_list: [image]
  batch_size: 64
  data: ../data/train
  eval_data: /data/val
  seed: 7
  deploy_backend: TensorRT
  Evaluation: True
Distillation:
  alpha: 1.0
  loss: l2
  node:
  - softmax_0.tmp_0
QuantAware:
  use_pact: true
  activation_quantize_type: 'moving_average_abs_max'
  quantize_op_types:
  - conv2d
  - depthwise_conv2d
  weight_bits: 8
  gmp_config: {stable_iterations: 0, pruning_steps: [1, 2]}
HyperParameterOptimization:
TrainConfig:
  epochs: 2
  train_iter: 5000
  eval_iter: 500
  logging_iter: 20
  checkpoint_iter: 1000
  learning_rate:
    type: CosineAnnealingDecay
    learning_rate: 0.015
    eta_min: 1.0e-5
  optimizer_builder:
    optimizer:
      type: Momentum
      momentum: 0.8
      use_nesterov: yes
    weight_decay: 4.0e-05
    grad_clip:
      type: ClipGradByGlobalNorm
      clip_norm: 5
  origin_metric: 0.70898
  target_metric: 0.70
  use_fleet: false
)";

TEST(CompressConfig, ParsesARealisticActConfig) {
  test::ScratchDir dir;
  fs::create_directories(dir.path() / "configs");
  const std::string path = (dir.path() / "configs" / "qat_dis.yaml").string();
  test::write_bytes(path, kRealistic);
  const CompressConfig config = load_compress_config(path);

  EXPECT_EQ(config.path, path);
  EXPECT_EQ(config.global.model, (dir.path() / "models" / "mobilenet_v2.onnx").string());
  EXPECT_EQ(config.global.input_list, std::vector<std::string>{"image"});
  EXPECT_EQ(config.global.batch_size, 64);
  EXPECT_EQ(config.global.data, (dir.path() / "data" / "train").string());
  EXPECT_EQ(config.global.eval_data, "/data/val");
  EXPECT_EQ(config.global.seed, 7U);
  EXPECT_EQ(config.global.deploy_backend, "tensorrt");

  ASSERT_TRUE(config.train.has_value());
  const TrainSettings& train = *config.train;
  EXPECT_EQ(train.epochs, 2);
  EXPECT_EQ(train.train_iter, 5000);
  EXPECT_EQ(train.eval_iter, 500);
  EXPECT_EQ(train.logging_iter, 20);
  EXPECT_EQ(train.checkpoint_iter, 1000);
  EXPECT_EQ(train.origin_metric, 0.70898);
  EXPECT_EQ(train.target_metric, 0.70);
  EXPECT_EQ(train.learning_rate.type, "CosineAnnealingDecay");
  EXPECT_EQ(train.learning_rate.learning_rate, 0.015);
  EXPECT_EQ(train.learning_rate.eta_min, 1e-5);
  EXPECT_EQ(train.learning_rate.t_max, -1);
  EXPECT_EQ(train.optimizer.kind, OptimizerConfig::Kind::kMomentum);
  EXPECT_EQ(train.optimizer.momentum, 0.8);
  EXPECT_TRUE(train.optimizer.nesterov);
  EXPECT_EQ(train.optimizer.weight_decay, 4e-5);
  EXPECT_EQ(train.clip_norm, 5.0);

  ASSERT_EQ(config.sections.size(), 3U);
  const SectionConfig& distill = config.sections[0];
  EXPECT_EQ(distill.name, "Distillation");
  EXPECT_EQ(distill.line, 10);
  using Entries = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(distill.entries,
            (Entries{{"alpha", "1.0"}, {"loss", "l2"}, {"node", "[softmax_0.tmp_0]"}}));
  const SectionConfig& quant = config.sections[1];
  EXPECT_EQ(quant.name, "QuantAware");
  EXPECT_EQ(quant.line, 15);
  EXPECT_EQ(quant.entries,
            (Entries{{"use_pact", "true"},
                     {"activation_quantize_type", "moving_average_abs_max"},
                     {"quantize_op_types", "[conv2d, depthwise_conv2d]"},
                     {"weight_bits", "8"},
                     {"gmp_config", "{stable_iterations: 0, pruning_steps: [1, 2]}"}}));
  EXPECT_EQ(config.sections[2].name, "HyperParameterOptimization");
  EXPECT_TRUE(config.sections[2].entries.empty());

  // Keys accepted but not acted on are reported, with file, line and key.
  ASSERT_EQ(config.warnings.size(), 2U);
  EXPECT_EQ(config.warnings[0],
            path +
                ":9: Global.Evaluation: ignored: PaddleSlim's example scripts read it, act "
                "does not");
  EXPECT_EQ(config.warnings[1],
            path + ":45: TrainConfig.use_fleet: ignored: act always trains in one process");

  // A plugin reads the section text through the SDK's reader.
  sdk::KeyValueConfig view(quant.name, quant.entries);
  sdk::ConfigReader reader(view);
  EXPECT_EQ(reader.strings("quantize_op_types"),
            (std::vector<std::string>{"conv2d", "depthwise_conv2d"}));
  EXPECT_EQ(reader.integer("weight_bits", 0), 8);
  EXPECT_TRUE(reader.flag("use_pact", false));
}

TEST(CompressConfig, DefaultsWhenSectionsAreMinimal) {
  const CompressConfig config =
      parse_compress_config("TrainConfig:\n  train_iter: 100\n", "cfg.yaml");
  EXPECT_EQ(config.global.model, "");
  EXPECT_EQ(config.global.batch_size, 32);
  EXPECT_EQ(config.global.deploy_backend, "onnxruntime");
  ASSERT_TRUE(config.train.has_value());
  EXPECT_FALSE(config.train->epochs.has_value());
  EXPECT_EQ(config.train->eval_iter, -1);
  EXPECT_EQ(config.train->logging_iter, 10);
  EXPECT_EQ(config.train->checkpoint_iter, 0);
  EXPECT_EQ(config.train->learning_rate.type, "Constant");
  EXPECT_EQ(config.train->optimizer.kind, OptimizerConfig::Kind::kSgd);
  EXPECT_EQ(config.train->optimizer.weight_decay, 0.0);
  EXPECT_EQ(config.train->clip_norm, 0.0);
  EXPECT_TRUE(config.warnings.empty());

  const CompressConfig no_train = parse_compress_config("Global:\n  model: m.onnx\n", "c.yaml");
  EXPECT_FALSE(no_train.train.has_value());
  EXPECT_TRUE(no_train.sections.empty());
}

TEST(CompressConfig, ResolvesModelAndDataPathsAgainstTheConfigFolder) {
  auto global = [](const std::string& yaml, const std::string& origin) {
    return parse_compress_config(yaml, origin).global;
  };
  EXPECT_EQ(global("Global:\n  model: m.onnx\n", "/cfg/a.yaml").model, "/cfg/m.onnx");
  EXPECT_EQ(global("Global:\n  model: ./sub/../m.onnx\n", "/cfg/a.yaml").model, "/cfg/m.onnx");
  EXPECT_EQ(global("Global:\n  model: /abs/m.onnx\n", "/cfg/a.yaml").model, "/abs/m.onnx");
  EXPECT_EQ(global("Global:\n  model_dir: ./infer\n  model_filename: model.onnx\n"
                   "  params_filename: None\n",
                   "/cfg/x/a.yaml")
                .model,
            "/cfg/x/infer/model.onnx");
  EXPECT_EQ(global("Global:\n  model_dir: ../m.onnx\n", "/cfg/x/a.yaml").model, "/cfg/m.onnx");
  EXPECT_EQ(global("Global:\n  model: m.onnx\n", "a.yaml").model, "m.onnx");
  EXPECT_EQ(global("Global:\n  data: d\n  eval_data: e\n", "/cfg/a.yaml").eval_data, "/cfg/e");
  EXPECT_EQ(global("Global:\n  input_name: x\n", "a.yaml").input_list,
            std::vector<std::string>{"x"});
  EXPECT_EQ(global("Global:\n  input_names: ['x0', 'x1']\n", "a.yaml").input_list,
            (std::vector<std::string>{"x0", "x1"}));
}

TEST(CompressConfig, WarnsAboutKeysItAcceptsButIgnores) {
  const CompressConfig config = parse_compress_config(R"(Global:
  model_dir: m.onnx
  params_filename: model.pdiparams
  data_dir: ./ILSVRC2012
TrainConfig:
  epochs: 1
  amp_config: {}
  recompute_config:
    checkpoints: [a]
  sparse_model: false
)",
                                                      "c.yaml");
  ASSERT_EQ(config.warnings.size(), 5U);
  EXPECT_EQ(config.warnings[0],
            "c.yaml:4: Global.data_dir: ignored: PaddleSlim's example scripts read it, act does "
            "not; give the dataset as Global.data or --data");
  EXPECT_EQ(config.warnings[1],
            "c.yaml:3: Global.params_filename: ignored: an ONNX model holds its own weights");
  EXPECT_EQ(config.warnings[2], "c.yaml:7: TrainConfig.amp_config: ignored: empty");
  EXPECT_NE(config.warnings[3].find("c.yaml:8: TrainConfig.recompute_config: ignored"),
            std::string::npos);
  EXPECT_EQ(config.warnings[4],
            "c.yaml:10: TrainConfig.sparse_model: ignored: false is the only supported value");
}

TEST(CompressConfig, FileErrorsNameTheFile) {
  test::ScratchDir dir;
  EXPECT_EQ(error_of([&] { load_compress_config(dir.file("absent.yaml")); }),
            dir.file("absent.yaml") + ": no such config file");
  EXPECT_EQ(error_of([&] { load_compress_config(dir.path().string()); }),
            dir.path().string() + ": is a folder, not a config file");
  test::write_bytes(dir.file("bad.yaml"), "Global:\n  model: [a, b\nTrainConfig:\n");
  EXPECT_EQ(error_of([&] { load_compress_config(dir.file("bad.yaml")); }),
            dir.file("bad.yaml") +
                ":3: YAML syntax error at column 12: end of sequence flow not "
                "found");
}

TEST(CompressConfig, StructureErrors) {
  EXPECT_EQ(parse_error(""), "cfg.yaml:1: the config is empty; expected sections such as Global");
  EXPECT_EQ(parse_error("- Global\n- TrainConfig\n"),
            "cfg.yaml:1: the top level must be a map of sections (Global, TrainConfig, "
            "QuantAware, ...)");
  EXPECT_EQ(parse_error("QuantAware:\n  weight_bits: 8\nGlobal:\n  batch_size: 1\n"
                        "QuantAware:\n  weight_bits: 4\n"),
            "cfg.yaml:5: QuantAware: given twice (first on line 1)");
  EXPECT_EQ(parse_error("QuantAware:\n  weight_bits: 8\n  weight_bits: 4\n"),
            "cfg.yaml:3: QuantAware.weight_bits: given twice (first on line 2)");
  EXPECT_EQ(parse_error("Globals:\n  batch_size: 1\n"),
            "cfg.yaml:1: Globals: unknown section; did you mean 'Global'?");
  EXPECT_EQ(parse_error("Global:\n  batch_size: 1\ntrainconfig:\n  epochs: 1\n"),
            "cfg.yaml:3: trainconfig: unknown section; did you mean 'TrainConfig'?");
  EXPECT_EQ(parse_error("Distillation:\n  - node\n"),
            "cfg.yaml:1: Distillation: expected a map of keys, got a list");
  EXPECT_EQ(parse_error("Global: 3\n"), "cfg.yaml:1: Global: expected a map of keys, got '3'");
}

TEST(CompressConfig, UnknownKeysSuggestTheClosestKnownOne) {
  EXPECT_EQ(parse_error("Global:\n  batch_size: 1\n  modle_dir: m.onnx\n"),
            "cfg.yaml:3: Global.modle_dir: unknown key; did you mean 'model_dir'?");
  EXPECT_EQ(parse_error("TrainConfig:\n  epoch: 3\n"),
            "cfg.yaml:2: TrainConfig.epoch: unknown key; did you mean 'epochs'?");
  EXPECT_EQ(parse_error("TrainConfig:\n  epochs: 3\n  learning_rate:\n"
                        "    type: CosineAnnealingDecay\n    learning_rate: 0.1\n    Tmax: 9\n"),
            "cfg.yaml:6: TrainConfig.learning_rate.Tmax: unknown key; did you mean 'T_max'?");
  EXPECT_EQ(parse_error("TrainConfig:\n  epochs: 3\n  optimizer_builder:\n"
                        "    optimizer: {type: SGD}\n    weight_decy: 0.1\n"),
            "cfg.yaml:5: TrainConfig.optimizer_builder.weight_decy: unknown key; did you mean "
            "'weight_decay'?");
  // An argument of another optimizer is not silently dropped either.
  EXPECT_EQ(parse_error("TrainConfig:\n  epochs: 3\n  optimizer_builder:\n"
                        "    optimizer:\n      type: SGD\n      beta1: 0.9\n"),
            "cfg.yaml:6: TrainConfig.optimizer_builder.optimizer.beta1: unknown key (known keys: "
            "type, weight_decay)");
}

TEST(CompressConfig, WrongTypesAndRangesNameFileLineAndKey) {
  const std::string t = "TrainConfig:\n";
  EXPECT_EQ(parse_error(t + "  epochs: ten\n"),
            "cfg.yaml:2: TrainConfig.epochs: expected an integer, got 'ten'");
  EXPECT_EQ(parse_error(t + "  epochs: 1.5\n"),
            "cfg.yaml:2: TrainConfig.epochs: expected an integer, got '1.5'");
  EXPECT_EQ(parse_error(t + "  epochs: [1]\n"),
            "cfg.yaml:2: TrainConfig.epochs: expected an integer, got a list");
  EXPECT_EQ(parse_error(t + "  epochs: 0\n"),
            "cfg.yaml:2: TrainConfig.epochs: must be at least 1, got 0");
  EXPECT_EQ(parse_error(t + "  eval_iter: 10\n"),
            "cfg.yaml:1: TrainConfig: set epochs or train_iter");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  eval_iter: 0\n"),
            "cfg.yaml:3: TrainConfig.eval_iter: must be at least 1 (or -1: once per epoch), got 0");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  origin_metric: high\n"),
            "cfg.yaml:3: TrainConfig.origin_metric: expected a number, got 'high'");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  learning_rate: -0.1\n"),
            "cfg.yaml:3: TrainConfig.learning_rate: must not be negative, got -0.1");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  learning_rate: fast\n"),
            "cfg.yaml:3: TrainConfig.learning_rate: expected a number, got 'fast'");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  learning_rate:\n    type: PiecewiseDecay\n"
                            "    boundaries: [100, 50]\n    values: [0.1, 0.01, 0.001]\n"),
            "cfg.yaml:5: TrainConfig.learning_rate.boundaries: must be non-negative and strictly "
            "increasing, got [100, 50]");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  learning_rate:\n    type: PiecewiseDecay\n"
                            "    boundaries: [100, 200]\n    values: [0.1, 0.01]\n"),
            "cfg.yaml:6: TrainConfig.learning_rate.values: needs 3 rates (one more than "
            "boundaries), got 2");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  learning_rate:\n    type: PiecewiseDecy\n"),
            "cfg.yaml:4: TrainConfig.learning_rate.type: unsupported schedule 'PiecewiseDecy'; "
            "did you mean 'PiecewiseDecay'?");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  learning_rate: {type: NoamDecay, d_model: 512}\n"),
            "cfg.yaml:3: TrainConfig.learning_rate.type: unsupported schedule 'NoamDecay' "
            "(supported: PiecewiseDecay, CosineAnnealingDecay, ExponentialDecay, LinearWarmup)");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  learning_rate: {learning_rate: 0.1}\n"),
            "cfg.yaml:3: TrainConfig.learning_rate: needs type (PiecewiseDecay, "
            "CosineAnnealingDecay, ExponentialDecay, LinearWarmup)");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  optimizer_builder:\n    optimizer:\n"
                            "      type: Momentun\n"),
            "cfg.yaml:5: TrainConfig.optimizer_builder.optimizer.type: unsupported optimizer "
            "'Momentun'; did you mean 'Momentum'?");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  optimizer_builder: RMSProp\n"),
            "cfg.yaml:3: TrainConfig.optimizer_builder: unsupported optimizer 'RMSProp' "
            "(supported: SGD, Momentum, Adam, AdamW)");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  optimizer_builder:\n    grad_clip:\n"
                            "      type: ClipGradByValue\n      clip_norm: 1\n"),
            "cfg.yaml:5: TrainConfig.optimizer_builder.grad_clip.type: unsupported gradient "
            "clipping 'ClipGradByValue' (supported: ClipGradByGlobalNorm)");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  optimizer_builder:\n    weight_decay: 0.1\n"
                            "    regularizer: {type: L2Decay, coeff: 0.1}\n"),
            "cfg.yaml:5: TrainConfig.optimizer_builder.regularizer: weight decay is already set "
            "by TrainConfig.optimizer_builder.weight_decay");
  EXPECT_EQ(parse_error(t + "  epochs: 1\n  optimizer_builder:\n    weight_decay: 0.1\n"
                            "    optimizer: {type: Momentum, weight_decay: 0.2}\n"),
            "cfg.yaml:5: TrainConfig.optimizer_builder.optimizer.weight_decay: weight decay is "
            "already set by TrainConfig.optimizer_builder.weight_decay");
  EXPECT_EQ(parse_error("Global:\n  batch_size: 0\n"),
            "cfg.yaml:2: Global.batch_size: must be at least 1, got 0");
  EXPECT_EQ(parse_error("Global:\n  deploy_backend: onnxruntim\n"),
            "cfg.yaml:2: Global.deploy_backend: unsupported backend 'onnxruntim'; did you mean "
            "'onnxruntime'?");
  EXPECT_EQ(parse_error("Global:\n  input_list: [x, x]\n"),
            "cfg.yaml:2: Global.input_list: input 'x' is listed twice");
  EXPECT_EQ(parse_error("Global:\n  opset_version: 6\n")
                .rfind("cfg.yaml:2: Global.opset_version: must be in 7..", 0),
            0U);
  EXPECT_NE(parse_error("Global:\n  opset_version: 99\n").find("got 99"), std::string::npos);
}

TEST(CompressConfig, RefusesActKeysWhoseEffectItWouldSilentlyDrop) {
  EXPECT_EQ(parse_error("TrainConfig:\n  epochs: 1\n  use_fleet: true\n"),
            "cfg.yaml:3: TrainConfig.use_fleet: distributed training (Paddle Fleet) is not "
            "supported; act trains in one process");
  EXPECT_EQ(parse_error("TrainConfig:\n  epochs: 1\n  amp_config:\n    use_pure_fp16: true\n"),
            "cfg.yaml:3: TrainConfig.amp_config: mixed-precision training is not supported; act "
            "trains in float32 (remove it)");
  EXPECT_EQ(parse_error("TrainConfig:\n  epochs: 1\n  sparse_model: true\n"),
            "cfg.yaml:3: TrainConfig.sparse_model: exporting a sparse model is not supported yet");
  EXPECT_EQ(parse_error("Global:\n  model_dir: MobileNetV1_infer\n"
                        "  model_filename: inference.pdmodel\n"),
            "cfg.yaml:3: Global.model_filename: Paddle inference models are not supported yet; "
            "convert it with paddle2onnx and name the .onnx file");
  EXPECT_EQ(parse_error("Global:\n  model_dir: infer\n  params_filename: params\n"),
            "cfg.yaml:3: Global.params_filename: separate parameter files belong to Paddle "
            "inference models, which are not supported yet; convert the model with paddle2onnx "
            "and name the .onnx file");
  EXPECT_EQ(parse_error("Global:\n  model: a.onnx\n  model_dir: b\n"),
            "cfg.yaml:3: Global.model_dir: give the model as Global.model or as model_dir (+ "
            "model_filename), not both");
  EXPECT_EQ(parse_error("Global:\n  input_list: [a]\n  input_name: b\n"),
            "cfg.yaml:3: Global.input_name: the model inputs are already given by "
            "Global.input_list");
}

TEST(CompressConfig, ParsesEachScheduleAndOptimizerForm) {
  const CompressConfig config = parse_compress_config(R"(TrainConfig:
  train_iter: 1000
  learning_rate:
    type: LinearWarmup
    warmup_steps: 100
    start_lr: 0.001
    learning_rate:
      type: PiecewiseDecay
      boundaries: [300, 600]
      values: [0.1, 0.01, 0.001]
  optimizer_builder:
    optimizer:
      type: AdamW
      beta1: 0.8
      epsilon: 1.0e-6
)",
                                                      "c.yaml");
  const LrConfig& lr = config.train->learning_rate;
  EXPECT_EQ(lr.type, "LinearWarmup");
  EXPECT_EQ(lr.warmup_steps, 100);
  EXPECT_EQ(lr.start_lr, 0.001);
  EXPECT_EQ(lr.end_lr, 0.1);  // the inner schedule's first rate
  ASSERT_NE(lr.after, nullptr);
  EXPECT_EQ(lr.after->boundaries, (std::vector<std::int64_t>{300, 600}));
  EXPECT_EQ(lr.after->values, (std::vector<double>{0.1, 0.01, 0.001}));
  EXPECT_EQ(config.train->optimizer.kind, OptimizerConfig::Kind::kAdamW);
  EXPECT_EQ(config.train->optimizer.beta1, 0.8);
  EXPECT_EQ(config.train->optimizer.epsilon, 1e-6);
  EXPECT_EQ(config.train->optimizer.weight_decay, 0.01);  // Paddle's AdamW default

  const CompressConfig exp = parse_compress_config(
      "TrainConfig:\n  epochs: 1\n  learning_rate: {type: ExponentialDecay, learning_rate: 0.5, "
      "gamma: 0.9}\n  optimizer_builder:\n    optimizer: Adam\n    regularizer: {type: L2Decay, "
      "coeff: 0.0005}\n    grad_clip: 2.5\n",
      "c.yaml");
  EXPECT_EQ(exp.train->learning_rate.gamma, 0.9);
  EXPECT_EQ(exp.train->optimizer.kind, OptimizerConfig::Kind::kAdam);
  EXPECT_EQ(exp.train->optimizer.weight_decay, 0.0005);
  EXPECT_EQ(exp.train->clip_norm, 2.5);
}

// make_lr_schedule against the closed forms of Paddle's schedules.
TEST(MakeLrSchedule, MatchesTheClosedFormOfEachType) {
  LrConfig constant;
  constant.learning_rate = 0.02;
  EXPECT_DOUBLE_EQ(make_lr_schedule(constant, 10)->at(7), 0.02);
  EXPECT_DOUBLE_EQ(make_lr_schedule(constant, 10, 0.1)->at(7), 0.002);

  LrConfig piecewise;
  piecewise.type = "PiecewiseDecay";
  piecewise.boundaries = {100, 200};
  piecewise.values = {0.1, 0.01, 0.001};
  const auto pw = make_lr_schedule(piecewise, 1000, 0.1);
  EXPECT_DOUBLE_EQ(pw->at(0), 0.01);
  EXPECT_DOUBLE_EQ(pw->at(99), 0.01);
  EXPECT_DOUBLE_EQ(pw->at(100), 0.001);
  EXPECT_DOUBLE_EQ(pw->at(250), 0.0001);

  LrConfig cosine;
  cosine.type = "CosineAnnealingDecay";
  cosine.learning_rate = 0.1;
  cosine.eta_min = 0.001;
  const auto cos_default = make_lr_schedule(cosine, 400);  // T_max = the run's 400 steps
  for (std::int64_t step : {0, 100, 200, 399, 400}) {
    const double expected =
        0.001 + (0.1 - 0.001) * 0.5 * (1 + std::cos(std::numbers::pi * step / 400.0));
    EXPECT_NEAR(cos_default->at(step), expected, 1e-12) << step;
  }
  cosine.t_max = 100;
  EXPECT_NEAR(make_lr_schedule(cosine, 400)->at(50), 0.001 + (0.1 - 0.001) * 0.5, 1e-12);
  cosine.t_max = -1;
  EXPECT_NE(error_of([&] { make_lr_schedule(cosine, 0); }).find("T_max"), std::string::npos);

  LrConfig exponential;
  exponential.type = "ExponentialDecay";
  exponential.learning_rate = 0.5;
  exponential.gamma = 0.9;
  EXPECT_NEAR(make_lr_schedule(exponential, 10, 0.1)->at(3), 0.05 * std::pow(0.9, 3), 1e-12);

  LrConfig warmup;
  warmup.type = "LinearWarmup";
  warmup.warmup_steps = 100;
  warmup.start_lr = 0.0;
  warmup.end_lr = 0.1;
  EXPECT_NEAR(make_lr_schedule(warmup, 1000)->at(25), 0.025, 1e-12);
  EXPECT_NEAR(make_lr_schedule(warmup, 1000)->at(500), 0.1, 1e-12);  // no inner: end_lr
  auto inner = std::make_shared<LrConfig>();
  inner->type = "CosineAnnealingDecay";
  inner->learning_rate = 0.1;
  warmup.after = inner;
  const auto wc = make_lr_schedule(warmup, 500, 0.5);
  EXPECT_NEAR(wc->at(50), 0.025, 1e-12);
  // The inner cosine spans the 400 steps after warmup: its midpoint is step 300.
  EXPECT_NEAR(wc->at(300), 0.05 * 0.5, 1e-12);
  EXPECT_NEAR(wc->at(500), 0.0, 1e-12);
}

TEST(MakeLrSchedule, ConfiguredWarmupMatchesPaddleAfterWarmup) {
  const CompressConfig config = parse_compress_config(
      "TrainConfig:\n  epochs: 1\n  learning_rate:\n    type: LinearWarmup\n"
      "    learning_rate: 0.5\n    warmup_steps: 10\n    start_lr: 0\n    end_lr: 0.4\n",
      "c.yaml");
  const auto schedule = make_lr_schedule(config.train->learning_rate, 100);
  EXPECT_NEAR(schedule->at(5), 0.2, 1e-12);
  EXPECT_NEAR(schedule->at(10), 0.5, 1e-12);  // Paddle: learning_rate after warmup
  EXPECT_NEAR(schedule->at(99), 0.5, 1e-12);
}

TEST(ClosestName, TheHostUsesTheSdkImplementation) {
  EXPECT_EQ(closest_name("QuantAwar", {"QuantAware", "QuantPost"}), "QuantAware");
  EXPECT_EQ(closest_name("Pruner", {"QuantAware", "QuantPost"}), "");
}

}  // namespace
}  // namespace act::host
