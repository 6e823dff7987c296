#include "distill_spec.h"

#include "act/kernel/error.h"
#include "act/sdk/config_reader.h"
#include "act/sdk/flow_list.h"

namespace act::distill {
namespace {

using sdk::ConfigReader;
using sdk::flow_text;
using sdk::FlowValue;
using sdk::parse_flow;

constexpr const char* kTeacherPrefix = "teacher_";

bool starts_with(const std::string& s, const std::string& p) {
  return s.size() > p.size() && s.compare(0, p.size(), p) == 0;
}

// The teacher file from ACT's pair of keys; a folder without a file name cannot be an ONNX
// model, and saying so beats the loader's "cannot open".
std::string teacher_path(const std::string& dir, const std::string& file,
                         const std::string& where) {
  if (dir.empty()) {
    ACT_CHECK(file.empty(), where,
              ".teacher_model_filename needs teacher_model_dir (the folder "
              "that holds it)");
    return "";
  }
  if (!file.empty()) return dir + "/" + file;
  ACT_CHECK(dir.size() > 5 && dir.compare(dir.size() - 5, 5, ".onnx") == 0, where,
            ".teacher_model_dir: '", dir,
            "' is not an .onnx file; name the file, or give the "
            "folder's file as teacher_model_filename");
  return dir;
}

std::vector<std::string> scalars(const FlowValue& v, const std::string& where) {
  std::vector<std::string> out;
  for (const FlowValue& item : v.items) {
    ACT_CHECK(!item.is_list, where, ": expected names, got the list ", flow_text(item));
    out.push_back(item.scalar);
  }
  return out;
}

// One node entry of `kind`: see distill_spec.h.
void read_entry(const FlowValue& entry, LossSpec& spec) {
  if (!entry.is_list) {
    ACT_CHECK(spec.kind != LossKind::kFsp, spec.where,
              ": fsp compares two sections' ends, give "
              "[start, end] (or [t_start, t_end, s_start, s_end]), not '",
              entry.scalar, "'");
    spec.teacher = {entry.scalar};
    spec.student = {entry.scalar};
    return;
  }
  const std::vector<std::string> names = scalars(entry, spec.where);
  if (spec.kind == LossKind::kFsp) {
    ACT_CHECK(names.size() == 2 || names.size() == 4, spec.where,
              ": fsp takes [start, end] or [t_start, t_end, s_start, s_end], got ",
              flow_text(entry));
    spec.teacher = {names[0], names[1]};
    spec.student = names.size() == 2 ? spec.teacher : std::vector<std::string>{names[2], names[3]};
    return;
  }
  ACT_CHECK(names.size() == 2, spec.where, ": ", loss_name(spec.kind),
            " takes a name or a [teacher, student] pair, got ", flow_text(entry));
  spec.teacher = {names[0]};
  spec.student = {names[1]};
}

// ACT writes its resolved node list flat, teacher first: [teacher_a, a, teacher_b, b].
std::vector<FlowValue> pair_up_flat_form(const std::vector<FlowValue>& entries) {
  if (entries.empty() || entries.size() % 2 != 0) return entries;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].is_list) return entries;
    if (starts_with(entries[i].scalar, kTeacherPrefix) != (i % 2 == 0)) return entries;
  }
  std::vector<FlowValue> pairs;
  for (std::size_t i = 0; i < entries.size(); i += 2) {
    FlowValue pair;
    pair.is_list = true;
    pair.items = {entries[i], entries[i + 1]};
    pairs.push_back(pair);
  }
  return pairs;
}

// `values` has one entry for all, or one per `count`; returns entry i.
template <class T>
T one_or_each(const std::vector<T>& values, std::size_t count, std::size_t i, const T& fallback,
              const std::string& key, const char* per) {
  if (values.empty()) return fallback;
  ACT_CHECK(values.size() == 1 || values.size() == count, key, ": give one value or one per ", per,
            " (", count, "), got ", values.size());
  return values.size() == 1 ? values[0] : values[i];
}

