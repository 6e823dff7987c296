// The distillation losses as graph nodes appended to the training graph (autograd
// differentiates them like any other op). Each returns the name of a scalar f32 value; the
// teacher side always passes through StopGradient, so no gradient ever enters the teacher.
//
//   l2:          mean over every element of (student - teacher)^2 (PaddleSlim's l2_loss;
//                the kernel's add_mse).
//   soft_label:  mean over the rows (every axis but the last) of
//                KL(softmax(teacher / Tt) || softmax(student / Ts)) along the last axis.
//                PaddleSlim's soft_label_loss is the cross-entropy of the same distributions;
//                the two differ by the teacher's entropy, a constant, so the gradients are the
//                same and a perfect student scores 0 (which makes the loss a readable
//                selection metric). No T^2 factor, as PaddleSlim.
//   fsp:         mean of (G_teacher - G_student)^2 where G(a, b)[n, i, j] = sum over the H*W
//                positions of a[n, i] * b[n, j] / (H*W), for a section's first and last
//                feature maps a [N, C1, H, W] and b [N, C2, H, W] (Yim et al., PaddleSlim's
//                fsp_loss). C1 and C2 may differ; H and W must be equal within a model.
// Node and initializer names start with "distill/" or the kernel's "loss/" (made unique in
// the graph); callers that remove them later diff the graph's names.
// Threading: mutate the graph; one caller at a time.
#pragma once

#include <cstdint>
#include <string>

#include "act/kernel/graph.h"

namespace act::distill {

std::string add_l2_loss(Graph& graph, const std::string& teacher, const std::string& student);
std::string add_soft_label_loss(Graph& graph, const std::string& teacher,
                                const std::string& student, double teacher_temperature,
                                double student_temperature);
// `hw_*` is H*W of each model's section (static: backward needs static shapes anyway).
std::string add_fsp_loss(Graph& graph, const std::string& teacher_start,
                         const std::string& teacher_end, std::int64_t hw_teacher,
                         const std::string& student_start, const std::string& student_end,
                         std::int64_t hw_student);

}  // namespace act::distill
