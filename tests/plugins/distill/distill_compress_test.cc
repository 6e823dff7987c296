// The distill plugin through `act compress` on the bundled Fashion-MNIST CNN and real
// Fashion-MNIST images: a student made by adding noise to the model's weights learns back
// toward the teacher from images alone, judged by ONNX Runtime on test images; labels are
// provably unread; best weights by the distillation loss on held-out data; ACT's and
// PaddleSlim 1.x's sections; composition with quantization; and the refusals, each before
// any training step and with the input untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "act/host/onnx_io.h"
#include "act/host/plugin_manager.h"
#include "act/kernel/error.h"
#include "compress/compress_test_util.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;

std::string run_output(const std::string& command) {
  std::string out;
  std::FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// The number after "KEY": in `json`, searching from the first occurrence of `after`.
double number_in(const std::string& json, const std::string& after, const std::string& key) {
  const auto from = json.find(after);
  if (from == std::string::npos) return -1.0;
  const auto at = json.find("\"" + key + "\": ", from);
  if (at == std::string::npos) return -1.0;
  return std::stod(json.substr(at + key.size() + 4));
}

// The bundled model with Gaussian noise of `relative` times each weight tensor's spread.
void write_perturbed(const std::string& path, double relative, unsigned seed) {
  Model m = host::load_onnx(kBundledModel);
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0F, 1.0F);
  const std::map<std::string, Tensor> weights = m.graph.initializers();
  for (const auto& [name, t] : weights) {
    if (t.dtype() != DType::kF32 || t.rank() < 1) continue;
    Tensor w = t.clone();
    float* d = w.data<float>();
    double mean = 0, sq = 0;
    for (std::int64_t i = 0; i < w.numel(); ++i) mean += d[i];
    mean /= static_cast<double>(w.numel());
    for (std::int64_t i = 0; i < w.numel(); ++i) sq += (d[i] - mean) * (d[i] - mean);
    const auto spread = static_cast<float>(std::sqrt(sq / static_cast<double>(w.numel())));
    for (std::int64_t i = 0; i < w.numel(); ++i) {
      d[i] += noise(gen) * spread * static_cast<float>(relative);
    }
    m.graph.set_initializer(name, w);
  }
  host::save_onnx(m, path);
}

bool mentions_teacher(const Model& m) {
  for (const Node& n : m.graph.nodes()) {
    if (n.name.find("teacher") != std::string::npos) return true;
    for (const auto& in : n.inputs) {
      if (in.find("teacher") != std::string::npos || in.find("distill") != std::string::npos) {
        return true;
      }
    }
  }
  for (const auto& [name, t] : m.graph.initializers()) {
    if (name.find("teacher") != std::string::npos) return true;
  }
  for (const auto& [key, value] : m.metadata_props) {
    if (key.find("distill") != std::string::npos) return true;
  }
  return false;
}

const char* kTrain =
    "TrainConfig:\n  epochs: 2\n  eval_iter: 25\n  learning_rate: 0.001\n"
    "  optimizer_builder:\n    optimizer:\n      type: Adam\n";

class Distill : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    // Training images without labels: the labels file is removed, so nothing could read it.
    train_ = write_idx_subset("train", 1024, dir_.path(), "train");
    fs::remove(dir_.file("train-labels-idx1-ubyte"));
    eval_ = write_idx_subset("t10k", 500, dir_.path(), "t10k");
    fs::create_directories(dir_.path() / "held_out");
    fs::create_directories(dir_.path() / "lab");
    held_out_ = write_idx_subset("t10k", 256, dir_.path() / "held_out", "t10k");
    student_ = dir_.file("student.onnx");
    write_perturbed(student_, 0.2, 7);
    student_bytes_ = read_bytes(student_);
  }

  host::CompressOptions options(const std::string& yaml, const std::string& name = "d.yaml") {
    write_bytes(dir_.file(name), yaml);
    host::CompressOptions o;
    o.config = dir_.file(name);
    o.model = student_;
    o.data = train_;
    o.eval_data = eval_;
    o.save_dir = dir_.file("out");
    o.plugin_dirs = {};  // the build's plugin folder, where distill.so and quant.so live
    o.log = log_.get();
    o.out = log_.get();
    return o;
  }

  // A refusal: the message, no training step, no output, the input model untouched.
  void expect_refused(const std::string& yaml, const std::string& message) {
    const std::string e = compress_error(options(yaml));
    EXPECT_NE(e.find(message), std::string::npos) << e;
    const std::string log = slurp(log_.get());
    EXPECT_EQ(log.find(" step "), std::string::npos) << log;
    EXPECT_FALSE(fs::exists(dir_.file("out/model.onnx")));
    EXPECT_EQ(read_bytes(student_), student_bytes_);
  }

  std::string teacher_key() const { return "  teacher_model_dir: " + kBundledModel + "\n"; }

  ScratchDir dir_;
  std::string train_, eval_, held_out_, student_, student_bytes_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log_{std::tmpfile(), &std::fclose};
};

