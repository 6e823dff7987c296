#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include "act/host/dataset.h"
#include "act/host/evaluate.h"
#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "error_of.h"
#include "test_util.h"

namespace act::host {
namespace {

using act::test::ScratchDir;

// x [batch, 1, 2, 5] -> Flatten -> y [batch, 10]: the scores are the pixels themselves.
Model flatten_model(std::int64_t batch_dim, std::int64_t h = 2, std::int64_t w = 5) {
  Model m;
  m.opset_imports = {{"", 13}};
  ValueInfo x;
  x.name = "x";
  x.has_dtype = true;
  x.has_shape = true;
  x.shape = {batch_dim < 0 ? Dim{-1, "N"} : Dim{batch_dim, ""}, Dim{1, ""}, Dim{h, ""}, Dim{w, ""}};
  m.graph.add_input(x);
  Node n;
  n.name = "flat";
  n.op_type = "Flatten";
  n.inputs = {"x"};
  n.outputs = {"y"};
  n.attrs.set("axis", std::int64_t{1});
  m.graph.add_node(n);
  ValueInfo y;
  y.name = "y";
  y.has_dtype = true;
  y.has_shape = true;
  y.shape = {batch_dim < 0 ? Dim{-1, "N"} : Dim{batch_dim, ""}, Dim{h * w, ""}};
  m.graph.add_output(y);
  return m;
}

// 5 samples of 10 scores; sample i's score for class j is (j * (i + 3)) % 10 / 10, labels
// chosen to be top-1 for some samples, top-5 only for others, and neither for the rest.
void write_scores(const ScratchDir& dir, std::vector<std::int64_t>* labels_out, int* top1,
                  int* top5) {
  std::vector<float> x;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 10; ++j) x.push_back(static_cast<float>((j * (i + 3)) % 10 + j * 0.01f));
  std::vector<std::int64_t> labels;
  *top1 = *top5 = 0;
  for (int i = 0; i < 5; ++i) {
    // Rank the classes of sample i by score, highest first.
    std::vector<int> order(10);
    for (int j = 0; j < 10; ++j) order[static_cast<std::size_t>(j)] = j;
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      return x[static_cast<std::size_t>(i * 10 + a)] > x[static_cast<std::size_t>(i * 10 + b)];
    });
    const int pick_rank = (i * 3) % 8;  // ranks 0, 3, 6, 1, 4
    labels.push_back(order[static_cast<std::size_t>(pick_rank)]);
    *top1 += pick_rank == 0;
    *top5 += pick_rank < 5;
  }
  save_npy(dir.file("x.npy"), Tensor::from_vector<float>({5, 1, 2, 5}, x));
  save_npy(dir.file("y.npy"), Tensor::from_vector<std::int64_t>({5}, labels));
  *labels_out = labels;
}

TEST(Evaluate, ComputesTop1Top5AndKeepsOutputs) {
  ScratchDir dir;
  std::vector<std::int64_t> labels;
  int top1 = 0, top5 = 0;
  write_scores(dir, &labels, &top1, &top5);
  ASSERT_EQ(top1, 1);
  ASSERT_EQ(top5, 4);
  DatasetOptions dopt;
  dopt.labels_path = dir.file("y.npy");
  auto ds = open_dataset(dir.file("x.npy"), dopt);
  EvalOptions opt;
  opt.batch_size = 2;
  opt.keep_outputs = true;
  std::vector<std::int64_t> progress;
  opt.progress = [&](std::int64_t done, std::int64_t total) {
    EXPECT_EQ(total, 5);
    progress.push_back(done);
  };
  EvalResult r = evaluate(flatten_model(-1), *ds, opt);
  EXPECT_EQ(r.count, 5);
  EXPECT_EQ(r.batches, 3);
  EXPECT_TRUE(r.has_labels);
  EXPECT_DOUBLE_EQ(r.top1, 1.0 / 5.0);
  EXPECT_DOUBLE_EQ(r.top5, 4.0 / 5.0);
  EXPECT_EQ(progress, (std::vector<std::int64_t>{2, 4, 5}));
  ASSERT_EQ(r.outputs.shape(), (Shape{5, 10}));
  Tensor x = load_npy(dir.file("x.npy"));
  for (std::int64_t i = 0; i < 50; ++i) EXPECT_EQ(r.outputs.data<float>()[i], x.data<float>()[i]);
}

TEST(Evaluate, FixedBatchOfOneFeedsOneAtATimeAndLimitApplies) {
  ScratchDir dir;
  std::vector<std::int64_t> labels;
  int top1 = 0, top5 = 0;
  write_scores(dir, &labels, &top1, &top5);
  auto ds = open_dataset(dir.file("x.npy"));
  EvalOptions opt;
  opt.batch_size = 4;
  opt.limit = 3;
  EvalResult r = evaluate(flatten_model(1), *ds, opt);
  EXPECT_EQ(r.effective_batch_size, 1);
  EXPECT_EQ(r.count, 3);
  EXPECT_EQ(r.batches, 3);
  EXPECT_FALSE(r.has_labels);
}

TEST(Evaluate, WrongInputShapeNamesInputAndBothShapes) {
  ScratchDir dir;
  save_npy(dir.file("big.npy"), Tensor::zeros(DType::kF32, {3, 1, 32, 32}));
  auto ds = open_dataset(dir.file("big.npy"));
  const std::string e = error_of([&] { evaluate(flatten_model(-1, 28, 28), *ds); });
  EXPECT_NE(e.find("input 'x'"), std::string::npos) << e;
  EXPECT_NE(e.find("[N, 1, 28, 28]"), std::string::npos) << e;
  EXPECT_NE(e.find("[1, 32, 32]"), std::string::npos) << e;
}

