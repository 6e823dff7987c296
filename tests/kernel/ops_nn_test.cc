// nn family: Conv, ConvTranspose, Gemm, MatMul, norms, pools. Every kernel is compared with a
// naive reference written here (direct loops), over randomized shapes and attributes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "act/kernel/executor.h"
#include "act/kernel/graph.h"
#include "act/kernel/parallel.h"
#include "act/kernel/passes.h"
#include "kernel_test_util.h"

namespace act {
namespace {

std::mt19937& rng() {
  static std::mt19937 gen(1234);
  return gen;
}

std::int64_t rand_int(std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}

Tensor random_tensor(const Shape& shape) {
  Tensor t(DType::kF32, shape);
  std::uniform_real_distribution<float> dist(-1.0F, 1.0F);
  float* d = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) d[i] = dist(rng());
  return t;
}

// Runs one node whose inputs are all fed (an empty name marks an omitted input).
std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& inputs,
                           const Attributes& attrs, int outputs = 1) {
  return test::run_node(op, inputs, attrs, outputs);
}

void expect_near(const Tensor& got, const Shape& shape, const std::vector<float>& want,
                 float tol = 1e-4F) {
  ASSERT_EQ(got.shape(), shape);
  ASSERT_EQ(static_cast<std::size_t>(got.numel()), want.size());
  const float* g = got.data<float>();
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(g[i], want[i], tol * (1.0F + std::fabs(want[i]))) << "element " << i;
  }
}

// ---- Conv reference: direct loops over up to 3 spatial axes (missing axes are size 1).
struct Win {
  std::vector<std::int64_t> k, s, d, pb, pe;
};

std::vector<std::int64_t> pad3(std::vector<std::int64_t> v, std::int64_t fill) {
  v.insert(v.begin(), 3 - v.size(), fill);
  return v;
}

std::int64_t conv_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d,
                      std::int64_t pb, std::int64_t pe) {
  return (in + pb + pe - ((k - 1) * d + 1)) / s + 1;
}

std::pair<Shape, std::vector<float>> ref_conv(const Tensor& x, const Tensor& w, const Tensor* b,
                                              std::int64_t group, const Win& win) {
  const std::size_t r = static_cast<std::size_t>(x.rank() - 2);
  const auto in = pad3(Shape(x.shape().begin() + 2, x.shape().end()), 1);
  const auto k = pad3(win.k, 1), s = pad3(win.s, 1), d = pad3(win.d, 1), pb = pad3(win.pb, 0),
             pe = pad3(win.pe, 0);
  std::vector<std::int64_t> out(3);
  for (int i = 0; i < 3; ++i) out[i] = conv_out(in[i], k[i], s[i], d[i], pb[i], pe[i]);
  const std::int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0), cg = c / group, mg = m / group;
  Shape shape{n, m};
  for (std::size_t i = 3 - r; i < 3; ++i) shape.push_back(out[i]);
  std::vector<float> y(static_cast<std::size_t>(shape_numel(shape)), 0.0F);
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  std::size_t o = 0;
  for (std::int64_t bn = 0; bn < n; ++bn)
    for (std::int64_t mm = 0; mm < m; ++mm)
      for (std::int64_t od = 0; od < out[0]; ++od)
        for (std::int64_t oh = 0; oh < out[1]; ++oh)
          for (std::int64_t ow = 0; ow < out[2]; ++ow, ++o) {
            double acc = b ? b->data<float>()[mm] : 0.0;
            const std::int64_t gi = mm / mg;
            for (std::int64_t cc = 0; cc < cg; ++cc)
              for (std::int64_t kd = 0; kd < k[0]; ++kd)
                for (std::int64_t kh = 0; kh < k[1]; ++kh)
                  for (std::int64_t kw = 0; kw < k[2]; ++kw) {
                    const std::int64_t id = od * s[0] + kd * d[0] - pb[0];
                    const std::int64_t ih = oh * s[1] + kh * d[1] - pb[1];
                    const std::int64_t iw = ow * s[2] + kw * d[2] - pb[2];
                    if (id < 0 || ih < 0 || iw < 0 || id >= in[0] || ih >= in[1] || iw >= in[2])
                      continue;
                    const std::int64_t ch = gi * cg + cc;
                    acc += xd[(((bn * c + ch) * in[0] + id) * in[1] + ih) * in[2] + iw] *
                           wd[(((mm * cg + cc) * k[0] + kd) * k[1] + kh) * k[2] + kw];
                  }
            y[o] = static_cast<float>(acc);
          }
  return {shape, y};
}

Attributes win_attrs(const Win& w) {
  Attributes a;
  a.set("strides", w.s);
  a.set("dilations", w.d);
  std::vector<std::int64_t> pads = w.pb;
  pads.insert(pads.end(), w.pe.begin(), w.pe.end());
  a.set("pads", pads);
  return a;
}

TEST(OpsNn, ConvMatchesDirectLoopsOverRandomShapes) {
  for (int trial = 0; trial < 60; ++trial) {
    const int r = trial % 5 == 0 ? 1 : (trial % 7 == 0 ? 3 : 2);
    const int kind = trial % 4;  // 0 plain, 1 grouped, 2 depthwise, 3 pointwise
    std::int64_t group = 1, c = rand_int(1, 6), m = rand_int(1, 6);
    if (kind == 1) {
      group = rand_int(2, 3);
      c = group * rand_int(1, 3);
      m = group * rand_int(1, 3);
    } else if (kind == 2) {
      c = m = group = rand_int(2, 8);
    }
    Win win;
    Shape xs{rand_int(1, 2), c};
    for (int i = 0; i < r; ++i) {
      const bool pw = kind == 3;
      win.k.push_back(pw ? 1 : rand_int(1, 3));
      win.s.push_back(pw ? 1 : rand_int(1, 3));
      win.d.push_back(pw ? 1 : rand_int(1, 2));
      win.pb.push_back(pw ? 0 : rand_int(0, 2));
      win.pe.push_back(pw ? 0 : rand_int(0, 2));
      xs.push_back(rand_int((win.k.back() - 1) * win.d.back() + 1, r == 3 ? 6 : 11));
    }
    Shape ws{m, c / group};
    ws.insert(ws.end(), win.k.begin(), win.k.end());
    const Tensor x = random_tensor(xs), w = random_tensor(ws), b = random_tensor({m});
    const bool with_bias = trial % 3 != 0;
    Attributes a = win_attrs(win);
    a.set("group", group);
    if (trial % 2 == 0) a.set("kernel_shape", win.k);
    const auto out = run_op("Conv", {x, w, with_bias ? b : Tensor()}, a);
    const auto [shape, want] = ref_conv(x, w, with_bias ? &b : nullptr, group, win);
    SCOPED_TRACE("trial " + std::to_string(trial) + " x " + shape_to_string(xs) + " w " +
                 shape_to_string(ws) + " group " + std::to_string(group));
    expect_near(out[0], shape, want);
  }
}