TEST_F(Distill, PerturbedStudentLearnsBackFromTheTeacherOnImagesAlone) {
  if (!python_has("onnxruntime, numpy")) GTEST_SKIP() << "onnxruntime is not installed";
  ASSERT_EQ(host::compress(options("Distillation:\n" + teacher_key() + kTrain)), 0)
      << slurp(log_.get());
  const std::string out = dir_.file("out/model.onnx");
  EXPECT_FALSE(mentions_teacher(host::load_onnx(out)));
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("\"task_loss\": \"replaced by the distillation loss\""), std::string::npos);
  EXPECT_NE(report.find("distill/l2/teacher_logits->logits"), std::string::npos) << report;

  // Someone else's runtime judges: the teacher, the noisy student, the distilled student.
  const std::string json =
      run_output(python() + " " ACT_SOURCE_DIR "/tests/plugins/distill/ort_agree.py 2000 " +
                 kBundledModel + " " + student_ + " " + out);
  const double teacher_top1 = number_in(json, kBundledModel, "top1");
  const double before_top1 = number_in(json, student_, "top1");
  const double before_agree = number_in(json, student_, "agree");
  const double after_top1 = number_in(json, out, "top1");
  const double after_agree = number_in(json, out, "agree");
  ASSERT_GT(teacher_top1, 0.8) << json;
  EXPECT_LT(before_top1, teacher_top1 - 0.15) << json;  // the noise really hurt
  EXPECT_GT(after_top1, teacher_top1 - 0.03) << json;
  EXPECT_GT(after_agree, before_agree + 0.2) << json;
  EXPECT_GT(after_agree, 0.9) << json;
}

TEST_F(Distill, LabelsAreNeverReadWhenDistilling) {
  const std::string yaml =
      "Global:\n  seed: 3\nDistillation:\n" + teacher_key() + "TrainConfig:\n  train_iter: 12\n";
  ASSERT_EQ(host::compress(options(yaml)), 0) << slurp(log_.get());
  const std::string unlabelled = read_bytes(dir_.file("out/model.onnx"));
  // The same images with labels, all of them wrong: a task loss would learn class 0.
  const std::string labelled = write_idx_subset("train", 1024, dir_.path() / "lab", "train");
  std::string labels = read_bytes(dir_.file("lab/train-labels-idx1-ubyte"));
  for (std::size_t i = 8; i < labels.size(); ++i) labels[i] = 0;
  write_bytes(dir_.file("lab/train-labels-idx1-ubyte"), labels);
  host::CompressOptions o = options(yaml);
  o.data = labelled;
  o.save_dir = dir_.file("out2");
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  EXPECT_NE(slurp(log_.get()).find("training on the strategies' loss terms alone (labels unused)"),
            std::string::npos);
  EXPECT_EQ(read_bytes(dir_.file("out2/model.onnx")), unlabelled);
}