TEST(Evaluate, LabelOutsideClassesIsAnError) {
  ScratchDir dir;
  save_npy(dir.file("x.npy"), Tensor::zeros(DType::kF32, {2, 1, 2, 5}));
  save_npy(dir.file("y.npy"), Tensor::from_vector<std::int64_t>({2}, {3, 10}));
  DatasetOptions dopt;
  dopt.labels_path = dir.file("y.npy");
  auto ds = open_dataset(dir.file("x.npy"), dopt);
  const std::string e = error_of([&] { evaluate(flatten_model(-1), *ds); });
  EXPECT_NE(e.find("label 10 of sample 1"), std::string::npos) << e;
}

// ---- end to end: the shipped model over the real Fashion-MNIST test set

const std::string kModel = ACT_SOURCE_DIR "/models/fashion_cnn.onnx";
const std::string kImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
const std::string kAct = ACT_BINARY_DIR "/bin/act";

std::string run_capture(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *rc = pclose(p);
  return out;
}

double recorded(const std::string& key) {
  std::ifstream in(ACT_SOURCE_DIR "/models/fashion_cnn.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::regex re("\"" + key + "\"\\s*:\\s*([0-9.]+)");
  std::smatch m;
  const std::string text = ss.str();
  if (!std::regex_search(text, m, re)) return -1.0;
  return std::stod(m[1].str());
}

class FashionEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kImages)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    ASSERT_TRUE(std::filesystem::exists(kModel)) << kModel;
    ASSERT_TRUE(std::filesystem::exists(kAct)) << kAct << " (build the 'act' target)";
  }
  ScratchDir dir_;
};

TEST_F(FashionEndToEnd, ActEvalReproducesRecordedAccuracyAndMatchesOrt) {
  const std::string outputs = dir_.file("act_out.npy");
  int rc = 0;
  const std::string stdout_text = run_capture(kAct + " eval " + kModel + " --data " + kImages +
                                                  " --batch-size 256 --output " + outputs + " 2>&1",
                                              &rc);
  ASSERT_EQ(rc, 0) << stdout_text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stdout_text, m, std::regex("top-1: ([0-9.]+)%"))) << stdout_text;
  const double top1 = std::stod(m[1].str());
  const double expected = recorded("torch_top1");
  ASSERT_GT(expected, 0.5) << "models/fashion_cnn.json has no torch_top1";
  EXPECT_NEAR(top1, 100.0 * expected, 0.05) << stdout_text;
  EXPECT_NE(stdout_text.find("samples: 10000"), std::string::npos) << stdout_text;

  Tensor ours = load_npy(outputs);
  ASSERT_EQ(ours.shape(), (Shape{10000, 10}));
  const std::string reference = dir_.file("ort_out.npy");
  const std::string cmd = act::test::python() + " " ACT_SOURCE_DIR "/tests/data/ort_reference.py " +
                          kModel + " " + kImages + " " + reference;
  const int prc = act::test::run(cmd);
  if (WIFEXITED(prc) && WEXITSTATUS(prc) == 3)
    GTEST_SKIP() << "onnxruntime is not importable by " << act::test::python();
  ASSERT_EQ(prc, 0) << cmd;
  Tensor ort = load_npy(reference);
  ASSERT_EQ(ort.shape(), ours.shape());
  double worst = 0.0;
  std::int64_t worst_at = 0;
  for (std::int64_t i = 0; i < ours.numel(); ++i) {
    const double d = std::abs(static_cast<double>(ours.data<float>()[i]) - ort.data<float>()[i]);
    if (d > worst) worst = d, worst_at = i;
  }
  EXPECT_LE(worst, 1e-4) << "largest difference at sample " << worst_at / 10 << ", class "
                         << worst_at % 10;
}

TEST_F(FashionEndToEnd, WrongImageSizeExitsOneNamingShapes) {
  // 32x32 data into the 28x28 model.
  save_npy(dir_.file("x32.npy"), Tensor::zeros(DType::kF32, {4, 1, 32, 32}));
  int rc = 0;
  const std::string text =
      run_capture(kAct + " eval " + kModel + " --data " + dir_.file("x32.npy") + " 2>&1", &rc);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << text;
  EXPECT_NE(text.find("input 'image'"), std::string::npos) << text;
  EXPECT_NE(text.find("1, 28, 28]"), std::string::npos) << text;
  EXPECT_NE(text.find("[1, 32, 32]"), std::string::npos) << text;
}

TEST(ActEvalCli, HelpAndUsageErrors) {
  if (!std::filesystem::exists(kAct)) GTEST_SKIP() << "act binary not built";
  int rc = 0;
  std::string text = run_capture(kAct + " eval --help 2>&1", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(text.find("--batch-size"), std::string::npos) << text;
  text = run_capture(kAct + " eval model.onnx 2>&1", &rc);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2) << text;
  EXPECT_NE(text.find("--data is required"), std::string::npos) << text;
  text = run_capture(kAct + " eval model.onnx --data x --bogus 2>&1", &rc);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2) << text;
}

}  // namespace
}  // namespace act::host
