// conv_direct (cpu/conv_direct.h), the in-place convolution, and depthwise_3x3_s2
// (cpu/conv_depthwise.h) against direct loops. conv_direct is called
// directly over random 2-D geometries (strides, dilations, asymmetric pads, groups, batches,
// odd sizes, every epilogue input), including the strided phase layouts the Conv kernel does
// not dispatch to today, and through Conv/FusedConv nodes at shapes that take that dispatch,
// on one and two threads.
#include "cpu/conv_direct.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "act/kernel/executor.h"
#include "act/kernel/graph.h"
#include "act/kernel/parallel.h"
#include "cpu/conv_depthwise.h"
#include "cpu/conv_depthwise_masked.h"
#include "cpu/conv_gemm.h"
#include "cpu/conv_narrow.h"
#include "cpu/conv_oc_lanes.h"
#include "kernel_test_util.h"

namespace act {
namespace {

std::mt19937& rng() {
  static std::mt19937 gen(4321);
  return gen;
}

std::int64_t rand_int(std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}

std::vector<float> random_floats(std::int64_t n) {
  std::uniform_real_distribution<float> dist(-1.0F, 1.0F);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(rng());
  return v;
}

struct Case {
  std::int64_t n, c, m, group, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  std::int64_t oh() const { return (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1; }
  std::int64_t ow() const { return (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1; }
};

// act(conv(x, w) + bias + sum), in double.
std::vector<float> reference(const Case& k, const std::vector<float>& x,
                             const std::vector<float>& w, const float* bias, const float* sum,
                             const cpu::ConvEpilogue& epi) {
  const std::int64_t oh = k.oh(), ow = k.ow(), cg = k.c / k.group, mg = k.m / k.group;
  std::vector<float> y(static_cast<std::size_t>(k.n * k.m * oh * ow));
  std::size_t o = 0;
  for (std::int64_t b = 0; b < k.n; ++b)
    for (std::int64_t mm = 0; mm < k.m; ++mm)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j, ++o) {
          double acc = bias != nullptr ? bias[mm] : 0.0;
          for (std::int64_t ci = 0; ci < cg; ++ci)
            for (std::int64_t r = 0; r < k.kh; ++r)
              for (std::int64_t s = 0; s < k.kw; ++s) {
                const std::int64_t ih = i * k.sh + r * k.dh - k.pt;
                const std::int64_t iw = j * k.sw + s * k.dw - k.pl;
                if (ih < 0 || iw < 0 || ih >= k.h || iw >= k.w) continue;
                const std::int64_t ch = mm / mg * cg + ci;
                acc += static_cast<double>(
                           x[static_cast<std::size_t>(((b * k.c + ch) * k.h + ih) * k.w + iw)]) *
                       w[static_cast<std::size_t>(((mm * cg + ci) * k.kh + r) * k.kw + s)];
              }
          if (sum != nullptr) acc += sum[o];
          float v = static_cast<float>(acc);
          epi.apply(&v, 1, 1, 1, nullptr, nullptr, 1);
          y[o] = v;
        }
  return y;
}

cpu::WindowGeometry geometry(const Case& k) {
  cpu::WindowGeometry g;
  g.in = {1, k.h, k.w};
  g.kernel = {1, k.kh, k.kw};
  g.stride = {1, k.sh, k.sw};
  g.dilation = {1, k.dh, k.dw};
  g.pad_begin = {0, k.pt, k.pl};
  g.pad_end = {0, k.pb, k.pr};
  g.out = {1, k.oh(), k.ow()};
  return g;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-4F * (1.0F + std::fabs(want[i]))) << "element " << i;
  }
}

TEST(ConvDirect, MatchesDirectLoopsOverRandomGeometriesAndEpilogues) {
  if (!cpu::conv_direct_applicable(geometry(Case{1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0})))
    GTEST_SKIP() << "built without AVX2/FMA";
  const int saved = num_threads();
  for (int trial = 0; trial < 80; ++trial) {
    Case k{};
    k.group = trial % 5 == 4 ? rand_int(2, 3) : 1;
    k.n = rand_int(1, 2);
    k.c = k.group * rand_int(1, 9);
    k.m = k.group * rand_int(1, 40);
    k.kh = rand_int(1, 4);
    k.kw = rand_int(1, 4);
    k.sh = rand_int(1, 3);
    k.sw = trial % 3 == 0 ? k.sh : rand_int(1, 3);
    k.dh = rand_int(1, 2);
    k.dw = rand_int(1, 2);
    k.pt = rand_int(0, 2);
    k.pl = rand_int(0, 2);
    k.pb = rand_int(0, 2);
    k.pr = rand_int(0, 2);
    if (trial % 4 == 0) k.pt = k.pl = k.pb = k.pr = 0;  // in place when stride is 1
    if (trial % 8 == 0) k.sh = k.sw = 1;
    k.h = rand_int((k.kh - 1) * k.dh + 1, 30);
    k.w = rand_int((k.kw - 1) * k.dw + 1, 30);
    const std::int64_t cg = k.c / k.group, mg = k.m / k.group, kdim = cg * k.kh * k.kw;
    const auto x = random_floats(k.n * k.c * k.h * k.w);
    const auto w = random_floats(k.m * kdim);
    const auto bias = random_floats(k.m);
    const auto sum = random_floats(k.n * k.m * k.oh() * k.ow());
    cpu::ConvEpilogue epi;
    epi.activation = trial % 3 == 0   ? cpu::Activation::kRelu
                     : trial % 3 == 1 ? cpu::Activation::kClip
                                      : cpu::Activation::kNone;
    epi.lo = -0.5F;
    epi.hi = 0.75F;
    const bool with_bias = trial % 2 == 0, with_sum = trial % 5 < 2;
    std::vector<std::vector<float>> packed;
    for (std::int64_t gi = 0; gi < k.group; ++gi)
      packed.push_back(cpu::pack_a(w.data() + gi * mg * kdim, mg, kdim));
    const auto want =
        reference(k, x, w, with_bias ? bias.data() : nullptr, with_sum ? sum.data() : nullptr, epi);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      std::vector<float> y(want.size(), -7.0F);
      ASSERT_TRUE(cpu::conv_direct(geometry(k), packed, x.data(), with_bias ? bias.data() : nullptr,
                                   with_sum ? sum.data() : nullptr, y.data(), k.n, k.c, k.m,
                                   k.group, epi));
      SCOPED_TRACE("trial " + std::to_string(trial) + " threads " + std::to_string(threads) + " n" +
                   std::to_string(k.n) + " c" + std::to_string(k.c) + " m" + std::to_string(k.m) +
                   " g" + std::to_string(k.group) + " " + std::to_string(k.h) + "x" +
                   std::to_string(k.w) + " k" + std::to_string(k.kh) + "x" + std::to_string(k.kw) +
                   " s" + std::to_string(k.sh) + "," + std::to_string(k.sw) + " d" +
                   std::to_string(k.dh) + "," + std::to_string(k.dw));
      expect_close(y, want);
    }
  }
  set_num_threads(saved);
}

