// ConfigReader: typed reads of a ConfigViewV1 and the "unknown keys are errors" rule.
//
// Used inside a strategy's configure():
//   ConfigReader cfg(config);
//   weight_ = cfg.number("weight", 1.0);
//   nodes_ = cfg.strings("node");  // "[conv1_out, conv2_out]" or "conv1_out"
//   cfg.reject_unknown_keys();  // after every read: names a key nobody asked for
// Every getter records its key as known, whether the key is present or not.
//
// Errors are thrown as act::Error naming "Section.key" and the bad text; inside a strategy
// derived from act::sdk::Strategy the SDK turns them into a failed Status.
// Values follow PaddleSlim's YAML (PyYAML, YAML 1.1): flags are true/false, yes/no, on/off
// in any of the usual capitalizations; numbers are decimal or scientific. Lists arrive as
// YAML flow text (config_view.h): strings() and numbers() read a flow sequence of scalars,
// plain or quoted; a nested sequence or map inside it is an error naming the key.
// Ownership: keeps a reference to the view; use it only during configure().
// Threading: not thread-safe (it records keys as they are read).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "act/sdk/config_view.h"
#include "act/sdk/export.h"

namespace act::sdk {

class ACT_SDK_API ConfigReader {
 public:
  explicit ConfigReader(const ConfigViewV1& view);

  const char* section() const noexcept { return view_.section(); }
  bool has(const std::string& key);
  std::optional<std::string> text(const std::string& key);
  std::string text(const std::string& key, const std::string& fallback);
  double number(const std::string& key, double fallback);
  std::int64_t integer(const std::string& key, std::int64_t fallback);
  bool flag(const std::string& key, bool fallback);
  // A flow sequence ("[a, 'b, c']") as its elements; a scalar is a one-element list; an
  // absent key, an empty value and "[]" give an empty list.
  std::vector<std::string> strings(const std::string& key);
  // The same, every element parsed as number() does.
  std::vector<double> numbers(const std::string& key);

  // Throws act::Error for the first key of the section that no getter asked for, with the
  // closest known key as a suggestion when one is near.
  void reject_unknown_keys() const;

 private:
  const char* raw(const std::string& key);
  std::string where(const std::string& key) const;

  const ConfigViewV1& view_;
  std::vector<std::string> known_;
};

// The candidate closest to `name` by edit distance (letters compared without case), or ""
// when none is within a third of name's length (at least one edit). Ties go to the earlier
// candidate. Used for every "did you mean" in the SDK and the host.
ACT_SDK_API std::string closest_name(const std::string& name,
                                     const std::vector<std::string>& candidates);

}  // namespace act::sdk
