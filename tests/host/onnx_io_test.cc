#include "act/host/onnx_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "act/kernel/executor.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "test_util.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;
using host::load_onnx;
using host::load_tensor_pb;
using host::save_onnx;

// Expects `fn` to throw act::Error whose message contains every one of `parts`.
template <typename Fn>
void expect_error(Fn fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no act::Error thrown";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\n  lacks: " << p;
  }
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

bool same_attr(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Tensor>) {
          return same_bytes(x, std::get<Tensor>(b));
        } else {
          return x == std::get<T>(b);
        }
      },
      a);
}

void expect_same_graph(const Model& a, const Model& b) {
  EXPECT_EQ(a.ir_version, b.ir_version);
  EXPECT_EQ(a.opset_imports, b.opset_imports);
  EXPECT_EQ(a.producer_name, b.producer_name);
  EXPECT_EQ(a.producer_version, b.producer_version);
  EXPECT_EQ(a.doc_string, b.doc_string);
  EXPECT_EQ(a.metadata_props, b.metadata_props);
  EXPECT_EQ(a.graph.name, b.graph.name);
  EXPECT_EQ(a.graph.doc_string, b.graph.doc_string);
  ASSERT_EQ(a.graph.nodes().size(), b.graph.nodes().size());
  for (std::size_t i = 0; i < a.graph.nodes().size(); ++i) {
    const Node& x = a.graph.nodes()[i];
    const Node& y = b.graph.nodes()[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.op_type, y.op_type);
    EXPECT_EQ(x.domain, y.domain);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.outputs, y.outputs);
    EXPECT_EQ(x.doc_string, y.doc_string);
    ASSERT_EQ(x.attrs.all().size(), y.attrs.all().size()) << x.name;
    for (const auto& [k, v] : x.attrs.all()) {
      ASSERT_TRUE(y.attrs.has(k)) << x.name << "." << k;
      EXPECT_TRUE(same_attr(v, y.attrs.all().at(k))) << x.name << "." << k;
    }
  }
  ASSERT_EQ(a.graph.initializers().size(), b.graph.initializers().size());
  for (const auto& [name, t] : a.graph.initializers()) {
    ASSERT_NE(b.graph.initializer(name), nullptr) << name;
    EXPECT_TRUE(same_bytes(t, *b.graph.initializer(name))) << name;
  }
  auto same_infos = [](const std::vector<ValueInfo>& p, const std::vector<ValueInfo>& q) {
    ASSERT_EQ(p.size(), q.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      EXPECT_EQ(p[i].name, q[i].name);
      EXPECT_EQ(p[i].dtype, q[i].dtype);
      EXPECT_EQ(p[i].has_shape, q[i].has_shape);
      EXPECT_EQ(p[i].shape, q[i].shape) << p[i].name;
    }
  };
  same_infos(a.graph.inputs(), b.graph.inputs());
  same_infos(a.graph.outputs(), b.graph.outputs());
}

