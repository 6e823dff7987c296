// ONNX backend node tests (Debian's libonnx-testdata) run through act::Executor.
//
// One parameterized test per /usr/share/libonnx-testdata/data/node/test_* directory whose ops
// are all ones ACT implements. Known, documented failures live in skipped.txt
// ("test_name  reason"). At exit the runner prints pass/skip/fail counts per op.
// ACT_CONFORMANCE_FAILURES=FILE additionally writes every failing test with its first failure
// message, as a starting point for skipped.txt.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "act/host/onnx_io.h"
#include "act/kernel/executor.h"
#include "onnx/onnx_pb.h"

namespace {

namespace fs = std::filesystem;

const char* const kNodeTestRoot = "/usr/share/libonnx-testdata/data/node";

// The ops ACT implements (default ONNX domain). A test is instantiated only when every node
// of its model is one of these.
const std::set<std::string>& supported_ops() {
  static const std::set<std::string> ops = {"Conv",
                                            "ConvTranspose",
                                            "Gemm",
                                            "MatMul",
                                            "Add",
                                            "Sub",
                                            "Mul",
                                            "Div",
                                            "Pow",
                                            "Sqrt",
                                            "Exp",
                                            "Log",
                                            "Neg",
                                            "Abs",
                                            "Reciprocal",
                                            "Relu",
                                            "LeakyRelu",
                                            "PRelu",
                                            "Clip",
                                            "Sigmoid",
                                            "HardSigmoid",
                                            "HardSwish",
                                            "Tanh",
                                            "Erf",
                                            "Softmax",
                                            "LogSoftmax",
                                            "BatchNormalization",
                                            "LayerNormalization",
                                            "InstanceNormalization",
                                            "MaxPool",
                                            "AveragePool",
                                            "GlobalAveragePool",
                                            "Flatten",
                                            "Reshape",
                                            "Transpose",
                                            "Concat",
                                            "Split",
                                            "Slice",
                                            "Gather",
                                            "Squeeze",
                                            "Unsqueeze",
                                            "Shape",
                                            "Constant",
                                            "ConstantOfShape",
                                            "Expand",
                                            "Where",
                                            "Equal",
                                            "Less",
                                            "Greater",
                                            "Cast",
                                            "Pad",
                                            "Resize",
                                            "ReduceMean",
                                            "ReduceSum",
                                            "ReduceMax",
                                            "ArgMax",
                                            "Identity",
                                            "Dropout",
                                            "QuantizeLinear",
                                            "DequantizeLinear"};
  return ops;
}

struct NodeCase {
  std::string name;  // directory name, e.g. "test_conv_with_strides_padding"
  std::string op;    // the op the test is about (for the per-op summary)
};

// gtest prints parameters of failing tests; the name is all a reader needs.
void PrintTo(const NodeCase& c, std::ostream* out) {
  *out << c.name;
}

std::string lower_alnum(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

// The op a test is about: the longest supported op name that prefixes the test's name
// ("test_reduce_sum_keepdims" -> ReduceSum); "_expanded" tests hold the op's function body,
// so the name, not the nodes, says which op they test. Falls back to the first node's op.
std::string primary_op(const std::string& test, const std::vector<std::string>& node_ops) {
  const std::string key = lower_alnum(test.substr(5));
  std::string best;
  for (const auto& op : supported_ops()) {
    const std::string l = lower_alnum(op);
    if (key.rfind(l, 0) == 0 && l.size() > best.size()) best = op;
  }
  if (!best.empty()) return best;
  return node_ops.empty() ? std::string("?") : node_ops.front();
}

int g_unsupported = 0;  // directories whose ops ACT lacks (not instantiated)

std::vector<NodeCase> discover() {
  std::vector<NodeCase> cases;
  std::error_code ec;
  if (!fs::is_directory(kNodeTestRoot, ec)) return cases;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kNodeTestRoot, ec)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_", 0) == 0)
      dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    // Read the op list straight from the protobuf: loading through ACT may fail for reasons
    // (dtypes, attribute kinds) that the test itself should report, not hide.
    onnx::ModelProto proto;
    std::ifstream in(dir / "model.onnx", std::ios::binary);
    if (!in || !proto.ParseFromIstream(&in)) {
      ++g_unsupported;
      continue;
    }
    bool ok = true;
    std::vector<std::string> ops;
    for (const auto& n : proto.graph().node()) {
      const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
      if (!default_domain || supported_ops().count(n.op_type()) == 0) ok = false;
      ops.push_back(n.op_type());
    }
    if (!ok) {
      ++g_unsupported;
      continue;
    }
    const std::string name = dir.filename().string();
    cases.push_back({name, primary_op(name, ops)});
  }
  return cases;
}

const std::map<std::string, std::string>& skip_list() {
  static const std::map<std::string, std::string> list = [] {
    std::map<std::string, std::string> out;
    std::ifstream in(std::string(ACT_SOURCE_DIR) + "/tests/conformance/skipped.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string name;
      ls >> name;
      std::string reason;
      std::getline(ls, reason);
      reason.erase(0, reason.find_first_not_of(" \t"));
      out[name] = reason.empty() ? "listed in tests/conformance/skipped.txt" : reason;
    }
    return out;
  }();
  return list;
}

struct Tally {
  int passed = 0, skipped = 0, failed = 0;
};
std::map<std::string, Tally> g_tally;
std::vector<std::pair<std::string, std::string>> g_failures;

// Element i as double; f16 decoded. Used for floats only.
double float_at(const act::Tensor& t, std::int64_t i) {
  if (t.dtype() == act::DType::kF16) {
    return act::half_to_float(static_cast<const std::uint16_t*>(t.raw_data())[i]);
  }
  return t.get_as_double(i);
}

