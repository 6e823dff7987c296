// Internal to the config readers (compress_config.cc, train_config.cc): yaml-cpp nodes read
// with positions, typed values and the "<file>:<line>: <Section.key>: <problem>" messages.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "act/host/compress_config.h"

namespace act::host::config_yaml {

// The text being read, for messages, and where warnings go.
struct Source {
  std::string origin;
  std::vector<std::string>* warnings = nullptr;
};

// One key of a map: its nodes and its dotted path ("TrainConfig.epochs").
struct Entry {
  std::string key;
  std::string path;
  YAML::Node key_node;
  YAML::Node value;
};

// 1-based line of a node, 0 when yaml-cpp has none.
int line_of(const YAML::Node& node);
[[noreturn]] void fail_at(const Source& source, const YAML::Node& node, const std::string& path,
                          const std::string& problem);
void warn_at(const Source& source, const YAML::Node& node, const std::string& path,
             const std::string& why);

// The keys of `map` in file order; a null value is an empty map. `owner` is the entry that
// holds the map (its key line and path name the errors): a non-map value, a key that is not a
// plain scalar or a key given twice is an error.
std::vector<Entry> map_entries(const Source& source, const Entry& owner);
// The root's sections (the owner has an empty path).
std::vector<Entry> root_entries(const Source& source, const YAML::Node& root);
// Throws for the first entry whose key is not in `known`, with the closest one suggested.
void reject_unknown(const Source& source, const std::vector<Entry>& entries,
                    const std::vector<std::string>& known);

// Null, or the scalar "None" that configs written for Python's ACT use for "not set".
bool is_unset(const YAML::Node& node);
std::int64_t read_integer(const Source& source, const Entry& entry);
double read_number(const Source& source, const Entry& entry);
bool read_flag(const Source& source, const Entry& entry);
// A scalar as text ("" when unset); a sequence or map is an error.
std::string read_text(const Source& source, const Entry& entry);
// A sequence of scalars, or one scalar as a one-element list ({} when unset).
std::vector<std::string> read_text_list(const Source& source, const Entry& entry);
std::vector<std::int64_t> read_integer_list(const Source& source, const Entry& entry);
std::vector<double> read_number_list(const Source& source, const Entry& entry);
// A scalar's text, or a sequence or map re-emitted in flow style (SectionConfig's form).
std::string flow_text(const YAML::Node& node);

// TrainConfig (train_config.cc).
TrainSettings parse_train_config(const Source& source, const Entry& section);

}  // namespace act::host::config_yaml
