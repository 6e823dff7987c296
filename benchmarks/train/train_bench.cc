// Training throughput of ACT (TrainStep: forward, cross-entropy, backward, Momentum update) on
// one ONNX model with random data, batch N, fixed threads. benchmarks/train/compare_torch.py
// runs it next to PyTorch on the same architecture and prints the ratio; alone it makes no
// claim.
//
// usage: train_bench MODEL.onnx INPUT LOGITS [--batch 64] [--steps 30] [--warmup 5] [--threads 2]
//                    [--batch-statistics 0|1] [--profile 0|1|2]
// --batch-statistics 1 trains BatchNorm with batch statistics (TrainStepOptions). --profile 1
// instead runs the steps with the executor's per-node profile and prints the time per op type
// (forward and backward, without the optimizer); --profile 2 also lists every node's time in
// execution order.
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
#include "act/kernel/train_step.h"

namespace {

// Runs `steps` training steps with the executor's per-node profile on and prints the time per
// op type (forward and backward; the optimizer update is not a node).
void profile(act::TrainStep& train, const act::Tensor& images, const act::Tensor& labels,
             int warmup, int steps, bool every_node) {
  for (int i = 0; i < warmup; ++i) train.step(images, labels, 0.01);
  const std::vector<act::NodeProfile> before = train.trainer().profile();
  for (int i = 0; i < steps; ++i) train.step(images, labels, 0.01);
  const std::vector<act::NodeProfile> after = train.trainer().profile();
  std::map<std::string, std::pair<double, std::int64_t>> by_op;  // ms per step, nodes
  std::vector<std::pair<double, std::string>> nodes;
  double total = 0.0;
  for (std::size_t i = 0; i < after.size(); ++i) {
    const double ms = (after[i].total_ms - before[i].total_ms) / std::max(1, steps);
    by_op[after[i].op_type].first += ms;
    by_op[after[i].op_type].second += 1;
    nodes.emplace_back(ms, after[i].op_type + " " + after[i].node);
    total += ms;
  }
  std::vector<std::pair<double, std::string>> order;
  for (const auto& [op, v] : by_op) order.emplace_back(v.first, op);
  std::sort(order.rbegin(), order.rend());
  std::printf("profile: %.2f ms per step in kernels, %zu backward nodes\n", total,
              train.backward_nodes());
  for (const auto& [ms, op] : order) {
    std::printf("  %-24s %9.2f ms %6.1f%%  %4lld nodes\n", op.c_str(), ms, 100.0 * ms / total,
                static_cast<long long>(by_op[op].second));
  }
  if (every_node) {
    std::printf("every node, in execution order:\n");
    for (const auto& [ms, name] : nodes) std::printf("  %9.2f ms  %s\n", ms, name.c_str());
  }
  std::sort(nodes.rbegin(), nodes.rend());
  std::printf("slowest nodes:\n");
  for (std::size_t i = 0; i < nodes.size() && i < 25; ++i)
    std::printf("  %9.2f ms  %s\n", nodes[i].first, nodes[i].second.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s MODEL.onnx INPUT LOGITS [--batch N] [--steps N] [--warmup N] "
                 "[--threads N] [--batch-statistics 0|1] [--profile 0|1|2]\n",
                 argv[0]);
    return 2;
  }
  int batch = 64, steps = 30, warmup = 5, threads = 2;
  bool batch_statistics = false, profiling = false, every_node = false;
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (flag == "--batch")
      batch = v;
    else if (flag == "--steps")
      steps = v;
    else if (flag == "--warmup")
      warmup = v;
    else if (flag == "--threads")
      threads = v;
    else if (flag == "--batch-statistics")
      batch_statistics = v != 0;
    else if (flag == "--profile")
      profiling = v != 0, every_node = v > 1;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    act::set_num_threads(threads);
    const act::Model model = act::host::load_onnx(argv[1]);
    act::TrainStepOptions options;
    options.batch_size = batch;
    options.batch_statistics = batch_statistics;
    options.profile = profiling;
    options.optimizer.kind = act::OptimizerConfig::Kind::kMomentum;
    act::TrainStep train(model.graph, model.default_opset(), argv[2], argv[3], options);
    act::Shape image_shape;
    for (const auto& in : model.graph.inputs()) {
      if (in.name != argv[2]) continue;
      for (const auto& d : in.shape) image_shape.push_back(d.known() ? d.value : batch);
    }
    image_shape[0] = batch;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.0F, 1.0F);
    act::Tensor images(act::DType::kF32, image_shape);
    for (std::int64_t i = 0; i < images.numel(); ++i) images.data<float>()[i] = u(rng);
    const act::Graph g = train.model();
    std::int64_t classes = 0;
    for (const auto& o : g.outputs()) {
      if (o.name == argv[3] && o.has_shape && o.shape.size() == 2) classes = o.shape[1].value;
    }
    if (classes <= 0) classes = 10;
    act::Tensor labels(act::DType::kF32, {batch, classes});
    std::fill(labels.data<float>(), labels.data<float>() + labels.numel(), 0.0F);
    for (int i = 0; i < batch; ++i) labels.data<float>()[i * classes + i % classes] = 1.0F;
    if (profiling) {
      profile(train, images, labels, warmup, steps, every_node);
      return 0;
    }
    for (int i = 0; i < warmup; ++i) train.step(images, labels, 0.01);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) train.step(images, labels, 0.01);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("model=%s batch=%d threads=%d steps=%d samples_per_s=%.1f ms_per_step=%.3f\n",
                argv[1], batch, threads, steps, batch * steps / s, 1e3 * s / steps);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return 1;
  }
}
