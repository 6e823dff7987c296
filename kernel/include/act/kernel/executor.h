// Executor: runs a Graph on one device.
//
// Construction resolves a kernel for every node (failing early, naming the op and node, if
// one is missing) and plans value lifetimes, so run() only dispatches: per-node overhead is
// one virtual call plus a few vector reads. Values are freed after their last use unless
// tapped.
// Ownership: the Executor copies what it needs from the Graph (initializers share storage).
// Threading: one run() at a time per Executor; kernels parallelize internally.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "act/kernel/op_registry.h"

namespace act {

struct ExecutorOptions {
  Device device = Device::cpu();
  // Intermediate values to keep and return in RunResult::tapped (calibration, distillation).
  std::vector<std::string> taps;
  // Keep every value (autograd, debugging).
  bool tap_all = false;
  // Called as soon as each tapped value is computed.
  std::function<void(const std::string& value, const Tensor& tensor)> on_tap;
  // With on_tap: computed taps go to on_tap only and are released after their last reader like
  // any value, instead of being kept for RunResult::tapped (which then holds only taps no node
  // computes: feeds and constants). Calibration streams this way, so tapping every quantized
  // activation holds no more memory than a plain forward pass.
  bool stream_taps = false;
  // Check feeds against the declared input shapes (dims that are known must match).
  bool check_input_shapes = true;
  // Accumulate wall time per node (read with Executor::profile()); off by default because it
  // costs two clock reads per node.
  bool profile = false;
};

// Wall time spent in one node's kernel, summed over all runs since construction.
struct NodeProfile {
  std::string node;
  std::string op_type;
  double total_ms = 0.0;
  std::int64_t calls = 0;
};

struct RunResult {
  std::vector<Tensor> outputs;           // graph outputs, in declared order
  std::map<std::string, Tensor> tapped;  // requested taps (and all values with tap_all)
};

class Executor {
 public:
  Executor(const Graph& graph, std::int64_t opset, ExecutorOptions options = {},
           const OpRegistry& registry = OpRegistry::global());
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Feeds by graph input name. Throws act::Error naming the input on a missing feed, a wrong
  // dtype or a wrong shape, and naming the node when a kernel fails.
  RunResult run(const std::map<std::string, Tensor>& feeds);
  // Feeds in graph input order (initializer-backed inputs excluded); the fast path.
  RunResult run(const std::vector<Tensor>& inputs);

  // Names of the inputs the caller must feed (graph inputs that are not initializers).
  const std::vector<std::string>& feed_names() const;
  std::size_t num_nodes() const;
  // One entry per node in execution order; empty unless ExecutorOptions::profile was set.
  std::vector<NodeProfile> profile() const;

 private:
  struct Plan;
  std::unique_ptr<Plan> plan_;
};

}  // namespace act
