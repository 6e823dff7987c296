#include "act/kernel/batch_statistics.h"

#include <set>

#include "act/kernel/error.h"

namespace act {

std::vector<RunningStatUpdate> use_batch_statistics(Graph& graph, float momentum) {
  ACT_CHECK(momentum >= 0.0F && momentum <= 1.0F, "batch statistics: momentum ", momentum,
            " is outside [0, 1]");
  std::vector<RunningStatUpdate> updates;
  std::set<std::string> claimed;
  // Validate every node before touching any, so a refused graph is left as it was.
  std::vector<std::size_t> targets;
  for (std::size_t i = 0; i < graph.nodes().size(); ++i) {
    const Node& n = graph.nodes()[i];
    if (n.op_type != "BatchNormalization" || !n.domain.empty()) continue;
    if (n.attrs.get_int("training_mode", 0) != 0) continue;
    ACT_CHECK(n.inputs.size() == 5, "batch statistics: BatchNormalization node '", n.name, "' has ",
              n.inputs.size(), " inputs, expected 5");
    for (std::size_t k = 3; k < 5; ++k) {
      const std::string& stat = n.inputs[k];
      ACT_CHECK(graph.is_initializer(stat) && !graph.is_graph_input(stat),
                "batch statistics: BatchNormalization node '", n.name, "' reads its running ",
                k == 3 ? "mean" : "variance", " from '", stat,
                "', which is not an initializer, so there is nowhere to keep its update");
      ACT_CHECK(claimed.insert(stat).second, "batch statistics: '", stat,
                "' is the running statistic of more than one BatchNormalization (node '", n.name,
                "'); each needs its own");
    }
    targets.push_back(i);
  }
  for (std::size_t i : targets) {
    // Names first: unique_name scans the graph, and the node must not be held across it.
    const std::string base =
        graph.nodes()[i].name.empty() ? graph.nodes()[i].outputs[0] : graph.nodes()[i].name;
    const std::string mean_out = graph.unique_name(base + "/running_mean");
    Node& first = graph.mutable_nodes()[i];
    first.outputs.resize(1);
    first.outputs.push_back(mean_out);
    const std::string var_out = graph.unique_name(base + "/running_var");
    Node& n = graph.mutable_nodes()[i];
    n.outputs.push_back(var_out);
    n.attrs.set("training_mode", std::int64_t{1});
    n.attrs.set("momentum", momentum);
    updates.push_back({n.inputs[3], mean_out});
    updates.push_back({n.inputs[4], var_out});
  }
  return updates;
}

}  // namespace act
