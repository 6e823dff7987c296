// The `act` binary on bad input: every failure must be an orderly exit (1 for bad models or
// data, 2 for usage errors), never a crash, with one message on stderr that names what is
// wrong, nothing on stdout, and the input files left byte-for-byte as they were.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "act/host/dataset.h"
#include "act/host/onnx_io.h"
#include "test_util.h"

namespace act::test {
namespace {

const std::string kAct = ACT_BINARY_DIR "/bin/act";
const std::string kFashion = ACT_SOURCE_DIR "/models/fashion_cnn.onnx";

struct CliResult {
  bool exited = false;  // false: killed by a signal
  int code = -1;
  std::string out;
  std::string err;
};

CliResult run_act(const std::string& args) {
  ScratchDir dir;
  const std::string cmd =
      kAct + " " + args + " </dev/null >" + dir.file("out") + " 2>" + dir.file("err");
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exited = WIFEXITED(status);
  r.code = r.exited ? WEXITSTATUS(status) : -1;
  r.out = read_bytes(dir.file("out"));
  r.err = read_bytes(dir.file("err"));
  return r;
}

// What the user is told went wrong: stderr up to the first blank line (a usage error prints
// the usage text after one), without eval's progress lines ("eval: ...").
std::vector<std::string> message_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) break;
    if (line.rfind("eval: ", 0) == 0) continue;
    lines.push_back(line);
  }
  return lines;
}

// Checks an orderly failure with exit code `code` and one message containing every `names`.
void expect_clean_failure(const CliResult& r, int code, const std::vector<std::string>& names) {
  // A shell reports a child killed by signal N as 128 + N.
  ASSERT_TRUE(r.exited) << "killed by a signal\n" << r.err;
  ASSERT_LT(r.code, 128) << "killed by a signal\n" << r.err;
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_TRUE(r.out.empty()) << "stdout: " << r.out;
  const auto lines = message_lines(r.err);
  ASSERT_EQ(lines.size(), 1U) << "stderr:\n" << r.err;
  for (const auto& name : names) {
    EXPECT_NE(lines[0].find(name), std::string::npos)
        << "message does not name '" << name << "': " << lines[0];
  }
  // A std::exception other than act::Error means a check is missing somewhere.
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  if (code == 1) {
    EXPECT_NE(lines[0].find("error: "), std::string::npos) << lines[0];
  }
}

class ActCliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kAct)) << kAct << " (build the 'act' target)";
    ASSERT_TRUE(std::filesystem::exists(kFashion)) << kFashion;
    fashion_bytes_ = read_bytes(kFashion);
    ASSERT_GT(fashion_bytes_.size(), 1000U);
  }
  void TearDown() override {
    // No failure path may touch the shipped model, whichever file it was handed.
    EXPECT_EQ(read_bytes(kFashion), fashion_bytes_) << kFashion << " was modified";
  }
  ScratchDir dir_;
  std::string fashion_bytes_;
};

// An IDX file: magic 0x0000080<rank>, big-endian u32 dims, then u8 data.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, std::size_t data_bytes) {
  std::string b{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8)
      b.push_back(static_cast<char>((d >> shift) & 0xFF));
  }
  for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<char>(i * 7 % 251));
  return b;
}

// x[N,1,28,28] -> Flatten -> f -> <op> -> y: valid ONNX whose second op has no ACT kernel.
Model model_with_op(const std::string& op, const std::string& domain, const std::string& node) {
  Model m;
  m.opset_imports = {{"", 13}};
  if (!domain.empty()) m.opset_imports.emplace_back(domain, 1);
  m.graph.name = "unsupported";
  m.graph.add_input(
      tensor_info("x", DType::kF32, {Dim{-1, "N"}, Dim{1, {}}, Dim{28, {}}, Dim{28, {}}}));
  m.graph.add_output(tensor_info("y", DType::kF32, {Dim{-1, "N"}, Dim{784, {}}}));
  m.graph.add_node(Node{"flat", "Flatten", "", {"x"}, {"f"}, {}, ""});
  m.graph.add_node(Node{node, op, domain, {"f"}, {"y"}, {}, ""});
  return m;
}

// ---- usage errors (exit 2)

TEST_F(ActCliBadInput, UnknownSubcommandIsNamedOnce) {
  for (const std::string cmd : {"frobnicate", "inspectt", "--frobnicate"}) {
    SCOPED_TRACE(cmd);
    const CliResult r = run_act(cmd + " " + kFashion);
    expect_clean_failure(r, 2, {"unknown command", "'" + cmd + "'"});
    EXPECT_NE(r.err.find("usage: act"), std::string::npos) << r.err;
  }
}

