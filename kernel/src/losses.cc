#include "act/kernel/losses.h"

#include "act/kernel/error.h"

namespace act {

namespace {

// A prefix no name of `g` starts with: two losses of one kind in one graph (an l2 term per
// distillation node) must not share node names, and unique_name() only checks whole names.
std::string free_prefix(const Graph& g, const std::string& base) {
  auto used = [&](const std::string& p) {
    auto starts = [&](const std::string& name) { return name.rfind(p, 0) == 0; };
    for (const Node& n : g.nodes()) {
      if (starts(n.name)) return true;
      for (const std::string& o : n.outputs) {
        if (starts(o)) return true;
      }
    }
    for (const auto& [name, t] : g.initializers()) {
      if (starts(name)) return true;
    }
    return false;
  };
  for (int k = 0;; ++k) {
    const std::string p = k == 0 ? base : base + "_" + std::to_string(k);
    if (!used(p + "/")) return p;
  }
}

// Appends nodes with names derived from a common prefix that no value uses yet.
class Emitter {
 public:
  Emitter(Graph& g, const std::string& prefix) : g_(g), prefix_(free_prefix(g, prefix)) {}

  std::string op(const std::string& type, std::vector<std::string> inputs, Attributes attrs = {},
                 const std::string& domain = "") {
    Node n;
    n.op_type = type;
    n.domain = domain;
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    n.name = prefix_ + "/" + type + "_" + std::to_string(count_++);
    n.outputs = {n.name};
    g_.add_node(n);
    return n.name;
  }
  std::string scalar(float v) {
    Tensor t(DType::kF32, {});
    t.data<float>()[0] = v;
    const std::string name = prefix_ + "/const_" + std::to_string(count_++);
    g_.set_initializer(name, t);
    return name;
  }
  std::string axes(std::vector<std::int64_t> v) {
    Tensor t(DType::kI64, {static_cast<std::int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<std::int64_t>());
    const std::string name = prefix_ + "/axes_" + std::to_string(count_++);
    g_.set_initializer(name, t);
    return name;
  }

 private:
  Graph& g_;
  std::string prefix_;
  int count_ = 0;
};

Attributes keepdims(bool keep) {
  Attributes a;
  a.set("keepdims", std::int64_t{keep ? 1 : 0});
  return a;
}

// Sum along the last axis, then the mean of what is left (the batch).
std::string batch_mean_of_row_sums(Emitter& e, const std::string& v) {
  const std::string rows = e.op("ReduceSum", {v, e.axes({-1})}, keepdims(false));
  Attributes all = keepdims(false);
  return e.op("ReduceMean", {rows}, all);
}

}  // namespace

std::string add_cross_entropy(Graph& graph, const std::string& logits, const std::string& labels) {
  Emitter e(graph, "loss/cross_entropy");
  Attributes last;
  last.set("axis", std::int64_t{-1});
  const std::string logp = e.op("LogSoftmax", {logits}, last);
  return e.op("Neg", {batch_mean_of_row_sums(e, e.op("Mul", {labels, logp}))});
}

std::string add_mse(Graph& graph, const std::string& a, const std::string& b) {
  Emitter e(graph, "loss/mse");
  const std::string d = e.op("Sub", {a, b});
  return e.op("ReduceMean", {e.op("Mul", {d, d})}, keepdims(false));
}

std::string add_soft_label_kl(Graph& graph, const std::string& student_logits,
                              const std::string& teacher_logits, float temperature) {
  ACT_CHECK(temperature > 0.0F, "soft_label loss: temperature must be positive, got ", temperature);
  Emitter e(graph, "loss/soft_label");
  Attributes last;
  last.set("axis", std::int64_t{-1});
  const std::string t_in = e.op("StopGradient", {teacher_logits}, {}, "act");
  const std::string inv_t = e.scalar(1.0F / temperature);
  const std::string log_pt = e.op("LogSoftmax", {e.op("Mul", {t_in, inv_t})}, last);
  const std::string log_ps = e.op("LogSoftmax", {e.op("Mul", {student_logits, inv_t})}, last);
  const std::string pt = e.op("Exp", {log_pt});
  const std::string kl =
      batch_mean_of_row_sums(e, e.op("Mul", {pt, e.op("Sub", {log_pt, log_ps})}));
  return e.op("Mul", {kl, e.scalar(temperature * temperature)});
}

}  // namespace act