struct Temperatures {
  double teacher = 1.0, student = 1.0;
  bool given = false;
};

Temperatures read_temperatures(ConfigReader& cfg, const std::string& s) {
  Temperatures t;
  t.given = cfg.has("teacher_temperature") || cfg.has("student_temperature");
  t.teacher = cfg.number("teacher_temperature", 1.0);
  t.student = cfg.number("student_temperature", 1.0);
  ACT_CHECK(t.teacher > 0 && t.student > 0, s,
            ".teacher_temperature and student_temperature must be positive");
  return t;
}

void check_temperatures_used(const DistillSpec& spec, const Temperatures& t) {
  if (!t.given) return;
  for (const TeacherSpec& teacher : spec.teachers) {
    for (const LossSpec& l : teacher.losses) {
      if (l.kind == LossKind::kSoftLabel) return;
    }
  }
  fail(spec.section,
       ".teacher_temperature/student_temperature: only soft_label uses them, and "
       "no loss is soft_label");
}

// The losses of one teacher from its node entries (automatic when there are none).
void read_teacher_losses(TeacherSpec& teacher, const FlowValue& nodes,
                         const std::vector<std::string>& losses, const std::vector<double>& alphas,
                         const Temperatures& temps, const std::string& node_key,
                         const std::string& section) {
  const std::vector<FlowValue> entries = pair_up_flat_form(nodes.items);
  if (entries.empty()) {
    ACT_CHECK(losses.size() <= 1 && alphas.size() <= 1, section,
              ": with automatic nodes (no node) give one loss and one alpha");
    LossSpec spec;
    spec.kind = parse_loss(losses.empty() ? "l2" : losses[0], section + ".loss");
    ACT_CHECK(spec.kind != LossKind::kFsp, section,
              ".loss: fsp needs its sections named in node ([start, end] pairs)");
    spec.alpha = alphas.empty() ? 1.0 : alphas[0];
    spec.teacher_temperature = temps.teacher;
    spec.student_temperature = temps.student;
    spec.where = node_key + " (automatic)";
    teacher.automatic = true;
    teacher.losses = {spec};
    return;
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    LossSpec spec;
    spec.where = node_key + "[" + std::to_string(i) + "]";
    spec.kind = parse_loss(
        one_or_each(losses, entries.size(), i, std::string("l2"), section + ".loss", "node"),
        section + ".loss");
    spec.alpha = one_or_each(alphas, entries.size(), i, 1.0, section + ".alpha", "node");
    spec.teacher_temperature = temps.teacher;
    spec.student_temperature = temps.student;
    read_entry(entries[i], spec);
    teacher.losses.push_back(spec);
  }
}

