#include "act/sdk/config_reader.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <utility>

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

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

double parse_number(const char* value, const std::string& where) {
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(value, &end);
  ACT_CHECK(end != value && *end == '\0' && errno == 0 && std::isfinite(parsed), where, ": '",
            value, "' is not a number");
  return parsed;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Reads the flow sequences the host emits and the ones people type into a KeyValueConfig:
// scalars, plain or quoted, between '[' and ']'. Anything nested is refused rather than
// flattened, so a plugin never silently reads a different list than the file holds.
class FlowSequence {
 public:
  FlowSequence(std::string_view text, std::string where) : text_(text), where_(std::move(where)) {}

  std::vector<std::string> parse() {
    std::vector<std::string> items;
    pos_ = 1;  // past '['
    skip_space();
    if (peek() == ']') {
      finish();
      return items;
    }
    for (;;) {
      skip_space();
      ACT_CHECK(pos_ < text_.size(), where_, ": '", text_, "' lacks its closing ']'");
      const char c = text_[pos_];
      if (c == '[' || c == '{') nested();
      items.push_back(c == '\'' ? single_quoted() : c == '"' ? double_quoted() : plain());
      skip_space();
      ACT_CHECK(pos_ < text_.size(), where_, ": '", text_, "' lacks its closing ']'");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == ']') {
        finish();
        return items;
      }
      fail(where_, ": expected ',' or ']' after element ", items.size(), " of '", text_, "'");
    }
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }
  [[noreturn]] void nested() const {
    fail(where_, ": nested lists and maps are not supported, got '", text_, "'");
  }
  void finish() {
    ++pos_;  // past ']'
    skip_space();
    ACT_CHECK(pos_ == text_.size(), where_, ": unexpected text after ']' in '", text_, "'");
  }
  std::string single_quoted() {
    std::string out;
    for (++pos_;; ++pos_) {
      ACT_CHECK(pos_ < text_.size(), where_, ": unterminated quote in '", text_, "'");
      if (text_[pos_] != '\'') {
        out += text_[pos_];
      } else if (peek_at(pos_ + 1) == '\'') {  // '' is YAML's escaped quote
        out += '\'';
        ++pos_;
      } else {
        ++pos_;
        return out;
      }
    }
  }
  std::string double_quoted() {
    std::string out;
    for (++pos_;; ++pos_) {
      ACT_CHECK(pos_ < text_.size(), where_, ": unterminated quote in '", text_, "'");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      ++pos_;
      ACT_CHECK(pos_ < text_.size(), where_, ": unterminated quote in '", text_, "'");
      switch (text_[pos_]) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '0':
          out += '\0';
          break;
        case '"':
        case '\\':
        case '/':
          out += text_[pos_];
          break;
        default:
          fail(where_, ": unsupported escape '\\", text_[pos_], "' in '", text_, "'");
      }
    }
  }
  std::string plain() {
    const std::size_t begin = pos_;
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != ']') {
      if (text_[pos_] == '[' || text_[pos_] == '{') nested();
      ++pos_;
    }
    std::size_t end = pos_;
    while (end > begin && is_space(text_[end - 1])) --end;
    ACT_CHECK(end > begin, where_, ": empty element in '", text_, "'");
    return std::string(text_.substr(begin, end - begin));
  }
  char peek_at(std::size_t at) const { return at < text_.size() ? text_[at] : '\0'; }

  std::string_view text_;
  std::string where_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  // Within a third of the name's length: "epoch" finds "epochs", "lr" finds nothing.
  const std::size_t limit = std::max<std::size_t>(1, name.size() / 3);
  const std::string folded = lowercase(name);
  const std::string* best = nullptr;
  std::size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    const std::size_t d = edit_distance(folded, lowercase(candidate));
    if (d < best_distance) {
      best = &candidate;
      best_distance = d;
    }
  }
  return best != nullptr ? *best : std::string();
}

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
  return parse_number(value, where(key));
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

std::vector<std::string> ConfigReader::strings(const std::string& key) {
  const char* value = raw(key);
  if (value == nullptr) return {};
  std::string_view text(value);
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.empty()) return {};
  ACT_CHECK(text.front() != '{', where(key), ": expected a list, got the map '", value, "'");
  if (text.front() != '[') return {std::string(text)};
  return FlowSequence(text, where(key)).parse();
}

std::vector<double> ConfigReader::numbers(const std::string& key) {
  std::vector<double> out;
  for (const auto& item : strings(key)) out.push_back(parse_number(item.c_str(), where(key)));
  return out;
}

void ConfigReader::reject_unknown_keys() const {
  for (std::size_t i = 0; i < view_.key_count(); ++i) {
    const char* key = view_.key(i);
    if (key == nullptr) continue;
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string message = std::string(view_.section()) + ": unknown key '" + key + "'";
    const std::string best = closest_name(key, known_);
    if (!best.empty()) {
      message += "; did you mean '" + best + "'?";
    } else if (!known_.empty()) {
      message += " (known keys:";
      for (std::size_t k = 0; k < known_.size(); ++k) message += (k ? ", " : " ") + known_[k];
      message += ")";
    }
    throw Error(message);
  }
}

}  // namespace act::sdk