TEST_F(Distill, BestWeightsByTheDistillationLossOnHeldOutData) {
  // Held-out images without labels: no metric, so the loss there chooses.
  fs::remove(dir_.file("held_out/t10k-labels-idx1-ubyte"));
  const std::string yaml = "Distillation:\n" + teacher_key() +
                           "TrainConfig:\n  train_iter: 30\n  eval_iter: 10\n"
                           "  learning_rate: 0.001\n  optimizer_builder:\n    optimizer:\n"
                           "      type: Adam\n";
  host::CompressOptions o = options(yaml);
  o.eval_data = held_out_;
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  std::string log = slurp(log_.get());
  EXPECT_NE(log.find("step 10 eval loss"), std::string::npos) << log;
  EXPECT_EQ(log.find("chosen by the loss on the training data"), std::string::npos) << log;
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("\"metric\": \"loss\""), std::string::npos);
  const double best = number_in(report, "\"stages\"", "best_metric");
  EXPECT_GT(best, 0.0);
  EXPECT_TRUE(std::isfinite(best));
  // The reported best is the smallest evaluated loss (the starting weights' is not evaluated).
  double smallest = INFINITY;
  for (auto at = log.find("eval loss "); at != std::string::npos;
       at = log.find("eval loss ", at + 1)) {
    smallest = std::min(smallest, std::stod(log.substr(at + 10)));
  }
  EXPECT_NEAR(best, smallest, 1e-4 * smallest + 1e-6);

  // Without evaluation data the training data stands in, and the log says so.
  o.eval_data.clear();
  o.save_dir = dir_.file("out2");
  ASSERT_EQ(host::compress(o), 0);
  log = slurp(log_.get());
  EXPECT_NE(log.find("the best weights are chosen by the loss on the training data; give "
                     "held-out data with --eval-data"),
            std::string::npos)
      << log;
}

TEST_F(Distill, NamedNodesWithALossAndAlphaEach) {
  const std::string yaml = "Distillation:\n" + teacher_key() +
                           "  node: [/conv3/Conv_output_0, logits]\n"
                           "  loss: [l2, soft_label]\n  alpha: [1.0, 0.5]\n"
                           "  teacher_temperature: 2\n  student_temperature: 2\n"
                           "TrainConfig:\n  train_iter: 8\n";
  ASSERT_EQ(host::compress(options(yaml)), 0) << slurp(log_.get());
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("distill/l2/teacher_/conv3/Conv_output_0->/conv3/Conv_output_0; "
                        "distill/soft_label/teacher_logits->logits"),
            std::string::npos)
      << report;
  EXPECT_FALSE(mentions_teacher(host::load_onnx(dir_.file("out/model.onnx"))));
}

TEST_F(Distill, SelfDistillationDefaultsToTheInputModel) {
  // Teacher == student: the l2 loss and its gradient are zero, so Adam leaves every weight.
  ASSERT_EQ(host::compress(options("Distillation:\n  loss: l2\nTrainConfig:\n  train_iter: 5\n")),
            0)
      << slurp(log_.get());
  const Model in = host::load_onnx(student_);
  const Model out = host::load_onnx(dir_.file("out/model.onnx"));
  for (const auto& [name, t] : in.graph.initializers()) {
    const Tensor* o = out.graph.initializer(name);
    ASSERT_NE(o, nullptr) << name;
    ASSERT_EQ(o->nbytes(), t.nbytes()) << name;
    EXPECT_EQ(std::memcmp(o->raw_data(), t.raw_data(), t.nbytes()), 0) << name;
  }
  EXPECT_NE(read_bytes(dir_.file("out/report.json")).find("\"teachers\": \"input model\""),
            std::string::npos);
}

TEST_F(Distill, PaddleSlim1DistillersShareOneTeacherIncludingFspAcrossChannelCounts) {
  const std::string yaml =
      "L2Distiller:\n  teacher_feature_map: teacher_logits\n  student_feature_map: logits\n"
      "SoftLabelDistiller:\n  teacher_feature_map: logits\n  student_feature_map: logits\n"
      "  teacher_temperature: 2.0\n  student_temperature: 2.0\n"
      "  distillation_loss_weight: 0.1\n"
      "FSPDistiller:\n  class: FSPDistiller\n"
      "  teacher_pairs: [[teacher_/MaxPool_output_0, teacher_/Relu_1_output_0],"
      " [/MaxPool_1_output_0, /Relu_2_output_0]]\n"
      "  student_pairs: [[/MaxPool_output_0, /Relu_1_output_0],"
      " [/MaxPool_1_output_0, /Relu_2_output_0]]\n"
      "  distillation_loss_weight: 1\n" +
      std::string("TrainConfig:\n  train_iter: 6\n");
  host::CompressOptions o = options(yaml);
  o.dry_run = true;
  ASSERT_EQ(host::compress(o), 0);
  const std::string plan = slurp(log_.get());
  // The first section merges the teacher (8 weights); the others reuse it.
  const auto l2 = plan.find("L2Distiller -> plugin 'distill'");
  const auto soft = plan.find("SoftLabelDistiller -> plugin 'distill'");
  const auto fsp = plan.find("FSPDistiller -> plugin 'distill'");
  ASSERT_TRUE(l2 != std::string::npos && soft != std::string::npos && fsp != std::string::npos)
      << plan;
  EXPECT_NE(plan.substr(l2, soft - l2).find("teacher_fc.weight"), std::string::npos) << plan;
  EXPECT_EQ(plan.substr(soft).find("teacher_/conv1"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("teacher2_"), std::string::npos) << plan;

  o.dry_run = false;
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("distill/fsp/teacher_/MaxPool_output_0->/MaxPool_output_0../"
                        "Relu_1_output_0"),
            std::string::npos)
      << report;
  EXPECT_FALSE(mentions_teacher(host::load_onnx(dir_.file("out/model.onnx"))));
}