DistillSpec read_distillation(ConfigReader& cfg) {
  DistillSpec spec;
  spec.section = cfg.section();
  const std::string& s = spec.section;
  const FlowValue nodes = parse_flow(cfg.text("node", ""), s + ".node");
  const std::vector<std::string> losses = cfg.strings("loss");
  const std::vector<double> alphas = cfg.numbers("alpha");
  const std::vector<std::string> dirs = cfg.strings("teacher_model_dir");
  const std::vector<std::string> files = cfg.strings("teacher_model_filename");
  const std::vector<std::string> params = cfg.strings("teacher_params_filename");
  const bool merge_feed = cfg.flag("merge_feed", true);
  const Temperatures temps = read_temperatures(cfg, s);
  cfg.reject_unknown_keys();
  for (double a : alphas) ACT_CHECK(a >= 0, s, ".alpha must be >= 0, got ", a);

  if (s == "Distillation") {
    ACT_CHECK(dirs.size() <= 1 && files.size() <= 1 && params.size() <= 1, s,
              ": one teacher; MultiTeacherDistillation takes several");
    TeacherSpec teacher;
    teacher.path = teacher_path(dirs.empty() ? "" : dirs[0], files.empty() ? "" : files[0], s);
    teacher.merge_feed = merge_feed;
    teacher.where = teacher.path.empty() ? "the teacher (the uncompressed model)"
                                         : "the teacher " + teacher.path;
    FlowValue list = nodes;
    if (!list.is_list) {
      list.is_list = true;
      list.items = {nodes};
    }
    read_teacher_losses(teacher, list, losses, alphas, temps, s + ".node", s);
    spec.teachers.push_back(teacher);
  } else {
    ACT_CHECK(!dirs.empty(), s, ".teacher_model_dir: name one model per teacher");
    const std::size_t n = dirs.size();
    ACT_CHECK(files.empty() || files.size() == n, s,
              ".teacher_model_filename: give one per "
              "teacher_model_dir (",
              n, "), got ", files.size());
    ACT_CHECK(params.empty() || params.size() == n, s,
              ".teacher_params_filename: give one per "
              "teacher_model_dir (",
              n, "), got ", params.size());
    ACT_CHECK(nodes.is_list, s, ".node: give one list of nodes per teacher");
    ACT_CHECK(nodes.items.empty() || nodes.items.size() == n, s,
              ".node: give one list per "
              "teacher (",
              n, "), got ", nodes.items.size());
    for (std::size_t t = 0; t < n; ++t) {
      TeacherSpec teacher;
      const std::string key = s + " teacher " + std::to_string(t);
      teacher.path = teacher_path(dirs[t], files.empty() ? "" : files[t], key);
      teacher.merge_feed = merge_feed;
      teacher.where = "teacher " + std::to_string(t) + " (" + teacher.path + ")";
      FlowValue list;
      list.is_list = true;
      if (!nodes.items.empty()) {
        ACT_CHECK(nodes.items[t].is_list, s, ".node[", t, "]: give a list of nodes for teacher ", t,
                  ", got '", nodes.items[t].scalar, "'");
        list = nodes.items[t];
      }
      const std::string loss = one_or_each(losses, n, t, std::string("l2"), s + ".loss", "teacher");
      const double alpha = one_or_each(alphas, n, t, 1.0, s + ".alpha", "teacher");
      read_teacher_losses(teacher, list, {loss}, {alpha}, temps,
                          s + ".node[" + std::to_string(t) + "]", s);
      spec.teachers.push_back(teacher);
    }
  }
  if (!params.empty()) {
    spec.notes.push_back("teacher_params_filename ignored: an ONNX model holds its weights");
  }
  check_temperatures_used(spec, temps);
  return spec;
}