TEST(OpsNn, Depthwise3x3FastPathMatchesDirectLoops) {
  // The 3x3 depthwise kernel has its own interior/edge split; sweep widths around the edges.
  for (std::int64_t width : {3, 4, 5, 7, 17, 33}) {
    for (std::int64_t stride : {1, 2}) {
      for (std::int64_t pad : {0, 1, 2}) {
        const std::int64_t c = 5;
        const Tensor x = random_tensor({2, c, width - 1 + stride, width}),
                     w = random_tensor({c, 1, 3, 3}), b = random_tensor({c});
        Win win{{3, 3}, {stride, stride}, {1, 1}, {pad, pad}, {pad, pad}};
        Attributes a = win_attrs(win);
        a.set("group", c);
        const auto [shape, want] = ref_conv(x, w, &b, c, win);
        SCOPED_TRACE("width " + std::to_string(width) + " stride " + std::to_string(stride) +
                     " pad " + std::to_string(pad));
        expect_near(run_op("Conv", {x, w, b}, a)[0], shape, want);
      }
    }
  }
}

TEST(OpsNn, ConvTilesOfLargePlanesMatchDirectLoopsAtOneAndTwoThreads) {
  // Planes large enough to be cut into several pixel tiles (and tiles that end mid-row), for
  // im2col'd, pointwise and depthwise layers with asymmetric pads, on one and two threads.
  struct Case {
    Shape x, w;
    std::int64_t group;
    Win win;
  };
  const std::vector<Case> cases = {
      {{1, 6, 37, 41}, {5, 6, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{2, 6, 45, 39}, {7, 6, 3, 3}, 1, {{3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 0}}},
      {{1, 24, 50, 50}, {9, 24, 1, 1}, 1, {{1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}}},
      {{1, 8, 29, 31}, {8, 1, 3, 3}, 8, {{3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 0}}},
      {{1, 8, 29, 31}, {8, 1, 3, 3}, 8, {{3, 3}, {1, 1}, {1, 1}, {2, 0}, {0, 2}}},
  };
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const auto& c : cases) {
      const Tensor x = random_tensor(c.x), w = random_tensor(c.w), b = random_tensor({c.w[0]});
      Attributes a = win_attrs(c.win);
      a.set("group", c.group);
      const auto [shape, want] = ref_conv(x, w, &b, c.group, c.win);
      SCOPED_TRACE("threads " + std::to_string(threads) + " x " + shape_to_string(c.x) + " w " +
                   shape_to_string(c.w));
      expect_near(run_op("Conv", {x, w, b}, a)[0], shape, want);
    }
  }
  set_num_threads(saved);
}

// dX and dW of a convolution by direct loops: every (output pixel, tap) pair that reads an
// input pixel passes dY back to it (2-D, any stride, dilation, pads and group).
std::pair<std::vector<float>, std::vector<float>> ref_conv_grads(const Tensor& x, const Tensor& w,
                                                                 const Tensor& dy,
                                                                 std::int64_t group,
                                                                 const Win& win) {
  const std::int64_t n = x.dim(0), c = x.dim(1), ih_n = x.dim(2), iw_n = x.dim(3);
  const std::int64_t m = w.dim(0), kh_n = w.dim(2), kw_n = w.dim(3);
  const std::int64_t oh_n = dy.dim(2), ow_n = dy.dim(3), cg = c / group, mg = m / group;
  std::vector<double> dx(static_cast<std::size_t>(x.numel()), 0.0),
      dw(static_cast<std::size_t>(w.numel()), 0.0);
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* g = dy.data<float>();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t mm = 0; mm < m; ++mm)
      for (std::int64_t oh = 0; oh < oh_n; ++oh)
        for (std::int64_t ow = 0; ow < ow_n; ++ow) {
          const double gv = g[((b * m + mm) * oh_n + oh) * ow_n + ow];
          for (std::int64_t cc = 0; cc < cg; ++cc)
            for (std::int64_t kh = 0; kh < kh_n; ++kh)
              for (std::int64_t kw = 0; kw < kw_n; ++kw) {
                const std::int64_t ih = oh * win.s[0] + kh * win.d[0] - win.pb[0];
                const std::int64_t iw = ow * win.s[1] + kw * win.d[1] - win.pb[1];
                if (ih < 0 || iw < 0 || ih >= ih_n || iw >= iw_n) continue;
                const std::int64_t xi = ((b * c + mm / mg * cg + cc) * ih_n + ih) * iw_n + iw;
                const std::int64_t wi = ((mm * cg + cc) * kh_n + kh) * kw_n + kw;
                dx[static_cast<std::size_t>(xi)] += gv * wd[wi];
                dw[static_cast<std::size_t>(wi)] += gv * xd[xi];
              }
        }
  return {std::vector<float>(dx.begin(), dx.end()), std::vector<float>(dw.begin(), dw.end())};
}

