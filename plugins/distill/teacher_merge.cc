#include "teacher_merge.h"

#include <algorithm>
#include <set>

#include "act/kernel/error.h"

namespace act::distill {
namespace {

const std::string kMetadataKey = "act.distill.teacher:";
const std::string kFeedKey = "act.distill.feed:";

std::set<std::string> names_in(const Graph& g) {
  std::set<std::string> out;
  for (const Node& n : g.nodes()) {
    out.insert(n.name);
    out.insert(n.inputs.begin(), n.inputs.end());
    out.insert(n.outputs.begin(), n.outputs.end());
  }
  for (const auto& [name, t] : g.initializers()) out.insert(name);
  for (const ValueInfo& v : g.inputs()) out.insert(v.name);
  for (const ValueInfo& v : g.outputs()) out.insert(v.name);
  return out;
}

// Feeds: graph inputs that are not initializers (old exporters list weights as inputs too).
std::vector<ValueInfo> feeds_of(const Graph& g) {
  std::vector<ValueInfo> out;
  for (const ValueInfo& v : g.inputs()) {
    if (!g.is_initializer(v.name)) out.push_back(v);
  }
  return out;
}

void check_fits(const ValueInfo& teacher, const ValueInfo& student, const std::string& where) {
  const bool dtype_clash = teacher.has_dtype && student.has_dtype && teacher.dtype != student.dtype;
  bool dims_clash =
      teacher.has_shape && student.has_shape && teacher.shape.size() != student.shape.size();
  if (!dims_clash && teacher.has_shape && student.has_shape) {
    for (std::size_t i = 0; i < teacher.shape.size(); ++i) {
      const Dim& a = teacher.shape[i];
      const Dim& b = student.shape[i];
      if (a.known() && b.known() && a.value != b.value) dims_clash = true;
    }
  }
  ACT_CHECK(!dtype_clash && !dims_clash, where, ": the teacher's input '", teacher.name, "' ",
            teacher.shape_string(), " cannot read the student's input '", student.name, "' ",
            student.shape_string());
}

}  // namespace

std::string MergedTeacher::value(const std::string& teacher_name) const {
  auto it = inputs.find(teacher_name);
  return it != inputs.end() ? it->second : prefix + teacher_name;
}

MergedTeacher merge_teacher(Model& student, const Model& teacher, bool merge_feed,
                            const std::string& where) {
  ACT_CHECK(teacher.default_opset() == student.default_opset(), where, ": the teacher is opset ",
            teacher.default_opset(), " and the student opset ", student.default_opset(),
            "; one graph runs both, so re-export the teacher with opset ", student.default_opset());
  Graph& g = student.graph;
  const Graph& t = teacher.graph;
  MergedTeacher merged;

  const std::vector<ValueInfo> teacher_feeds = feeds_of(t);
  const std::vector<ValueInfo> student_feeds = feeds_of(g);
  if (merge_feed) {
    ACT_CHECK(teacher_feeds.size() <= student_feeds.size(), where, ": the teacher has ",
              teacher_feeds.size(), " inputs and the student ", student_feeds.size(),
              "; merge_feed feeds the student's inputs to the teacher's in order");
    for (std::size_t i = 0; i < teacher_feeds.size(); ++i) {
      check_fits(teacher_feeds[i], student_feeds[i], where);
      merged.inputs[teacher_feeds[i].name] = student_feeds[i].name;
    }
  } else {
    for (const ValueInfo& in : teacher_feeds) {
      auto it = std::find_if(student_feeds.begin(), student_feeds.end(),
                             [&](const ValueInfo& s) { return s.name == in.name; });
      if (it == student_feeds.end()) {
        std::string names;
        for (const ValueInfo& s : student_feeds)
          names += (names.empty() ? "'" : ", '") + s.name + "'";
        fail(where, ": the teacher's input '", in.name, "' is not an input of the student (", names,
             "); with merge_feed: false the names must match, or set merge_feed: true "
             "to feed the student's inputs to the teacher in order");
      }
      check_fits(in, *it, where);
      merged.inputs[in.name] = in.name;
    }
  }

  // A prefix under which no teacher name meets a student name.
  const std::set<std::string> taken = names_in(g);
  const std::set<std::string> teacher_names = names_in(t);
  for (int k = 1;; ++k) {
    merged.prefix = k == 1 ? "teacher_" : "teacher" + std::to_string(k) + "_";
    bool clash = false;
    for (const std::string& n : teacher_names) {
      if (!n.empty() && taken.count(merged.prefix + n) != 0) {
        clash = true;
        break;
      }
    }
    if (!clash) break;
  }

  for (const auto& [name, tensor] : t.initializers()) {
    if (merged.inputs.count(name) != 0) continue;
    g.set_initializer(merged.prefix + name, tensor);
    g.freeze(merged.prefix + name);
  }
  for (const auto& [name, info] : t.value_infos()) {
    if (merged.inputs.count(name) != 0) continue;
    ValueInfo copy = info;
    copy.name = merged.prefix + name;
    g.set_value_info(copy);
  }
  std::size_t index = 0;
  for (const Node& n : t.nodes()) {
    Node copy = n;
    copy.name = merged.prefix +
                (n.name.empty() ? n.op_type + "_" + std::to_string(index) : n.name) + "/skip_quant";
    for (std::string& in : copy.inputs) {
      if (!in.empty()) in = merged.value(in);
    }
    for (std::string& out : copy.outputs) {
      if (!out.empty()) out = merged.prefix + out;
    }
    g.add_node(std::move(copy));
    ++index;
  }
  g.topological_sort();
  return merged;
}

// Records: "act.distill.teacher:<prefix>" = "<merge_feed>|<source>", and one
// "act.distill.feed:<prefix>:<teacher input>" = "<student value>" per input.
std::optional<MergedTeacher> recorded_merge(const Model& student, const std::string& source,
                                            bool merge_feed) {
  const std::string wanted = std::string(merge_feed ? "1|" : "0|") + source;
  for (const auto& [key, value] : student.metadata_props) {
    if (key.rfind(kMetadataKey, 0) != 0 || value != wanted) continue;
    MergedTeacher m;
    m.prefix = key.substr(std::string(kMetadataKey).size());
    const std::string feed_key = kFeedKey + m.prefix + ":";
    for (const auto& [k, v] : student.metadata_props) {
      if (k.rfind(feed_key, 0) == 0) m.inputs[k.substr(feed_key.size())] = v;
    }
    return m;
  }
  return std::nullopt;
}

void record_merge(Model& student, const std::string& source, bool merge_feed,
                  const MergedTeacher& merged) {
  student.metadata_props.emplace_back(kMetadataKey + merged.prefix,
                                      std::string(merge_feed ? "1|" : "0|") + source);
  for (const auto& [teacher, value] : merged.inputs) {
    student.metadata_props.emplace_back(kFeedKey + merged.prefix + ":" + teacher, value);
  }
}

void forget_merge(Model& student, const std::string& prefix) {
  auto& props = student.metadata_props;
  props.erase(std::remove_if(props.begin(), props.end(),
                             [&](const auto& p) {
                               return p.first == kMetadataKey + prefix ||
                                      p.first.rfind(kFeedKey + prefix + ":", 0) == 0;
                             }),
              props.end());
}

}  // namespace act::distill
