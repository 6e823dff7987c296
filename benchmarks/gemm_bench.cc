// FP32 GEMM throughput against this machine's measured FMA peak, and against Eigen's GEMM.
//
// Usage: gemm_bench [--quick]
// Prints: the FMA peak (one thread, all threads), then GFLOP/s and percent of peak of
// act::cpu::gemm_f32 (OpenBLAS kernels on ACT's thread pool, cpu/blas.h) and of Eigen's
// MatrixXf product for square and conv-like shapes. Numbers are best-of-3; other load on the
// machine lowers them.
#include <immintrin.h>

#include <Eigen/Dense>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "act/kernel/parallel.h"
#include "bench_util.h"
#include "cpu/blas.h"

namespace {

using act::bench::now_s;
using act::bench::time_per_call;

// Independent accumulator chains hide the FMA latency (4 cycles x 2 ports needs >= 8).
constexpr int kChains = 12;

// Runs `iters` rounds of kChains vector FMAs; returns the FLOPs done.
double fma_loop(long iters) {
#if defined(__AVX512F__)
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999999F), b = _mm512_set1_ps(1e-7F);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  float sink[16];
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  _mm512_storeu_ps(sink, s);
  volatile float keep = sink[0];
  (void)keep;
  return 2.0 * 16 * kChains * static_cast<double>(iters);
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999999F), b = _mm256_set1_ps(1e-7F);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  float sink[8];
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(sink, s);
  volatile float keep = sink[0];
  (void)keep;
  return 2.0 * 8 * kChains * static_cast<double>(iters);
#else
#error "gemm_bench needs AVX2+FMA or AVX-512 (build with -march=native)"
#endif
}

// GFLOP/s of the FMA loop on `threads` std::threads at once (best of 3).
double fma_peak(int threads) {
  const long iters = 20'000'000;
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> pool;
    std::vector<double> flops(static_cast<std::size_t>(threads));
    const double t0 = now_s();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { flops[static_cast<std::size_t>(t)] = fma_loop(iters); });
    }
    for (auto& th : pool) th.join();
    const double dt = now_s() - t0;
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / dt / 1e9);
  }
  return best;
}

struct Shape3 {
  const char* label;
  long m, n, k;
};

double gemm_gflops(const Shape3& s) {
  std::vector<float> a(static_cast<std::size_t>(s.m * s.k), 0.5F),
      b(static_cast<std::size_t>(s.k * s.n), 0.25F), c(static_cast<std::size_t>(s.m * s.n));
  const double t = time_per_call([&] {
    act::cpu::gemm_f32(false, false, s.m, s.n, s.k, 1.0F, a.data(), s.k, b.data(), s.n, 0.0F,
                       c.data(), s.n);
  });
  return 2.0 * s.m * s.n * s.k / t / 1e9;
}

double eigen_gflops(const Shape3& s) {
  Eigen::MatrixXf a = Eigen::MatrixXf::Constant(s.m, s.k, 0.5F);
  Eigen::MatrixXf b = Eigen::MatrixXf::Constant(s.k, s.n, 0.25F);
  Eigen::MatrixXf c(s.m, s.n);
  const double t = time_per_call([&] { c.noalias() = a * b; });
  return 2.0 * s.m * s.n * s.k / t / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int hw = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  const double peak1 = fma_peak(1);
  const double peak_n = fma_peak(hw);
  std::printf("FMA peak (%s): 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s\n",
#if defined(__AVX512F__)
              "AVX-512",
#else
              "AVX2",
#endif
              peak1, hw, peak_n);

  std::vector<Shape3> shapes;
  for (long n : {256L, 512L, 1024L, 1536L, 2048L}) {
    if (quick && n > 1024) continue;
    shapes.push_back({nullptr, n, n, n});
  }
  // im2col GEMMs of typical conv layers: M = out channels, N = output pixels, K = C*kh*kw.
  shapes.push_back({"resnet 3x3 64@56", 64, 3136, 576});
  shapes.push_back({"resnet 3x3 128@28", 128, 784, 1152});
  shapes.push_back({"resnet 3x3 256@14", 256, 196, 2304});
  shapes.push_back({"mbv2 1x1 24->144@56", 144, 3136, 24});
  shapes.push_back({"mbv2 1x1 144->24@56", 24, 3136, 144});
  shapes.push_back({"mbv2 1x1 160->960@7", 960, 49, 160});

#if defined(EIGEN_HAS_OPENMP) || defined(_OPENMP)
  const bool eigen_mt = true;
#else
  const bool eigen_mt = false;
#endif
  std::printf("%-22s %7s | %-23s | %-23s | %s\n", "shape (M x N x K)", "threads",
              "gemm_f32 GFLOP/s (%pk)", "Eigen GFLOP/s (%pk)", "gemm_f32/Eigen");
  for (int threads : {1, hw}) {
    act::set_num_threads(threads);  // also sets the OpenBLAS thread count
    Eigen::setNbThreads(threads);
    const double peak = threads == 1 ? peak1 : peak_n;
    for (const auto& s : shapes) {
      char label[64];
      if (s.label) {
        std::snprintf(label, sizeof label, "%s", s.label);
      } else {
        std::snprintf(label, sizeof label, "%ld^3", s.m);
      }
      const double g = gemm_gflops(s);
      if (threads > 1 && !eigen_mt) {
        std::printf("%-22s %7d | %8.1f (%5.1f%%)        | %-23s |\n", label, threads, g,
                    100 * g / peak, "n/a (no OpenMP)");
        continue;
      }
      const double e = eigen_gflops(s);
      std::printf("%-22s %7d | %8.1f (%5.1f%%)        | %8.1f (%5.1f%%)        | %.2fx\n", label,
                  threads, g, 100 * g / peak, e, 100 * e / peak, g / e);
    }
    if (hw == 1) break;
  }
  return 0;
}