// Shapes through Conv and FusedConv nodes: stride-1 ones the kernel sends to conv_direct
// (unpadded windows, pointwise layers on large maps), the "same"-width padded ones it sends
// to conv_packed's masked-load packing, and stride-2 ones that, where AVX-512 is compiled in,
// go to conv_oc_lanes (K >= 64 and rows of 7+ pixels, stride 1 or 2); many pixel tiles, channel
// counts off the 6-row, 16-column and 32-lane blocks, in-place pointwise layers whose last
// panel ends mid-way, and FusedConv's residual + activation.
TEST(ConvDirect, ConvAndFusedConvNodesMatchDirectLoopsAtOneTwoAndNineThreads) {
  struct Shape4 {
    std::int64_t n, c, m, h, w, k, pad, stride = 1;
  };
  const std::vector<Shape4> shapes = {
      {1, 13, 29, 57, 31, 3, 1},
      {1, 7, 70, 23, 45, 3, 0},
      {1, 33, 17, 19, 21, 1, 0},
      {2, 5, 11, 20, 20, 3, 1},
      {1, 64, 64, 9, 9, 3, 1},
      {1, 3, 8, 40, 38, 5, 2},
      {1, 13, 29, 37, 31, 3, 0},
      {3, 9, 14, 21, 19, 3, 0},
      // Stride 2 (conv_oc_lanes where AVX-512 is compiled in): a 7x7 stem-like window, three
      // images, 40 output channels (a partial 32-lane block), rows of 8 to 12 pixels.
      {1, 3, 40, 61, 53, 7, 3, 2},
      {3, 24, 33, 34, 36, 3, 1, 2},
      // Stride 1 on conv_oc_lanes: rows of exactly 7 pixels (a ResNet 7x7 stage), 70 channels
      // (two full 32-lane blocks and six), and 14-pixel rows split into two blocks of 7.
      {1, 40, 70, 7, 7, 3, 1},
      {2, 16, 35, 14, 14, 3, 1},
      // Rows of 4 to 6 pixels two at a time, an odd last row with the one above; FusedConv's
      // residual and Relu on the kept rows only.
      {1, 24, 40, 5, 5, 3, 1},
      {1, 16, 33, 9, 9, 3, 1, 2},
      // A batch-1 map split into bands of rows (weights small next to the input), rows of 6
      // in pairs with an odd last row: at nine threads the last band is that row alone and
      // copies the row above it too.
      {1, 8, 16, 17, 6, 3, 1},
      // Pointwise layers on maps of at most 64 pixels, read in place (no copy): one image, and
      // three images (each thread its share, rows of 6 in pairs with an odd last row).
      {1, 70, 40, 7, 7, 1, 0},
      {3, 64, 33, 5, 6, 1, 0},
      // Pointwise layers on large maps (conv_direct, dense): blocks finished in registers with
      // bias, residual and Clip (23 channels: a last row block of five), LeakyRelu through
      // ConvEpilogue::apply instead, and Relu over 16 channels (six, six and four rows).
      {1, 20, 23, 24, 25, 1, 0},
      {2, 8, 16, 17, 30, 1, 0},
      {1, 32, 16, 112, 3, 1, 0},
      // Pointwise layers on maps of up to 256 pixels run as runs of up to 64 pixels across the
      // map's rows (pointwise_as_runs): 14x14 as four runs of 49, 16x16 over two images.
      {1, 64, 40, 14, 14, 1, 0},
      {2, 80, 70, 16, 16, 1, 0},
      // A light pointwise layer on a large map (conv_narrow: 32 x 40 multiply-adds a pixel).
      {1, 32, 40, 37, 41, 1, 0},
  };
  const int saved = num_threads();
  for (int threads : {1, 2, 9}) {
    set_num_threads(threads);
    for (const auto& s : shapes) {
      for (bool fused : {false, true}) {
        Case k{s.n,      s.c,      s.m, 1, s.h,   s.w,   s.k,   s.k,
               s.stride, s.stride, 1,   1, s.pad, s.pad, s.pad, s.pad};
        const auto x = random_floats(k.n * k.c * k.h * k.w);
        const auto w = random_floats(k.m * k.c * k.kh * k.kw);
        const auto bias = random_floats(k.m);
        const auto sum = random_floats(k.n * k.m * k.oh() * k.ow());
        auto tensor = [](const std::vector<float>& v, Shape shape) {
          Tensor t(DType::kF32, std::move(shape));
          std::copy(v.begin(), v.end(), t.data<float>());
          return t;
        };
        Attributes a;
        a.set("pads", std::vector<std::int64_t>{s.pad, s.pad, s.pad, s.pad});
        a.set("strides", std::vector<std::int64_t>{s.stride, s.stride});
        cpu::ConvEpilogue epi;
        std::vector<Tensor> inputs = {tensor(x, {k.n, k.c, k.h, k.w}),
                                      tensor(w, {k.m, k.c, k.kh, k.kw}), tensor(bias, {k.m})};
        if (fused) {
          // Relu, Clip and LeakyRelu in turn: kernels clamp the first two while storing and
          // hand the others to ConvEpilogue::apply.
          const auto turn = static_cast<int>(&s - shapes.data()) % 3;
          if (turn == 0) {
            a.set("activation", std::string("Relu"));
            epi.activation = cpu::Activation::kRelu;
          } else if (turn == 1) {
            a.set("activation", std::string("Clip"));
            a.set("activation_params", std::vector<float>{-0.3F, 0.4F});
            epi.activation = cpu::Activation::kClip;
            epi.lo = -0.3F;
            epi.hi = 0.4F;
          } else {
            a.set("activation", std::string("LeakyRelu"));
            a.set("activation_params", std::vector<float>{0.1F});
            epi.activation = cpu::Activation::kLeakyRelu;
            epi.alpha = 0.1F;
          }
          inputs.push_back(tensor(sum, {k.n, k.m, k.oh(), k.ow()}));
        }
        Graph g;
        Node node =
            test::make_node("conv", fused ? "FusedConv" : "Conv", {}, {"y"}, a, fused ? "act" : "");
        std::map<std::string, Tensor> feeds;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
          const std::string name = "in" + std::to_string(i);
          node.inputs.push_back(name);
          g.add_input(ValueInfo{name});
          feeds[name] = inputs[i];
        }
        g.add_node(node);
        g.add_output(ValueInfo{"y"});
        const Tensor y = Executor(g, 17).run(feeds).outputs[0];
        const auto want = reference(k, x, w, bias.data(), fused ? sum.data() : nullptr, epi);
        SCOPED_TRACE(std::string(fused ? "FusedConv" : "Conv") + " threads " +
                     std::to_string(threads) + " c" + std::to_string(s.c) + " m" +
                     std::to_string(s.m) + " " + std::to_string(s.h) + "x" + std::to_string(s.w));
        expect_close(std::vector<float>(y.data<float>(), y.data<float>() + y.numel()), want);
      }
    }
  }
  set_num_threads(saved);
}

