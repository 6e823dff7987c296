#include "quant_layerwise.h"

#include <algorithm>

#include "act/sdk/config_reader.h"

namespace act::quant {

void QuantSectionCopy::capture(const sdk::ConfigViewV1& config) {
  section_ = config.section();
  entries_.clear();
  for (std::size_t i = 0; i < config.key_count(); ++i) {
    const char* key = config.key(i);
    const char* value = config.value(key);
    entries_.emplace_back(key, value != nullptr ? value : "");
  }
}

std::vector<std::string> QuantSectionCopy::skip_list(const std::vector<std::string>& kept) const {
  // Read through the same parser QuantPost uses, so a quoted or block list is taken as it
  // will be read back.
  const sdk::KeyValueConfig view(section_, entries_);
  sdk::ConfigReader reader(view);
  std::vector<std::string> out = reader.strings("skip_tensor_list");
  for (const std::string& name : kept) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

sdk::KeyValueConfig QuantSectionCopy::keeping(const std::vector<std::string>& kept) const {
  std::vector<std::pair<std::string, std::string>> entries = entries_;
  const std::string list = quoted_flow_list(skip_list(kept));
  auto it = std::find_if(entries.begin(), entries.end(),
                         [](const auto& e) { return e.first == "skip_tensor_list"; });
  if (it != entries.end()) {
    it->second = list;
  } else {
    entries.emplace_back("skip_tensor_list", list);
  }
  return sdk::KeyValueConfig(section_, std::move(entries));
}

std::string QuantSectionCopy::keep_line(const std::vector<std::string>& kept) const {
  return "skip_tensor_list: " + quoted_flow_list(skip_list(kept));
}

std::vector<sdk::LayerInfo> layer_infos(const Graph& graph, const std::vector<Target>& targets) {
  std::vector<sdk::LayerInfo> out;
  for (const Target& t : targets) {
    const Node& node = graph.nodes().at(t.node);
    out.push_back({t.weight, node.name, node.op_type});
  }
  return out;
}

std::string quoted_flow_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += '\'';
    for (char c : items[i]) out += c == '\'' ? std::string("''") : std::string(1, c);
    out += '\'';
  }
  return out + "]";
}

}  // namespace act::quant
