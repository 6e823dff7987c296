#include "act/sdk/flow_list.h"

#include "act/kernel/error.h"

namespace act::sdk {
namespace {

class Parser {
 public:
  Parser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  FlowValue top() {
    skip_space();
    FlowValue v;
    if (at_end()) {
      v.is_list = true;
      return v;
    }
    v = s_[i_] == '[' ? list() : scalar(/*nested=*/false);
    skip_space();
    if (!at_end()) bad("unexpected text after the value");
    return v;
  }

 private:
  FlowValue list() {
    FlowValue v;
    v.is_list = true;
    ++i_;  // '['
    skip_space();
    if (!at_end() && s_[i_] == ']') {
      ++i_;
      return v;
    }
    for (;;) {
      skip_space();
      if (at_end()) bad("a '[' is never closed");
      if (s_[i_] == '{') bad("maps are not allowed here");
      v.items.push_back(s_[i_] == '[' ? list() : scalar(/*nested=*/true));
      skip_space();
      if (at_end()) bad("a '[' is never closed");
      if (s_[i_] == ']') {
        ++i_;
        return v;
      }
      if (s_[i_] != ',') bad("expected ',' or ']'");
      ++i_;
    }
  }

  FlowValue scalar(bool nested) {
    FlowValue v;
    const char q = s_[i_];
    if (q == '\'' || q == '"') {
      ++i_;
      for (;;) {
        if (at_end()) bad("a quoted name is never closed");
        const char c = s_[i_++];
        if (c == q) {
          if (q == '\'' && !at_end() && s_[i_] == '\'') {  // '' is a quote in YAML
            v.scalar += '\'';
            ++i_;
            continue;
          }
          break;
        }
        if (q == '"' && c == '\\' && !at_end()) {
          v.scalar += s_[i_++];
          continue;
        }
        v.scalar += c;
      }
      return v;
    }
    const std::size_t start = i_;
    while (!at_end() && (!nested || (s_[i_] != ',' && s_[i_] != ']'))) {
      if (s_[i_] == '[' || s_[i_] == '{') bad("unexpected '" + std::string(1, s_[i_]) + "'");
      ++i_;
    }
    std::size_t end = i_;
    while (end > start && (s_[end - 1] == ' ' || s_[end - 1] == '\t')) --end;
    v.scalar = s_.substr(start, end - start);
    if (v.scalar.empty()) bad("an empty element");
    return v;
  }

  void skip_space() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool at_end() const { return i_ >= s_.size(); }
  [[noreturn]] void bad(const std::string& problem) const {
    fail(what_, ": ", problem, " at character ", i_ + 1, " of '", s_, "'");
  }

  const std::string& s_;
  const std::string& what_;
  std::size_t i_ = 0;
};

}  // namespace

FlowValue parse_flow(const std::string& text, const std::string& what) {
  return Parser(text, what).top();
}

std::string flow_text(const FlowValue& value) {
  if (!value.is_list) return value.scalar;
  std::string out = "[";
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    out += (i ? ", " : "") + flow_text(value.items[i]);
  }
  return out + "]";
}

}  // namespace act::sdk