TEST_F(ActCliBadInput, NoSubcommandPrintsUsageAndFails) {
  const CliResult r = run_act("");
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("usage: act"), std::string::npos) << r.err;
}

TEST_F(ActCliBadInput, UnknownFlagOnInspectIsNamedBeforeTheModelIsRead) {
  for (const std::string flag : {"--frobnicate", "-z"}) {
    SCOPED_TRACE(flag);
    const CliResult r = run_act("inspect " + flag + " " + kFashion);
    expect_clean_failure(r, 2, {"act inspect", flag});
    EXPECT_NE(r.err.find("usage: act inspect"), std::string::npos) << r.err;
  }
  // Two models: the second positional has nowhere to go.
  expect_clean_failure(run_act("inspect " + kFashion + " " + kFashion), 2, {"act inspect"});
}

TEST_F(ActCliBadInput, UnknownOrMalformedFlagOnEvalIsNamed) {
  const std::string data = dir_.file("x.npy");
  host::save_npy(data, Tensor::zeros(DType::kF32, {2, 1, 28, 28}));
  const std::string data_bytes = read_bytes(data);
  const std::string base = "eval " + kFashion + " --data " + data;
  expect_clean_failure(run_act(base + " --frobnicate"), 2, {"act eval", "--frobnicate"});
  expect_clean_failure(run_act(base + " --batch-size many"), 2, {"act eval", "batch-size", "many"});
  expect_clean_failure(run_act(base + " --batch-size 0"), 2, {"act eval", "--batch-size"});
  expect_clean_failure(run_act(base + " --threads 0"), 2, {"act eval", "--threads"});
  expect_clean_failure(run_act("eval " + kFashion), 2, {"--data"});
  EXPECT_EQ(read_bytes(data), data_bytes);
}

// ---- bad model files (exit 1)

TEST_F(ActCliBadInput, InspectTruncatedModelNamesTheFile) {
  // Cuts inside the header, the graph and the weights, and one byte short of the end.
  const std::size_t size = fashion_bytes_.size();
  for (const std::size_t keep : {std::size_t{3}, size / 4, size / 2, size - 1}) {
    SCOPED_TRACE("kept " + std::to_string(keep) + " of " + std::to_string(size) + " bytes");
    const std::string path = dir_.file("truncated_" + std::to_string(keep) + ".onnx");
    const std::string bytes = fashion_bytes_.substr(0, keep);
    write_bytes(path, bytes);
    expect_clean_failure(run_act("inspect " + path), 1, {path, "not a valid ONNX model"});
    expect_clean_failure(run_act("inspect --json " + path), 1, {path});
    EXPECT_EQ(read_bytes(path), bytes) << path << " was modified";
  }
}

TEST_F(ActCliBadInput, InspectRandomBytesAndEmptyFileNameTheFile) {
  std::mt19937 gen(20240601);
  for (int i = 0; i < 4; ++i) {
    std::string bytes(1000 + 997 * static_cast<std::size_t>(i), '\0');
    for (char& c : bytes) c = static_cast<char>(gen() & 0xFF);
    const std::string path = dir_.file("random_" + std::to_string(i) + ".onnx");
    write_bytes(path, bytes);
    SCOPED_TRACE(path);
    expect_clean_failure(run_act("inspect " + path), 1, {path});
    EXPECT_EQ(read_bytes(path), bytes) << path << " was modified";
  }
  const std::string empty = dir_.file("empty.onnx");
  write_bytes(empty, "");
  expect_clean_failure(run_act("inspect " + empty), 1, {empty, "not a valid ONNX model"});
  EXPECT_TRUE(read_bytes(empty).empty());
}

TEST_F(ActCliBadInput, InspectMissingPathOrDirectoryNamesThePath) {
  const std::string missing = dir_.file("no_such_model.onnx");
  expect_clean_failure(run_act("inspect " + missing), 1, {missing, "no such file"});
  EXPECT_FALSE(std::filesystem::exists(missing)) << "a failed inspect created " << missing;
  const std::string folder = dir_.file("a_folder.onnx");
  std::filesystem::create_directory(folder);
  expect_clean_failure(run_act("inspect " + folder), 1, {folder, "directory"});
}

