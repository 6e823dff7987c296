// Nested YAML flow sequences, as plugin sections receive lists (config_view.h): the SDK's
// ConfigReader reads flat lists only, and ACT's MultiTeacherDistillation and PaddleSlim 1.x's
// FSPDistiller write lists of lists ("[[a, b], [c, d]]").
//
// Ownership: plain values. Threading: reentrant.
#pragma once

#include <string>
#include <vector>

namespace act::distill {

struct FlowValue {
  bool is_list = false;
  std::string scalar;            // when !is_list: the unquoted text
  std::vector<FlowValue> items;  // when is_list
};

// "[a, [b, 'c, d']]" as a tree; a plain scalar as itself; "" and "[]" as an empty list.
// Throws act::Error "<what>: ..." naming the problem (unbalanced brackets, a map, stray text).
FlowValue parse_flow(const std::string& text, const std::string& what);

// "a", "[a, b]", "[[a, b], c]": the text of a parsed value, for messages.
std::string flow_text(const FlowValue& value);

}  // namespace act::distill
