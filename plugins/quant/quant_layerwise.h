// What the quant plugin needs to offer LayerwiseV1 (act/sdk/layerwise.h) for QuantPost: a
// copy of the section as configured, the variants of it that leave chosen layers in float,
// and the YAML line that tells a user how to do the same in `act compress`.
//
// A layer is a quantized node, known by its weight tensor's name: the name skip_tensor_list
// takes, unique and exact (a node-name pattern in not_quant_pattern could match more nodes).
//
// Ownership: plain values; the views returned own their text. Threading: none.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "act/kernel/graph.h"
#include "act/sdk/config_view.h"
#include "act/sdk/host_objects.h"
#include "act/sdk/plugin.h"
#include "quant_targets.h"

namespace act::quant {

class QuantSectionCopy {
 public:
  // Keeps the section's name and every key/value pair, in order.
  void capture(const sdk::ConfigViewV1& config);

  // The section as configured, with `kept` added to skip_tensor_list (after the entries it
  // already had, duplicates dropped).
  sdk::KeyValueConfig keeping(const std::vector<std::string>& kept) const;
  // "skip_tensor_list: ['a', 'b']": the section's skip_tensor_list with `kept` added, each
  // name single-quoted (ONNX names such as onnx::Conv_39 hold colons).
  std::string keep_line(const std::vector<std::string>& kept) const;

 private:
  std::vector<std::string> skip_list(const std::vector<std::string>& kept) const;

  std::string section_ = "QuantPost";
  std::vector<std::pair<std::string, std::string>> entries_;
};

// The layers for `targets` of `graph`, in target order: key = weight name.
std::vector<sdk::LayerInfo> layer_infos(const Graph& graph, const std::vector<Target>& targets);

// A YAML flow sequence of single-quoted scalars ('' escapes a quote).
std::string quoted_flow_list(const std::vector<std::string>& items);

}  // namespace act::quant
