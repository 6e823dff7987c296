#include "distill_losses.h"

#include <vector>

#include "act/kernel/losses.h"

namespace act::distill {
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

// Appends ops whose names share one prefix no value uses yet.
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
  std::string stop_gradient(const std::string& v) { return op("StopGradient", {v}, {}, "act"); }
  std::string constant(Tensor t) {
    const std::string name = prefix_ + "/const_" + std::to_string(count_++);
    g_.set_initializer(name, std::move(t));
    return name;
  }
  std::string scalar(float v) { return constant(Tensor::scalar(v)); }
  std::string ints(const std::vector<std::int64_t>& v) {
    Tensor t(DType::kI64, {static_cast<std::int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<std::int64_t>());
    return constant(t);
  }

 private:
  Graph& g_;
  std::string prefix_;
  int count_ = 0;
};

Attributes ints_attr(const char* key, std::vector<std::int64_t> v) {
  Attributes a;
  a.set(key, std::move(v));
  return a;
}

Attributes int_attr(const char* key, std::int64_t v) {
  Attributes a;
  a.set(key, v);
  return a;
}

// G(a, b) = a_r b_r^T / hw with a_r [N, C1, hw], b_r [N, C2, hw].
std::string fsp_matrix(Emitter& e, const std::string& a, const std::string& b, std::int64_t hw) {
  const std::string shape = e.ints({0, 0, -1});
  const std::string ar = e.op("Reshape", {a, shape});
  const std::string br = e.op("Reshape", {b, shape});
  const std::string bt = e.op("Transpose", {br}, ints_attr("perm", {0, 2, 1}));
  return e.op("Div", {e.op("MatMul", {ar, bt}), e.scalar(static_cast<float>(hw))});
}

}  // namespace

std::string add_l2_loss(Graph& graph, const std::string& teacher, const std::string& student) {
  Emitter e(graph, "distill/l2");
  return add_mse(graph, student, e.stop_gradient(teacher));
}

std::string add_soft_label_loss(Graph& graph, const std::string& teacher,
                                const std::string& student, double teacher_temperature,
                                double student_temperature) {
  Emitter e(graph, "distill/soft_label");
  const Attributes last = int_attr("axis", -1);
  const std::string t = e.op(
      "Mul", {e.stop_gradient(teacher), e.scalar(static_cast<float>(1.0 / teacher_temperature))});
  const std::string s =
      e.op("Mul", {student, e.scalar(static_cast<float>(1.0 / student_temperature))});
  const std::string log_pt = e.op("LogSoftmax", {t}, last);
  const std::string log_ps = e.op("LogSoftmax", {s}, last);
  const std::string pt = e.op("Exp", {log_pt});
  const std::string rows =
      e.op("ReduceSum", {e.op("Mul", {pt, e.op("Sub", {log_pt, log_ps})}), e.ints({-1})},
           int_attr("keepdims", 0));
  return e.op("ReduceMean", {rows}, int_attr("keepdims", 0));
}

std::string add_fsp_loss(Graph& graph, const std::string& teacher_start,
                         const std::string& teacher_end, std::int64_t hw_teacher,
                         const std::string& student_start, const std::string& student_end,
                         std::int64_t hw_student) {
  Emitter e(graph, "distill/fsp");
  const std::string gt = e.stop_gradient(fsp_matrix(e, teacher_start, teacher_end, hw_teacher));
  const std::string gs = fsp_matrix(e, student_start, student_end, hw_student);
  return add_mse(graph, gs, gt);
}

}  // namespace act::distill
