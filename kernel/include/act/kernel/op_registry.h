// Op registry: schemas (arity, type/shape inference) and kernels keyed by (op, device, dtype).
//
// Kernels are registered through explicit per-device tables (register_cpu_kernels), never by
// static initializers, so a binary's coverage is visible in one place. Plugins may register
// their own ops and kernels into the same registry.
// Threading: registration is not thread-safe (do it at start-up); lookups are const and may
// run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "act/kernel/device.h"
#include "act/kernel/graph.h"
#include "act/kernel/tensor.h"

namespace act {

class GradContext;  // autograd.h

// What inference sees of one node. Inputs are null where omitted or unknown; constants are
// the input's value where it is an initializer or a folded constant (Reshape's shape, ...).
struct InferContext {
  const Node& node;
  std::int64_t opset;
  std::vector<const ValueInfo*> inputs;
  std::vector<const Tensor*> constants;
  std::vector<ValueInfo> outputs;  // pre-named; inference sets dtype and, if it can, shape

  bool has_input(std::size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor* constant(std::size_t i) const {
    return i < constants.size() ? constants[i] : nullptr;
  }
};
using InferFn = std::function<void(InferContext&)>;

struct OpSchema {
  std::string name;
  std::string domain;  // "" = ai.onnx
  int min_inputs = 1;
  int max_inputs = 1;
  int min_outputs = 1;
  int max_outputs = 1;
  // Which input's dtype selects the kernel (Where: 1). -1: ops without inputs (Constant).
  int type_input = 0;
  // Sets output dtypes (and shapes where it can). Null: outputs stay unknown.
  InferFn infer;
  // Emits the backward nodes of one node (autograd.h). Null: not differentiable.
  std::function<void(GradContext&)> gradient;
};

// What a kernel sees when it runs. Inputs are borrowed for the call; outputs are set by the
// kernel (allocate() or set_output()).
class KernelContext {
 public:
  KernelContext(std::span<const Tensor* const> inputs, std::span<Tensor> outputs)
      : inputs_(inputs), outputs_(outputs) {}

  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  bool has_input(int i) const {
    return i < num_inputs() && inputs_[static_cast<std::size_t>(i)] != nullptr;
  }
  const Tensor& input(int i) const;  // throws if absent
  int num_outputs() const { return static_cast<int>(outputs_.size()); }
  // Allocates output i with uninitialized contents and returns it.
  Tensor& allocate(int i, DType dtype, Shape shape);
  // Sets output i to an existing tensor (may share storage with an input: Reshape, Identity).
  void set_output(int i, Tensor t) { outputs_[static_cast<std::size_t>(i)] = std::move(t); }

 private:
  std::span<const Tensor* const> inputs_;
  std::span<Tensor> outputs_;
};

// A kernel instance bound to one node; attributes are parsed once, at creation.
class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual void compute(KernelContext& ctx) = 0;
};

struct KernelInit {
  const Node& node;
  std::int64_t opset;
  Device device;
};
using KernelFactory = std::function<std::unique_ptr<OpKernel>(const KernelInit&)>;

// Adapts a lambda `void(KernelContext&)` into an OpKernel.
template <typename Fn>
std::unique_ptr<OpKernel> make_kernel(Fn fn) {
  struct Lambda final : OpKernel {
    explicit Lambda(Fn f) : fn(std::move(f)) {}
    void compute(KernelContext& ctx) override { fn(ctx); }
    Fn fn;
  };
  return std::make_unique<Lambda>(std::move(fn));
}

class OpRegistry {
 public:
  void add_schema(OpSchema schema);
  const OpSchema* schema(const std::string& op, const std::string& domain = "") const;
  // Attaches a gradient builder to an existing schema (built-ins, or a plugin's own op).
  // Throws act::Error if the op has no schema.
  void set_gradient(const std::string& op, const std::string& domain,
                    std::function<void(GradContext&)> gradient);

  // Registers a kernel for the listed dtypes of the schema's type input (empty: any dtype).
  void add_kernel(const std::string& op, const std::string& domain, DeviceKind device,
                  std::vector<DType> dtypes, KernelFactory factory);
  const KernelFactory* find_kernel(const std::string& op, const std::string& domain,
                                   DeviceKind device, DType dtype) const;
  bool supports(const std::string& op, const std::string& domain, DeviceKind device,
                DType dtype) const {
    return find_kernel(op, domain, device, dtype) != nullptr;
  }
  // Every (op, domain) with a schema, sorted.
  std::vector<std::string> op_names() const;

  // The registry with all built-in schemas and CPU kernels (built on first use).
  static OpRegistry& global();

 private:
  struct KernelEntry {
    DeviceKind device;
    std::vector<DType> dtypes;
    KernelFactory factory;
  };
  static std::string key(const std::string& op, const std::string& domain);
  std::map<std::string, OpSchema> schemas_;
  std::map<std::string, std::vector<KernelEntry>> kernels_;
};

// The explicit tables. Each lives in its own file under kernel/src/ops.
void register_builtin_schemas(OpRegistry& registry);
void register_cpu_kernels(OpRegistry& registry);

}  // namespace act
