// Node attributes: a typed name -> value map mirroring ONNX's attribute kinds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "act/kernel/tensor.h"

namespace act {

using AttrValue = std::variant<std::int64_t, float, std::string, Tensor, std::vector<std::int64_t>,
                               std::vector<float>, std::vector<std::string>>;

class Attributes {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  void set(const std::string& name, AttrValue value) { values_[name] = std::move(value); }
  void erase(const std::string& name) { values_.erase(name); }
  const std::map<std::string, AttrValue>& all() const { return values_; }
  bool empty() const { return values_.empty(); }

  // Typed getters. The defaulted form returns `fallback` when the attribute is absent; all
  // throw act::Error naming the attribute when it is present with another kind.
  std::int64_t get_int(const std::string& name) const;
  std::int64_t get_int(const std::string& name, std::int64_t fallback) const;
  float get_float(const std::string& name) const;
  float get_float(const std::string& name, float fallback) const;
  const std::string& get_string(const std::string& name) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  const Tensor& get_tensor(const std::string& name) const;
  const std::vector<std::int64_t>& get_ints(const std::string& name) const;
  std::vector<std::int64_t> get_ints(const std::string& name,
                                     const std::vector<std::int64_t>& fallback) const;
  const std::vector<float>& get_floats(const std::string& name) const;
  std::vector<float> get_floats(const std::string& name, const std::vector<float>& fallback) const;
  const std::vector<std::string>& get_strings(const std::string& name) const;

 private:
  template <typename T>
  const T& get_kind(const std::string& name, const char* kind) const;
  std::map<std::string, AttrValue> values_;
};

}  // namespace act
