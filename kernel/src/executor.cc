#include "act/kernel/executor.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <unordered_set>

namespace act {

// Everything run() needs, resolved once. Values live in `slots`; nodes refer to them by index.
struct Executor::Plan {
  struct Step {
    const Node* node = nullptr;              // points into `nodes`
    std::vector<int> in;                     // slot per input, -1 if omitted
    std::vector<int> out;                    // slot per output (omitted outputs get a scratch slot)
    std::vector<int> release;                // slots whose last reader is this step
    const KernelFactory* factory = nullptr;  // resolved for `kernel_dtype`
    std::unique_ptr<OpKernel> kernel;
    DType kernel_dtype = DType::kF32;
    int type_input = 0;
    std::vector<const Tensor*> in_ptrs;  // scratch, reused every run
    std::vector<Tensor> out_vals;        // scratch, reused every run
    double profile_ms = 0.0;
    std::int64_t profile_calls = 0;
  };

  std::vector<Node> nodes;
  std::vector<Tensor> slots;
  std::vector<bool> constant;  // slot holds an initializer
  std::vector<std::string> slot_names;
  std::vector<int> feed_slots;
  std::vector<std::string> feed_names;
  std::vector<ValueInfo> feed_infos;
  std::vector<int> output_slots;
  std::vector<int> tap_slots;
  std::vector<bool> streamed;  // tap slots handed to on_tap only (stream_taps)
  std::vector<Step> steps;
  ExecutorOptions options;
  const OpRegistry* registry = nullptr;
  std::int64_t opset = 0;
};

namespace {

std::string label(const Node& n) {
  return "node '" + n.name + "' (" + n.op_type + ")";
}

void check_feed(const ValueInfo& info, const Tensor& t) {
  ACT_CHECK(t.defined(), "input '", info.name, "' was fed an empty tensor");
  if (info.has_dtype) {
    ACT_CHECK(t.dtype() == info.dtype, "input '", info.name, "' expects ", dtype_name(info.dtype),
              ", got ", dtype_name(t.dtype()));
  }
  if (!info.has_shape) return;
  bool ok = static_cast<std::size_t>(t.rank()) == info.shape.size();
  for (std::size_t i = 0; ok && i < info.shape.size(); ++i) {
    ok = !info.shape[i].known() || info.shape[i].value == t.shape()[i];
  }
  ACT_CHECK(ok, "input '", info.name, "' expects shape ", info.shape_string(), ", got ",
            shape_to_string(t.shape()));
}

}  // namespace

Executor::Executor(const Graph& graph, std::int64_t opset, ExecutorOptions options,
                   const OpRegistry& registry)
    : plan_(std::make_unique<Plan>()) {
  Plan& p = *plan_;
  p.options = std::move(options);
  p.registry = &registry;
  p.opset = opset;
  p.nodes = graph.nodes();

  std::unordered_map<std::string, int> slot_of;
  auto slot = [&](const std::string& name) {
    auto [it, inserted] = slot_of.emplace(name, static_cast<int>(p.slots.size()));
    if (inserted) {
      p.slots.emplace_back();
      p.constant.push_back(false);
      p.slot_names.push_back(name);
    }
    return it->second;
  };

  for (const auto& [name, t] : graph.initializers()) {
    const int s = slot(name);
    p.slots[static_cast<std::size_t>(s)] = t;
    p.constant[static_cast<std::size_t>(s)] = true;
  }
  for (const auto& in : graph.inputs()) {
    if (graph.is_initializer(in.name)) continue;  // an overridable initializer: keep its value
    p.feed_slots.push_back(slot(in.name));
    p.feed_names.push_back(in.name);
    p.feed_infos.push_back(in);
  }

  std::unordered_set<std::string> produced(p.feed_names.begin(), p.feed_names.end());
  for (const auto& [name, _] : graph.initializers()) produced.insert(name);

  for (const auto& node : p.nodes) {
    Plan::Step step;
    step.node = &node;
    const OpSchema* schema = registry.schema(node.op_type, node.domain);
    ACT_CHECK(schema != nullptr, "unsupported op '", node.op_type, "' at ", label(node));
    step.type_input = schema->type_input;
    // Fail before running if no kernel exists on this device for any dtype.
    bool any = false;
    for (int d = 0; d < kNumDTypes && !any; ++d) {
      any = registry.supports(node.op_type, node.domain, p.options.device.kind,
                              static_cast<DType>(d));
    }
    ACT_CHECK(any, "op '", node.op_type, "' has no kernel on ", p.options.device.to_string(), " (",
              label(node), ")");
    for (const auto& in : node.inputs) {
      if (in.empty()) {
        step.in.push_back(-1);
        continue;
      }
      ACT_CHECK(produced.count(in) != 0, label(node), " reads '", in,
                "', which is not computed before it");
      step.in.push_back(slot(in));
    }
    for (std::size_t i = 0; i < node.outputs.size(); ++i) {
      const auto& out = node.outputs[i];
      step.out.push_back(
          slot(out.empty() ? "\x01scratch:" + node.name + ":" + std::to_string(i) : out));
      produced.insert(out);
    }
    step.in_ptrs.resize(step.in.size());
    step.out_vals.resize(step.out.size());
    p.steps.push_back(std::move(step));
  }

  for (const auto& o : graph.outputs()) {
    ACT_CHECK(produced.count(o.name) != 0, "graph output '", o.name, "' is never produced");
    p.output_slots.push_back(slot(o.name));
  }
  for (const auto& t : p.options.taps) {
    ACT_CHECK(slot_of.count(t) != 0, "cannot tap '", t, "': no such value in the graph");
    p.tap_slots.push_back(slot_of[t]);
  }

  // Lifetimes: a value is released after its last reader unless it must survive the run.
  std::vector<bool> keep(p.slots.size(), p.options.tap_all);
  for (auto s : p.output_slots) keep[static_cast<std::size_t>(s)] = true;
  std::vector<bool> computed(p.slots.size(), false);
  for (const auto& step : p.steps) {
    for (auto s : step.out) {
      if (s >= 0) computed[static_cast<std::size_t>(s)] = true;
    }
  }
  // Streamed taps live like any value; the others are kept for RunResult::tapped.
  const bool stream = p.options.stream_taps && p.options.on_tap;
  p.streamed.assign(p.slots.size(), false);
  for (auto s : p.tap_slots) {
    const auto i = static_cast<std::size_t>(s);
    p.streamed[i] = stream && computed[i];
    if (!p.streamed[i]) keep[i] = true;
  }
  std::vector<int> last_reader(p.slots.size(), -1);
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    for (auto s : p.steps[i].in) {
      if (s >= 0) last_reader[static_cast<std::size_t>(s)] = static_cast<int>(i);
    }
    // Outputs nobody reads are freed right after they are made.
    for (auto s : p.steps[i].out) {
      if (last_reader[static_cast<std::size_t>(s)] < static_cast<int>(i)) {
        last_reader[static_cast<std::size_t>(s)] = static_cast<int>(i);
      }
    }
  }
  for (std::size_t s = 0; s < p.slots.size(); ++s) {
    if (keep[s] || p.constant[s] || last_reader[s] < 0) continue;
    p.steps[static_cast<std::size_t>(last_reader[s])].release.push_back(static_cast<int>(s));
  }
}

