#include "act/kernel/attributes.h"

namespace act {

template <typename T>
const T& Attributes::get_kind(const std::string& name, const char* kind) const {
  auto it = values_.find(name);
  ACT_CHECK(it != values_.end(), "missing required attribute '", name, "'");
  const T* v = std::get_if<T>(&it->second);
  ACT_CHECK(v != nullptr, "attribute '", name, "' is not of kind ", kind);
  return *v;
}

std::int64_t Attributes::get_int(const std::string& name) const {
  return get_kind<std::int64_t>(name, "int");
}
std::int64_t Attributes::get_int(const std::string& name, std::int64_t fallback) const {
  return has(name) ? get_int(name) : fallback;
}
float Attributes::get_float(const std::string& name) const {
  return get_kind<float>(name, "float");
}
float Attributes::get_float(const std::string& name, float fallback) const {
  return has(name) ? get_float(name) : fallback;
}
const std::string& Attributes::get_string(const std::string& name) const {
  return get_kind<std::string>(name, "string");
}
std::string Attributes::get_string(const std::string& name, const std::string& fallback) const {
  return has(name) ? get_string(name) : fallback;
}
const Tensor& Attributes::get_tensor(const std::string& name) const {
  return get_kind<Tensor>(name, "tensor");
}
const std::vector<std::int64_t>& Attributes::get_ints(const std::string& name) const {
  return get_kind<std::vector<std::int64_t>>(name, "ints");
}
std::vector<std::int64_t> Attributes::get_ints(const std::string& name,
                                               const std::vector<std::int64_t>& fallback) const {
  return has(name) ? get_ints(name) : fallback;
}
const std::vector<float>& Attributes::get_floats(const std::string& name) const {
  return get_kind<std::vector<float>>(name, "floats");
}
std::vector<float> Attributes::get_floats(const std::string& name,
                                          const std::vector<float>& fallback) const {
  return has(name) ? get_floats(name) : fallback;
}
const std::vector<std::string>& Attributes::get_strings(const std::string& name) const {
  return get_kind<std::vector<std::string>>(name, "strings");
}

}  // namespace act