TEST(OpsNn, ConvGradientsMatchDirectLoopsAtOneAndTwoThreads) {
  // Covers the ways ConvGradInput runs (stride 1 and at least 48 input channels per group as
  // a convolution with flipped weights, on conv_oc_lanes or conv_gemm, with dilation,
  // asymmetric pads, groups and 1x1; otherwise through col2im), and the forward Conv's batched
  // small-map paths.
  struct Case {
    Shape x, w;
    std::int64_t group;
    Win win;
  };
  const std::vector<Case> cases = {
      {{5, 8, 4, 4}, {20, 8, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{5, 64, 4, 4}, {56, 64, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{6, 64, 2, 2}, {40, 64, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      // Large maps, odd batch: the images shared unevenly over threads, each tiled.
      {{3, 48, 20, 20}, {8, 48, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{3, 6, 24, 24}, {4, 6, 3, 3}, 1, {{3, 3}, {1, 1}, {2, 2}, {1, 0}, {2, 1}}},
      {{3, 48, 9, 8}, {4, 48, 3, 3}, 1, {{3, 3}, {1, 1}, {2, 2}, {1, 0}, {2, 1}}},
      {{2, 96, 5, 5}, {6, 48, 3, 3}, 2, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{3, 64, 5, 5}, {8, 64, 1, 1}, 1, {{1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}}},
      {{2, 4, 9, 8}, {6, 2, 3, 3}, 2, {{3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 0}}},
      {{3, 16, 5, 5}, {8, 16, 1, 1}, 1, {{1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}}},
      {{2, 5, 6, 6}, {5, 1, 3, 3}, 5, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{4, 3, 7, 5}, {9, 3, 1, 1}, 1, {{1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}}},
      // Stride 1 with the input as wide as the output: packed by masked loads of shifted
      // input rows (shift_packable) in the forward small-map path and in ConvGradInput;
      // odd widths, panels spanning rows, dilation, one-sided and height-only padding, 1x3
      // and 5x5 windows, first and last channels whose window leaves the plane.
      {{3, 5, 7, 9}, {7, 5, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{2, 4, 6, 11}, {13, 4, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 2}, {0, 0}, {0, 4}}},
      {{4, 3, 5, 5}, {6, 3, 5, 5}, 1, {{5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}}},
      {{2, 6, 3, 17}, {9, 6, 1, 3}, 1, {{1, 3}, {1, 1}, {1, 1}, {0, 1}, {0, 1}}},
      {{3, 50, 13, 11}, {7, 50, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {2, 1}, {0, 1}}},
      {{2, 48, 19, 18}, {5, 48, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{3, 96, 7, 6}, {10, 48, 3, 3}, 2, {{3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}}},
      // dW as one product per tap over channels-last planes (conv_weight_grad.h, maps of at
      // least 256 pixels): channels padded to 16 (20, 24), the pixel stride widened for 64
      // channels, stride 2 with uneven pads, dilation, strided 1x1, groups, a 5x3 window.
      {{2, 64, 16, 16}, {12, 64, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{3, 24, 33, 34}, {10, 24, 3, 3}, 1, {{3, 3}, {2, 2}, {1, 1}, {1, 0}, {2, 1}}},
      {{2, 12, 20, 20}, {6, 12, 3, 3}, 1, {{3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}}},
      {{2, 16, 32, 32}, {8, 16, 1, 1}, 1, {{1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}}},
      {{2, 40, 18, 17}, {14, 20, 5, 3}, 2, {{5, 3}, {1, 1}, {1, 1}, {2, 0}, {1, 1}}},
      // Images in chunks whose copies fit L2: one image per chunk (64 channels at 36x40), and
      // two per chunk with a last chunk of one (stride 2, 48 channels at 50x46).
      {{3, 64, 36, 40}, {8, 64, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      {{3, 48, 50, 46}, {7, 48, 3, 3}, 1, {{3, 3}, {2, 2}, {1, 1}, {1, 0}, {1, 1}}},
      // conv_oc_lanes (AVX-512): the forward batch weights-outer and ConvGradInput with the
      // input channels as lanes; 70 channels (a partial 32-lane block), dilation, 7-wide rows.
      {{2, 70, 9, 7}, {40, 70, 3, 3}, 1, {{3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}}},
      // Rows of 4 to 6 pixels go two at a time; an odd row count leaves one row to ride with
      // the row above. Stride 2 (5 rows of 5) and stride 1 (3 rows of 4).
      {{3, 40, 10, 10}, {36, 40, 3, 3}, 1, {{3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}}},
      {{2, 64, 3, 4}, {33, 64, 3, 3}, 1, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}},
      // A stride-1 1x1 on a 14x14 map: both directions on conv_oc_lanes as runs of 49 pixels
      // across the map's rows (pointwise_as_runs).
      {{2, 64, 14, 14}, {70, 64, 1, 1}, 1, {{1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}}},
      // Strided ConvGradInput phase by phase (conv_grad_input_phases): asymmetric pads and rows
      // of 8 or 9; stride 3 with a 5x5 window (phases of one and two taps, rows of 7 and pairs
      // of 6); the 10x10 case above has pairs of 5 and an odd phase row count.
      {{2, 35, 17, 16}, {20, 35, 3, 3}, 1, {{3, 3}, {2, 2}, {1, 1}, {1, 0}, {0, 1}}},
      {{2, 33, 20, 20}, {24, 33, 5, 5}, 1, {{5, 5}, {3, 3}, {1, 1}, {2, 2}, {2, 2}}},
      // A strided 1x1 (a ResNet shortcut): one phase computed, three no tap reaches (zero).
      {{2, 40, 15, 16}, {24, 40, 1, 1}, 1, {{1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}}},
  };
  auto run_act = [](const std::string& op, const std::vector<Tensor>& in, const Attributes& a) {
    Graph g;
    std::map<std::string, Tensor> feeds;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < in.size(); ++i) {
      names.push_back("in" + std::to_string(i));
      g.add_input(ValueInfo{names.back()});
      feeds[names.back()] = in[i];
    }
    g.add_node(test::make_node("n", op, names, {"out"}, a, "act"));
    g.add_output(ValueInfo{"out"});
    return Executor(g, 17).run(feeds).outputs[0];
  };
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const auto& c : cases) {
      const Tensor x = random_tensor(c.x), w = random_tensor(c.w);
      Attributes a = win_attrs(c.win);
      a.set("group", c.group);
      const auto [yshape, y] = ref_conv(x, w, nullptr, c.group, c.win);
      const Tensor dy = random_tensor(yshape);
      const auto [dx, dw] = ref_conv_grads(x, w, dy, c.group, c.win);
      SCOPED_TRACE("threads " + std::to_string(threads) + " x " + shape_to_string(c.x) + " w " +
                   shape_to_string(c.w));
      expect_near(run_op("Conv", {x, w}, a)[0], yshape, y);
      expect_near(run_act("ConvGradInput", {dy, w, x}, a), c.x, dx);
      expect_near(run_act("ConvGradWeight", {dy, x, w}, a), c.w, dw);
    }
  }
  set_num_threads(saved);
}

TEST(OpsNn, ConvWeightsFedAtRunTimeAreRepackedEveryTimeTheyChange) {
  // The conv kernel caches its packed weights; a weight that is a graph input must not be
  // served from that cache once a different tensor is fed. 9x9 maps go through conv_gemm's
  // layout, 20x20 ones (rows of 16+ outputs, K = 27) through conv_narrow's where AVX-512 is.
  for (const std::int64_t hw : {9, 20}) {
    Graph g;
    g.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {1, 3, hw, hw})));
    g.add_input(ValueInfo::from_tensor("w", Tensor(DType::kF32, {4, 3, 3, 3})));
    Node n;
    n.name = "conv";
    n.op_type = "Conv";
    n.inputs = {"x", "w"};
    n.outputs = {"y"};
    n.attrs.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
    g.add_node(n);
    g.add_output(ValueInfo{"y"});
    Executor ex(g, 17);
    const Tensor x = random_tensor({1, 3, hw, hw});
    const Win win{{3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
    for (int round = 0; round < 3; ++round) {
      const Tensor w = random_tensor({4, 3, 3, 3});
      const auto [shape, want] = ref_conv(x, w, nullptr, 1, win);
      SCOPED_TRACE("map " + std::to_string(hw) + " round " + std::to_string(round));
      expect_near(ex.run({{"x", x}, {"w", w}}).outputs[0], shape, want);
    }
  }
}

TEST(OpsNn, ConvSeesInPlaceUpdatesOfItsWeightInitializer) {
  // Training updates parameters in place (same storage); the kernel's packed copy must follow,
  // in conv_gemm's layout (9x9) and in conv_narrow's (20x20, where AVX-512 is).
  for (const std::int64_t hw : {9, 20}) {
    Graph g;
    g.add_input(ValueInfo::from_tensor("x", Tensor(DType::kF32, {1, 3, hw, hw})));
    g.set_initializer("w", random_tensor({4, 3, 3, 3}));
    Node n;
    n.name = "conv";
    n.op_type = "Conv";
    n.inputs = {"x", "w"};
    n.outputs = {"y"};
    g.add_node(n);
    g.add_output(ValueInfo{"y"});
    Executor ex(g, 17);
    const Tensor x = random_tensor({1, 3, hw, hw});
    const Win win{{3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}};
    for (int step = 0; step < 3; ++step) {
      Tensor w = *g.initializer("w");  // shares the executor's storage
      float* wd = w.data<float>();
      for (std::int64_t i = 0; i < w.numel(); ++i) wd[i] -= 0.1F * static_cast<float>(step);
      const auto [shape, want] = ref_conv(x, w, nullptr, 1, win);
      SCOPED_TRACE("map " + std::to_string(hw) + " step " + std::to_string(step));
      expect_near(ex.run({{"x", x}}).outputs[0], shape, want);
    }
  }
}

TEST(OpsNn, ConvAutoPadSameUpperLowerAndValid) {
  const Tensor x = random_tensor({1, 2, 6, 7}), w = random_tensor({3, 2, 3, 3});
  for (const std::string mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    Attributes a;
    a.set("auto_pad", mode);
    a.set("strides", std::vector<std::int64_t>{2, 2});
    const auto out = run_op("Conv", {x, w}, a);
    // H: in 6, stride 2 -> out 3, total pad 1; W: in 7 -> out 4, total pad 2.
    Win win{{3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 1}};
    if (mode == "SAME_LOWER") win.pb = {1, 1}, win.pe = {0, 1};
    if (mode == "VALID") win.pb = {0, 0}, win.pe = {0, 0};
    const auto [shape, want] = ref_conv(x, w, nullptr, 1, win);
    SCOPED_TRACE(mode);
    expect_near(out[0], shape, want);
  }
}

TEST(OpsNn, ConvReportsChannelMismatchAndBadRank) {
  const Tensor x = random_tensor({1, 3, 5, 5}), w = random_tensor({2, 4, 3, 3});
  try {
    run_op("Conv", {x, w}, Attributes{});
    FAIL() << "expected a channel mismatch";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input has 3 channels, weight expects 4"),
              std::string::npos)
        << e.what();
  }
  Attributes grouped;
  grouped.set("group", std::int64_t{2});
  EXPECT_THROW(run_op("Conv", {random_tensor({1, 4, 5, 5}), random_tensor({3, 2, 3, 3})}, grouped),
               Error);  // 3 output channels do not split into 2 groups
  EXPECT_THROW(
      run_op("Conv", {random_tensor({1, 1, 2, 2, 2, 2}), random_tensor({1, 1, 1, 1, 1, 1})},
             Attributes{}),
      Error);  // 4 spatial axes
  EXPECT_THROW(
      run_op("Conv", {random_tensor({1, 1, 2, 2}), random_tensor({1, 1, 3, 3})}, Attributes{}),
      Error);  // kernel larger than the input
}

std::pair<Shape, std::vector<float>> ref_conv_transpose(const Tensor& x, const Tensor& w,
                                                        std::int64_t group, const Win& win,
                                                        const std::vector<std::int64_t>& outpad) {
  const std::size_t r = static_cast<std::size_t>(x.rank() - 2);
  const auto in = pad3(Shape(x.shape().begin() + 2, x.shape().end()), 1);
  const auto k = pad3(win.k, 1), s = pad3(win.s, 1), d = pad3(win.d, 1), pb = pad3(win.pb, 0),
             pe = pad3(win.pe, 0), op = pad3(outpad, 0);
  std::vector<std::int64_t> out(3);
  for (int i = 0; i < 3; ++i)
    out[i] = s[i] * (in[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 - pb[i] - pe[i];
  const std::int64_t n = x.dim(0), c = x.dim(1), mg = w.dim(1), m = mg * group, cg = c / group;
  Shape shape{n, m};
  for (std::size_t i = 3 - r; i < 3; ++i) shape.push_back(out[i]);
  // Pads can exceed the full output: the caller skips such shapes, so return before sizing y.
  if (*std::min_element(shape.begin(), shape.end()) <= 0) return {shape, {}};
  std::vector<float> y(static_cast<std::size_t>(shape_numel(shape)), 0.0F);
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  for (std::int64_t bn = 0; bn < n; ++bn)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t id = 0; id < in[0]; ++id)
        for (std::int64_t ih = 0; ih < in[1]; ++ih)
          for (std::int64_t iw = 0; iw < in[2]; ++iw) {
            const float xv = xd[(((bn * c + ch) * in[0] + id) * in[1] + ih) * in[2] + iw];
            for (std::int64_t mm = 0; mm < mg; ++mm)
              for (std::int64_t kd = 0; kd < k[0]; ++kd)
                for (std::int64_t kh = 0; kh < k[1]; ++kh)
                  for (std::int64_t kw = 0; kw < k[2]; ++kw) {
                    const std::int64_t od = id * s[0] + kd * d[0] - pb[0];
                    const std::int64_t oh = ih * s[1] + kh * d[1] - pb[1];
                    const std::int64_t ow = iw * s[2] + kw * d[2] - pb[2];
                    if (od < 0 || oh < 0 || ow < 0 || od >= out[0] || oh >= out[1] || ow >= out[2])
                      continue;
                    const std::int64_t oc = (ch / cg) * mg + mm;
                    y[static_cast<std::size_t>(
                        (((bn * m + oc) * out[0] + od) * out[1] + oh) * out[2] + ow)] +=
                        xv * wd[(((ch * mg + mm) * k[0] + kd) * k[1] + kh) * k[2] + kw];
                  }
          }
  return {shape, y};
}

TEST(OpsNn, ConvTransposeMatchesScatterLoopsOverRandomShapes) {
  for (int trial = 0; trial < 40; ++trial) {
    const int r = trial % 5 == 0 ? 1 : (trial % 7 == 0 ? 3 : 2);
    const std::int64_t group = trial % 3 == 0 ? 2 : 1;
    const std::int64_t c = group * rand_int(1, 3), mg = rand_int(1, 3);
    Win win;
    std::vector<std::int64_t> outpad;
    Shape xs{rand_int(1, 2), c};
    for (int i = 0; i < r; ++i) {
      win.k.push_back(rand_int(1, 3));
      win.s.push_back(rand_int(1, 3));
      win.d.push_back(rand_int(1, 2));
      win.pb.push_back(rand_int(0, 1));
      win.pe.push_back(rand_int(0, 1));
      outpad.push_back(rand_int(0, std::max(win.s.back(), win.d.back()) - 1));
      xs.push_back(rand_int(1, r == 3 ? 4 : 6));
    }
    Shape ws{c, mg};
    ws.insert(ws.end(), win.k.begin(), win.k.end());
    const Tensor x = random_tensor(xs), w = random_tensor(ws);
    Attributes a = win_attrs(win);
    a.set("group", group);
    a.set("output_padding", outpad);
    const auto [shape, want] = ref_conv_transpose(x, w, group, win, outpad);
    if (*std::min_element(shape.begin(), shape.end()) <= 0 || shape_numel(shape) == 0) continue;
    SCOPED_TRACE("trial " + std::to_string(trial) + " x " + shape_to_string(xs) + " w " +
                 shape_to_string(ws));
    const auto out = run_op("ConvTranspose", {x, w}, a);
    expect_near(out[0], shape, want);
  }
}

TEST(OpsNn, ConvTransposeOutputShapeAndAutoPadAndBias) {
  const Tensor x = random_tensor({1, 2, 3, 3}), w = random_tensor({2, 3, 3, 3}),
               b = random_tensor({3});
  // output_shape 7x7 with stride 2: full size is 2*2+3 = 7 with no pads.
  Attributes a;
  a.set("strides", std::vector<std::int64_t>{2, 2});
  a.set("output_shape", std::vector<std::int64_t>{7, 7});
  auto [shape, want] =
      ref_conv_transpose(x, w, 1, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}}, {0, 0});
  for (std::size_t i = 0; i < want.size(); ++i) want[i] += b.data<float>()[(i / 49) % 3];
  expect_near(run_op("ConvTranspose", {x, w, b}, a)[0], shape, want);
  // SAME_UPPER: output = in * stride = 6; total padding 1 goes to the end.
  Attributes same;
  same.set("strides", std::vector<std::int64_t>{2, 2});
  same.set("auto_pad", std::string("SAME_UPPER"));
  auto [s2, w2] = ref_conv_transpose(x, w, 1, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}}, {0, 0});
  expect_near(run_op("ConvTranspose", {x, w}, same)[0], s2, w2);
  EXPECT_THROW(run_op("ConvTranspose", {random_tensor({1, 3, 3, 3}), w}, Attributes{}), Error);
}

