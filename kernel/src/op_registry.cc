#include "act/kernel/op_registry.h"

#include <algorithm>

#include "act/kernel/autograd.h"

namespace act {

const Tensor& KernelContext::input(int i) const {
  ACT_CHECK(has_input(i), "required input ", i, " is missing");
  return *inputs_[static_cast<std::size_t>(i)];
}

Tensor& KernelContext::allocate(int i, DType dtype, Shape shape) {
  auto& slot = outputs_[static_cast<std::size_t>(i)];
  slot = Tensor(dtype, std::move(shape));
  return slot;
}

std::string OpRegistry::key(const std::string& op, const std::string& domain) {
  return (domain == "ai.onnx" ? std::string() : domain) + "::" + op;
}

void OpRegistry::add_schema(OpSchema schema) {
  std::string k = key(schema.name, schema.domain);
  schemas_[k] = std::move(schema);
}

const OpSchema* OpRegistry::schema(const std::string& op, const std::string& domain) const {
  auto it = schemas_.find(key(op, domain));
  return it == schemas_.end() ? nullptr : &it->second;
}

void OpRegistry::set_gradient(const std::string& op, const std::string& domain,
                              std::function<void(GradContext&)> gradient) {
  auto it = schemas_.find(key(op, domain));
  ACT_CHECK(it != schemas_.end(), "set_gradient: no schema for op '", op, "'",
            domain.empty() ? "" : " in domain '" + domain + "'");
  it->second.gradient = std::move(gradient);
}

void OpRegistry::add_kernel(const std::string& op, const std::string& domain, DeviceKind device,
                            std::vector<DType> dtypes, KernelFactory factory) {
  kernels_[key(op, domain)].push_back({device, std::move(dtypes), std::move(factory)});
}

const KernelFactory* OpRegistry::find_kernel(const std::string& op, const std::string& domain,
                                             DeviceKind device, DType dtype) const {
  auto it = kernels_.find(key(op, domain));
  if (it == kernels_.end()) return nullptr;
  // Later registrations win, so a plugin can override a built-in kernel.
  for (auto e = it->second.rbegin(); e != it->second.rend(); ++e) {
    if (e->device != device) continue;
    if (e->dtypes.empty() ||
        std::find(e->dtypes.begin(), e->dtypes.end(), dtype) != e->dtypes.end()) {
      return &e->factory;
    }
  }
  return nullptr;
}

std::vector<std::string> OpRegistry::op_names() const {
  std::vector<std::string> out;
  for (const auto& [k, s] : schemas_)
    out.push_back(s.domain.empty() ? s.name : s.domain + "::" + s.name);
  return out;
}

OpRegistry& OpRegistry::global() {
  static OpRegistry* registry = [] {
    auto* r = new OpRegistry();  // never destroyed: plugins may hold factories past exit
    register_builtin_schemas(*r);
    register_cpu_kernels(*r);
    register_builtin_gradients(*r);
    return r;
  }();
  return *registry;
}

}  // namespace act