TEST(OnnxIo, RoundTripKeepsGraphAndOutputs) {
  ScratchDir dir;
  Model original = conv_matmul_model();
  save_onnx(original, dir.file("a.onnx"));
  onnx::checker::check_model(dir.file("a.onnx"));  // throws on failure
  Model loaded = load_onnx(dir.file("a.onnx"));
  expect_same_graph(original, loaded);
  // ONNX's shape inference ran at load: the intermediate conv output has a shape.
  const ValueInfo* c = loaded.graph.value_info("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->shape_string(), "[N, 4, 4, 4]");

  save_onnx(loaded, dir.file("b.onnx"));
  onnx::checker::check_model(dir.file("b.onnx"));
  Model again = load_onnx(dir.file("b.onnx"));
  expect_same_graph(original, again);

  const Tensor x = random_tensor({2, 3, 8, 8}, 9);
  Executor e1(original.graph, original.default_opset());
  Executor e2(again.graph, again.default_opset());
  const auto r1 = e1.run(std::vector<Tensor>{x});
  const auto r2 = e2.run(std::vector<Tensor>{x});
  ASSERT_EQ(r1.outputs.size(), 1u);
  ASSERT_EQ(r2.outputs.size(), 1u);
  EXPECT_EQ(r1.outputs[0].shape(), (Shape{2, 5}));
  EXPECT_TRUE(same_bytes(r1.outputs[0], r2.outputs[0]));
}

TEST(OnnxIo, RoundTripsEveryDtypeAndAttributeKind) {
  ScratchDir dir;
  Model m;
  m.opset_imports = {{"", 13}, {"com.example", 1}};
  Graph& g = m.graph;
  g.name = "kinds";
  g.add_input(tensor_info("x", DType::kF32, {Dim{2, {}}, Dim{-1, "T"}, Dim{}}));
  g.add_output(tensor_info("y", DType::kF32, {Dim{-1, "Y"}}));
  g.set_initializer("f32", random_tensor({3}, 1));
  g.set_initializer("f64", Tensor::from_vector<double>({2}, {1.5, -2.25}));
  Tensor f16(DType::kF16, {2});
  static_cast<std::uint16_t*>(f16.raw_data())[0] = float_to_half(0.5f);
  static_cast<std::uint16_t*>(f16.raw_data())[1] = float_to_half(-3.0f);
  g.set_initializer("f16", f16);
  g.set_initializer("i8", Tensor::from_vector<std::int8_t>({2}, {-128, 127}));
  g.set_initializer("u8", Tensor::from_vector<std::uint8_t>({2}, {0, 255}));
  g.set_initializer("i32", Tensor::from_vector<std::int32_t>({2, 1}, {-7, 1 << 30}));
  g.set_initializer("i64", Tensor::scalar<std::int64_t>(std::int64_t{1} << 40));
  g.set_initializer("bool", Tensor::from_vector<bool>({3}, {true, false, true}));
  g.set_initializer("empty", Tensor::zeros(DType::kF32, {0, 4}));
  Node n{"custom", "Foo", "com.example", {"x", "", "f32"}, {"y"}, {}, "doc"};
  n.attrs.set("i", std::int64_t{-3});
  n.attrs.set("f", 2.5f);
  n.attrs.set("s", std::string("hello"));
  n.attrs.set("t", Tensor::from_vector<std::int64_t>({2}, {4, 5}));
  n.attrs.set("ints", std::vector<std::int64_t>{1, 2, 3});
  n.attrs.set("floats", std::vector<float>{0.25f, -1.0f});
  n.attrs.set("strings", std::vector<std::string>{"a", "bc"});
  g.add_node(n);
  save_onnx(m, dir.file("k.onnx"));
  const Model loaded = load_onnx(dir.file("k.onnx"));
  expect_same_graph(m, loaded);
  EXPECT_EQ(loaded.graph.inputs()[0].shape_string(), "[2, T, ?]");
  EXPECT_EQ(loaded.graph.outputs()[0].shape_string(), "[Y]");
}

TEST(OnnxIo, SaveFillsInUnannotatedOutputs) {
  ScratchDir dir;
  Model m = conv_matmul_model();
  m.graph.mutable_outputs()[0] = ValueInfo{"y", DType::kF32, false, false, {}};
  save_onnx(m, dir.file("m.onnx"));
  const Model loaded = load_onnx(dir.file("m.onnx"));
  // Reshape's -1 leaves the batch dim to a generated symbol; the rest is known.
  const ValueInfo& y = loaded.graph.outputs()[0];
  EXPECT_TRUE(y.has_dtype);
  ASSERT_EQ(y.shape.size(), 2u);
  EXPECT_EQ(y.shape[1].value, 5);
}

TEST(OnnxIo, SavedFileIsUntouchedWhenCheckerFails) {
  ScratchDir dir;
  save_onnx(conv_matmul_model(), dir.file("m.onnx"));
  const std::string before = read_bytes(dir.file("m.onnx"));
  Model bad = conv_matmul_model();
  bad.graph.mutable_nodes()[0].op_type = "NoSuchOp";  // default domain: the checker refuses
  expect_error([&] { save_onnx(bad, dir.file("m.onnx")); }, {"m.onnx", "checker"});
  EXPECT_EQ(read_bytes(dir.file("m.onnx")), before);
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1) << "temporary file left behind";
}

