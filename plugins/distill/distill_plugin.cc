// The distill plugin: knowledge distillation as PaddleSlim's ACT does it (Distillation,
// MultiTeacherDistillation) and as PaddleSlim 1.x's distillers did (L2Distiller,
// SoftLabelDistiller, FSPDistiller). Keys: distill_spec.h.
//
// rewrite_graph merges each teacher into the student's training graph (teacher_merge.h;
// default teacher: the run's input model, ACT's rule), checks every node against both graphs
// and their shapes, and appends the losses (distill_losses.h). add_loss_terms declares them
// with their alphas and, through LossSinkV2, trains on them alone: labels are never needed.
// finalize removes everything rewrite_graph added, so the saved model is the student alone.
#include <act/sdk/plugin.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "distill_losses.h"
#include "distill_nodes.h"
#include "distill_spec.h"
#include "teacher_merge.h"

namespace {

using act::Graph;
using act::Model;
using act::sdk::ConfigViewV1;
using act::sdk::GraphEditorV1;
using act::sdk::LossSinkV1;
using act::sdk::ReportWriterV1;
using act::sdk::StepContextV1;
namespace distill = act::distill;

std::set<std::string> node_names(const Graph& g) {
  std::set<std::string> out;
  for (const act::Node& n : g.nodes()) out.insert(n.name);
  return out;
}

std::set<std::string> initializer_names(const Graph& g) {
  std::set<std::string> out;
  for (const auto& [name, t] : g.initializers()) out.insert(name);
  return out;
}

struct Term {
  std::string label, value;
  double alpha = 1.0;
};

// A configured loss with its names resolved: student names as in the student, teacher names
// as in the merged graph.
struct ResolvedLoss {
  distill::LossSpec spec;
  std::vector<std::string> teacher, student;
};

class Distiller final : public act::sdk::Strategy {
 public:
  void configure(const ConfigViewV1& config) override {
    spec_ = distill::read_distill_spec(config);
  }

  void rewrite_graph(GraphEditorV1& editor) override {
    Model& model = editor.model();
    const std::string& s = spec_.section;
    act::sdk::ModelSourceV1* source = act::sdk::model_source(editor);
    if (source == nullptr) {
      act::fail(s,
                ": this host cannot hand plugins models (ModelSourceV1); use act 0.1 with "
                "sdk/model_source.h or newer");
    }
    const Model student = model;  // before any teacher: names resolve against the student
    const std::set<std::string> nodes_before = node_names(model.graph);
    const std::set<std::string> inits_before = initializer_names(model.graph);

    std::vector<ResolvedLoss> resolved;
    for (const distill::TeacherSpec& t : spec_.teachers) {
      Model teacher;
      if (t.path.empty()) {
        const Model* input = source->input_model();
        if (input == nullptr) act::fail(s, ": the host has no input model to use as the teacher");
        teacher = *input;
      } else {
        act::sdk::throw_if_failed(source->load_model(t.path.c_str(), &teacher));
      }
      distill::MergedTeacher merged;
      if (auto shared = distill::recorded_merge(model, t.path, t.merge_feed)) {
        merged = *shared;
      } else {
        merged = distill::merge_teacher(model, teacher, t.merge_feed, s + " (" + t.where + ")");
        distill::record_merge(model, t.path, t.merge_feed, merged);
        owned_prefixes_.push_back(merged.prefix);
      }
      sources_.push_back(t.path.empty() ? "input model" : t.path);
      for (const ResolvedLoss& r : resolve(t, teacher.graph, student.graph, merged)) {
        resolved.push_back(r);
      }
    }

    const distill::StaticShapes shapes(model.graph, model.default_opset());
    for (const ResolvedLoss& r : resolved) check_shapes(r, shapes);
    for (const ResolvedLoss& r : resolved) terms_.push_back(emit(model.graph, r, shapes));
    model.graph.topological_sort();

    for (const std::string& n : node_names(model.graph)) {
      if (nodes_before.count(n) == 0) added_nodes_.insert(n);
    }
    for (const std::string& n : initializer_names(model.graph)) {
      if (inits_before.count(n) == 0) added_initializers_.insert(n);
    }
  }