// ---- Gemm / MatMul

std::vector<float> ref_matmul(const float* a, const float* b, std::int64_t m, std::int64_t k,
                              std::int64_t n, bool ta, bool tb) {
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::int64_t p = 0; p < k; ++p)
        acc += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      y[static_cast<std::size_t>(i * n + j)] = static_cast<float>(acc);
    }
  return y;
}

TEST(OpsNn, GemmTransposesAlphaBetaAndBroadcastC) {
  // Trials 24 and up have one row (the matrix-vector path of a classifier head at batch 1)
  // in every transpose combination, with longer K and N.
  for (int trial = 0; trial < 36; ++trial) {
    const bool row = trial >= 24;
    const std::int64_t m = row ? 1 : rand_int(1, 9);
    const std::int64_t k = row ? rand_int(20, 300) : rand_int(1, 9);
    const std::int64_t n = row ? rand_int(20, 200) : rand_int(1, 9);
    const bool ta = trial & 1, tb = trial & 2;
    const int c_kind = trial % 6;  // none, scalar, [N], [M,1], [M,N], [1]
    const Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k});
    const Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n});
    const Shape cs[] = {{}, {}, {n}, {m, 1}, {m, n}, {1}};
    const Tensor c = c_kind == 0 ? Tensor() : random_tensor(cs[c_kind]);
    Attributes attrs;
    attrs.set("transA", std::int64_t{ta});
    attrs.set("transB", std::int64_t{tb});
    attrs.set("alpha", 0.5F);
    attrs.set("beta", 2.0F);
    auto want = ref_matmul(a.data<float>(), b.data<float>(), m, k, n, ta, tb);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        float cv = 0.0F;
        if (c_kind == 1 || c_kind == 5) cv = c.data<float>()[0];
        if (c_kind == 2) cv = c.data<float>()[j];
        if (c_kind == 3) cv = c.data<float>()[i];
        if (c_kind == 4) cv = c.data<float>()[i * n + j];
        auto& y = want[static_cast<std::size_t>(i * n + j)];
        y = 0.5F * y + 2.0F * cv;
      }
    expect_near(run_op("Gemm", {a, b, c}, attrs)[0], {m, n}, want);
  }
  EXPECT_THROW(run_op("Gemm", {random_tensor({2, 3}), random_tensor({4, 2})}, Attributes{}), Error);
  EXPECT_THROW(run_op("Gemm", {random_tensor({2, 3}), random_tensor({3, 2}), random_tensor({3})},
                      Attributes{}),
               Error);
}

