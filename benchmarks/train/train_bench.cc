// Training throughput of ACT (TrainStep: forward, cross-entropy, backward, Momentum update) on
// one ONNX model with random data, batch N, fixed threads. benchmarks/train/compare_torch.py
// runs it next to PyTorch on the same architecture and prints the ratio; alone it makes no
// claim.
//
// usage: train_bench MODEL.onnx INPUT LOGITS [--batch 64] [--steps 30] [--warmup 5] [--threads 2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "act/host/onnx_io.h"
#include "act/kernel/parallel.h"
#include "act/kernel/train_step.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s MODEL.onnx INPUT LOGITS [--batch N] [--steps N] [--warmup N] "
                 "[--threads N]\n",
                 argv[0]);
    return 2;
  }
  int batch = 64, steps = 30, warmup = 5, threads = 2;
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
