// The good fixture's hooks, called through StrategyV1 exactly as the scheduler will: each
// hook sees what the host hands it, and every failure (bad config, broken rewrite, an
// exception of any type inside a hook) arrives as a Status naming the problem.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "act/host/plugin_manager.h"
#include "act/kernel/error.h"
#include "act/sdk/host_objects.h"
#include "sdk_test_util.h"

namespace act::host {
namespace {

using sdk::KeyValueConfig;
using sdk::Status;
using Entries = std::vector<std::pair<std::string, std::string>>;

class StrategyHooks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    manager_ = new PluginManager;
    manager_->load_file(test::fixture("fixture_good"));
  }
  static void TearDownTestSuite() {
    delete manager_;
    manager_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(manager_->plugins().size(), 1U) << "the good fixture did not load";
    strategy_ = manager_->create_strategy("test-strategy");
  }

  Status configure(Entries entries, const std::string& section = "TestStrategy") {
    KeyValueConfig config(section, std::move(entries));
    return strategy_->configure(config);
  }

  static PluginManager* manager_;
  StrategyPtr strategy_;
};

PluginManager* StrategyHooks::manager_ = nullptr;

std::string message(Status status) {
  return status.ok() ? std::string("(ok)") : std::string(status.error);
}

TEST_F(StrategyHooks, ConfigureAcceptsItsKeys) {
  EXPECT_TRUE(configure({{"weight", "0.25"}, {"loss_value", "y"}, {"break_graph", "no"}}).ok());
  EXPECT_TRUE(configure({}).ok());
}

TEST_F(StrategyHooks, ConfigureRejectsAnUnknownKeyNamingIt) {
  const Status status = configure({{"weight", "2"}, {"colour", "red"}});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(message(status).find("TestStrategy: unknown key 'colour'"), std::string::npos)
      << message(status);
}

TEST_F(StrategyHooks, ConfigureSuggestsTheKeyAMisspellingMeant) {
  const Status status = configure({{"wieght", "2"}}, "TestStrategyExtra");
  EXPECT_EQ(message(status), "TestStrategyExtra: unknown key 'wieght'; did you mean 'weight'?");
}

TEST_F(StrategyHooks, ConfigureRejectsAValueOfTheWrongType) {
  EXPECT_EQ(message(configure({{"weight", "heavy"}})),
            "TestStrategy.weight: 'heavy' is not a number");
  EXPECT_EQ(message(configure({{"break_graph", "maybe"}})),
            "TestStrategy.break_graph: 'maybe' is not true or false");
}

TEST_F(StrategyHooks, RewriteThenFinalizeRestoresTheGraph) {
  ASSERT_TRUE(configure({}).ok());
  Model model = test::conv_matmul_model();
  const std::size_t nodes = model.graph.nodes().size();
  sdk::ModelEditor editor(model);
  ASSERT_TRUE(strategy_->rewrite_graph(editor).ok());
  EXPECT_EQ(model.graph.nodes().size(), nodes + 1);
  EXPECT_EQ(model.graph.nodes().back().name, "test_strategy_marker");
  EXPECT_TRUE(editor.validate().ok()) << message(editor.validate());
  ASSERT_TRUE(strategy_->finalize(editor).ok());
  EXPECT_EQ(model.graph.nodes().size(), nodes);
}

TEST_F(StrategyHooks, ABrokenRewriteFailsNamingTheMissingValue) {
  ASSERT_TRUE(configure({{"break_graph", "true"}}).ok());
  Model model = test::conv_matmul_model();
  sdk::ModelEditor editor(model);
  const Status status = strategy_->rewrite_graph(editor);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(message(status).find("no_such_value"), std::string::npos) << message(status);
}

TEST_F(StrategyHooks, StepHooksSeeTheStepFeedTheLossAndMaskGradients) {
  ASSERT_TRUE(configure({{"weight", "0.5"}, {"loss_value", "y"}, {"freeze", "W"}}).ok());
  sdk::StepState step({3, 1, 10, 0.01});
  Tensor gradient = Tensor::from_vector<float>({4}, {1, 2, 3, 4});
  step.set_gradient("W", gradient);
  sdk::LossTerms loss;

  ASSERT_TRUE(strategy_->on_step_begin(step).ok());
  ASSERT_TRUE(strategy_->add_loss_terms(step, loss).ok());
  ASSERT_TRUE(strategy_->on_after_backward(step).ok());
  ASSERT_TRUE(strategy_->on_step_end(step).ok());

  ASSERT_EQ(loss.terms().size(), 1U);
  EXPECT_EQ(loss.terms()[0].name, "test/loss");
  EXPECT_EQ(loss.terms()[0].value, "y");
  EXPECT_EQ(loss.terms()[0].weight, 0.5);
  // Storage is shared: the plugin zeroed the caller's gradient in place.
  for (std::int64_t i = 0; i < gradient.numel(); ++i) EXPECT_EQ(gradient.data<float>()[i], 0.0f);

  // A second add of the same term in one step is refused by the sink, and the plugin
  // passes the sink's reason on.
  const Status again = strategy_->add_loss_terms(step, loss);
  EXPECT_NE(message(again).find("loss term 'test/loss' added twice in one step"), std::string::npos)
      << message(again);

  sdk::ReportEntries report;
  ASSERT_TRUE(strategy_->report(report).ok());
  ASSERT_NE(report.find("section"), nullptr);
  EXPECT_EQ(report.find("section")->text, "TestStrategy");
  EXPECT_EQ(report.find("steps_begun")->number, 1.0);
  EXPECT_EQ(report.find("steps_ended")->number, 1.0);
  EXPECT_EQ(report.find("last_step")->number, 3.0);
  EXPECT_EQ(report.find("last_learning_rate")->number, 0.01);
  EXPECT_EQ(report.find("weight")->number, 0.5);
}