// PaddleSlim 1.x: L2Distiller, SoftLabelDistiller, FSPDistiller.
DistillSpec read_legacy(ConfigReader& cfg) {
  DistillSpec spec;
  spec.section = cfg.section();
  const std::string& s = spec.section;
  const LossKind kind = s == "L2Distiller"          ? LossKind::kL2
                        : s == "SoftLabelDistiller" ? LossKind::kSoftLabel
                                                    : LossKind::kFsp;
  const std::string cls = cfg.text("class", s);
  ACT_CHECK(cls == s, s, ".class: '", cls, "' is not this section's distiller; use a ", cls,
            " section");
  const double weight = cfg.number("distillation_loss_weight", 1.0);
  ACT_CHECK(weight >= 0, s, ".distillation_loss_weight must be >= 0, got ", weight);
  TeacherSpec teacher;
  teacher.path =
      teacher_path(cfg.text("teacher_model_dir", ""), cfg.text("teacher_model_filename", ""), s);
  if (cfg.has("teacher_params_filename")) {
    cfg.text("teacher_params_filename", "");
    spec.notes.push_back("teacher_params_filename ignored: an ONNX model holds its weights");
  }
  teacher.merge_feed = cfg.flag("merge_feed", true);
  teacher.where =
      teacher.path.empty() ? "the teacher (the uncompressed model)" : "the teacher " + teacher.path;
  Temperatures temps;
  std::vector<FlowValue> teacher_items, student_items;
  if (kind == LossKind::kFsp) {
    const FlowValue tp = parse_flow(cfg.text("teacher_pairs", ""), s + ".teacher_pairs");
    const FlowValue sp = parse_flow(cfg.text("student_pairs", ""), s + ".student_pairs");
    ACT_CHECK(tp.is_list && !tp.items.empty(), s, ".teacher_pairs: give [[start, end], ...]");
    ACT_CHECK(sp.is_list && sp.items.size() == tp.items.size(), s,
              ".student_pairs: give one [start, end] per teacher pair (", tp.items.size(), ")");
    teacher_items = tp.items;
    student_items = sp.items;
  } else {
    const std::string t = cfg.text("teacher_feature_map", "");
    const std::string st = cfg.text("student_feature_map", "");
    ACT_CHECK(!t.empty(), s, ".teacher_feature_map is required");
    ACT_CHECK(!st.empty(), s, ".student_feature_map is required");
    if (kind == LossKind::kSoftLabel) temps = read_temperatures(cfg, s);
    teacher_items = {parse_flow(t, s + ".teacher_feature_map")};
    student_items = {parse_flow(st, s + ".student_feature_map")};
  }
  cfg.reject_unknown_keys();
  for (std::size_t i = 0; i < teacher_items.size(); ++i) {
    LossSpec l;
    l.kind = kind;
    l.alpha = weight;
    l.teacher_temperature = temps.teacher;
    l.student_temperature = temps.student;
    if (kind == LossKind::kFsp) {
      l.where = s + ".teacher_pairs[" + std::to_string(i) + "]";
      const auto t = teacher_items[i].is_list ? scalars(teacher_items[i], l.where)
                                              : std::vector<std::string>{};
      const auto st = student_items[i].is_list ? scalars(student_items[i], l.where)
                                               : std::vector<std::string>{};
      ACT_CHECK(t.size() == 2, l.where, ": give [start, end], got ", flow_text(teacher_items[i]));
      ACT_CHECK(st.size() == 2, s, ".student_pairs[", i, "]: give [start, end], got ",
                flow_text(student_items[i]));
      l.teacher = t;
      l.student = st;
    } else {
      l.where = s + ".teacher_feature_map";
      ACT_CHECK(!teacher_items[i].is_list && !student_items[i].is_list, s,
                ": a feature map is one name");
      l.teacher = {teacher_items[i].scalar};
      l.student = {student_items[i].scalar};
    }
    teacher.losses.push_back(l);
  }
  spec.teachers.push_back(teacher);
  return spec;
}

}  // namespace

const char* loss_name(LossKind kind) {
  switch (kind) {
    case LossKind::kL2:
      return "l2";
    case LossKind::kSoftLabel:
      return "soft_label";
    case LossKind::kFsp:
      return "fsp";
  }
  return "?";
}

LossKind parse_loss(const std::string& name, const std::string& where) {
  if (name == "l2" || name == "l2_loss") return LossKind::kL2;
  if (name == "soft_label" || name == "soft_label_loss") return LossKind::kSoftLabel;
  if (name == "fsp" || name == "fsp_loss") return LossKind::kFsp;
  const std::string guess = sdk::closest_name(name, {"l2", "soft_label", "fsp"});
  fail(where, ": '", name, "' is not a distillation loss (l2, soft_label, fsp)",
       guess.empty() ? std::string() : "; did you mean '" + guess + "'?");
}

DistillSpec read_distill_spec(const sdk::ConfigViewV1& view) {
  ConfigReader cfg(view);
  const std::string section = cfg.section();
  if (section == "Distillation" || section == "MultiTeacherDistillation") {
    return read_distillation(cfg);
  }
  return read_legacy(cfg);
}

}  // namespace act::distill
