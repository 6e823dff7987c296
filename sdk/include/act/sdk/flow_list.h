// Nested YAML flow sequences, as plugin sections receive lists (config_view.h): the SDK's
// ConfigReader reads flat lists only, and ACT's MultiTeacherDistillation and PaddleSlim 1.x's
// FSPDistiller write lists of lists ("[[a, b], [c, d]]"), as do QuantPost's regions and
// region_weights_names. Shared by the plugins through the SDK.
//
// Ownership: plain values. Threading: reentrant.
#pragma once

#include <string>
#include <vector>

#include "act/sdk/export.h"

namespace act::sdk {

struct FlowValue {
  bool is_list = false;
  std::string scalar;            // when !is_list: the unquoted text
  std::vector<FlowValue> items;  // when is_list
};

// "[a, [b, 'c, d']]" as a tree; a plain scalar as itself; "" and "[]" as an empty list.
// Throws act::Error "<what>: ..." naming the problem (unbalanced brackets, a map, stray text).
ACT_SDK_API FlowValue parse_flow(const std::string& text, const std::string& what);

// "a", "[a, b]", "[[a, b], c]": the text of a parsed value, for messages.
ACT_SDK_API std::string flow_text(const FlowValue& value);

}  // namespace act::sdk