  void on_step_begin(StepContextV1& /*step*/) override { ++steps_; }

  void add_loss_terms(StepContextV1& /*step*/, LossSinkV1& loss) override {
    for (const Term& t : terms_) {
      act::sdk::throw_if_failed(loss.add(t.label.c_str(), t.value.c_str(), t.alpha));
    }
    // ACT trains on the distillation loss alone; an older host keeps the task loss.
    if (act::sdk::LossSinkV2* v2 = act::sdk::loss_sink_v2(loss)) {
      act::sdk::throw_if_failed(v2->replace_task_loss());
      task_loss_replaced_ = true;
    }
  }

  void finalize(GraphEditorV1& editor) override {
    if (steps_ == 0) {
      act::fail(spec_.section,
                " trains the model: add a TrainConfig section (epochs or "
                "train_iter)");
    }
    Model& model = editor.model();
    Graph& g = model.graph;
    std::set<std::string> removed_values;
    for (const act::Node& n : g.nodes()) {
      if (added_nodes_.count(n.name) != 0)
        removed_values.insert(n.outputs.begin(), n.outputs.end());
    }
    g.remove_nodes_if([&](const act::Node& n) { return added_nodes_.count(n.name) != 0; });
    for (const std::string& name : added_initializers_) {
      g.unfreeze(name);
      if (g.is_initializer(name)) g.remove_initializer(name);
      removed_values.insert(name);
    }
    const auto infos = g.value_infos();
    g.clear_value_infos();
    for (const auto& [name, info] : infos) {
      if (removed_values.count(name) == 0) g.set_value_info(info);
    }
    for (const std::string& prefix : owned_prefixes_) distill::forget_merge(model, prefix);
    act::sdk::throw_if_failed(editor.validate());
  }

  void report(ReportWriterV1& report) override {
    std::string teachers, nodes;
    for (const std::string& t : sources_) teachers += (teachers.empty() ? "" : "; ") + t;
    for (const Term& t : terms_) nodes += (nodes.empty() ? "" : "; ") + t.label;
    report.text("teachers", teachers.c_str());
    report.text("losses", nodes.c_str());
    report.number("loss_terms", static_cast<double>(terms_.size()));
    report.text("task_loss", task_loss_replaced_ ? "replaced by the distillation loss"
                                                 : "kept (the host has no LossSinkV2)");
    for (const std::string& note : spec_.notes) report.text("note", note.c_str());
  }

 private:
  std::vector<ResolvedLoss> resolve(const distill::TeacherSpec& t, const Graph& teacher,
                                    const Graph& student, const distill::MergedTeacher& merged) {
    const std::string& s = spec_.section;
    const std::string whose_teacher = t.where;
    std::vector<ResolvedLoss> out;
    if (t.automatic) {
      const std::vector<std::string> tn = distill::automatic_nodes(teacher);
      const std::vector<std::string> sn = distill::automatic_nodes(student);
      if (tn.empty() || sn.empty() || tn.size() != sn.size()) {
        act::fail(s, ".node: the automatic choice found ", tn.size(),
                  " last layer(s) with "
                  "weights in ",
                  whose_teacher, " and ", sn.size(),
                  " in the student; name the "
                  "nodes to distill (`act inspect` lists candidates)");
      }
      for (std::size_t i = 0; i < tn.size(); ++i) {
        ResolvedLoss r{t.losses[0], {merged.value(tn[i])}, {sn[i]}};
        r.spec.teacher = {tn[i]};
        r.spec.student = {sn[i]};
        out.push_back(r);
      }
      return out;
    }
    for (const distill::LossSpec& l : t.losses) {
      ResolvedLoss r{l, {}, {}};
      // Student first: a name in neither graph is reported against the model being compressed.
      for (const std::string& name : l.student) {
        r.student.push_back(distill::resolve_value(student, name, "the student model", l.where));
      }
      for (const std::string& name : l.teacher) {
        r.teacher.push_back(
            merged.value(distill::resolve_value(teacher, name, whose_teacher, l.where)));
      }
      out.push_back(r);
    }
    return out;
  }

