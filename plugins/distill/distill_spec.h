// What a distillation section asks for, read and checked in configure(), before any graph is
// seen: teachers, and per teacher the losses between its nodes and the student's.
//
// Sections and keys (PaddleSlim's names; docs/decisions.md "Distillation"):
//   Distillation              alpha (one, or one per node), loss (l2 | soft_label | fsp; one,
//                             or one per node), node, teacher_model_dir,
//                             teacher_model_filename, teacher_params_filename, merge_feed;
//                             extensions: teacher_temperature, student_temperature
//                             (soft_label).
//   MultiTeacherDistillation  the same keys, each a list with one entry per teacher
//                             (teacher_model_dir required); node is a list of per-teacher
//                             lists.
//   L2Distiller, SoftLabelDistiller, FSPDistiller (PaddleSlim 1.x): teacher_feature_map +
//                             student_feature_map, or teacher_pairs + student_pairs (FSP);
//                             distillation_loss_weight; temperatures; the teacher keys; an
//                             optional `class` equal to the section name.
// Node entries: "name" (the same value in teacher and student), [teacher, student], and for
// fsp [start, end] (both models) or [t_start, t_end, s_start, s_end]; ACT's flat pair form
// [teacher_a, a, teacher_b, b] reads too. No node: automatic (the outputs of the last layers
// with weights).
//
// Ownership: plain values. Threading: reentrant.
#pragma once

#include <string>
#include <vector>

#include "act/sdk/config_view.h"

namespace act::distill {

enum class LossKind { kL2, kSoftLabel, kFsp };

const char* loss_name(LossKind kind);
// "l2" (or "l2_loss"), "soft_label", "fsp"; anything else throws act::Error naming `where`
// with the closest name.
LossKind parse_loss(const std::string& name, const std::string& where);

// One loss term between teacher and student nodes.
struct LossSpec {
  LossKind kind = LossKind::kL2;
  double alpha = 1.0;
  // As configured (teacher names without the merge prefix): one value each for l2 and
  // soft_label, two (section start and end) for fsp. Empty: an automatic node.
  std::vector<std::string> teacher, student;
  double teacher_temperature = 1.0, student_temperature = 1.0;
  std::string where;  // "Distillation.node[2]", for messages
};

struct TeacherSpec {
  std::string path;  // "" = the run's input model (self-distillation)
  bool merge_feed = true;
  // Empty nodes in `losses` (one entry, automatic) expand to the automatic nodes.
  std::vector<LossSpec> losses;
  bool automatic = false;
  std::string where;  // "MultiTeacherDistillation teacher 1 (teachers/big.onnx)"
};

struct DistillSpec {
  std::string section;
  std::vector<TeacherSpec> teachers;
  std::vector<std::string> notes;  // for the report (ignored keys)
};

// Reads any of the five sections; throws act::Error "<Section>.<key>: ..." on a bad or
// unknown key, a wrong count, a missing name.
DistillSpec read_distill_spec(const sdk::ConfigViewV1& view);

}  // namespace act::distill