TEST_F(Distill, MultiTeacherDistillationMergesEachTeacher) {
  const std::string second = dir_.file("teacher2.onnx");
  write_perturbed(second, 0.05, 11);
  const std::string yaml = "MultiTeacherDistillation:\n  teacher_model_dir: [" + kBundledModel +
                           ", " + second +
                           "]\n  node: [[logits], [[/conv3/Conv_output_0, /conv3/Conv_output_0]]]\n"
                           "  loss: [soft_label, l2]\n  alpha: [1.0, 0.5]\n"
                           "TrainConfig:\n  train_iter: 6\n";
  ASSERT_EQ(host::compress(options(yaml)), 0) << slurp(log_.get());
  const std::string report = read_bytes(dir_.file("out/report.json"));
  EXPECT_NE(report.find("distill/soft_label/teacher_logits->logits; "
                        "distill/l2/teacher2_/conv3/Conv_output_0->/conv3/Conv_output_0"),
            std::string::npos)
      << report;
  EXPECT_FALSE(mentions_teacher(host::load_onnx(dir_.file("out/model.onnx"))));
}

TEST_F(Distill, TeacherWithOtherInputNamesNeedsMergeFeed) {
  Model teacher = host::load_onnx(kBundledModel);
  teacher.graph.mutable_inputs()[0].name = "pixels";
  for (Node& n : teacher.graph.mutable_nodes()) {
    for (std::string& in : n.inputs) {
      if (in == "image") in = "pixels";
    }
  }
  host::save_onnx(teacher, dir_.file("renamed.onnx"));
  const std::string base = "Distillation:\n  teacher_model_dir: renamed.onnx\n";  // relative
  expect_refused(base + "  merge_feed: false\nTrainConfig:\n  train_iter: 4\n",
                 "the teacher's input 'pixels' is not an input of the student ('image'); with "
                 "merge_feed: false the names must match");
  ASSERT_EQ(host::compress(options(base + "TrainConfig:\n  train_iter: 4\n")), 0)
      << slurp(log_.get());
}

TEST_F(Distill, RefusalsComeBeforeTrainingAndLeaveTheInput) {
  const std::string train = "TrainConfig:\n  train_iter: 4\n";
  expect_refused("Distillation:\n" + teacher_key() + "  node: [/conv3/Conv_outptu_0]\n" + train,
                 "plugin 'distill' (Distillation) rewrite_graph: Distillation.node[0]: "
                 "'/conv3/Conv_outptu_0' is not a value of the student model (did you mean "
                 "'/conv3/Conv_output_0'?)");
  expect_refused("Distillation:\n" + teacher_key() + "  loss: l1\n" + train,
                 "plugin 'distill' (Distillation) configure: Distillation.loss: 'l1' is not a "
                 "distillation loss (l2, soft_label, fsp); did you mean 'l2'?");
  expect_refused(
      "Distillation:\n" + teacher_key() + "  node: [[/conv2/Conv_output_0, logits]]\n" + train,
      "Distillation.node[0]: the teacher's '/conv2/Conv_output_0' is [1, 32, 14, 14] "
      "and the student's 'logits' is [1, 10] (batch taken as 1); l2 compares them "
      "element by element and act adds no adapter layer");
  expect_refused("Distillation:\n" + teacher_key() +
                     "  node: [[/conv1/Conv_output_0, /Relu_1_output_0]]\n  loss: fsp\n" + train,
                 "fsp needs two [N, C, H, W] maps of the same H and W; the teacher's section is "
                 "[1, 16, 28, 28] to [1, 32, 14, 14]");
  expect_refused("Distillation:\n  teacher_model_dir: no_such_teacher.onnx\n" + train,
                 "no_such_teacher.onnx");
  expect_refused("L2Distiller:\n  teacher_feature_map: logits\n  student_feature_map: logits\n",
                 "L2Distiller trains the model: add a TrainConfig section");
}

