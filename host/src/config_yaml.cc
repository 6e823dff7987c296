#include "config_yaml.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "act/kernel/error.h"

namespace act::host::config_yaml {

namespace {

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

// The line of an entry's key, not of its value: yaml-cpp places a null value on the next
// line, and the key is what the user looks for.
[[noreturn]] void expected(const Source& source, const Entry& entry, const char* what,
                           const YAML::Node& got) {
  fail_at(source, entry.key_node, entry.path,
          std::string("expected ") + what + ", got " + describe(got));
}

std::int64_t parse_integer(const Source& source, const Entry& entry, const YAML::Node& node) {
  if (!node.IsScalar()) expected(source, entry, "an integer", node);
  const std::string& text = node.Scalar();
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0) expected(source, entry, "an integer", node);
  return value;
}

double parse_number(const Source& source, const Entry& entry, const YAML::Node& node) {
  if (!node.IsScalar()) expected(source, entry, "a number", node);
  const std::string& text = node.Scalar();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(value)) {
    expected(source, entry, "a number", node);
  }
  return value;
}

void emit(YAML::Emitter& out, const YAML::Node& node) {
  // Styles are set per collection: yaml-cpp remembers a block-style node's style and would
  // otherwise emit it as a multi-line block.
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      out << YAML::Flow << YAML::BeginSeq;
      for (const auto& item : node) emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Map:
      out << YAML::Flow << YAML::BeginMap;
      for (const auto& item : node) {
        out << YAML::Key;
        emit(out, item.first);
        out << YAML::Value;
        emit(out, item.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Scalar:
      out << node.Scalar();
      break;
    default:
      out << YAML::Null;
  }
}

}  // namespace

int line_of(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : 0;
}

void fail_at(const Source& source, const YAML::Node& node, const std::string& path,
             const std::string& problem) {
  fail(source.origin, ":", line_of(node), ": ", path, path.empty() ? "" : ": ", problem);
}

void warn_at(const Source& source, const YAML::Node& node, const std::string& path,
             const std::string& why) {
  if (source.warnings == nullptr) return;
  source.warnings->push_back(source.origin + ":" + std::to_string(line_of(node)) + ": " + path +
                             ": ignored: " + why);
}

namespace {

std::vector<Entry> entries_of(const Source& source, const YAML::Node& map,
                              const std::string& prefix) {
  std::vector<Entry> entries;
  for (const auto& item : map) {
    const YAML::Node& key = item.first;
    if (!key.IsScalar() || key.Scalar().empty()) {
      fail_at(source, key, prefix, "keys must be plain names, got " + describe(key));
    }
    const std::string path = prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
    for (const auto& seen : entries) {
      if (seen.key == key.Scalar()) {
        fail_at(source, key, path,
                "given twice (first on line " + std::to_string(line_of(seen.key_node)) + ")");
      }
    }
    entries.push_back({key.Scalar(), path, key, item.second});
  }
  return entries;
}

}  // namespace

std::vector<Entry> map_entries(const Source& source, const Entry& owner) {
  if (owner.value.IsNull()) return {};
  if (!owner.value.IsMap()) expected(source, owner, "a map of keys", owner.value);
  return entries_of(source, owner.value, owner.path);
}

std::vector<Entry> root_entries(const Source& source, const YAML::Node& root) {
  return entries_of(source, root, "");
}

void reject_unknown(const Source& source, const std::vector<Entry>& entries,
                    const std::vector<std::string>& known) {
  for (const auto& entry : entries) {
    if (std::find(known.begin(), known.end(), entry.key) != known.end()) continue;
    const std::string best = closest_name(entry.key, known);
    std::string problem = "unknown key";
    if (!best.empty()) {
      problem += "; did you mean '" + best + "'?";
    } else {
      problem += " (known keys:";
      for (std::size_t i = 0; i < known.size(); ++i) problem += (i ? ", " : " ") + known[i];
      problem += ")";
    }
    fail_at(source, entry.key_node, entry.path, problem);
  }
}

bool is_unset(const YAML::Node& node) {
  return !node.IsDefined() || node.IsNull() || (node.IsScalar() && node.Scalar() == "None");
}

std::int64_t read_integer(const Source& source, const Entry& entry) {
  return parse_integer(source, entry, entry.value);
}

double read_number(const Source& source, const Entry& entry) {
  return parse_number(source, entry, entry.value);
}

bool read_flag(const Source& source, const Entry& entry) {
  bool value = false;
  // yaml-cpp's bool conversion is YAML 1.1's (true/false, yes/no, on/off), as PyYAML's.
  if (!entry.value.IsScalar() || !YAML::convert<bool>::decode(entry.value, value)) {
    expected(source, entry, "true or false", entry.value);
  }
  return value;
}

std::string read_text(const Source& source, const Entry& entry) {
  if (is_unset(entry.value)) return "";
  if (!entry.value.IsScalar()) expected(source, entry, "a single value", entry.value);
  return entry.value.Scalar();
}

std::vector<std::string> read_text_list(const Source& source, const Entry& entry) {
  if (is_unset(entry.value)) return {};
  if (entry.value.IsScalar()) return {entry.value.Scalar()};
  if (!entry.value.IsSequence()) expected(source, entry, "a list", entry.value);
  std::vector<std::string> out;
  for (const auto& item : entry.value) {
    if (!item.IsScalar()) expected(source, entry, "a list of names", item);
    out.push_back(item.Scalar());
  }
  return out;
}

std::vector<std::int64_t> read_integer_list(const Source& source, const Entry& entry) {
  if (!entry.value.IsSequence()) expected(source, entry, "a list of integers", entry.value);
  std::vector<std::int64_t> out;
  for (const auto& item : entry.value) out.push_back(parse_integer(source, entry, item));
  return out;
}

std::vector<double> read_number_list(const Source& source, const Entry& entry) {
  if (!entry.value.IsSequence()) expected(source, entry, "a list of numbers", entry.value);
  std::vector<double> out;
  for (const auto& item : entry.value) out.push_back(parse_number(source, entry, item));
  return out;
}

std::string flow_text(const YAML::Node& node) {
  if (node.IsNull() || !node.IsDefined()) return "";
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  emit(out, node);
  return out.c_str();
}

}  // namespace act::host::config_yaml
