// The teacher inside the student's training graph: one graph, one executor, one batch.
//
// merge_teacher() copies every node, initializer and value info of the teacher into the
// student under a prefix ("teacher_", ACT's; the next free "teacherN_" on a clash), so
// nothing clashes with the student's names. The teacher's weights are frozen (Graph::freeze:
// the trainer never updates them) and its nodes are named "<prefix><name>/skip_quant", so a
// quantizer with ACT's default not_quant_pattern [skip_quant] leaves them in float, as
// PaddleSlim's merge marks teacher ops skip_quant. The teacher reads the student's inputs:
// with merge_feed (ACT's default) its feeds map to the student's in order; without it each
// teacher input must have a student input of the same name.
//
// Ownership: edits the student in place; copies the teacher's graph (tensors share storage).
// Threading: one caller at a time per graph.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "act/kernel/graph.h"

namespace act::distill {

struct MergedTeacher {
  std::string prefix;
  std::map<std::string, std::string> inputs;  // teacher feed -> the student value it reads
  // The name a teacher value has in the merged graph.
  std::string value(const std::string& teacher_name) const;
};

// Throws act::Error "<where>: ..." when the opsets differ, when inputs do not fit (count,
// dtype, known dims; names without merge_feed), naming the inputs.
MergedTeacher merge_teacher(Model& student, const Model& teacher, bool merge_feed,
                            const std::string& where);

// Sharing: a teacher merged by one section serves the others of the run (PaddleSlim 1.x
// configs list several distillers over one teacher). The merge is recorded in the student's
// metadata_props while training and forgotten in finalize, so it never reaches a saved file.
// The merge of `source` (a teacher file, or "" for the input model) recorded in `student` with
// `merge_feed`, if any.
std::optional<MergedTeacher> recorded_merge(const Model& student, const std::string& source,
                                            bool merge_feed);
void record_merge(Model& student, const std::string& source, bool merge_feed,
                  const MergedTeacher& merged);
void forget_merge(Model& student, const std::string& prefix);

}  // namespace act::distill
