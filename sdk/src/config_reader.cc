#include "act/sdk/config_reader.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "act/kernel/error.h"

namespace act::sdk {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

ConfigReader::ConfigReader(const ConfigViewV1& view) : view_(view) {}

const char* ConfigReader::raw(const std::string& key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
  return view_.value(key.c_str());
}

std::string ConfigReader::where(const std::string& key) const {
  return std::string(view_.section()) + "." + key;
}

bool ConfigReader::has(const std::string& key) {
  return raw(key) != nullptr;
}

std::optional<std::string> ConfigReader::text(const std::string& key) {
  const char* value = raw(key);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string ConfigReader::text(const std::string& key, const std::string& fallback) {
  return text(key).value_or(fallback);
}

double ConfigReader::number(const std::string& key, double fallback) {
  const char* value = raw(key);
  if (value == nullptr) return fallback;
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(value, &end);
  ACT_CHECK(end != value && *end == '\0' && errno == 0 && std::isfinite(parsed), where(key), ": '",
            value, "' is not a number");
  return parsed;
}

std::int64_t ConfigReader::integer(const std::string& key, std::int64_t fallback) {
  const char* value = raw(key);
  if (value == nullptr) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(value, &end, 10);
  ACT_CHECK(end != value && *end == '\0' && errno == 0, where(key), ": '", value,
            "' is not an integer");
  return parsed;
}

bool ConfigReader::flag(const std::string& key, bool fallback) {
  const char* value = raw(key);
  if (value == nullptr) return fallback;
  static constexpr const char* kTrue[] = {"true", "True", "TRUE", "yes", "Yes",
                                          "YES",  "on",   "On",   "ON"};
  static constexpr const char* kFalse[] = {"false", "False", "FALSE", "no", "No",
                                           "NO",    "off",   "Off",   "OFF"};
  const std::string_view text(value);
  for (const char* t : kTrue) {
    if (text == t) return true;
  }
  for (const char* f : kFalse) {
    if (text == f) return false;
  }
  fail(where(key), ": '", value, "' is not true or false");
}

void ConfigReader::reject_unknown_keys() const {
  for (std::size_t i = 0; i < view_.key_count(); ++i) {
    const char* key = view_.key(i);
    if (key == nullptr) continue;
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string message = std::string(view_.section()) + ": unknown key '" + key + "'";
    // Suggest only close spellings: a third of the key's length, at least one edit.
    const std::size_t limit = std::max<std::size_t>(1, std::string_view(key).size() / 3);
    const std::string* best = nullptr;
    std::size_t best_distance = limit + 1;
    for (const auto& candidate : known_) {
      const std::size_t d = edit_distance(key, candidate);
      if (d < best_distance) {
        best = &candidate;
        best_distance = d;
      }
    }
    if (best != nullptr) {
      message += "; did you mean '" + *best + "'?";
    } else if (!known_.empty()) {
      message += " (known keys:";
      for (std::size_t k = 0; k < known_.size(); ++k) message += (k ? ", " : " ") + known_[k];
      message += ")";
    }
    throw Error(message);
  }
}

}  // namespace act::sdk
