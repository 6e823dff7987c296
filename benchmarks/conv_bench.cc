// Convolution throughput through the Executor for typical ResNet and MobileNetV2 layers.
//
// Usage: conv_bench [NAME-SUBSTRING]
// For each layer: GFLOP/s of the Conv node (batch 1) with 1 thread and all threads, and, for
// GEMM-lowered layers, the ratio to a bare gemm_f32 of the same im2col shape (what im2col and
// the executor cost on top of the GEMM). Best-of-3 timings; other load lowers them. "cold" is
// the best of 20 single calls each after a 96 MiB write that evicts the caches: the weights and
// input come from memory, as they do for a layer inside a whole model.
#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "act/kernel/executor.h"
#include "act/kernel/parallel.h"
#include "bench_util.h"
#include "cpu/blas.h"

namespace {

struct Layer {
  const char* name;
  long c, m, hw, k, stride, group;
};

act::Tensor filled(act::Shape shape, float v) {
  act::Tensor t(act::DType::kF32, std::move(shape));
  float* d = t.data<float>();
  for (long i = 0; i < t.numel(); ++i) d[i] = v * static_cast<float>((i % 7) - 3);
  return t;
}

// Writes a buffer larger than the last-level cache, so the next call finds nothing cached.
void evict_caches() {
  static std::vector<char> junk(std::size_t{96} << 20);
  static char round = 0;
  ++round;
  for (std::size_t i = 0; i < junk.size(); i += 64) junk[i] = round;
}

}  // namespace

int main(int argc, char** argv) {
  // Optional: only the layers whose name contains argv[1].
  const std::string only = argc > 1 ? argv[1] : "";
  using act::bench::time_per_call;
  const std::vector<Layer> layers = {
      {"resnet 3x3 64->64 @56", 64, 64, 56, 3, 1, 1},
      {"resnet 3x3 128->128 @28", 128, 128, 28, 3, 1, 1},
      {"resnet 3x3 256->256 @14", 256, 256, 14, 3, 1, 1},
      {"resnet 3x3 512->512 @7", 512, 512, 7, 3, 1, 1},
      {"resnet 3x3 256->512 s2 @14", 256, 512, 14, 3, 2, 1},
      {"resnet 7x7 3->64 s2 @224", 3, 64, 224, 7, 2, 1},
      {"resnet 3x3 64->128 s2 @56", 64, 128, 56, 3, 2, 1},
      {"resnet 1x1 64->256 @56", 64, 256, 56, 1, 1, 1},
      {"resnet 1x1 256->512 s2 @56", 256, 512, 56, 1, 2, 1},
      {"mbv2 3x3 3->32 s2 @224", 3, 32, 224, 3, 2, 1},
      {"mbv2 1x1 24->144 @56", 24, 144, 56, 1, 1, 1},
      {"mbv2 dw3x3 144 @56", 144, 144, 56, 3, 1, 144},
      {"mbv2 dw3x3 144 s2 @56", 144, 144, 56, 3, 2, 144},
      {"mbv2 1x1 144->24 @56", 144, 24, 56, 1, 1, 1},
      {"mbv2 1x1 160->960 @7", 160, 960, 7, 1, 1, 1},
      {"mbv2 1x1 960->160 @7", 960, 160, 7, 1, 1, 1},
      {"mbv2 1x1 320->1280 @7", 320, 1280, 7, 1, 1, 1},
      {"mbv2 1x1 576->96 @14", 576, 96, 14, 1, 1, 1},
      {"mbv2 1x1 32->16 @112", 32, 16, 112, 1, 1, 1},
      {"mbv2 1x1 16->96 @112", 16, 96, 112, 1, 1, 1},
      {"mbv2 1x1 96->24 @56", 96, 24, 56, 1, 1, 1},
      {"mbv2 dw3x3 960 @7", 960, 960, 7, 3, 1, 960},
      {"mbv2 dw3x3 32 @112", 32, 32, 112, 3, 1, 32},
      {"mbv2 dw3x3 96 s2 @112", 96, 96, 112, 3, 2, 96},
      {"mbv2 dw3x3 192 @28", 192, 192, 28, 3, 1, 192},
      {"mbv2 dw3x3 384 @14", 384, 384, 14, 3, 1, 384},
      {"mbv2 dw3x3 576 s2 @14", 576, 576, 14, 3, 2, 576},
  };
  const int hw = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  std::printf("%-28s %7s %10s %10s %16s %10s %12s\n", "layer (batch 1)", "threads", "ms", "GFLOP/s",
              "vs bare GEMM", "cold ms", "cold GFLOP/s");
  for (int threads : {1, hw}) {
    act::set_num_threads(threads);
    for (const auto& l : layers) {
      if (!only.empty() && std::string(l.name).find(only) == std::string::npos) continue;
      const long pad = l.k / 2;
      const long out = (l.hw + 2 * pad - l.k) / l.stride + 1;
      act::Graph g;
      act::ValueInfo x;
      x.name = "x";
      x.has_dtype = true;
      x.has_shape = true;
      for (long d : {1L, l.c, l.hw, l.hw}) x.shape.push_back(act::Dim{d, ""});
      g.add_input(x);
      g.set_initializer("w", filled({l.m, l.c / l.group, l.k, l.k}, 0.01F));
      g.set_initializer("b", filled({l.m}, 0.1F));
      act::Node n;
      n.name = "conv";
      n.op_type = "Conv";
      n.inputs = {"x", "w", "b"};
      n.outputs = {"y"};
      n.attrs.set("group", static_cast<std::int64_t>(l.group));
      n.attrs.set("strides", std::vector<std::int64_t>{l.stride, l.stride});
      n.attrs.set("pads", std::vector<std::int64_t>{pad, pad, pad, pad});
      g.add_node(n);
      g.add_output(act::ValueInfo{"y"});
      act::Executor ex(g, 17);
      const std::vector<act::Tensor> feeds{filled({1, l.c, l.hw, l.hw}, 0.1F)};
      const double t = time_per_call([&] { ex.run(feeds); });
      // The same call with the caches emptied before it, as in a whole model, where each
      // layer's weights were evicted by the layers that ran since its last call.
      double cold = 1e30;
      for (int r = 0; r < 20; ++r) {
        evict_caches();
        const double t0 = act::bench::now_s();
        ex.run(feeds);
        cold = std::min(cold, act::bench::now_s() - t0);
      }
      const double flops = 2.0 * l.m * (l.c / l.group) * l.k * l.k * out * out;
      char ratio[32] = "-";
      if (l.group == 1) {
        const long gm = l.m, gn = out * out, gk = l.c * l.k * l.k;
        std::vector<float> a(static_cast<std::size_t>(gm * gk), 0.5F),
            b(static_cast<std::size_t>(gk * gn), 0.25F), c(static_cast<std::size_t>(gm * gn));
        const double tg = time_per_call([&] {
          act::cpu::gemm_f32(false, false, gm, gn, gk, 1.0F, a.data(), gk, b.data(), gn, 0.0F,
                             c.data(), gn);
        });
        std::snprintf(ratio, sizeof ratio, "%.0f%%", 100.0 * tg / t);
      }
      std::printf("%-28s %7d %10.3f %10.1f %16s %10.3f %12.1f\n", l.name, threads, t * 1e3,
                  flops / t / 1e9, ratio, cold * 1e3, flops / cold / 1e9);
    }
    if (hw == 1) break;
  }
  return 0;
}
