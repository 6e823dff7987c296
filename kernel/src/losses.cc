#include "act/kernel/losses.h"

#include "act/kernel/error.h"
#include "act/kernel/graph_emitter.h"

namespace act {

namespace {

Attributes keepdims(bool keep) {
  Attributes a;
  a.set("keepdims", std::int64_t{keep ? 1 : 0});
  return a;
}

// Sum along the last axis, then the mean of what is left (the batch).
std::string batch_mean_of_row_sums(GraphEmitter& e, const std::string& v) {
  const std::string rows = e.op("ReduceSum", {v, e.ints({-1})}, keepdims(false));
  Attributes all = keepdims(false);
  return e.op("ReduceMean", {rows}, all);
}

}  // namespace

std::string add_cross_entropy(Graph& graph, const std::string& logits, const std::string& labels) {
  GraphEmitter e(graph, "loss/cross_entropy");
  Attributes last;
  last.set("axis", std::int64_t{-1});
  const std::string logp = e.op("LogSoftmax", {logits}, last);
  return e.op("Neg", {batch_mean_of_row_sums(e, e.op("Mul", {labels, logp}))});
}

std::string add_mse(Graph& graph, const std::string& a, const std::string& b) {
  GraphEmitter e(graph, "loss/mse");
  const std::string d = e.op("Sub", {a, b});
  return e.op("ReduceMean", {e.op("Mul", {d, d})}, keepdims(false));
}

std::string add_soft_label_kl(Graph& graph, const std::string& student_logits,
                              const std::string& teacher_logits, float temperature) {
  ACT_CHECK(temperature > 0.0F, "soft_label loss: temperature must be positive, got ", temperature);
  GraphEmitter e(graph, "loss/soft_label");
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