  static void check_shapes(const ResolvedLoss& r, const distill::StaticShapes& shapes) {
    const std::string& where = r.spec.where;
    if (r.spec.kind != distill::LossKind::kFsp) {
      const act::Shape t = shapes.of(r.teacher[0], where);
      const act::Shape st = shapes.of(r.student[0], where);
      if (t != st) {
        act::fail(where, ": the teacher's '", r.spec.teacher[0], "' is ", distill::shape_text(t),
                  " and the student's '", r.spec.student[0], "' is ", distill::shape_text(st),
                  " (batch taken as 1); ", distill::loss_name(r.spec.kind),
                  " compares them element by element and act adds no adapter layer, so choose "
                  "nodes of the same shape");
      }
      return;
    }
    const act::Shape t0 = shapes.of(r.teacher[0], where), t1 = shapes.of(r.teacher[1], where);
    const act::Shape s0 = shapes.of(r.student[0], where), s1 = shapes.of(r.student[1], where);
    auto section = [&](const act::Shape& a, const act::Shape& b, const char* whose) {
      if (a.size() != 4 || b.size() != 4 || a[2] != b[2] || a[3] != b[3]) {
        act::fail(where, ": fsp needs two [N, C, H, W] maps of the same H and W; the ", whose,
                  "'s section is ", distill::shape_text(a), " to ", distill::shape_text(b));
      }
    };
    section(t0, t1, "teacher");
    section(s0, s1, "student");
    if (t0[1] != s0[1] || t1[1] != s1[1]) {
      act::fail(where, ": fsp compares [C_start, C_end] matrices; the teacher's are [", t0[1], ", ",
                t1[1], "] and the student's [", s0[1], ", ", s1[1], "]");
    }
  }

  Term emit(Graph& g, const ResolvedLoss& r, const distill::StaticShapes& shapes) {
    Term term;
    term.alpha = r.spec.alpha;
    const std::string kind = distill::loss_name(r.spec.kind);
    switch (r.spec.kind) {
      case distill::LossKind::kL2:
        term.value = distill::add_l2_loss(g, r.teacher[0], r.student[0]);
        break;
      case distill::LossKind::kSoftLabel:
        term.value = distill::add_soft_label_loss(
            g, r.teacher[0], r.student[0], r.spec.teacher_temperature, r.spec.student_temperature);
        break;
      case distill::LossKind::kFsp: {
        const act::Shape t = shapes.of(r.teacher[0], r.spec.where);
        const act::Shape s = shapes.of(r.student[0], r.spec.where);
        term.value = distill::add_fsp_loss(g, r.teacher[0], r.teacher[1], t[2] * t[3], r.student[0],
                                           r.student[1], s[2] * s[3]);
        break;
      }
    }
    term.label = "distill/" + kind + "/" + r.teacher[0] + "->" + r.student[0];
    if (r.spec.kind == distill::LossKind::kFsp) term.label += ".." + r.student[1];
    return term;
  }

  distill::DistillSpec spec_;
  std::vector<Term> terms_;
  std::vector<std::string> sources_, owned_prefixes_;
  std::set<std::string> added_nodes_, added_initializers_;
  std::int64_t steps_ = 0;
  bool task_loss_replaced_ = false;
};

}  // namespace

ACT_PLUGIN(Distiller, "distill", "0.1.0", "Distillation", "MultiTeacherDistillation", "L2Distiller",
           "SoftLabelDistiller", "FSPDistiller")
