// The distill plugin's parts, compiled into the test (the plugin hides them): the nested list
// reader, the section reader's refusals, the loss subgraphs against hand-written loops (and
// soft_label against the kernel's own KL at equal temperatures), ACT's automatic nodes, and
// the teacher merge (prefix, frozen weights, feeds, no gradient into the teacher).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "act/kernel/executor.h"
#include "act/kernel/graph_trainer.h"
#include "act/kernel/losses.h"
#include "act/sdk/flow_list.h"
#include "act/sdk/host_objects.h"
#include "distill_losses.h"
#include "distill_nodes.h"
#include "distill_spec.h"
#include "error_of.h"
#include "host/test_util.h"
#include "teacher_merge.h"

namespace act::test {
namespace {

using distill::LossKind;

const std::string kModel = ACT_SOURCE_DIR "/models/fashion_cnn.onnx";

distill::DistillSpec spec_of(const std::string& section,
                             std::vector<std::pair<std::string, std::string>> entries) {
  return distill::read_distill_spec(sdk::KeyValueConfig(section, std::move(entries)));
}

TEST(DistillFlowList, NestedListsQuotesAndErrors) {
  const sdk::FlowValue v = sdk::parse_flow("[a, [b, 'c, d'], \"e\"]", "k");
  ASSERT_TRUE(v.is_list);
  ASSERT_EQ(v.items.size(), 3U);
  EXPECT_EQ(v.items[0].scalar, "a");
  ASSERT_TRUE(v.items[1].is_list);
  EXPECT_EQ(v.items[1].items[1].scalar, "c, d");
  EXPECT_EQ(v.items[2].scalar, "e");
  EXPECT_EQ(sdk::flow_text(v), "[a, [b, c, d], e]");
  EXPECT_FALSE(sdk::parse_flow("/conv1/Conv_output_0", "k").is_list);
  EXPECT_TRUE(sdk::parse_flow("", "k").items.empty());
  EXPECT_TRUE(sdk::parse_flow("[]", "k").items.empty());
  EXPECT_NE(error_of([] {
              sdk::parse_flow("[a, [b]", "Distillation.node");
            }).find("Distillation.node: a '[' is never closed"),
            std::string::npos);
  EXPECT_NE(error_of([] { sdk::parse_flow("[a, {b: c}]", "k"); }).find("maps"), std::string::npos);
}

TEST(DistillSpec, ActKeysOneOrPerNode) {
  const auto spec = spec_of("Distillation", {{"node", "[conv, [t_out, s_out]]"},
                                             {"loss", "[l2, soft_label]"},
                                             {"alpha", "[1.0, 0.5]"},
                                             {"student_temperature", "2"}});
  ASSERT_EQ(spec.teachers.size(), 1U);
  const auto& t = spec.teachers[0];
  EXPECT_TRUE(t.path.empty());
  EXPECT_TRUE(t.merge_feed);
  ASSERT_EQ(t.losses.size(), 2U);
  EXPECT_EQ(t.losses[0].kind, LossKind::kL2);
  EXPECT_EQ(t.losses[0].teacher, std::vector<std::string>{"conv"});
  EXPECT_EQ(t.losses[1].kind, LossKind::kSoftLabel);
  EXPECT_EQ(t.losses[1].teacher, std::vector<std::string>{"t_out"});
  EXPECT_EQ(t.losses[1].student, std::vector<std::string>{"s_out"});
  EXPECT_DOUBLE_EQ(t.losses[1].alpha, 0.5);
  EXPECT_DOUBLE_EQ(t.losses[1].student_temperature, 2.0);

  // ACT's flat pair form, and fsp sections.
  const auto flat = spec_of("Distillation", {{"node", "[teacher_a, a, teacher_b, b]"}});
  ASSERT_EQ(flat.teachers[0].losses.size(), 2U);
  EXPECT_EQ(flat.teachers[0].losses[1].teacher, std::vector<std::string>{"teacher_b"});
  EXPECT_EQ(flat.teachers[0].losses[1].student, std::vector<std::string>{"b"});
  const auto fsp = spec_of("Distillation", {{"node", "[[a, b], [c, d, e, f]]"}, {"loss", "fsp"}});
  EXPECT_EQ(fsp.teachers[0].losses[1].teacher, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(fsp.teachers[0].losses[1].student, (std::vector<std::string>{"e", "f"}));

  const auto automatic =
      spec_of("Distillation", {{"teacher_model_dir", "big"}, {"teacher_model_filename", "m.onnx"}});
  EXPECT_TRUE(automatic.teachers[0].automatic);
  EXPECT_EQ(automatic.teachers[0].path, "big/m.onnx");
}

TEST(DistillSpec, MultiTeacherAndLegacySections) {
  const auto multi = spec_of("MultiTeacherDistillation", {{"teacher_model_dir", "[a.onnx, b.onnx]"},
                                                          {"node", "[[x], [[tx, y]]]"},
                                                          {"loss", "[l2, soft_label]"},
                                                          {"alpha", "[1, 2]"}});
  ASSERT_EQ(multi.teachers.size(), 2U);
  EXPECT_EQ(multi.teachers[1].path, "b.onnx");
  EXPECT_EQ(multi.teachers[1].losses[0].kind, LossKind::kSoftLabel);
  EXPECT_EQ(multi.teachers[1].losses[0].teacher, std::vector<std::string>{"tx"});
  EXPECT_DOUBLE_EQ(multi.teachers[1].losses[0].alpha, 2.0);

  const auto fsp = spec_of("FSPDistiller", {{"class", "FSPDistiller"},
                                            {"teacher_pairs", "[[teacher_a, teacher_b]]"},
                                            {"student_pairs", "[[a, b]]"},
                                            {"distillation_loss_weight", "0.5"}});
  const auto& l = fsp.teachers[0].losses.at(0);
  EXPECT_EQ(l.kind, LossKind::kFsp);
  EXPECT_EQ(l.teacher, (std::vector<std::string>{"teacher_a", "teacher_b"}));
  EXPECT_DOUBLE_EQ(l.alpha, 0.5);
  const auto soft = spec_of(
      "SoftLabelDistiller",
      {{"teacher_feature_map", "t"}, {"student_feature_map", "s"}, {"teacher_temperature", "3"}});
  EXPECT_DOUBLE_EQ(soft.teachers[0].losses.at(0).teacher_temperature, 3.0);
}

TEST(DistillSpec, RefusalsNameTheKey) {
  auto e = [](const std::string& section, std::vector<std::pair<std::string, std::string>> kv) {
    return error_of([&] { spec_of(section, kv); });
  };
  EXPECT_NE(e("Distillation", {{"loss", "l3"}})
                .find("Distillation.loss: 'l3' is not a distillation loss (l2, soft_label, fsp); "
                      "did you mean 'l2'?"),
            std::string::npos);
  EXPECT_NE(e("Distillation", {{"nodes", "[a]"}}).find("did you mean 'node'"), std::string::npos);
  EXPECT_NE(e("Distillation", {{"node", "[a, b, c]"}, {"alpha", "[1, 2]"}})
                .find("Distillation.alpha: give one value or one per node (3), got 2"),
            std::string::npos);
  EXPECT_NE(e("Distillation", {{"node", "[a]"}, {"loss", "fsp"}}).find("[start, end]"),
            std::string::npos);
  EXPECT_NE(e("Distillation", {{"teacher_model_dir", "folder"}}).find("is not an .onnx file"),
            std::string::npos);
  EXPECT_NE(e("Distillation", {{"teacher_temperature", "2"}}).find("only soft_label uses them"),
            std::string::npos);
  EXPECT_NE(e("MultiTeacherDistillation", {{"node", "[[a]]"}})
                .find("MultiTeacherDistillation.teacher_model_dir: name one model per teacher"),
            std::string::npos);
  EXPECT_NE(
      e("MultiTeacherDistillation", {{"teacher_model_dir", "[a.onnx, b.onnx]"}, {"node", "[[a]]"}})
          .find("give one list per teacher (2), got 1"),
      std::string::npos);
  EXPECT_NE(e("L2Distiller", {{"teacher_feature_map", "t"}})
                .find("L2Distiller.student_feature_map is required"),
            std::string::npos);
  EXPECT_NE(e("FSPDistiller", {{"teacher_pairs", "[[a, b]]"}, {"student_pairs", "[]"}})
                .find("FSPDistiller.student_pairs"),
            std::string::npos);
}

// A graph with inputs t and s of `shape` whose one loss value is computed.
float run_loss(const std::function<std::string(Graph&)>& build, const Shape& shape_t,
               const Shape& shape_s, const Tensor& t, const Tensor& s) {
  Graph g;
  auto info = [](const std::string& name, const Shape& shape) {
    std::vector<Dim> dims;
    for (auto d : shape) dims.push_back(Dim{d, ""});
    return tensor_info(name, DType::kF32, dims);
  };
  g.add_input(info("t", shape_t));
  g.add_input(info("s", shape_s));
  const std::string loss = build(g);
  g.add_output(ValueInfo{loss});
  Executor ex(g, 13);
  return ex.run(std::map<std::string, Tensor>{{"t", t}, {"s", s}}).outputs.at(0).data<float>()[0];
}

TEST(DistillLosses, L2SoftLabelAndFspAgainstLoops) {
  const Shape shape = {2, 5};
  const Tensor t = random_tensor(shape, 3), s = random_tensor(shape, 4);
  const float* tp = t.data<float>();
  const float* sp = s.data<float>();

  double l2 = 0;
  for (int i = 0; i < 10; ++i) l2 += (sp[i] - tp[i]) * (sp[i] - tp[i]);
  EXPECT_NEAR(
      run_loss([](Graph& g) { return distill::add_l2_loss(g, "t", "s"); }, shape, shape, t, s),
      l2 / 10, 1e-6);

  // KL(softmax(t/2) || softmax(s/0.5)), mean over the two rows.
  auto softmax = [](const float* x, double temp, int n) {
    std::vector<double> p(n);
    double z = 0;
    for (int i = 0; i < n; ++i) z += p[i] = std::exp(x[i] / temp);
    for (double& v : p) v /= z;
    return p;
  };
  double kl = 0;
  for (int r = 0; r < 2; ++r) {
    const auto pt = softmax(tp + 5 * r, 2.0, 5);
    const auto ps = softmax(sp + 5 * r, 0.5, 5);
    for (int i = 0; i < 5; ++i) kl += pt[i] * std::log(pt[i] / ps[i]);
  }
  EXPECT_NEAR(run_loss([](Graph& g) { return distill::add_soft_label_loss(g, "t", "s", 2.0, 0.5); },
                       shape, shape, t, s),
              kl / 2, 1e-5);
  // Equal temperatures: the kernel's Hinton-style KL is the same loss times T^2.
  const float ours =
      run_loss([](Graph& g) { return distill::add_soft_label_loss(g, "t", "s", 3.0, 3.0); }, shape,
               shape, t, s);
  const float kernel =
      run_loss([](Graph& g) { return add_soft_label_kl(g, "s", "t", 3.0F); }, shape, shape, t, s);
  EXPECT_NEAR(ours * 9.0F, kernel, 1e-5);

  // FSP: the teacher's section [2,3,2,2] -> [2,4,2,2], the student's the same channel counts
  // at another spatial size ([2,3,3,1] -> [2,4,3,1]); channel counts differ within a model.
  const Tensor a = random_tensor({2, 3, 2, 2}, 5), b = random_tensor({2, 4, 2, 2}, 6);
  const Tensor c = random_tensor({2, 3, 3, 1}, 7), d = random_tensor({2, 4, 3, 1}, 8);
  auto fsp = [](const Tensor& x, const Tensor& y, int hw) {
    std::vector<double> gm(2 * 3 * 4, 0.0);
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) {
          double acc = 0;
          for (int p = 0; p < hw; ++p) {
            acc += x.data<float>()[(n * 3 + i) * hw + p] * y.data<float>()[(n * 4 + j) * hw + p];
          }
          gm[(n * 3 + i) * 4 + j] = acc / hw;
        }
    return gm;
  };
  const auto gt = fsp(a, b, 4), gs = fsp(c, d, 3);
  double want = 0;
  for (std::size_t i = 0; i < gt.size(); ++i) want += (gt[i] - gs[i]) * (gt[i] - gs[i]);
  want /= static_cast<double>(gt.size());
  Graph g;
  auto add = [&](const std::string& name, const Shape& sh) {
    std::vector<Dim> dims;
    for (auto v : sh) dims.push_back(Dim{v, ""});
    g.add_input(tensor_info(name, DType::kF32, dims));
  };
  add("a", a.shape());
  add("b", b.shape());
  add("c", c.shape());
  add("d", d.shape());
  const std::string loss = distill::add_fsp_loss(g, "a", "b", 4, "c", "d", 3);
  g.add_output(ValueInfo{loss});
  Executor ex(g, 13);
  const float got = ex.run(std::map<std::string, Tensor>{{"a", a}, {"b", b}, {"c", c}, {"d", d}})
                        .outputs.at(0)
                        .data<float>()[0];
  EXPECT_NEAR(got, want, 1e-6);
}

TEST(DistillNodes, AutomaticIsTheLastWeightedLayerAndNamesGetSuggestions) {
  const Model m = host::load_onnx(kModel);
  EXPECT_EQ(distill::automatic_nodes(m.graph), std::vector<std::string>{"logits"});
  EXPECT_EQ(distill::resolve_value(m.graph, "teacher_logits", "the teacher", "k"), "logits");
  const std::string e =
      error_of([&] { distill::resolve_value(m.graph, "/conv3/Conv_output", "the student", "k"); });
  EXPECT_NE(e.find("k: '/conv3/Conv_output' is not a value of the student (did you mean "
                   "'/conv3/Conv_output_0'?)"),
            std::string::npos)
      << e;
  const distill::StaticShapes shapes(m.graph, m.default_opset());
  EXPECT_EQ(shapes.of("/conv2/Conv_output_0", "k"), (Shape{1, 32, 14, 14}));
  EXPECT_EQ(shapes.of("logits", "k"), (Shape{1, 10}));
}

TEST(DistillMerge, PrefixedFrozenTeacherReadsTheStudentInputAndGetsNoGradient) {
  Model student = host::load_onnx(kModel);
  Model teacher = student;
  teacher.graph.mutable_inputs()[0].name = "pixels";  // another export's input name
  for (Node& n : teacher.graph.mutable_nodes()) {
    for (std::string& in : n.inputs) {
      if (in == "image") in = "pixels";
    }
  }
  const std::string e = error_of([&] {
    Model s = student;
    distill::merge_teacher(s, teacher, false, "D");
  });
  EXPECT_NE(e.find("D: the teacher's input 'pixels' is not an input of the student ('image')"),
            std::string::npos)
      << e;

  const distill::MergedTeacher m = distill::merge_teacher(student, teacher, true, "D");
  EXPECT_EQ(m.prefix, "teacher_");
  EXPECT_EQ(m.value("pixels"), "image");
  EXPECT_EQ(m.value("logits"), "teacher_logits");
  student.graph.validate(&OpRegistry::global());
  for (const auto& [name, t] : student.graph.initializers()) {
    EXPECT_EQ(student.graph.is_frozen(name), name.rfind("teacher_", 0) == 0) << name;
  }
  // A second copy of the same teacher takes the next free prefix.
  Model twice = student;
  EXPECT_EQ(distill::merge_teacher(twice, teacher, true, "D").prefix, "teacher2_");

  // Training the merged graph on the l2 loss: the student's weights move, the teacher's
  // are not even trainable.
  const std::string loss = distill::add_l2_loss(student.graph, "teacher_logits", "logits");
  GraphTrainerOptions o;
  o.batch_size = 4;
  o.loss_terms = {loss};
  GraphTrainer trainer(student.graph, student.default_opset(), o);
  for (const std::string& p : trainer.trainable()) EXPECT_NE(p.rfind("teacher_", 0), 0U) << p;
  EXPECT_EQ(trainer.trainable().size(), 8U);
  const LossParts parts =
      trainer.forward_backward({{"image", random_tensor({4, 1, 28, 28}, 9)}}, {1.0});
  EXPECT_NEAR(parts.terms.at(0), 0.0, 1e-12);  // identical weights: teacher == student
}

TEST(DistillMerge, OpsetsMustAgree) {
  Model student = host::load_onnx(kModel);
  Model teacher = student;
  teacher.opset_imports = {{"", 17}};
  EXPECT_NE(error_of([&] {
              distill::merge_teacher(student, teacher, true, "D");
            }).find("D: the teacher is opset 17 and the student opset 13"),
            std::string::npos);
}

}  // namespace
}  // namespace act::test