// ONNX's backend runner: numpy.testing.assert_allclose(rtol=1e-3, atol=1e-5), NaN == NaN.
void expect_close(const act::Tensor& expected, const act::Tensor& actual, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what << ": no output produced";
  ASSERT_EQ(act::dtype_name(actual.dtype()), act::dtype_name(expected.dtype()))
      << what << ": dtype";
  ASSERT_EQ(act::shape_to_string(actual.shape()), act::shape_to_string(expected.shape()))
      << what << ": shape";
  const bool is_float = act::is_floating(expected.dtype());
  int reported = 0;
  std::int64_t mismatches = 0;
  for (std::int64_t i = 0; i < expected.numel(); ++i) {
    bool same;
    double e, a;
    if (is_float) {
      e = float_at(expected, i);
      a = float_at(actual, i);
      if (std::isnan(e) || std::isnan(a)) {
        same = std::isnan(e) && std::isnan(a);
      } else if (std::isinf(e) || std::isinf(a)) {
        same = e == a;
      } else {
        same = std::fabs(a - e) <= 1e-5 + 1e-3 * std::fabs(e);
      }
    } else {
      const auto ei = expected.get_as_int(i);
      const auto ai = actual.get_as_int(i);
      same = ei == ai;
      e = static_cast<double>(ei);
      a = static_cast<double>(ai);
    }
    if (!same) {
      ++mismatches;
      if (reported++ < 5) ADD_FAILURE() << what << "[" << i << "]: expected " << e << ", got " << a;
    }
  }
  EXPECT_EQ(mismatches, 0) << what << ": " << mismatches << " of " << expected.numel()
                           << " elements differ";
}

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  for (int i = 0;; ++i) {
    fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    out.push_back(p);
  }
  return out;
}

class OnnxNodeTest : public ::testing::TestWithParam<NodeCase> {
 protected:
  void TearDown() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    auto& t = g_tally[GetParam().op];
    if (IsSkipped()) {
      ++t.skipped;
    } else if (HasFailure()) {
      ++t.failed;
      std::string msg;
      const auto* result = info->result();
      for (int i = 0; i < result->total_part_count(); ++i) {
        if (result->GetTestPartResult(i).failed()) {
          msg = result->GetTestPartResult(i).message();
          break;
        }
      }
      std::replace(msg.begin(), msg.end(), '\n', ' ');
      g_failures.emplace_back(GetParam().name, msg);
    } else {
      ++t.passed;
    }
  }
};

TEST_P(OnnxNodeTest, Conformance) {
  const NodeCase& c = GetParam();
  if (auto it = skip_list().find(c.name); it != skip_list().end()) GTEST_SKIP() << it->second;

  const fs::path dir = fs::path(kNodeTestRoot) / c.name;
  act::Model model;
  try {
    model = act::host::load_onnx((dir / "model.onnx").string());
  } catch (const std::exception& e) {
    FAIL() << "load: " << e.what();
  }
  std::unique_ptr<act::Executor> exec;
  try {
    exec = std::make_unique<act::Executor>(model.graph, model.default_opset());
  } catch (const std::exception& e) {
    FAIL() << "executor: " << e.what();
  }
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  }
  std::sort(sets.begin(), sets.end());
  ASSERT_FALSE(sets.empty()) << "no test_data_set_* in " << dir;

  for (const auto& set : sets) {
    const std::string set_name = set.filename().string();
    std::vector<act::Tensor> inputs, expected;
    try {
      for (const auto& p : numbered(set, "input_"))
        inputs.push_back(act::host::load_tensor_pb(p.string()));
      for (const auto& p : numbered(set, "output_"))
        expected.push_back(act::host::load_tensor_pb(p.string()));
    } catch (const std::exception& e) {
      FAIL() << set_name << ": " << e.what();
    }
    ASSERT_EQ(inputs.size(), exec->feed_names().size()) << set_name << ": input count";
    act::RunResult result;
    try {
      result = exec->run(inputs);
    } catch (const std::exception& e) {
      FAIL() << set_name << ": run: " << e.what();
    }
    ASSERT_EQ(result.outputs.size(), expected.size()) << set_name << ": output count";
    for (std::size_t i = 0; i < expected.size(); ++i) {
      expect_close(expected[i], result.outputs[i],
                   set_name + " output " + model.graph.outputs()[i].name);
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<NodeCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(OnnxBackend, OnnxNodeTest, ::testing::ValuesIn(discover()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OnnxNodeTest);

// Prints the per-op and total counts after all tests ran (also under --gtest_filter).
class SummaryEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    Tally total;
    for (const auto& [op, t] : g_tally) {
      total.passed += t.passed;
      total.skipped += t.skipped;
      total.failed += t.failed;
    }
    if (g_tally.empty()) return;
    std::printf("\nONNX node conformance, per op (passed / skipped / failed):\n");
    for (const auto& [op, t] : g_tally) {
      std::printf("  %-24s %4d %4d %4d\n", op.c_str(), t.passed, t.skipped, t.failed);
    }
    std::printf(
        "ONNX node conformance: %d passed, %d skipped, %d failed; %d test directories use "
        "ops ACT does not implement (not instantiated)\n",
        total.passed, total.skipped, total.failed, g_unsupported);
    if (const char* path = std::getenv("ACT_CONFORMANCE_FAILURES")) {
      std::ofstream out(path);
      for (const auto& [name, msg] : g_failures) out << name << "  " << msg.substr(0, 200) << "\n";
    }
  }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new SummaryEnvironment);

}  // namespace