TEST(OnnxIo, MissingTruncatedAndGarbageFilesNameTheFile) {
  ScratchDir dir;
  expect_error([&] { load_onnx(dir.file("nothere.onnx")); }, {"nothere.onnx", "no such file"});
  save_onnx(conv_matmul_model(), dir.file("good.onnx"));
  const std::string bytes = read_bytes(dir.file("good.onnx"));
  write_bytes(dir.file("half.onnx"), bytes.substr(0, bytes.size() / 2));
  expect_error([&] { load_onnx(dir.file("half.onnx")); }, {"half.onnx", "not a valid ONNX model"});
  write_bytes(dir.file("garbage.onnx"), std::string("\xff\xfe this is not protobuf \x01\x02", 27));
  expect_error([&] { load_onnx(dir.file("garbage.onnx")); },
               {"garbage.onnx", "not a valid ONNX model"});
  write_bytes(dir.file("empty.onnx"), "");
  expect_error([&] { load_onnx(dir.file("empty.onnx")); },
               {"empty.onnx", "not a valid ONNX model"});
  expect_error([&] { load_tensor_pb(dir.file("garbage.onnx")); }, {"garbage.onnx"});
}

// A model computing y = x + W where W lives in an external file.
onnx::ModelProto external_model(const std::string& location, std::int64_t offset) {
  onnx::ModelProto p;
  p.set_ir_version(8);
  auto* op = p.add_opset_import();
  op->set_version(13);
  auto* g = p.mutable_graph();
  g->set_name("ext");
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("x");
  n->add_input("W");
  n->add_output("y");
  for (const char* name : {"x", "y"}) {
    auto* v = (name[0] == 'x' ? g->add_input() : g->add_output());
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_value(4);
  }
  auto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = w->add_external_data();
  kv->set_key("location");
  kv->set_value(location);
  kv = w->add_external_data();
  kv->set_key("offset");
  kv->set_value(std::to_string(offset));
  kv = w->add_external_data();
  kv->set_key("length");
  kv->set_value("16");
  return p;
}

void write_model(const onnx::ModelProto& p, const std::string& path) {
  std::string bytes;
  ASSERT_TRUE(p.SerializeToString(&bytes));
  write_bytes(path, bytes);
}

TEST(OnnxIo, LoadsExternalData) {
  ScratchDir dir;
  const float w[4] = {1.0f, -2.0f, 3.5f, 0.25f};
  std::string blob(8, 'z');  // 8 bytes of padding before the tensor
  blob.append(reinterpret_cast<const char*>(w), sizeof w);
  fs::create_directories(dir.path() / "data");
  write_bytes(dir.file("data/weights.bin"), blob);
  write_model(external_model("data/weights.bin", 8), dir.file("m.onnx"));
  const Model m = load_onnx(dir.file("m.onnx"));
  const Tensor* t = m.graph.initializer("W");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->shape(), (Shape{4}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t->data<float>()[i], w[i]);
  // Saving inlines the data; the result passes the checker and loads without the .bin.
  save_onnx(m, dir.file("inline.onnx"));
  fs::remove(dir.file("data/weights.bin"));
  const Model again = load_onnx(dir.file("inline.onnx"));
  EXPECT_EQ(again.graph.initializer("W")->data<float>()[2], 3.5f);
  // Now the external file is gone: a clear error naming the tensor.
  expect_error([&] { load_onnx(dir.file("m.onnx")); }, {"m.onnx", "'W'", "data/weights.bin"});
}