TEST_F(ActCliBadInput, EvalTruncatedModelNamesTheModel) {
  const std::string model = dir_.file("half.onnx");
  const std::string model_bytes = fashion_bytes_.substr(0, fashion_bytes_.size() / 2);
  write_bytes(model, model_bytes);
  const std::string data = dir_.file("x.npy");
  host::save_npy(data, Tensor::zeros(DType::kF32, {2, 1, 28, 28}));
  const std::string data_bytes = read_bytes(data);
  expect_clean_failure(run_act("eval " + model + " --data " + data), 1, {model});
  EXPECT_EQ(read_bytes(model), model_bytes);
  EXPECT_EQ(read_bytes(data), data_bytes);
}

// ---- bad data (exit 1)

TEST_F(ActCliBadInput, EvalMissingDataOrLabelsNamesThePath) {
  const std::string missing = dir_.file("no_such_data.npy");
  expect_clean_failure(run_act("eval " + kFashion + " --data " + missing), 1, {missing});
  EXPECT_FALSE(std::filesystem::exists(missing));

  const std::string data = dir_.file("x.npy");
  host::save_npy(data, Tensor::zeros(DType::kF32, {2, 1, 28, 28}));
  const std::string labels = dir_.file("no_such_labels.npy");
  expect_clean_failure(run_act("eval " + kFashion + " --data " + data + " --labels " + labels), 1,
                       {"no_such_labels.npy"});
}

TEST_F(ActCliBadInput, EvalCorruptDataNamesTheFile) {
  // The header promises 4 images of 28x28; only 2 are there.
  const std::string images = dir_.file("cut-images-idx3-ubyte");
  const std::string bytes = idx_bytes({4, 28, 28}, 2 * 28 * 28);
  write_bytes(images, bytes);
  expect_clean_failure(run_act("eval " + kFashion + " --data " + images), 1,
                       {"cut-images-idx3-ubyte", "truncated"});
  EXPECT_EQ(read_bytes(images), bytes);

  const std::string npy = dir_.file("junk.npy");
  write_bytes(npy, "\x93NUMPY this is not a header");
  expect_clean_failure(run_act("eval " + kFashion + " --data " + npy), 1, {"junk.npy"});
  EXPECT_EQ(read_bytes(npy), "\x93NUMPY this is not a header");
}

TEST_F(ActCliBadInput, EvalIdxImagesIntoThreeChannelModelNamesInputAndShapes) {
  // Fashion-MNIST-style IDX files (1x28x28 samples, sibling labels) into a model that takes
  // [N, 3, 8, 8]: the check must happen before any run and show both shapes.
  const std::string model = dir_.file("conv_matmul.onnx");
  host::save_onnx(conv_matmul_model(), model);
  const std::string model_bytes = read_bytes(model);
  const std::string images = dir_.file("small-images-idx3-ubyte");
  const std::string labels = dir_.file("small-labels-idx1-ubyte");
  const std::string image_bytes = idx_bytes({5, 28, 28}, 5 * 28 * 28);
  const std::string label_bytes = idx_bytes({5}, 5);
  write_bytes(images, image_bytes);
  write_bytes(labels, label_bytes);
  expect_clean_failure(run_act("eval " + model + " --data " + images), 1,
                       {"input 'x'", "[N, 3, 8, 8]", "[1, 28, 28]"});
  EXPECT_EQ(read_bytes(model), model_bytes);
  EXPECT_EQ(read_bytes(images), image_bytes);
  EXPECT_EQ(read_bytes(labels), label_bytes);
}

// ---- valid models the kernel cannot run

TEST_F(ActCliBadInput, EvalUnsupportedOpNamesOpAndNode) {
  const std::string data = dir_.file("x.npy");
  host::save_npy(data, Tensor::zeros(DType::kF32, {3, 1, 28, 28}));
  const std::string data_bytes = read_bytes(data);
  struct Case {
    std::string op, domain, node;
  };
  // A standard ONNX op without an ACT kernel, and an op from a custom domain.
  for (const Case& c :
       {Case{"Hardmax", "", "hardmax_node"}, Case{"Frobnicate", "com.example", "frob_node"}}) {
    SCOPED_TRACE(c.op);
    const std::string model = dir_.file(c.node + ".onnx");
    host::save_onnx(model_with_op(c.op, c.domain, c.node), model);
    const std::string model_bytes = read_bytes(model);
    expect_clean_failure(run_act("eval " + model + " --data " + data), 1,
                         {"'" + c.op + "'", "'" + c.node + "'", model});
    // inspect describes without running, so it needs no kernel and must still work.
    const CliResult r = run_act("inspect " + model);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find(c.op), std::string::npos) << r.out;
    EXPECT_EQ(read_bytes(model), model_bytes);
  }
  EXPECT_EQ(read_bytes(data), data_bytes);
}

}  // namespace
}  // namespace act::test
