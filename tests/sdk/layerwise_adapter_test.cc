// LayerwiseV1 through ACT_PLUGIN's adapter: a Strategy that is also a Layerwise becomes an
// object the host finds with act::sdk::layerwise(), whose calls arrive as the author wrote
// them and whose exceptions come back as failed Statuses; a plain Strategy is not one.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "act/kernel/error.h"
#include "act/sdk/host_objects.h"
#include "act/sdk/layerwise.h"
#include "act/sdk/plugin.h"

namespace act::sdk {
namespace {

template <class T>
T& ref() noexcept;
static_assert(noexcept(ref<LayerwiseV1>().list_layers(ref<GraphEditorV1>(), ref<LayerSinkV1>())));
static_assert(noexcept(ref<LayerwiseV1>().apply_except(ref<GraphEditorV1>(), nullptr, 0)));
static_assert(noexcept(ref<LayerwiseV1>().keep_config(nullptr, 0, nullptr)));

class Plain final : public Strategy {
 public:
  void configure(const ConfigViewV1&) override {}
};

// Two layers, "a" and "b"; apply_except records what it was asked to keep in the graph's
// name, and refuses a layer it does not know.
class TwoLayers final : public Strategy, public Layerwise {
 public:
  void configure(const ConfigViewV1&) override {}
  std::vector<LayerInfo> list_layers(GraphEditorV1&) override {
    return {{"a", "node_a", "Conv"}, {"b", "", "Gemm"}};
  }
  void apply_except(GraphEditorV1& editor, const std::vector<std::string>& kept) override {
    std::string names;
    for (const auto& k : kept) {
      if (k != "a" && k != "b") throw Error("no layer '" + k + "'");
      names += k;
    }
    editor.graph().name = "kept:" + names;
  }
  std::string keep_config(const std::vector<std::string>& kept) override {
    if (kept.empty()) throw 42;  // not even an exception type: still a failed Status
    return "keep: " + kept.front();
  }
};

const char* const kSections[] = {"Test"};
constexpr ActPluginEntry kPlain = make_plugin_entry<Plain>("plain", "1", kSections);
constexpr ActPluginEntry kTwo = make_plugin_entry<TwoLayers>("two", "1", kSections);

struct Created {
  explicit Created(const ActPluginEntry& entry) : entry_(entry) {
    char error[128] = {};
    strategy = static_cast<StrategyV1*>(entry.create(error, sizeof error));
  }
  ~Created() { entry_.destroy(strategy); }
  const ActPluginEntry& entry_;
  StrategyV1* strategy = nullptr;
};

class Sink final : public LayerSinkV1 {
 public:
  Status layer(const char* key, const char* node, const char* op_type) noexcept override {
    seen.push_back(std::string(key) + "/" + node + "/" + op_type);
    return seen.size() > limit ? Status::failure("sink is full") : Status::success();
  }
  std::vector<std::string> seen;
  std::size_t limit = 10;
};

TEST(LayerwiseAdapter, APlainStrategyIsNotLayerwise) {
  Created c(kPlain);
  ASSERT_NE(c.strategy, nullptr);
  EXPECT_EQ(layerwise(*c.strategy), nullptr);
}

TEST(LayerwiseAdapter, ListsLayersThroughTheSink) {
  Created c(kTwo);
  ASSERT_NE(c.strategy, nullptr);
  LayerwiseV1* l = layerwise(*c.strategy);
  ASSERT_NE(l, nullptr);
  Model model;
  ModelEditor editor(model);
  Sink sink;
  ASSERT_TRUE(l->list_layers(editor, sink).ok());
  EXPECT_EQ(sink.seen, (std::vector<std::string>{"a/node_a/Conv", "b//Gemm"}));

  Sink full;
  full.limit = 0;
  const Status s = l->list_layers(editor, full);
  ASSERT_FALSE(s.ok());
  EXPECT_STREQ(s.error, "sink is full");
  EXPECT_EQ(full.seen.size(), 1U) << "the listing stops at the sink's failure";
}

TEST(LayerwiseAdapter, ApplyExceptPassesTheKeysAndReportsThrows) {
  Created c(kTwo);
  LayerwiseV1* l = layerwise(*c.strategy);
  ASSERT_NE(l, nullptr);
  Model model;
  ModelEditor editor(model);
  const char* keys[] = {"b", "a"};
  ASSERT_TRUE(l->apply_except(editor, keys, 2).ok());
  EXPECT_EQ(model.graph.name, "kept:ba");
  const char* bad[] = {"zz"};
  const Status s = l->apply_except(editor, bad, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_STREQ(s.error, "no layer 'zz'");
}

TEST(LayerwiseAdapter, KeepConfigTextOutlivesTheCallAndAnyThrowIsAStatus) {
  Created c(kTwo);
  LayerwiseV1* l = layerwise(*c.strategy);
  ASSERT_NE(l, nullptr);
  const char* keys[] = {"a"};
  const char* line = nullptr;
  ASSERT_TRUE(l->keep_config(keys, 1, &line).ok());
  EXPECT_STREQ(line, "keep: a");
  const Status s = l->keep_config(keys, 0, &line);
  ASSERT_FALSE(s.ok());
  EXPECT_STREQ(s.error, "unknown exception");
}

}  // namespace
}  // namespace act::sdk