Executor::~Executor() = default;

const std::vector<std::string>& Executor::feed_names() const {
  return plan_->feed_names;
}
std::size_t Executor::num_nodes() const {
  return plan_->steps.size();
}

std::vector<NodeProfile> Executor::profile() const {
  std::vector<NodeProfile> out;
  if (!plan_->options.profile) return out;
  for (const auto& s : plan_->steps) {
    out.push_back({s.node->name, s.node->op_type, s.profile_ms, s.profile_calls});
  }
  return out;
}

RunResult Executor::run(const std::map<std::string, Tensor>& feeds) {
  std::vector<Tensor> ordered;
  ordered.reserve(plan_->feed_names.size());
  for (const auto& name : plan_->feed_names) {
    auto it = feeds.find(name);
    ACT_CHECK(it != feeds.end(), "missing input '", name, "'");
    ordered.push_back(it->second);
  }
  for (const auto& [name, _] : feeds) {
    ACT_CHECK(std::find(plan_->feed_names.begin(), plan_->feed_names.end(), name) !=
                  plan_->feed_names.end(),
              "unknown input '", name, "'");
  }
  return run(ordered);
}

RunResult Executor::run(const std::vector<Tensor>& inputs) {
  Plan& p = *plan_;
  ACT_CHECK(inputs.size() == p.feed_slots.size(), "model takes ", p.feed_slots.size(),
            " inputs, got ", inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (p.options.check_input_shapes) check_feed(p.feed_infos[i], inputs[i]);
    p.slots[static_cast<std::size_t>(p.feed_slots[i])] = inputs[i];
  }

  RunResult result;
  for (auto& step : p.steps) {
    for (std::size_t i = 0; i < step.in.size(); ++i) {
      step.in_ptrs[i] = step.in[i] < 0 ? nullptr : &p.slots[static_cast<std::size_t>(step.in[i])];
    }
    // The kernel is chosen by the type input's dtype, known only now; cached per node.
    DType dtype = DType::kF32;
    if (step.type_input >= 0 && static_cast<std::size_t>(step.type_input) < step.in_ptrs.size() &&
        step.in_ptrs[static_cast<std::size_t>(step.type_input)] != nullptr) {
      dtype = step.in_ptrs[static_cast<std::size_t>(step.type_input)]->dtype();
    }
    const Node& node = *step.node;
    try {
      if (!step.kernel || step.kernel_dtype != dtype) {
        step.factory =
            p.registry->find_kernel(node.op_type, node.domain, p.options.device.kind, dtype);
        ACT_CHECK(step.factory != nullptr, "no ", p.options.device.to_string(), " kernel for ",
                  dtype_name(dtype), " inputs");
        step.kernel = (*step.factory)(KernelInit{node, p.opset, p.options.device});
        step.kernel_dtype = dtype;
      }
      KernelContext ctx(step.in_ptrs, step.out_vals);
      if (p.options.profile) {
        const auto t0 = std::chrono::steady_clock::now();
        step.kernel->compute(ctx);
        step.profile_ms +=
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        ++step.profile_calls;
      } else {
        step.kernel->compute(ctx);
      }
    } catch (const Error& e) {
      fail(label(node), ": ", e.what());
    }
    for (std::size_t i = 0; i < step.out.size(); ++i) {
      ACT_CHECK(step.out_vals[i].defined() || node.outputs[i].empty(), label(node),
                " did not produce output ", i);
      p.slots[static_cast<std::size_t>(step.out[i])] = std::move(step.out_vals[i]);
      step.out_vals[i] = Tensor();
      // An omitted optional output ("") is scratch, not a value: tap_all does not report it.
      if (p.options.on_tap && !node.outputs[i].empty() &&
          (p.options.tap_all ||
           std::find(p.tap_slots.begin(), p.tap_slots.end(), step.out[i]) != p.tap_slots.end())) {
        p.options.on_tap(node.outputs[i], p.slots[static_cast<std::size_t>(step.out[i])]);
      }
    }
    for (auto s : step.release) p.slots[static_cast<std::size_t>(s)] = Tensor();
  }

  for (auto s : p.output_slots) result.outputs.push_back(p.slots[static_cast<std::size_t>(s)]);
  if (p.options.tap_all) {
    for (std::size_t s = 0; s < p.slots.size(); ++s) {
      if (p.slots[s].defined() && p.slot_names[s][0] != '\x01')
        result.tapped[p.slot_names[s]] = p.slots[s];
    }
  } else {
    for (auto s : p.tap_slots) {
      if (p.streamed[static_cast<std::size_t>(s)]) continue;
      result.tapped[p.slot_names[static_cast<std::size_t>(s)]] =
          p.slots[static_cast<std::size_t>(s)];
    }
  }
  // Drop references to this run's values so memory is returned between runs.
  for (std::size_t s = 0; s < p.slots.size(); ++s) {
    if (!p.constant[s]) p.slots[s] = Tensor();
  }
  return result;
}

}  // namespace act