TEST_F(StrategyHooks, MissingGradientIsAnErrorNotACrash) {
  ASSERT_TRUE(configure({{"freeze", "W"}}).ok());
  sdk::StepState step;
  EXPECT_EQ(message(strategy_->on_after_backward(step)), "no gradient for 'W'");
}

class FailingHook : public StrategyHooks, public ::testing::WithParamInterface<const char*> {
 protected:
  // Calls the named hook with fresh host objects.
  Status call(const std::string& hook) {
    Model model = test::conv_matmul_model();
    sdk::ModelEditor editor(model);
    sdk::StepState step;
    sdk::LossTerms loss;
    sdk::ReportEntries report;
    if (hook == "rewrite_graph") return strategy_->rewrite_graph(editor);
    if (hook == "on_step_begin") return strategy_->on_step_begin(step);
    if (hook == "add_loss_terms") return strategy_->add_loss_terms(step, loss);
    if (hook == "on_after_backward") return strategy_->on_after_backward(step);
    if (hook == "on_step_end") return strategy_->on_step_end(step);
    if (hook == "finalize") return strategy_->finalize(editor);
    if (hook == "report") return strategy_->report(report);
    ADD_FAILURE() << "unknown hook " << hook;
    return Status::success();
  }
};

TEST_P(FailingHook, AnExceptionBecomesAStatusWithItsMessage) {
  const std::string hook = GetParam();
  ASSERT_TRUE(configure({{"fail_in", hook}}).ok());
  EXPECT_EQ(message(call(hook)), "TestStrategy was asked to fail in " + hook);
}

TEST_P(FailingHook, ANonExceptionThrowBecomesAStatusToo) {
  const std::string hook = GetParam();
  ASSERT_TRUE(configure({{"fail_in", hook}, {"throw_non_exception", "yes"}}).ok());
  EXPECT_EQ(message(call(hook)), "unknown exception");
}

INSTANTIATE_TEST_SUITE_P(Hooks, FailingHook,
                         ::testing::Values("rewrite_graph", "on_step_begin", "add_loss_terms",
                                           "on_after_backward", "on_step_end", "finalize",
                                           "report"));

TEST_F(StrategyHooks, ConfigureItselfCanFail) {
  EXPECT_EQ(message(configure({{"fail_in", "configure"}})),
            "TestStrategy was asked to fail in configure");
  EXPECT_EQ(message(configure({{"fail_in", "configure"}, {"throw_non_exception", "on"}})),
            "unknown exception");
}

TEST_F(StrategyHooks, CheckHookNamesThePluginAndTheHook) {
  const PluginInfo& info = *manager_->find("test-strategy");
  EXPECT_NO_THROW(check_hook(info, "configure", configure({})));
  try {
    check_hook(info, "configure", configure({{"colour", "red"}}));
    FAIL() << "expected act::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  "plugin 'test-strategy' configure: TestStrategy: unknown key 'colour'", 0),
              0U)
        << e.what();
  }
}

TEST_F(StrategyHooks, EachStrategyObjectKeepsItsOwnState) {
  StrategyPtr other = manager_->create_strategy("test-strategy");
  ASSERT_TRUE(configure({{"weight", "3"}}).ok());
  KeyValueConfig config("TestStrategyExtra", {{"weight", "7"}});
  ASSERT_TRUE(other->configure(config).ok());
  sdk::ReportEntries mine;
  sdk::ReportEntries theirs;
  ASSERT_TRUE(strategy_->report(mine).ok());
  ASSERT_TRUE(other->report(theirs).ok());
  EXPECT_EQ(mine.find("weight")->number, 3.0);
  EXPECT_EQ(theirs.find("weight")->number, 7.0);
  EXPECT_EQ(theirs.find("section")->text, "TestStrategyExtra");
}

}  // namespace
}  // namespace act::host