// conv_narrow (K of at most 64: first layers on images) against direct loops over random
// channel counts, windows up to 5x5, strides 1 and 2, lopsided pads, one to 40 output channels
// (partial 16-channel blocks), bias, residual and the clamp epilogues, at one and two threads.
TEST(ConvNarrow, MatchesDirectLoopsOverRandomGeometriesAndEpilogues) {
  const auto probe = geometry(Case{1, 3, 8, 1, 40, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1});
  if (!cpu::conv_narrow_applicable(probe, 1, 3, cpu::ConvEpilogue{}))
    GTEST_SKIP() << "built without AVX-512";
  const int saved = num_threads();
  int ran = 0;
  for (int trial = 0; trial < 60; ++trial) {
    Case k{};
    k.group = 1;
    k.n = rand_int(1, 2);
    k.c = rand_int(1, 4);
    k.m = rand_int(1, 40);
    k.kh = rand_int(1, 5);
    k.kw = rand_int(1, 5);
    k.sh = k.sw = rand_int(1, 2);
    k.dh = k.dw = 1;
    k.pt = rand_int(0, 2);
    k.pl = rand_int(0, 2);
    k.pb = rand_int(0, 2);
    k.pr = rand_int(0, 2);
    k.h = rand_int(k.kh, 30);
    k.w = rand_int(std::max<std::int64_t>(k.kw, 16 * k.sw + k.kw), 70);
    cpu::ConvEpilogue epi;
    epi.activation = trial % 3 == 0   ? cpu::Activation::kRelu
                     : trial % 3 == 1 ? cpu::Activation::kClip
                                      : cpu::Activation::kNone;
    epi.lo = -0.5F;
    epi.hi = 0.75F;
    if (!cpu::conv_narrow_applicable(geometry(k), 1, k.c, epi)) continue;
    ++ran;
    const std::int64_t kdim = k.c * k.kh * k.kw;
    const auto x = random_floats(k.n * k.c * k.h * k.w);
    const auto w = random_floats(k.m * kdim);
    const auto bias = random_floats(k.m);
    const auto sum = random_floats(k.n * k.m * k.oh() * k.ow());
    const bool with_bias = trial % 2 == 0, with_sum = trial % 5 < 2;
    const auto want =
        reference(k, x, w, with_bias ? bias.data() : nullptr, with_sum ? sum.data() : nullptr, epi);
    const std::vector<float> packed = cpu::pack_narrow(w.data(), k.m, k.c * k.kh * k.kw);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      std::vector<float> y(want.size(), -7.0F);
      cpu::conv_narrow(geometry(k), x.data(), packed.data(), with_bias ? bias.data() : nullptr,
                       with_sum ? sum.data() : nullptr, y.data(), k.n, k.c, k.m, epi);
      SCOPED_TRACE("trial " + std::to_string(trial) + " c" + std::to_string(k.c) + " m" +
                   std::to_string(k.m) + " " + std::to_string(k.h) + "x" + std::to_string(k.w) +
                   " k" + std::to_string(k.kh) + "x" + std::to_string(k.kw) + " s" +
                   std::to_string(k.sh));
      expect_close(y, want);
    }
  }
  EXPECT_GT(ran, 40);
  set_num_threads(saved);
}

