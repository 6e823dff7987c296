// The QuantPost variants behind `act analyze quant`: layers left in float are added to the
// section's own skip_tensor_list, and the line printed for users reads back as the same list.
#include "quant_layerwise.h"

#include <gtest/gtest.h>

#include "act/sdk/config_reader.h"

namespace act::quant {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

QuantSectionCopy section(Entries entries) {
  QuantSectionCopy copy;
  copy.capture(sdk::KeyValueConfig("QuantPost", std::move(entries)));
  return copy;
}

std::vector<std::string> read_list(const sdk::ConfigViewV1& view, const char* key) {
  sdk::ConfigReader reader(view);
  return reader.strings(key);
}

TEST(QuantLayerwise, KeptLayersJoinTheConfiguredSkipList) {
  const QuantSectionCopy s = section({{"algo", "abs_max"}, {"skip_tensor_list", "[x, 'a']"}});
  const sdk::KeyValueConfig v = s.keeping({"a", "onnx::Conv_39"});
  EXPECT_EQ(read_list(v, "skip_tensor_list"),
            (std::vector<std::string>{"x", "a", "onnx::Conv_39"}));
  ASSERT_EQ(v.key_count(), 2U) << "no key added or lost";
  EXPECT_STREQ(v.key(0), "algo");
  EXPECT_STREQ(v.value("algo"), "abs_max");
}

TEST(QuantLayerwise, ASectionWithoutASkipListGetsOne) {
  const sdk::KeyValueConfig v = section({{"batch_nums", "2"}}).keeping({"fc.weight"});
  EXPECT_EQ(read_list(v, "skip_tensor_list"), (std::vector<std::string>{"fc.weight"}));
  EXPECT_EQ(read_list(section({}).keeping({}), "skip_tensor_list"), std::vector<std::string>{});
}

TEST(QuantLayerwise, ThePrintedLineReadsBackAsTheSameNames) {
  const std::vector<std::string> names = {"onnx::Conv_36", "it's", "a, b", "[x]"};
  const std::string line = section({}).keep_line(names);
  ASSERT_EQ(line.rfind("skip_tensor_list: ", 0), 0U) << line;
  const std::string value = line.substr(std::string("skip_tensor_list: ").size());
  EXPECT_EQ(value, "['onnx::Conv_36', 'it''s', 'a, b', '[x]']");
  const sdk::KeyValueConfig back("QuantPost", {{"skip_tensor_list", value}});
  EXPECT_EQ(read_list(back, "skip_tensor_list"), names);
}

}  // namespace
}  // namespace act::quant