TEST(OpsNn, MatMulBroadcastsBatchesAndVectors) {
  struct Case {
    Shape a, b, y;
  };
  const std::vector<Case> cases = {
      {{3, 4}, {4, 5}, {3, 5}},
      {{2, 3, 4}, {4, 5}, {2, 3, 5}},
      {{4}, {4, 5}, {5}},
      {{3, 4}, {4}, {3}},
      {{4}, {4}, {}},
      {{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}},
      {{1, 3, 4}, {2, 4, 6}, {2, 3, 6}},
      {{2, 2, 3, 4}, {2, 2, 4, 1}, {2, 2, 3, 1}},
      {{5}, {3, 5, 2}, {3, 2}},
  };
  for (const auto& cs : cases) {
    const Tensor a = random_tensor(cs.a), b = random_tensor(cs.b);
    Shape sa = cs.a, sb = cs.b;
    if (sa.size() == 1) sa.insert(sa.begin(), 1);
    if (sb.size() == 1) sb.push_back(1);
    const std::int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
    const std::size_t nb = std::max(sa.size(), sb.size()) - 2;
    sa.insert(sa.begin(), nb + 2 - sa.size(), 1);
    sb.insert(sb.begin(), nb + 2 - sb.size(), 1);
    std::vector<float> want;
    Shape bshape(nb);
    for (std::size_t i = 0; i < nb; ++i) bshape[i] = std::max(sa[i], sb[i]);
    for (std::int64_t t = 0; t < shape_numel(bshape); ++t) {
      std::int64_t rem = t, oa = 0, ob = 0, sta = m * k, stb = k * n;
      for (std::size_t i = nb; i-- > 0;) {
        const std::int64_t ix = rem % bshape[i];
        rem /= bshape[i];
        oa += (sa[i] == 1 ? 0 : ix) * sta;
        ob += (sb[i] == 1 ? 0 : ix) * stb;
        sta *= sa[i];
        stb *= sb[i];
      }
      auto part = ref_matmul(a.data<float>() + oa, b.data<float>() + ob, m, k, n, false, false);
      want.insert(want.end(), part.begin(), part.end());
    }
    SCOPED_TRACE(shape_to_string(cs.a) + " x " + shape_to_string(cs.b));
    expect_near(run_op("MatMul", {a, b}, Attributes{})[0], cs.y, want);
  }
  EXPECT_THROW(run_op("MatMul", {random_tensor({2, 3}), random_tensor({4, 2})}, Attributes{}),
               Error);
  EXPECT_THROW(run_op("MatMul", {random_tensor({2, 2, 3}), random_tensor({3, 3, 2})}, Attributes{}),
               Error);
}

// ---- norms

// BatchNormalization's training gradient against a double-precision reference, on channels
// whose values sit far from zero (mean 1000, spread 0.5) or whose first image is offset from
// the rest (the kernel's shift is the first image's plane mean), planes of 37 (not a multiple
// of the 16 lanes), with and without the Relu output that masks dY.
TEST(OpsNn, BatchNormTrainingGradMatchesDoubleReferenceFarFromZero) {
  const std::int64_t n = 4, c = 3, hw = 37;
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0F, 0.5F);
  Tensor x(DType::kF32, {n, c, hw}), dy(DType::kF32, {n, c, hw}), r(DType::kF32, {n, c, hw});
  const float offset[3] = {1000.0F, -50.0F, 0.0F};
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t ch = 0; ch < c; ++ch) {
      for (std::int64_t i = 0; i < hw; ++i) {
        const std::int64_t j = (b * c + ch) * hw + i;
        x.data<float>()[j] = offset[ch] + (ch == 1 && b == 0 ? 2.0F : 0.0F) + noise(rng);
        dy.data<float>()[j] = noise(rng);
        r.data<float>()[j] = noise(rng);  // about half positive
      }
    }
  }
  const Tensor scale = Tensor::from_vector<float>({c}, {0.7F, -1.3F, 2.0F});
  for (bool masked : {false, true}) {
    Graph g;
    Node node = test::make_node("bn_grad", "BatchNormTrainingGrad", {"dy", "x", "scale"},
                                {"dx", "dscale", "dbias"}, Attributes{}, "act");
    std::map<std::string, Tensor> feeds{{"dy", dy}, {"x", x}, {"scale", scale}};
    if (masked) {
      node.inputs.push_back("r");
      feeds["r"] = r;
    }
    for (const auto& [name, t] : feeds) g.add_input(ValueInfo{name});
    g.add_node(node);
    for (const char* out : {"dx", "dscale", "dbias"}) g.add_output(ValueInfo{out});
    const auto outs = Executor(g, 17).run(feeds).outputs;
    const double count = static_cast<double>(n * hw), eps = 1e-5;
    for (std::int64_t ch = 0; ch < c; ++ch) {
      auto at = [&](std::int64_t b, std::int64_t i) { return (b * c + ch) * hw + i; };
      auto grad = [&](std::int64_t j) {
        return masked && r.data<float>()[j] <= 0.0F ? 0.0 : double{dy.data<float>()[j]};
      };
      double sum = 0, sq = 0, sum_g = 0, sum_gx = 0;
      for (std::int64_t b = 0; b < n; ++b)
        for (std::int64_t i = 0; i < hw; ++i) sum += x.data<float>()[at(b, i)];
      const double mean = sum / count;
      for (std::int64_t b = 0; b < n; ++b) {
        for (std::int64_t i = 0; i < hw; ++i) {
          const double d = x.data<float>()[at(b, i)] - mean;
          sq += d * d;
          sum_g += grad(at(b, i));
          sum_gx += grad(at(b, i)) * d;
        }
      }
      const double invstd = 1.0 / std::sqrt(sq / count + eps);
      SCOPED_TRACE("channel " + std::to_string(ch) + (masked ? " masked" : ""));
      EXPECT_NEAR(outs[2].data<float>()[ch], sum_g, 1e-4 * (1.0 + std::fabs(sum_g)));
      EXPECT_NEAR(outs[1].data<float>()[ch], sum_gx * invstd,
                  2e-3 * (1.0 + std::fabs(sum_gx * invstd)));
      for (std::int64_t b = 0; b < n; ++b) {
        for (std::int64_t i = 0; i < hw; ++i) {
          const std::int64_t j = at(b, i);
          const double xhat = (x.data<float>()[j] - mean) * invstd;
          const double want = scale.data<float>()[ch] * invstd *
                              (grad(j) - sum_g / count - xhat * sum_gx * invstd / count);
          ASSERT_NEAR(outs[0].data<float>()[j], want, 2e-3 * (1.0 + std::fabs(want)))
              << "image " << b << " pixel " << i;
        }
      }
    }
  }
}