// The runs pointwise_as_runs cuts a small map into: the longest (at most 64 pixels) that
// still give every thread four items; nothing for anything but an unpadded stride-1 1x1
// window on at most 256 pixels.
TEST(ConvOcLanes, PointwiseRunsAreTheLongestThatKeepEveryThreadBusy) {
  const auto unit = [](std::int64_t h, std::int64_t w) {
    return geometry(Case{1, 1, 1, 1, h, w, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0});
  };
  // Rows x run length of the runs, or {0, 0} for none.
  const auto cut = [](const std::optional<cpu::WindowGeometry>& g) {
    return g ? std::pair<std::int64_t, std::int64_t>{g->out[1], g->out[2]}
             : std::pair<std::int64_t, std::int64_t>{0, 0};
  };
  const auto runs = cpu::pointwise_as_runs(unit(14, 14), 96, 1);
  ASSERT_TRUE(runs.has_value());
  EXPECT_EQ(runs->out[1], 4);
  EXPECT_EQ(runs->out[2], 49);
  EXPECT_EQ(runs->in[1], 4);
  EXPECT_EQ(runs->in[2], 49);
  // 7x7 with 160 lanes (five blocks): one run at one thread, the map's own rows at two.
  EXPECT_EQ(cut(cpu::pointwise_as_runs(unit(7, 7), 160, 1)), std::make_pair(1L, 49L));
  EXPECT_EQ(cut(cpu::pointwise_as_runs(unit(7, 7), 160, 2)), std::make_pair(7L, 7L));
  EXPECT_EQ(cut(cpu::pointwise_as_runs(unit(16, 16), 64, 2)), std::make_pair(4L, 64L));
  // Left alone: larger maps, 3x3 windows, padding, strides.
  const std::pair<std::int64_t, std::int64_t> none{0, 0};
  EXPECT_EQ(cut(cpu::pointwise_as_runs(unit(28, 28), 96, 1)), none);
  EXPECT_EQ(cut(cpu::pointwise_as_runs(
                geometry(Case{1, 1, 1, 1, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}), 96, 1)),
            none);
  EXPECT_EQ(cut(cpu::pointwise_as_runs(
                geometry(Case{1, 1, 1, 1, 14, 14, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}), 96, 1)),
            none);
  EXPECT_EQ(cut(cpu::pointwise_as_runs(
                geometry(Case{1, 1, 1, 1, 14, 14, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0}), 96, 1)),
            none);
}

