// Training losses, built as graph nodes (so autograd differentiates them like any other op).
// Each appends its nodes to `graph` and returns the name of a scalar f32 loss value.
//
//   cross_entropy:  mean over the batch of -sum(labels * log_softmax(logits)) along the last
//                   axis; `labels` are one-hot (or soft) f32 rows of the logits' shape.
//   mse:            mean of (a - b)^2 over every element ("l2" in distillation configs).
//   soft_label_kl:  T^2 * mean over the batch of KL(softmax(t / T) || softmax(s / T)) along
//                   the last axis, the teacher side behind StopGradient (Hinton et al.).
// Threading: mutate the graph; one caller at a time.
#pragma once

#include <string>

#include "act/kernel/graph.h"

namespace act {

std::string add_cross_entropy(Graph& graph, const std::string& logits, const std::string& labels);
std::string add_mse(Graph& graph, const std::string& a, const std::string& b);
std::string add_soft_label_kl(Graph& graph, const std::string& student_logits,
                              const std::string& teacher_logits, float temperature);

}  // namespace act