TEST(OpsNn, BatchNormInferenceAndTrainingStatistics) {
  const std::int64_t n = 2, c = 3, hw = 5;
  const Tensor x = random_tensor({n, c, hw}), scale = random_tensor({c}), bias = random_tensor({c}),
               mean = random_tensor({c});
  Tensor var = random_tensor({c});
  for (int i = 0; i < c; ++i) var.data<float>()[i] = std::fabs(var.data<float>()[i]) + 0.1F;
  Attributes a;
  a.set("epsilon", 1e-3F);
  std::vector<float> want;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t i = 0; i < hw; ++i) {
        const float xv = x.data<float>()[(b * c + ch) * hw + i];
        want.push_back((xv - mean.data<float>()[ch]) / std::sqrt(var.data<float>()[ch] + 1e-3F) *
                           scale.data<float>()[ch] +
                       bias.data<float>()[ch]);
      }
  expect_near(run_op("BatchNormalization", {x, scale, bias, mean, var}, a)[0], {n, c, hw}, want);

  a.set("training_mode", std::int64_t{1});
  a.set("momentum", 0.8F);
  const auto out = run_op("BatchNormalization", {x, scale, bias, mean, var}, a, 3);
  std::vector<float> run_mean, run_var, y(want.size());
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double s = 0, sq = 0;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t i = 0; i < hw; ++i) s += x.data<float>()[(b * c + ch) * hw + i];
    const double mu = s / (n * hw);
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t i = 0; i < hw; ++i)
        sq += std::pow(x.data<float>()[(b * c + ch) * hw + i] - mu, 2);
    const double v = sq / (n * hw);
    run_mean.push_back(static_cast<float>(mean.data<float>()[ch] * 0.8 + mu * 0.2));
    run_var.push_back(static_cast<float>(var.data<float>()[ch] * 0.8 + v * 0.2));
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t i = 0; i < hw; ++i) {
        const auto j = static_cast<std::size_t>((b * c + ch) * hw + i);
        y[j] = static_cast<float>((x.data<float>()[j] - mu) / std::sqrt(v + 1e-3) *
                                      scale.data<float>()[ch] +
                                  bias.data<float>()[ch]);
      }
  }
  expect_near(out[0], {n, c, hw}, y);
  expect_near(out[1], {c}, run_mean);
  expect_near(out[2], {c}, run_var);
  EXPECT_THROW(
      run_op("BatchNormalization", {x, scale, bias, mean, random_tensor({4})}, Attributes{}),
      Error);
}

TEST(OpsNn, LayerNormOverEveryAxisWithStatistics) {
  const Shape xs{2, 3, 4};
  const Tensor x = random_tensor(xs);
  for (std::int64_t axis = -3; axis < 3; ++axis) {
    const std::int64_t ax = axis < 0 ? axis + 3 : axis;
    const Shape inner(xs.begin() + ax, xs.end());
    const std::int64_t in_n = shape_numel(inner), outer = x.numel() / in_n;
    const Tensor scale = random_tensor(inner), bias = random_tensor(inner);
    Attributes a;
    a.set("axis", axis);
    a.set("epsilon", 1e-4F);
    const auto out = run_op("LayerNormalization", {x, scale, bias}, a, 3);
    std::vector<float> y, mean_v, inv_v;
    for (std::int64_t r = 0; r < outer; ++r) {
      const float* xr = x.data<float>() + r * in_n;
      double s = 0, sq = 0;
      for (std::int64_t i = 0; i < in_n; ++i) s += xr[i];
      const double mu = s / in_n;
      for (std::int64_t i = 0; i < in_n; ++i) sq += (xr[i] - mu) * (xr[i] - mu);
      const double inv = 1.0 / std::sqrt(sq / in_n + 1e-4);
      for (std::int64_t i = 0; i < in_n; ++i) {
        y.push_back(static_cast<float>((xr[i] - mu) * inv * scale.data<float>()[i] +
                                       bias.data<float>()[i]));
      }
      mean_v.push_back(static_cast<float>(mu));
      inv_v.push_back(static_cast<float>(inv));
    }
    Shape stat(xs.begin(), xs.begin() + ax);
    stat.resize(3, 1);
    SCOPED_TRACE("axis " + std::to_string(axis));
    expect_near(out[0], xs, y, 1e-3F);
    expect_near(out[1], stat, mean_v);
    expect_near(out[2], stat, inv_v, 1e-3F);
  }
  // Scale broadcast from a smaller shape; no bias.
  Attributes a;
  const Tensor scale = random_tensor({1});
  const auto out = run_op("LayerNormalization", {x, scale}, a);
  ASSERT_EQ(out[0].shape(), xs);
  Attributes bad;
  bad.set("axis", std::int64_t{3});
  EXPECT_THROW(run_op("LayerNormalization", {x, random_tensor({4})}, bad), Error);
  EXPECT_THROW(run_op("LayerNormalization", {x, random_tensor({5})}, Attributes{}), Error);
}

TEST(OpsNn, InstanceNormNormalizesEachPlane) {
  const Tensor x = random_tensor({2, 3, 4, 5}), scale = random_tensor({3}),
               bias = random_tensor({3});
  std::vector<float> want;
  for (std::int64_t p = 0; p < 6; ++p) {
    const float* xp = x.data<float>() + p * 20;
    double s = 0, sq = 0;
    for (int i = 0; i < 20; ++i) s += xp[i];
    const double mu = s / 20;
    for (int i = 0; i < 20; ++i) sq += (xp[i] - mu) * (xp[i] - mu);
    for (int i = 0; i < 20; ++i) {
      want.push_back(
          static_cast<float>((xp[i] - mu) / std::sqrt(sq / 20 + 1e-5) * scale.data<float>()[p % 3] +
                             bias.data<float>()[p % 3]));
    }
  }
  expect_near(run_op("InstanceNormalization", {x, scale, bias}, Attributes{})[0], x.shape(), want,
              1e-3F);
  EXPECT_THROW(run_op("InstanceNormalization", {x, random_tensor({2}), bias}, Attributes{}), Error);
}

