// ConfigReader and the SDK's host objects on their own, without a plugin: parsing rules,
// the unknown-key message, and what the sinks accept and refuse.
#include "act/sdk/config_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "act/kernel/error.h"
#include "act/sdk/host_objects.h"
#include "error_of.h"
#include "host/test_util.h"

namespace act::sdk {
namespace {

TEST(KeyValueConfig, ViewsKeysInOrderAndValuesByKey) {
  KeyValueConfig config("QuantAware", {{"weight_bits", "8"}, {"activation_bits", "8"}});
  const ConfigViewV1& view = config;
  EXPECT_STREQ(view.section(), "QuantAware");
  ASSERT_EQ(view.key_count(), 2U);
  EXPECT_STREQ(view.key(1), "activation_bits");
  EXPECT_EQ(view.key(2), nullptr);
  EXPECT_STREQ(view.value("weight_bits"), "8");
  EXPECT_EQ(view.value("onnx_format"), nullptr);
  EXPECT_EQ(view.value(nullptr), nullptr);
}

TEST(ConfigReader, ParsesNumbersIntegersAndFlags) {
  KeyValueConfig config(
      "S", {{"lr", "1e-3"}, {"bits", "-8"}, {"on", "Yes"}, {"off", "FALSE"}, {"name", "conv 1"}});
  ConfigReader cfg(config);
  EXPECT_EQ(cfg.number("lr", 0.0), 1e-3);
  EXPECT_EQ(cfg.integer("bits", 0), -8);
  EXPECT_TRUE(cfg.flag("on", false));
  EXPECT_FALSE(cfg.flag("off", true));
  EXPECT_EQ(cfg.text("name", ""), "conv 1");
  EXPECT_EQ(cfg.number("absent", 2.5), 2.5);
  EXPECT_EQ(cfg.text("absent_text"), std::nullopt);
  EXPECT_FALSE(cfg.has("also_absent"));
  EXPECT_NO_THROW(cfg.reject_unknown_keys());
}

TEST(ConfigReader, NamesSectionKeyAndTextOfABadValue) {
  KeyValueConfig config("S", {{"bits", "8.5"}, {"lr", "fast"}, {"big", "1e999"}, {"f", "1"}});
  ConfigReader cfg(config);
  EXPECT_EQ(error_of([&] { cfg.integer("bits", 0); }), "S.bits: '8.5' is not an integer");
  EXPECT_EQ(error_of([&] { cfg.number("lr", 0); }), "S.lr: 'fast' is not a number");
  EXPECT_EQ(error_of([&] { cfg.number("big", 0); }), "S.big: '1e999' is not a number");
  EXPECT_EQ(error_of([&] { cfg.flag("f", false); }), "S.f: '1' is not true or false");
}

TEST(ConfigReader, UnknownKeyWithoutACloseMatchListsTheKnownKeys) {
  KeyValueConfig config("Distillation", {{"alpha", "1"}, {"teacher_model", "t.onnx"}});
  ConfigReader cfg(config);
  cfg.number("alpha", 1.0);
  cfg.text("node", "");
  EXPECT_EQ(error_of([&] { cfg.reject_unknown_keys(); }),
            "Distillation: unknown key 'teacher_model' (known keys: alpha, node)");
}

TEST(ConfigReader, EveryGetterMarksItsKeyKnownEvenWhenAbsent) {
  KeyValueConfig config("S", {{"a", "1"}});
  ConfigReader cfg(config);
  EXPECT_EQ(error_of([&] { cfg.reject_unknown_keys(); }), "S: unknown key 'a'");
  cfg.has("a");
  EXPECT_NO_THROW(cfg.reject_unknown_keys());
}

TEST(ConfigReader, ReadsFlowListsAsTheHostEmitsThem) {
  KeyValueConfig config("QuantAware", {{"ops", "[conv2d, depthwise_conv2d]"},
                                       {"one", "skip_quant"},
                                       {"quoted", R"(['a, b', "c\"d", 'it''s', " e "])"},
                                       {"empty_list", "[ ]"},
                                       {"null", ""},
                                       {"ratios", "[0.5, 1e-3, -2]"},
                                       {"ratio", "0.25"}});
  ConfigReader cfg(config);
  EXPECT_EQ(cfg.strings("ops"), (std::vector<std::string>{"conv2d", "depthwise_conv2d"}));
  EXPECT_EQ(cfg.strings("one"), (std::vector<std::string>{"skip_quant"}));
  EXPECT_EQ(cfg.strings("quoted"), (std::vector<std::string>{"a, b", "c\"d", "it's", " e "}));
  EXPECT_TRUE(cfg.strings("empty_list").empty());
  EXPECT_TRUE(cfg.strings("null").empty());
  EXPECT_TRUE(cfg.strings("absent").empty());
  EXPECT_EQ(cfg.numbers("ratios"), (std::vector<double>{0.5, 1e-3, -2}));
  EXPECT_EQ(cfg.numbers("ratio"), (std::vector<double>{0.25}));
  EXPECT_TRUE(cfg.numbers("absent_numbers").empty());
  EXPECT_NO_THROW(cfg.reject_unknown_keys());
}

TEST(ConfigReader, RefusesNestedAndMalformedListsNamingTheKey) {
  KeyValueConfig config("Distillation", {{"node", "[[a, b], [c]]"},
                                         {"map", "{a: 1}"},
                                         {"open", "[a, b"},
                                         {"gap", "[a, , b]"},
                                         {"tail", "[a] b"},
                                         {"quote", "['a, b]"},
                                         {"alpha", "[1, x]"},
                                         {"inner_map", "[a, {b: 1}]"}});
  ConfigReader cfg(config);
  EXPECT_EQ(error_of([&] { cfg.strings("node"); }),
            "Distillation.node: nested lists and maps are not supported, got '[[a, b], [c]]'");
  EXPECT_EQ(error_of([&] { cfg.strings("map"); }),
            "Distillation.map: expected a list, got the map '{a: 1}'");
  EXPECT_EQ(error_of([&] { cfg.strings("open"); }),
            "Distillation.open: '[a, b' lacks its closing ']'");
  EXPECT_EQ(error_of([&] { cfg.strings("gap"); }), "Distillation.gap: empty element in '[a, , b]'");
  EXPECT_EQ(error_of([&] { cfg.strings("tail"); }),
            "Distillation.tail: unexpected text after ']' in '[a] b'");
  EXPECT_EQ(error_of([&] { cfg.strings("quote"); }),
            "Distillation.quote: unterminated quote in '['a, b]'");
  EXPECT_EQ(error_of([&] { cfg.numbers("alpha"); }), "Distillation.alpha: 'x' is not a number");
  EXPECT_EQ(error_of([&] { cfg.strings("inner_map"); }),
            "Distillation.inner_map: nested lists and maps are not supported, got '[a, {b: 1}]'");
}

TEST(ClosestName, SuggestsOnlyNearNamesIgnoringCase) {
  const std::vector<std::string> sections = {"Global", "TrainConfig", "QuantAware"};
  EXPECT_EQ(closest_name("Globals", sections), "Global");
  EXPECT_EQ(closest_name("trainconfig", sections), "TrainConfig");
  EXPECT_EQ(closest_name("TRAINCONFIG", sections), "TrainConfig");
  EXPECT_EQ(closest_name("QuantAwre", sections), "QuantAware");
  EXPECT_EQ(closest_name("Distillation", sections), "");
  EXPECT_EQ(closest_name("lr", {"learning_rate"}), "");
  EXPECT_EQ(closest_name("x", {}), "");
}

TEST(LossTerms, RefusesWhatTheTrainerCouldNotUse) {
  LossTerms loss;
  LossSinkV1& sink = loss;
  EXPECT_TRUE(sink.add("kd", "student_logits_l2", 0.5).ok());
  EXPECT_STREQ(sink.add("", "v", 1).error, "loss term without a name");
  EXPECT_STREQ(sink.add("t", "", 1).error, "loss term 't' names no graph value");
  EXPECT_STREQ(sink.add("t", "v", std::numeric_limits<double>::quiet_NaN()).error,
               "loss term 't' has a non-finite weight");
  EXPECT_STREQ(sink.add("kd", "other", 1).error, "loss term 'kd' added twice in one step");
  ASSERT_EQ(loss.terms().size(), 1U);
  loss.clear();
  EXPECT_TRUE(sink.add("kd", "student_logits_l2", 0.5).ok());
}

TEST(ReportEntries, KeepsOrderAndPrintsNumbers) {
  ReportEntries report;
  ReportWriterV1& writer = report;
  writer.text("method", "gmp");
  writer.number("sparsity_percent", 75);
  writer.text(nullptr, "ignored");
  ASSERT_EQ(report.entries().size(), 2U);
  EXPECT_EQ(report.entries()[0].key, "method");
  EXPECT_FALSE(report.entries()[0].is_number);
  EXPECT_TRUE(report.find("sparsity_percent")->is_number);
  EXPECT_EQ(report.find("sparsity_percent")->text, "75");
  EXPECT_EQ(report.find("absent"), nullptr);
}

TEST(ModelEditor, ValidateNamesTheProblemAndOwnsTheMessage) {
  Model model = test::conv_matmul_model();
  ModelEditor editor(model);
  EXPECT_TRUE(editor.validate().ok());
  editor.graph().add_node(Node{"bad", "Relu", "", {"ghost"}, {"z"}, {}, ""});
  const Status status = editor.validate();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(std::string(status.error).find("ghost"), std::string::npos) << status.error;
}

TEST(StepState, HandsOutSharedTensorsByName) {
  StepState step({5, 2, -1, 0.1});
  Tensor w = Tensor::from_vector<float>({2}, {1, 2});
  step.set_parameter("W", w);
  StepContextV1& context = step;
  EXPECT_EQ(context.step(), 5);
  EXPECT_EQ(context.epoch(), 2);
  EXPECT_EQ(context.total_steps(), -1);
  EXPECT_EQ(context.learning_rate(), 0.1);
  ASSERT_NE(context.parameter("W"), nullptr);
  context.parameter("W")->data<float>()[0] = 9;
  EXPECT_EQ(w.data<float>()[0], 9.0f);
  EXPECT_EQ(context.parameter("B"), nullptr);
  EXPECT_EQ(context.gradient("W"), nullptr);
  EXPECT_EQ(context.parameter(nullptr), nullptr);
}

}  // namespace
}  // namespace act::sdk
