#include "act/kernel/graph.h"

#include <gtest/gtest.h>

#include "act/kernel/passes.h"
#include "kernel_test_util.h"

namespace act {
namespace {

using test::make_node;

TEST(Graph, TopologicalSortOrdersOutOfOrderNodes) {
  Graph g;
  g.add_input(ValueInfo{"x"});
  g.add_node(make_node("b", "Relu", {"t"}, {"y"}));
  g.add_node(make_node("a", "Relu", {"x"}, {"t"}));
  g.add_output(ValueInfo{"y"});
  EXPECT_THROW(g.validate(), Error);
  g.topological_sort();
  EXPECT_EQ(g.nodes()[0].name, "a");
  EXPECT_NO_THROW(g.validate());
}

TEST(Graph, CycleIsReportedByNodeName) {
  Graph g;
  g.add_node(make_node("a", "Relu", {"u"}, {"t"}));
  g.add_node(make_node("b", "Relu", {"t"}, {"u"}));
  try {
    g.topological_sort();
    FAIL() << "expected a cycle error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos);
  }
}

TEST(Graph, ValidateRejectsDoubleProducerAndMissingOutput) {
  Graph g;
  g.add_input(ValueInfo{"x"});
  g.add_node(make_node("a", "Relu", {"x"}, {"t"}));
  g.add_node(make_node("b", "Relu", {"x"}, {"t"}));
  g.add_output(ValueInfo{"t"});
  EXPECT_THROW(g.validate(), Error);
  g.remove_nodes_if([](const Node& n) { return n.name == "b"; });
  EXPECT_NO_THROW(g.validate());
  g.add_output(ValueInfo{"nowhere"});
  EXPECT_THROW(g.validate(), Error);
}

TEST(Graph, DeadNodesAndUnusedInitializersAreRemoved) {
  Graph g;
  g.add_input(ValueInfo{"x"});
  g.set_initializer("unused", Tensor::scalar<float>(1.0F));
  g.add_node(make_node("live", "Relu", {"x"}, {"y"}));
  g.add_node(make_node("dead", "Relu", {"x"}, {"z"}));
  g.add_output(ValueInfo{"y"});
  EXPECT_TRUE(eliminate_dead_nodes(g));
  ASSERT_EQ(g.nodes().size(), 1U);
  EXPECT_EQ(g.nodes()[0].name, "live");
  EXPECT_FALSE(g.is_initializer("unused"));
  EXPECT_FALSE(eliminate_dead_nodes(g));  // nothing left to do: a no-op, not an error
}

TEST(Graph, UniqueNameAvoidsExistingNames) {
  Graph g;
  g.add_input(ValueInfo{"x"});
  g.add_node(make_node("n", "Relu", {"x"}, {"x_1"}));
  EXPECT_EQ(g.unique_name("y"), "y");
  EXPECT_EQ(g.unique_name("x"), "x_2");
}

}  // namespace
}  // namespace act