// ---- pools

struct PoolRef {
  Shape shape;
  std::vector<float> y;
  std::vector<std::int64_t> idx;
};

PoolRef ref_pool(const Tensor& x, const Win& win, bool is_max, bool include_pad, bool ceil_mode) {
  const std::size_t r = static_cast<std::size_t>(x.rank() - 2);
  const auto in = pad3(Shape(x.shape().begin() + 2, x.shape().end()), 1);
  const auto k = pad3(win.k, 1), s = pad3(win.s, 1), d = pad3(win.d, 1), pb = pad3(win.pb, 0),
             pe = pad3(win.pe, 0);
  std::vector<std::int64_t> out(3);
  for (int i = 0; i < 3; ++i) {
    const std::int64_t span = (k[i] - 1) * d[i] + 1, padded = in[i] + pb[i] + pe[i] - span;
    out[i] = ceil_mode ? (padded + s[i] - 1) / s[i] + 1 : padded / s[i] + 1;
    if (ceil_mode && (out[i] - 1) * s[i] >= in[i] + pb[i]) --out[i];
  }
  PoolRef ref;
  ref.shape = {x.dim(0), x.dim(1)};
  for (std::size_t i = 3 - r; i < 3; ++i) ref.shape.push_back(out[i]);
  const float* xd = x.data<float>();
  const std::int64_t plane = in[0] * in[1] * in[2];
  for (std::int64_t p = 0; p < x.dim(0) * x.dim(1); ++p)
    for (std::int64_t od = 0; od < out[0]; ++od)
      for (std::int64_t oh = 0; oh < out[1]; ++oh)
        for (std::int64_t ow = 0; ow < out[2]; ++ow) {
          double acc = is_max ? -1e30 : 0.0;
          std::int64_t count = 0, best = -1;
          for (std::int64_t kd = 0; kd < k[0]; ++kd)
            for (std::int64_t kh = 0; kh < k[1]; ++kh)
              for (std::int64_t kw = 0; kw < k[2]; ++kw) {
                const std::int64_t pos[3] = {od * s[0] + kd * d[0] - pb[0],
                                             oh * s[1] + kh * d[1] - pb[1],
                                             ow * s[2] + kw * d[2] - pb[2]};
                bool inside = true, in_pad = true;
                for (int i = 0; i < 3; ++i) {
                  inside = inside && pos[i] >= 0 && pos[i] < in[i];
                  in_pad = in_pad && pos[i] >= -pb[i] && pos[i] < in[i] + pe[i];
                }
                if (include_pad ? in_pad : inside) ++count;
                if (!inside) continue;
                const std::int64_t j = (pos[0] * in[1] + pos[1]) * in[2] + pos[2];
                const float v = xd[p * plane + j];
                if (is_max) {
                  if (v > acc) acc = v, best = p * plane + j;
                } else {
                  acc += v;
                }
              }
          ref.y.push_back(static_cast<float>(is_max ? acc : acc / static_cast<double>(count)));
          ref.idx.push_back(best);
        }
  return ref;
}

TEST(OpsNn, PoolsMatchDirectLoopsOverRandomShapes) {
  for (int trial = 0; trial < 60; ++trial) {
    const int r = trial % 5 == 0 ? 1 : (trial % 7 == 0 ? 3 : 2);
    const bool is_max = trial % 2 == 0;
    const bool include_pad = !is_max && trial % 4 == 1;
    const bool ceil_mode = trial % 3 == 0;
    Win win;
    Shape xs{rand_int(1, 2), rand_int(1, 4)};
    for (int i = 0; i < r; ++i) {
      win.k.push_back(rand_int(1, 3));
      win.s.push_back(rand_int(1, 3));
      win.d.push_back(is_max ? rand_int(1, 2) : 1);
      win.pb.push_back(rand_int(0, win.k.back() - 1));
      win.pe.push_back(rand_int(0, win.k.back() - 1));
      // Some rows wide enough for several 16-lane blocks of the stride-2 max (and tails).
      const bool wide = r == 2 && i == 1 && trial % 4 == 2;
      xs.push_back(rand_int((win.k.back() - 1) * win.d.back() + 1, r == 3 ? 6 : wide ? 80 : 12));
    }
    const Tensor x = random_tensor(xs);
    Attributes a = win_attrs(win);
    if (!is_max) a.erase("dilations");
    a.set("kernel_shape", win.k);
    a.set("ceil_mode", std::int64_t{ceil_mode});
    if (!is_max) a.set("count_include_pad", std::int64_t{include_pad});
    const PoolRef ref = ref_pool(x, win, is_max, include_pad, ceil_mode);
    SCOPED_TRACE("trial " + std::to_string(trial) + " x " + shape_to_string(xs));
    const auto out = run_op(is_max ? "MaxPool" : "AveragePool", {x}, a);
    expect_near(out[0], ref.shape, ref.y);
    if (is_max) {
      const auto with_idx = run_op("MaxPool", {x}, a, 2);
      expect_near(with_idx[0], ref.shape, ref.y);
      ASSERT_EQ(with_idx[1].dtype(), DType::kI64);
      const auto idx = with_idx[1].values<std::int64_t>();
      EXPECT_EQ(std::vector<std::int64_t>(idx.begin(), idx.end()), ref.idx);
    }
  }
}

TEST(OpsNn, MaxPool3x3Stride2MatchesDirectLoops) {
  // The 3x3 stride-2 max pool of 2-D float planes has its own kernel (ResNet's stem pool):
  // padding on either side, rows of one to five 16-output blocks and tails, ceil_mode; at one
  // to three threads.
  const int saved = num_threads();
  for (int trial = 0; trial < 45; ++trial) {
    set_num_threads(1 + trial % 3);
    Win win{
        {3, 3}, {2, 2}, {1, 1}, {rand_int(0, 2), rand_int(0, 2)}, {rand_int(0, 2), rand_int(0, 2)}};
    const Shape xs{rand_int(1, 2), rand_int(1, 3), rand_int(3, 20), rand_int(3, 150)};
    const bool ceil_mode = trial % 4 == 0;
    const Tensor x = random_tensor(xs);
    Attributes a = win_attrs(win);
    a.set("kernel_shape", win.k);
    a.set("ceil_mode", std::int64_t{ceil_mode});
    const PoolRef ref = ref_pool(x, win, true, false, ceil_mode);
    SCOPED_TRACE("trial " + std::to_string(trial) + " x " + shape_to_string(xs));
    expect_near(run_op("MaxPool", {x}, a)[0], ref.shape, ref.y);
  }
  set_num_threads(saved);
}

