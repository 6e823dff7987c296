#include "distill_losses.h"

#include <vector>

#include "act/kernel/graph_emitter.h"
#include "act/kernel/losses.h"

namespace act::distill {
namespace {

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
std::string fsp_matrix(GraphEmitter& e, const std::string& a, const std::string& b,
                       std::int64_t hw) {
  const std::string shape = e.ints({0, 0, -1});
  const std::string ar = e.op("Reshape", {a, shape});
  const std::string br = e.op("Reshape", {b, shape});
  const std::string bt = e.op("Transpose", {br}, ints_attr("perm", {0, 2, 1}));
  return e.op("Div", {e.op("MatMul", {ar, bt}), e.scalar(static_cast<float>(hw))});
}

}  // namespace

std::string add_l2_loss(Graph& graph, const std::string& teacher, const std::string& student) {
  GraphEmitter e(graph, "distill/l2");
  return add_mse(graph, student, e.stop_gradient(teacher));
}

std::string add_soft_label_loss(Graph& graph, const std::string& teacher,
                                const std::string& student, double teacher_temperature,
                                double student_temperature) {
  GraphEmitter e(graph, "distill/soft_label");
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
  GraphEmitter e(graph, "distill/fsp");
  const std::string gt = e.stop_gradient(fsp_matrix(e, teacher_start, teacher_end, hw_teacher));
  const std::string gs = fsp_matrix(e, student_start, student_end, hw_student);
  return add_mse(graph, gs, gt);
}

}  // namespace act::distill