TEST_F(Distill, WithQuantPostInOneStageGivesAnInt8StudentWithoutTheTeacher) {
  const std::string yaml = "Distillation:\n" + teacher_key() +
                           "QuantPost:\n  batch_nums: 4\nTrainConfig:\n  train_iter: 10\n";
  host::CompressOptions o = options(yaml);
  ASSERT_EQ(host::compress(o), 0) << slurp(log_.get());
  const Model m = host::load_onnx(dir_.file("out/model.onnx"));
  EXPECT_FALSE(mentions_teacher(m));
  int q = 0;
  for (const Node& n : m.graph.nodes()) q += n.op_type == "QuantizeLinear";
  EXPECT_GE(q, 4);
}

TEST_F(Distill, WithQuantAwareInOneStage) {
  host::PluginManager plugins;
  plugins.load(host::plugin_search_path({}, nullptr));
  ASSERT_NE(plugins.find_section("QuantAware"), nullptr) << "the quant plugin handles QuantAware";
  const std::string yaml = "Distillation:\n" + teacher_key() +
                           "QuantAware:\n  onnx_format: true\nTrainConfig:\n  train_iter: 10\n";
  ASSERT_EQ(host::compress(options(yaml)), 0) << slurp(log_.get());
  const Model m = host::load_onnx(dir_.file("out/model.onnx"));
  EXPECT_FALSE(mentions_teacher(m));
  int q = 0;
  for (const Node& n : m.graph.nodes()) q += n.op_type == "QuantizeLinear";
  EXPECT_GE(q, 4);
}

// configs/fashion_*_qat_dis.yaml as shipped (paths relative to the config): the plan builds on
// the real models, the teacher merged and the automatic node found. Without QuantAware in the
// quant plugin, the QuantAware section is left out.
TEST_F(Distill, SeedStyleConfigsPlanOnTheirModels) {
  host::PluginManager plugins;
  plugins.load(host::plugin_search_path({}, nullptr));
  const bool qat = plugins.find_section("QuantAware") != nullptr;
  EXPECT_TRUE(qat) << "the quant plugin handles QuantAware";
  for (const char* name : {"fashion_resnet_qat_dis.yaml", "fashion_mobilenet_qat_dis.yaml"}) {
    const std::string config = ACT_SOURCE_DIR "/configs/" + std::string(name);
    host::CompressOptions o;
    o.config = config;
    o.dry_run = true;
    o.plugin_dirs = {};
    o.log = log_.get();
    o.out = log_.get();
    if (!qat) {
      std::string text = read_bytes(config);
      const auto from = text.find("QuantAware:");
      const auto to = text.find("TrainConfig:");
      ASSERT_TRUE(from != std::string::npos && to != std::string::npos);
      text.erase(from, to - from);
      fs::create_directories(dir_.path() / "configs");
      o.config = dir_.file("configs/" + std::string(name));  // the same relative paths
      write_bytes(o.config, text);
      fs::create_directories(dir_.path() / "models");
      const std::string model = std::string(name).substr(0, std::string(name).find("_qat"));
      fs::copy_file(ACT_SOURCE_DIR "/models/" + model + ".onnx",
                    dir_.file("models/" + model + ".onnx"), fs::copy_options::overwrite_existing);
    }
    ASSERT_EQ(host::compress(o), 0) << name << slurp(log_.get());
    const std::string plan = slurp(log_.get());
    EXPECT_NE(plan.find("Distillation -> plugin 'distill'"), std::string::npos) << plan;
    // The shipped configs use loss l2 on the teacher's logits, cut from the gradient.
    EXPECT_NE(plan.find("distill/l2/StopGradient"), std::string::npos) << plan;
    if (qat) {
      EXPECT_NE(plan.find("QuantAware -> plugin 'quant'"), std::string::npos) << plan;
    }
  }
}

}  // namespace
}  // namespace act::test
