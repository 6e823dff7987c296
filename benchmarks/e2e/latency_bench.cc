// Times ACT's CPU executor on one ONNX file: batch 1, fixed threads, median of N runs after
// warm-up. benchmarks/e2e/compare_ort.py runs this next to ONNX Runtime on the same file and
// prints the ratio; this program alone makes no claim.
//
// usage: latency_bench MODEL.onnx [--threads N] [--runs N] [--warmup N] [--profile 1]
// --profile 1 also prints time per op type and the slowest nodes, --profile 2 every node in
// execution order (profiling costs two clock reads per node).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "act/host/onnx_io.h"
#include "act/kernel/executor.h"
#include "act/kernel/parallel.h"
#include "act/kernel/passes.h"

namespace {

// Per op type, then the ten slowest nodes; times are per run.
void print_profile(const std::vector<act::NodeProfile>& prof, int calls, bool every_node) {
  std::map<std::string, std::pair<double, int>> by_type;
  double total = 0.0;
  for (const auto& p : prof) {
    by_type[p.op_type].first += p.total_ms / calls;
    by_type[p.op_type].second += 1;
    total += p.total_ms / calls;
  }
  std::printf("%-24s %6s %10s %6s\n", "op", "nodes", "ms/run", "share");
  for (const auto& [op, v] : by_type) {
    std::printf("%-24s %6d %10.3f %5.1f%%\n", op.c_str(), v.second, v.first,
                100.0 * v.first / total);
  }
  if (every_node) {
    for (const auto& p : prof) {
      std::printf("  %-40s %-16s %8.3f ms\n", p.node.c_str(), p.op_type.c_str(),
                  p.total_ms / calls);
    }
    return;
  }
  std::vector<act::NodeProfile> sorted = prof;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.total_ms > b.total_ms; });
  for (std::size_t i = 0; i < std::min<std::size_t>(10, sorted.size()); ++i) {
    std::printf("  %-40s %-16s %8.3f ms\n", sorted[i].node.c_str(), sorted[i].op_type.c_str(),
                sorted[i].total_ms / calls);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.onnx [--threads N] [--runs N] [--warmup N]\n", argv[0]);
    return 2;
  }
  int threads = 2, runs = 50, warmup = 10, profile = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (flag == "--threads")
      threads = v;
    else if (flag == "--runs")
      runs = v;
    else if (flag == "--warmup")
      warmup = v;
    else if (flag == "--profile")
      profile = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    act::set_num_threads(threads);
    act::Model model = act::host::load_onnx(argv[1]);
    const std::int64_t opset = model.default_opset();
    act::optimize_for_inference(model.graph, opset);
    act::ExecutorOptions options;
    options.profile = profile != 0;
    act::Executor exec(model.graph, opset, options);
    std::vector<act::Tensor> feeds;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(0.0F, 1.0F);
    for (const auto& in : model.graph.inputs()) {
      if (model.graph.is_initializer(in.name)) continue;
      act::Shape shape;
      for (const auto& d : in.shape) shape.push_back(d.known() ? d.value : 1);
      act::Tensor t(act::DType::kF32, shape);
      for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
      feeds.push_back(t);
    }
    for (int i = 0; i < warmup; ++i) exec.run(feeds);
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      exec.run(feeds);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("model=%s nodes=%zu threads=%d runs=%d median_ms=%.4f min_ms=%.4f\n", argv[1],
                exec.num_nodes(), threads, runs, ms[ms.size() / 2], ms.front());
    if (profile != 0) print_profile(exec.profile(), warmup + runs, profile > 1);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latency_bench: %s\n", e.what());
    return 1;
  }
}