// A depthwise 3x3 kernel called directly, against direct loops, over random sizes, strides
// (those in `strides`), asymmetric pads, bias, residual and activation, at one and two threads.
using DepthwiseFn = void (*)(const cpu::WindowGeometry&, const float*, const float*, const float*,
                             std::int64_t, std::int64_t, float*, const cpu::ConvEpilogue&,
                             const float*);
// kSmallSame: stride 1, maps under 16 pixels wide, padding that keeps the map's size
// (symmetric and lopsided): the masked kernel runs rows of up to 8 two to a vector, longer ones
// in one partly masked block. kSmallStride2: stride 2 onto rows of at most 7 outputs, which it
// also runs two rows to a vector.
enum class Maps { kAny, kSmallSame, kSmallStride2 };
void check_depthwise(DepthwiseFn fn, const std::vector<std::int64_t>& strides,
                     Maps maps = Maps::kAny) {
  const int saved = num_threads();
  for (int trial = 0; trial < 40; ++trial) {
    const std::int64_t c = rand_int(1, 7);
    const std::int64_t s = strides[static_cast<std::size_t>(trial) % strides.size()];
    Case k{rand_int(1, 2),
           c,
           c,
           c,
           rand_int(3, 40),
           rand_int(3, 40),
           3,
           3,
           s,
           s,
           1,
           1,
           rand_int(0, 2),
           rand_int(0, 2),
           rand_int(0, 2),
           rand_int(0, 2)};
    if (maps == Maps::kSmallStride2) {
      k.sh = k.sw = 2;
      k.h = rand_int(1, 16);
      k.w = rand_int(1, 12);
      k.pl = rand_int(0, 3);
      k.pr = rand_int(0, 2);
      k.pt = rand_int(0, 3);
      k.pr = std::max(k.pr, 3 - k.w - k.pl);  // at least one window
      k.pb = std::max(k.pb, 3 - k.h - k.pt);
    }
    if (maps == Maps::kSmallSame) {
      k.sh = k.sw = 1;
      k.h = rand_int(1, 15);
      k.w = rand_int(1, 15);
      k.pt = rand_int(0, 2);
      k.pb = 2 - k.pt;
      k.pl = rand_int(0, 2);
      k.pr = 2 - k.pl;
    }
    const auto x = random_floats(k.n * k.c * k.h * k.w);
    const auto w = random_floats(k.c * 9);
    const auto bias = random_floats(k.c);
    const auto sum = random_floats(k.n * k.m * k.oh() * k.ow());
    cpu::ConvEpilogue epi;
    // Clip, none and Relu over the trials, each with and without bias and residual (the
    // masked kernel clamps Relu and Clip in registers when there is no residual).
    const cpu::Activation acts[3] = {cpu::Activation::kClip, cpu::Activation::kNone,
                                     cpu::Activation::kRelu};
    epi.activation = acts[(trial / 2) % 3];
    epi.lo = -0.5F;
    epi.hi = 0.5F;
    const bool with_bias = trial % 3 != 0, with_sum = trial % 4 < 2;
    const auto want =
        reference(k, x, w, with_bias ? bias.data() : nullptr, with_sum ? sum.data() : nullptr, epi);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      std::vector<float> y(want.size(), -7.0F);
      fn(geometry(k), x.data(), w.data(), with_bias ? bias.data() : nullptr, k.n, k.c, y.data(),
         epi, with_sum ? sum.data() : nullptr);
      SCOPED_TRACE("trial " + std::to_string(trial) + " stride " + std::to_string(s) + " " +
                   std::to_string(k.h) + "x" + std::to_string(k.w) + " pads " +
                   std::to_string(k.pt) + std::to_string(k.pl) + std::to_string(k.pb) +
                   std::to_string(k.pr));
      expect_close(y, want);
    }
  }
  set_num_threads(saved);
}