TEST(OnnxIo, RefusesExternalDataOutsideTheModelFolder) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "model");
  const std::string blob(16, '\0');
  write_bytes(dir.file("outside.bin"), blob);
  const std::string model = (dir.path() / "model" / "m.onnx").string();

  write_model(external_model("../outside.bin", 0), model);
  expect_error([&] { load_onnx(model); }, {"m.onnx", "'W'", "../outside.bin", "outside"});

  write_model(external_model("sub/../../outside.bin", 0), model);
  expect_error([&] { load_onnx(model); }, {"'W'", "sub/../../outside.bin"});

  write_model(external_model(dir.file("outside.bin"), 0), model);
  expect_error([&] { load_onnx(model); }, {"'W'", "absolute", dir.file("outside.bin")});

  // A symlink inside the folder that points outside it.
  fs::create_symlink(dir.file("outside.bin"), dir.path() / "model" / "link.bin");
  write_model(external_model("link.bin", 0), model);
  expect_error([&] { load_onnx(model); }, {"'W'", "link.bin", "outside"});
}

TEST(OnnxIo, UnsupportedKindsAreNamed) {
  ScratchDir dir;
  onnx::ModelProto p = external_model("x.bin", 0);
  auto* g = p.mutable_graph();
  g->mutable_initializer(0)->clear_external_data();
  g->mutable_initializer(0)->clear_data_location();
  for (int i = 0; i < 4; ++i) g->mutable_initializer(0)->add_float_data(1.0f);
  auto* n = g->mutable_node(0);
  n->set_name("the_add");
  auto* a = n->add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name("sub");
  write_model(p, dir.file("graph_attr.onnx"));
  expect_error([&] { load_onnx(dir.file("graph_attr.onnx")); },
               {"graph_attr.onnx", "the_add", "body", "GRAPH"});

  n->clear_attribute();
  g->mutable_initializer(0)->set_data_type(onnx::TensorProto::BFLOAT16);
  write_model(p, dir.file("bf16.onnx"));
  expect_error([&] { load_onnx(dir.file("bf16.onnx")); }, {"bf16.onnx", "'W'", "BFLOAT16"});
}

TEST(OnnxIo, LoadsTypedFieldTensors) {
  ScratchDir dir;
  onnx::TensorProto t;
  t.set_name("h");
  t.set_data_type(onnx::TensorProto::FLOAT16);
  t.add_dims(2);
  t.add_int32_data(float_to_half(1.5f));
  t.add_int32_data(float_to_half(-0.25f));
  std::string bytes;
  ASSERT_TRUE(t.SerializeToString(&bytes));
  write_bytes(dir.file("h.pb"), bytes);
  const Tensor h = load_tensor_pb(dir.file("h.pb"));
  ASSERT_EQ(h.dtype(), DType::kF16);
  EXPECT_EQ(half_to_float(static_cast<const std::uint16_t*>(h.raw_data())[1]), -0.25f);

  onnx::TensorProto b;
  b.set_name("b");
  b.set_data_type(onnx::TensorProto::BOOL);
  b.add_dims(3);
  for (int v : {1, 0, 1}) b.add_int32_data(v);
  ASSERT_TRUE(b.SerializeToString(&bytes));
  write_bytes(dir.file("b.pb"), bytes);
  const Tensor bt = load_tensor_pb(dir.file("b.pb"));
  ASSERT_EQ(bt.dtype(), DType::kBool);
  EXPECT_EQ(bt.to_int_vector(), (std::vector<std::int64_t>{1, 0, 1}));

  onnx::TensorProto i64;
  i64.set_name("short");
  i64.set_data_type(onnx::TensorProto::INT64);
  i64.add_dims(3);
  i64.add_int64_data(1);  // one value for three elements
  ASSERT_TRUE(i64.SerializeToString(&bytes));
  write_bytes(dir.file("short.pb"), bytes);
  expect_error([&] { load_tensor_pb(dir.file("short.pb")); }, {"short.pb", "'short'"});
}

}  // namespace
}  // namespace act::test
