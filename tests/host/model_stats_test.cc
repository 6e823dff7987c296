#include "act/host/model_stats.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>

#include "act/host/onnx_io.h"
#include "test_util.h"

namespace act::test {
namespace {

// FLOPs of conv_matmul_model at batch 1, by the formula (2 * MACs):
//   Conv:   output 1x4x4x4 elements, each (3 in-channels * 3*3 kernel) MACs
//   MatMul: [1,64] x [64,5]
constexpr std::int64_t kConvFlops = 2 * (1 * 4 * 4 * 4) * (3 * 3 * 3);
constexpr std::int64_t kMatMulFlops = 2 * 1 * 64 * 5;

void check_conv_matmul_stats(const host::ModelStats& s) {
  ASSERT_EQ(s.layers.size(), 2u);
  EXPECT_EQ(s.layers[0].op_type, "Conv");
  EXPECT_TRUE(s.layers[0].flops_known);
  EXPECT_EQ(s.layers[0].flops, kConvFlops);
  EXPECT_EQ(s.layers[0].params, 4 * 3 * 3 * 3 + 4);
  EXPECT_EQ(s.layers[1].op_type, "MatMul");
  EXPECT_EQ(s.layers[1].flops, kMatMulFlops);
  EXPECT_EQ(s.total_flops, kConvFlops + kMatMulFlops);
  EXPECT_TRUE(s.flops_complete);
  EXPECT_TRUE(s.symbolic_dims_as_one);  // batch "N"
  EXPECT_EQ(s.parameter_count, 4 * 27 + 4 + 2 + 64 * 5 + 5);
  EXPECT_EQ(s.parameter_bytes, (4 * 27 + 4 + 64 * 5 + 5) * 4 + 2 * 8);
  EXPECT_EQ(s.node_count, 4);
  EXPECT_EQ(s.op_histogram.at("Conv"), 1);
  EXPECT_EQ(s.op_histogram.at("Add"), 1);
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0].shape_string(), "[N, 3, 8, 8]");
  ASSERT_EQ(s.distill_candidates.size(), 2u);
  EXPECT_EQ(s.distill_candidates[0].value, "c");
  EXPECT_EQ(s.distill_candidates[1].value, "mm");
}

TEST(ModelStats, ConvAndMatMulFlopsMatchTheFormulaAfterLoad) {
  ScratchDir dir;
  host::save_onnx(conv_matmul_model(), dir.file("m.onnx"));
  check_conv_matmul_stats(host::compute_model_stats(host::load_onnx(dir.file("m.onnx"))));
}

TEST(ModelStats, ConvFlopsWithGroupsAndStrides) {
  // x[2,8,10,10], depthwise-ish Conv group 4, W[8,2,3,3], stride 1, no pad -> y[2,8,8,8].
  Model m;
  m.opset_imports = {{"", 13}};
  m.graph.add_input(
      tensor_info("x", DType::kF32, {Dim{2, {}}, Dim{8, {}}, Dim{10, {}}, Dim{10, {}}}));
  m.graph.add_output(
      tensor_info("y", DType::kF32, {Dim{2, {}}, Dim{8, {}}, Dim{8, {}}, Dim{8, {}}}));
  m.graph.set_initializer("W", random_tensor({8, 2, 3, 3}, 1));
  Node conv{"g", "Conv", "", {"x", "W"}, {"y"}, {}, ""};
  conv.attrs.set("group", std::int64_t{4});
  m.graph.add_node(conv);
  const auto s = host::compute_model_stats(m);
  ASSERT_EQ(s.layers.size(), 1u);
  EXPECT_EQ(s.layers[0].flops, 2 * (2 * 8 * 8 * 8) * (2 * 3 * 3));
  EXPECT_FALSE(s.symbolic_dims_as_one);
}

// Runs the built `act` binary; returns its exit status and stderr.
int run_act(const std::string& args, std::string* err) {
  ScratchDir dir;
  const std::string cmd = std::string(ACT_BINARY_DIR) + "/bin/act " + args + " >" +
                          dir.file("out") + " 2>" + dir.file("err");
  const int status = std::system(cmd.c_str());
  *err = read_bytes(dir.file("err"));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(InspectCli, ExitCodes) {
  std::string err;
  EXPECT_EQ(run_act("inspect --bogus-flag x.onnx", &err), 2);
  EXPECT_NE(err.find("bogus-flag"), std::string::npos) << err;
  EXPECT_EQ(run_act("inspect", &err), 2);
  EXPECT_EQ(run_act("inspect /nonexistent/m.onnx", &err), 1);
  EXPECT_NE(err.find("/nonexistent/m.onnx: no such file"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;

  ScratchDir dir;
  write_bytes(dir.file("bad.onnx"), "garbage");
  EXPECT_EQ(run_act("inspect " + dir.file("bad.onnx"), &err), 1);
  EXPECT_NE(err.find("bad.onnx"), std::string::npos) << err;

  host::save_onnx(conv_matmul_model(), dir.file("m.onnx"));
  EXPECT_EQ(run_act("inspect " + dir.file("m.onnx"), &err), 0) << err;
  EXPECT_EQ(run_act("inspect --json " + dir.file("m.onnx"), &err), 0) << err;
  EXPECT_EQ(run_act("inspect --help", &err), 0);
}

}  // namespace
}  // namespace act::test