TEST(ConvDepthwise, Stride2MatchesDirectLoopsWithEveryEpilogueInput) {
  const auto probe = geometry(Case{1, 1, 1, 1, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1});
  if (!cpu::depthwise_3x3_s2_applicable(probe)) GTEST_SKIP() << "built without AVX2/FMA";
  check_depthwise(&cpu::depthwise_3x3_s2, {2});
}

TEST(ConvDepthwise, MaskedLoadsMatchDirectLoopsWithEveryEpilogueInput) {
  const auto probe = geometry(Case{1, 1, 1, 1, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1});
  if (!cpu::depthwise_3x3_masked_applicable(probe)) GTEST_SKIP() << "built without AVX-512";
  check_depthwise(&cpu::depthwise_3x3_masked, {1, 2});
}

TEST(ConvDepthwise, MaskedSmallSameMapsMatchDirectLoops) {
  const auto probe = geometry(Case{1, 1, 1, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
  if (!cpu::depthwise_3x3_masked_applicable(probe)) GTEST_SKIP() << "built without AVX-512";
  check_depthwise(&cpu::depthwise_3x3_masked, {1}, Maps::kSmallSame);
}

TEST(ConvDepthwise, MaskedStride2PairsOfShortRowsMatchDirectLoops) {
  const auto probe = geometry(Case{1, 1, 1, 1, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1});
  if (!cpu::depthwise_3x3_masked_applicable(probe)) GTEST_SKIP() << "built without AVX-512";
  check_depthwise(&cpu::depthwise_3x3_masked, {2}, Maps::kSmallStride2);
}

}  // namespace
}  // namespace act