TEST(OpsNn, PoolAutoPadAndGlobalPools) {
  const Tensor x = random_tensor({1, 2, 5, 6});
  Attributes a;
  a.set("kernel_shape", std::vector<std::int64_t>{3, 3});
  a.set("strides", std::vector<std::int64_t>{2, 2});
  a.set("auto_pad", std::string("SAME_UPPER"));
  // H: 5 -> 3, total pad 2 (1, 1); W: 6 -> 3, total pad 1 (0, 1).
  const PoolRef ref = ref_pool(x, {{3, 3}, {2, 2}, {1, 1}, {1, 0}, {1, 1}}, false, false, false);
  expect_near(run_op("AveragePool", {x}, a)[0], ref.shape, ref.y);
  a.set("auto_pad", std::string("SAME_LOWER"));
  const PoolRef low = ref_pool(x, {{3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 0}}, true, false, false);
  expect_near(run_op("MaxPool", {x}, a)[0], low.shape, low.y);

  std::vector<float> avg, mx;
  for (int p = 0; p < 2; ++p) {
    double s = 0, m = -1e30;
    for (int i = 0; i < 30; ++i)
      s += x.data<float>()[p * 30 + i], m = std::max<double>(m, x.data<float>()[p * 30 + i]);
    avg.push_back(static_cast<float>(s / 30));
    mx.push_back(static_cast<float>(m));
  }
  expect_near(run_op("GlobalAveragePool", {x}, Attributes{})[0], {1, 2, 1, 1}, avg);
  expect_near(run_op("GlobalMaxPool", {x}, Attributes{})[0], {1, 2, 1, 1}, mx);
  EXPECT_THROW(run_op("MaxPool", {x}, Attributes{}), Error);  // kernel_shape is required
  Attributes big;
  big.set("kernel_shape", std::vector<std::int64_t>{7, 7});
  EXPECT_THROW(run_op("AveragePool", {x}, big), Error);
}

// MaxPoolGrad against direct loops: each output gradient to the first maximum of its window.
// 2x2 stride-2 windows inside the input take a direct four-tap path (odd sizes leave a last
// row and column no window covers; coarse values make ties); padding and ceil_mode windows
// that leave the input take the general one.
TEST(OpsNn, MaxPoolGradSendsEachGradientToTheFirstMaximum) {
  struct Case {
    Shape x;
    std::vector<std::int64_t> kernel, strides, pads;
    std::int64_t ceil;
  };
  const std::vector<Case> cases = {
      {{2, 3, 7, 9}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 0},
      {{3, 2, 6, 8}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 0},
      {{1, 2, 5, 5}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 1},
      {{1, 2, 6, 7}, {2, 2}, {2, 2}, {1, 0, 1, 0}, 0},
      {{2, 2, 7, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 0},
  };
  for (const auto& c : cases) {
    Tensor x = random_tensor(c.x);
    float* xd = x.data<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i) xd[i] = std::round(xd[i] * 2.0F);  // ties
    Attributes a;
    a.set("kernel_shape", c.kernel);
    a.set("strides", c.strides);
    a.set("pads", c.pads);
    a.set("ceil_mode", c.ceil);
    const Tensor y = run_op("MaxPool", {x}, a)[0];
    const Tensor dy = random_tensor(y.shape());
    const std::int64_t planes = c.x[0] * c.x[1], ih = c.x[2], iw = c.x[3];
    const std::int64_t oh = y.dim(2), ow = y.dim(3);
    std::vector<float> want(static_cast<std::size_t>(x.numel()), 0.0F);
    for (std::int64_t p = 0; p < planes; ++p)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          std::int64_t best = -1;
          for (std::int64_t r = 0; r < c.kernel[0]; ++r)
            for (std::int64_t s = 0; s < c.kernel[1]; ++s) {
              const std::int64_t h = i * c.strides[0] + r - c.pads[0];
              const std::int64_t w = j * c.strides[1] + s - c.pads[1];
              if (h < 0 || w < 0 || h >= ih || w >= iw) continue;
              const std::int64_t at = (p * ih + h) * iw + w;
              if (best < 0 || xd[at] > xd[best]) best = at;
            }
          if (best >= 0)
            want[static_cast<std::size_t>(best)] += dy.data<float>()[(p * oh + i) * ow + j];
        }
    SCOPED_TRACE("x " + shape_to_string(c.x) + " ceil " + std::to_string(c.ceil));
    Graph g;
    g.add_input(ValueInfo{"dy"});
    g.add_input(ValueInfo{"x"});
    g.add_node(test::make_node("n", "MaxPoolGrad", {"dy", "x"}, {"dx"}, a, "act"));
    g.add_output(ValueInfo{"dx"});
    expect_near(Executor(g, 17).run({{"dy", dy}, {"x", x}}).outputs[0], c.x, want);
  }
}

TEST(OpsNn, MaxPoolOnU8KeepsDtype) {
  Tensor x = Tensor::from_vector<std::uint8_t>({1, 1, 2, 2}, {3, 250, 7, 1});
  Attributes a;
  a.set("kernel_shape", std::vector<std::int64_t>{2, 2});
  const auto out = run_op("MaxPool", {x}, a);
  ASSERT_EQ(out[0].dtype(), DType::kU8);
  EXPECT_EQ(out[0].values<std::uint8_t>()[0], 250);
}

// ---- shape inference

TEST(OpsNn, ShapeInferenceFollowsConvPoolGemmChain) {
  Graph g;
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kF32;
  x.has_dtype = true;
  x.has_shape = true;
  x.shape = {Dim{-1, "N"}, Dim{3}, Dim{32}, Dim{31}};
  g.add_input(x);
  g.set_initializer("w", random_tensor({8, 3, 3, 3}));
  g.set_initializer("wt", random_tensor({8, 4, 2, 2}));
  g.set_initializer("fc", random_tensor({10, 4}));
  g.set_initializer("fc2", random_tensor({1, 10}));
  auto node = [](std::string op, std::vector<std::string> in, std::string out) {
    Node n;
    n.name = out + "_node";
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    return n;
  };
  Node conv = node("Conv", {"x", "w"}, "c");
  conv.attrs.set("strides", std::vector<std::int64_t>{2, 2});
  conv.attrs.set("auto_pad", std::string("SAME_UPPER"));
  g.add_node(conv);  // [N, 8, 16, 16]
  Node pool = node("MaxPool", {"c"}, "p");
  pool.attrs.set("kernel_shape", std::vector<std::int64_t>{3, 3});
  pool.attrs.set("strides", std::vector<std::int64_t>{2, 2});
  pool.attrs.set("ceil_mode", std::int64_t{1});
  g.add_node(pool);  // [N, 8, 8, 8] (ceil of 13/2 + 1 = 8)
  Node up = node("ConvTranspose", {"p", "wt"}, "u");
  up.attrs.set("strides", std::vector<std::int64_t>{2, 2});
  g.add_node(up);                                       // [N, 4, 16, 16]
  g.add_node(node("GlobalAveragePool", {"u"}, "gap"));  // [N, 4, 1, 1]
  g.add_node(node("MatMul", {"gap", "fc"}, "mm"));      // inner 1 vs 10: mismatch
  g.add_output(ValueInfo{"result"});  // inference records value infos only for non-outputs
  EXPECT_THROW(infer_shapes(g, 17), Error);
  g.mutable_nodes().back().inputs = {"gap", "fc2"};  // [N, 4, 1, 1] x [1, 10]
  infer_shapes(g, 17);
  EXPECT_EQ(g.value_info("c")->shape_string(), "[N, 8, 16, 16]");
  EXPECT_EQ(g.value_info("p")->shape_string(), "[N, 8, 8, 8]");
  EXPECT_EQ(g.value_info("u")->shape_string(), "[N, 4, 16, 16]");
  EXPECT_EQ(g.value_info("gap")->shape_string(), "[N, 4, 1, 1]");
  EXPECT_EQ(g.value_info("mm")->shape_string(), "[N, 4, 1, 10]");
}

}  // namespace
}  // namespace act
