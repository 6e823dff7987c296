#include "region_finder.h"

#include <algorithm>
#include <map>
#include <set>

#include "act/kernel/error.h"
#include "act/sdk/config_reader.h"

namespace act::quant {
namespace {

// Values that depend on the data: the graph's (non-initializer) inputs and everything computed
// from them. The rest are constants, whatever nodes compute them.
std::set<std::string> data_values(const Graph& g) {
  std::set<std::string> data;
  for (const ValueInfo& in : g.inputs()) {
    if (!g.is_initializer(in.name)) data.insert(in.name);
  }
  for (const Node& n : g.nodes()) {
    const bool reads = std::any_of(n.inputs.begin(), n.inputs.end(),
                                   [&](const std::string& v) { return data.count(v) != 0; });
    if (!reads) continue;
    for (const std::string& out : n.outputs) {
      if (!out.empty()) data.insert(out);
    }
  }
  return data;
}

void check_value(const Graph& g, const std::string& name, const std::string& what,
                 const std::string& where) {
  if (g.producer(name) || g.is_graph_input(name)) return;
  std::vector<std::string> values;
  for (const ValueInfo& in : g.inputs()) values.push_back(in.name);
  for (const Node& n : g.nodes()) values.insert(values.end(), n.outputs.begin(), n.outputs.end());
  const std::string guess = sdk::closest_name(name, values);
  throw Error(where + ": the " + what + " '" + name + "' is not a tensor of the model" +
              (guess.empty() ? std::string() : "; did you mean '" + guess + "'?"));
}

}  // namespace

Region make_region(const Graph& g, const std::string& start, const std::string& end,
                   const std::vector<Target>& targets, const std::string& where) {
  check_value(g, start, "start", where);
  check_value(g, end, "end", where);
  const std::string span = "the region from '" + start + "' to '" + end + "'";
  ACT_CHECK(start != end, where, ": ", span, " is empty (start and end are the same tensor)");
  const std::vector<Node>& nodes = g.nodes();

  // On a path from start to end: reached from start, and end reached from it.
  std::set<std::string> reached = {start};
  std::vector<bool> forward(nodes.size(), false), backward(nodes.size(), false);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    forward[i] = std::any_of(n.inputs.begin(), n.inputs.end(),
                             [&](const std::string& v) { return reached.count(v) != 0; });
    if (forward[i]) reached.insert(n.outputs.begin(), n.outputs.end());
  }
  ACT_CHECK(reached.count(end) != 0, where, ": ", span, " does not exist: '", end,
            "' is not computed from '", start, "'");
  std::set<std::string> needed = {end};
  for (std::size_t i = nodes.size(); i-- > 0;) {
    const Node& n = nodes[i];
    backward[i] = std::any_of(n.outputs.begin(), n.outputs.end(),
                              [&](const std::string& v) { return needed.count(v) != 0; });
    if (backward[i] && forward[i]) needed.insert(n.inputs.begin(), n.inputs.end());
  }
  std::vector<bool> inside(nodes.size(), false);
  for (std::size_t i = 0; i < nodes.size(); ++i) inside[i] = forward[i] && backward[i];

  // Constants the span reads, computed by nodes outside it: those nodes join the region so it
  // runs from its data inputs alone.
  const std::set<std::string> data = data_values(g);
  for (std::size_t i = nodes.size(); i-- > 0;) {
    if (inside[i]) continue;
    const Node& n = nodes[i];
    const bool constant = std::none_of(n.outputs.begin(), n.outputs.end(),
                                       [&](const std::string& v) { return data.count(v) != 0; });
    if (!constant) continue;
    for (std::size_t j = i + 1; j < nodes.size() && !inside[i]; ++j) {
      if (!inside[j]) continue;
      for (const std::string& in : nodes[j].inputs) {
        if (std::find(n.outputs.begin(), n.outputs.end(), in) != n.outputs.end()) inside[i] = true;
      }
    }
  }

  Region r;
  r.start = start;
  r.end = end;
  r.inputs.push_back(start);
  std::set<std::string> produced;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!inside[i]) continue;
    r.nodes.push_back(i);
    for (const std::string& in : nodes[i].inputs) {
      if (in.empty() || produced.count(in) != 0 || g.is_initializer(in) || data.count(in) == 0)
        continue;
      if (std::find(r.inputs.begin(), r.inputs.end(), in) == r.inputs.end()) r.inputs.push_back(in);
    }
    produced.insert(nodes[i].outputs.begin(), nodes[i].outputs.end());
  }
  for (std::size_t t = 0; t < targets.size(); ++t) {
    if (targets[t].node < inside.size() && inside[targets[t].node]) r.targets.push_back(t);
  }
  ACT_CHECK(!r.targets.empty(), where, ": ", span, " holds no quantized layer");
  return r;
}

std::vector<Region> find_regions(const Graph& g, const std::vector<Target>& targets) {
  const std::vector<Node>& nodes = g.nodes();
  const auto n = static_cast<std::int64_t>(nodes.size());
  // Relevant values: computed from the data and read on the way to an output.
  const std::set<std::string> data = data_values(g);
  std::set<std::string> to_output;
  for (const ValueInfo& out : g.outputs()) to_output.insert(out.name);
  for (std::size_t i = nodes.size(); i-- > 0;) {
    const Node& node = nodes[i];
    if (std::any_of(node.outputs.begin(), node.outputs.end(),
                    [&](const std::string& v) { return to_output.count(v) != 0; })) {
      to_output.insert(node.inputs.begin(), node.inputs.end());
    }
  }
  auto relevant = [&](const std::string& v) {
    return !v.empty() && data.count(v) != 0 && to_output.count(v) != 0;
  };
  // Last reader of each relevant value (n for graph outputs: live to the end).
  std::map<std::string, std::int64_t> last_use;
  for (std::int64_t i = 0; i < n; ++i) {
    const Node& node = nodes[static_cast<std::size_t>(i)];
    const bool on_way = std::any_of(node.outputs.begin(), node.outputs.end(), relevant);
    for (const std::string& in : node.inputs) {
      if (on_way && relevant(in)) last_use[in] = i;
    }
  }
  for (const ValueInfo& out : g.outputs()) last_use[out.name] = n;

  // A cut point is the only live relevant value between two nodes.
  std::vector<std::string> cuts;
  std::set<std::string> live;
  for (const ValueInfo& in : g.inputs()) {
    if (relevant(in.name)) live.insert(in.name);
  }
  if (live.size() == 1) cuts.push_back(*live.begin());
  for (std::int64_t i = 0; i < n; ++i) {
    for (auto it = live.begin(); it != live.end();) {
      it = last_use[*it] <= i ? live.erase(it) : std::next(it);
    }
    for (const std::string& out : nodes[static_cast<std::size_t>(i)].outputs) {
      if (relevant(out) && last_use.count(out) != 0 && last_use[out] > i) live.insert(out);
    }
    if (live.size() == 1 && (cuts.empty() || cuts.back() != *live.begin()))
      cuts.push_back(*live.begin());
  }

  // Region starts: cut points a quantized layer reads; each region ends at the next start, the
  // last at the final cut point.
  std::vector<std::string> starts;
  for (const std::string& c : cuts) {
    if (std::any_of(targets.begin(), targets.end(),
                    [&](const Target& t) { return t.activation == c; }))
      starts.push_back(c);
  }
  std::vector<Region> regions;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const std::string& end = k + 1 < starts.size() ? starts[k + 1] : cuts.back();
    if (end == starts[k]) continue;
    regions.push_back(make_region(g, starts[k], end, targets, "automatic regions"));
  }
  return regions;
}

}  // namespace act::quant
