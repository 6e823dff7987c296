// Region-wise reconstruction (region_recon.h, region_finder.h): on a residual block with coarse
// 3-bit weights, the jointly learned rounding must give a smaller block output error than
// rounding to nearest and no larger one than layer-wise AdaRound's rounding (adaround.h) of the
// same layers, all three measured here on the data by our executor with the int8 codes turned
// back into weights (not through the reconstructor's own training graph). The automatic regions
// of the bundled ResNet- and plain CNN models are their blocks and layers; bad region ends are
// named.
#include "region_recon.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "act/kernel/executor.h"
#include "adaround.h"
#include "error_of.h"
#include "gram_collector.h"
#include "kernel/kernel_test_util.h"
#include "qdq_writer.h"
#include "region_finder.h"

namespace act::quant {
namespace {

constexpr std::int64_t kOpset = 17;
constexpr std::int64_t kBatch = 16, kChannels = 8, kSide = 6;

// x -> Conv 3x3 -> Relu -> Conv 3x3 -> Add(x) -> Relu -> y: one residual block.
Graph residual_block() {
  Graph g;
  g.add_input(
      {"x", DType::kF32, true, true, {{-1, "N"}, {kChannels, ""}, {kSide, ""}, {kSide, ""}}});
  Attributes conv;
  conv.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  conv.set("kernel_shape", std::vector<std::int64_t>{3, 3});
  g.set_initializer("w1", test::normal_tensor({kChannels, kChannels, 3, 3}, 11, 0.0F, 0.2F));
  g.set_initializer("w2", test::normal_tensor({kChannels, kChannels, 3, 3}, 12, 0.0F, 0.2F));
  g.add_node(test::make_node("conv1", "Conv", {"x", "w1"}, {"c1"}, conv));
  g.add_node(test::make_node("relu1", "Relu", {"c1"}, {"r1"}));
  g.add_node(test::make_node("conv2", "Conv", {"r1", "w2"}, {"c2"}, conv));
  g.add_node(test::make_node("add", "Add", {"c2", "x"}, {"a"}));
  g.add_node(test::make_node("relu2", "Relu", {"a"}, {"y"}));
  g.add_output({"y", DType::kF32, false, false, {}});
  return g;
}

// Inputs whose neighbouring pixels and channels are correlated (a few latent factors plus a
// little noise), as real activations are: there rounding to nearest is far from optimal.
Tensor correlated_images(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0F, 1.0F);
  Tensor t(DType::kF32, {kBatch, kChannels, kSide, kSide});
  std::vector<float> mix(kChannels * 2);
  std::mt19937 fixed(7);
  for (float& m : mix) m = d(fixed);
  for (std::int64_t n = 0; n < kBatch; ++n) {
    const float a = d(rng), b = d(rng);
    for (std::int64_t c = 0; c < kChannels; ++c) {
      for (std::int64_t p = 0; p < kSide * kSide; ++p) {
        const float wave = std::sin(0.7F * static_cast<float>(p) + a);
        t.data<float>()[(n * kChannels + c) * kSide * kSide + p] =
            mix[static_cast<std::size_t>(2 * c)] * wave +
            mix[static_cast<std::size_t>(2 * c + 1)] * b + 0.1F * d(rng);
      }
    }
  }
  return t;
}

// The graph with each weight in `codes` replaced by codes * scale (per output channel).
Graph dequantized(const Graph& g, const std::map<std::string, Tensor>& codes,
                  const std::map<std::string, std::vector<float>>& scales) {
  Graph q = g;
  for (const auto& [name, c] : codes) {
    Tensor w(DType::kF32, c.shape());
    const std::int64_t inner = c.numel() / c.shape()[0];
    for (std::int64_t i = 0; i < c.numel(); ++i) {
      w.data<float>()[i] = static_cast<float>(c.data<std::int8_t>()[i]) *
                           scales.at(name)[static_cast<std::size_t>(i / inner)];
    }
    q.set_initializer(name, w);
  }
  return q;
}

// Mean squared difference of y between the float block and the block with `codes`.
double block_error(const Graph& g, const std::vector<Tensor>& inputs,
                   const std::map<std::string, Tensor>& codes,
                   const std::map<std::string, std::vector<float>>& scales) {
  Executor reference(g, kOpset), quantized(dequantized(g, codes, scales), kOpset);
  double sum = 0.0;
  std::int64_t count = 0;
  for (const Tensor& x : inputs) {
    const Tensor a = reference.run(std::map<std::string, Tensor>{{"x", x}}).outputs.at(0);
    const Tensor b = quantized.run(std::map<std::string, Tensor>{{"x", x}}).outputs.at(0);
    for (std::int64_t i = 0; i < a.numel(); ++i, ++count) {
      const double d = a.data<float>()[i] - b.data<float>()[i];
      sum += d * d;
    }
  }
  return sum / static_cast<double>(count);
}

Tensor nearest_codes(const Tensor& w, const std::vector<float>& scales, int qmax) {
  Tensor c(DType::kI8, w.shape());
  const std::int64_t inner = w.numel() / w.shape()[0];
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    const float q =
        std::nearbyint(w.data<float>()[i] / scales[static_cast<std::size_t>(i / inner)]);
    c.data<std::int8_t>()[i] = static_cast<std::int8_t>(
        std::clamp(q, static_cast<float>(-qmax), static_cast<float>(qmax)));
  }
  return c;
}

TEST(RegionRecon, BeatsNearestAndLayerWiseRoundingOnAResidualBlock) {
  const Graph g = residual_block();
  const std::vector<Target> targets = select_targets(g, {"Conv"}, {}, {});
  ASSERT_EQ(targets.size(), 2U);
  const std::vector<Region> regions = find_regions(g, targets);
  ASSERT_EQ(regions.size(), 1U) << "the block is one region";
  const Region& region = regions[0];
  EXPECT_EQ(region.start, "x");
  EXPECT_EQ(region.end, "y");
  EXPECT_EQ(region.targets.size(), 2U);

  WeightOptions o;
  o.bits = 3;
  const int qmax = weight_qmax(o);
  std::map<std::string, std::vector<float>> scales;
  std::vector<RegionLayer> layers;
  for (const Target& t : targets) {
    scales[t.weight] = weight_scales(*g.initializer(t.weight), t.weight_axis, o);
    layers.push_back({t.weight, t.weight_axis, scales[t.weight], true});
  }

  // Calibration data: the block's input, the second conv's input and the block's output.
  ExecutorOptions taps;
  taps.taps = {"r1"};
  Executor float_block(g, kOpset, taps);
  std::vector<Tensor> inputs;
  std::vector<RegionBatch> batches;
  GramCollector grams(g, targets, nullptr);
  for (std::uint32_t b = 0; b < 4; ++b) {
    const Tensor x = correlated_images(100 + b);
    const RunResult r = float_block.run(std::map<std::string, Tensor>{{"x", x}});
    inputs.push_back(x);
    batches.push_back({{"x", x}, {"y", r.outputs.at(0)}});
    ASSERT_TRUE(grams.consume(b, "x", x).ok());
    ASSERT_TRUE(grams.consume(b, "r1", r.tapped.at("r1")).ok());
  }

  // Layer-wise: AdaRound per layer on the same data.
  std::map<std::string, Tensor> layerwise, nearest;
  AdaRoundOptions ao;
  ao.steps = 1000;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const Tensor& w = *g.initializer(targets[i].weight);
    layerwise[targets[i].weight] =
        adaround(w, targets[i], scales[targets[i].weight], qmax, grams.gram(i), ao).codes;
    nearest[targets[i].weight] = nearest_codes(w, scales[targets[i].weight], qmax);
  }

  RegionReconstructor recon(g, kOpset, region, layers, qmax, batches, nullptr, Profile::kOrtCpu);
  RegionReconOptions ro;
  ro.steps = 1000;
  const RegionReconResult result = recon.reconstruct(ro);

  const double e_nearest = block_error(g, inputs, nearest, scales);
  const double e_layer = block_error(g, inputs, layerwise, scales);
  const double e_region = block_error(g, inputs, result.codes, scales);
  EXPECT_LT(e_region, e_nearest) << "region-wise did not beat nearest rounding";
  EXPECT_LE(e_region, e_layer) << "region-wise is worse than layer-wise on its own region";
  // The reconstructor's own measure agrees with the executor's.
  EXPECT_NEAR(result.nearest_error, e_nearest, 1e-4 * e_nearest);
  EXPECT_NEAR(result.error, e_region, 1e-4 * e_region);
  EXPECT_NEAR(recon.error(layerwise), e_layer, 1e-4 * e_layer);
  // Every code is the floor or the ceiling of w / s.
  for (const auto& [name, c] : result.codes) {
    const Tensor& w = *g.initializer(name);
    const std::int64_t inner = w.numel() / w.shape()[0];
    for (std::int64_t i = 0; i < w.numel(); ++i) {
      const float ratio = w.data<float>()[i] / scales[name][static_cast<std::size_t>(i / inner)];
      const int code = c.data<std::int8_t>()[i];
      EXPECT_TRUE(code == static_cast<int>(std::floor(ratio)) ||
                  code == static_cast<int>(std::ceil(ratio)) || std::abs(code) == qmax)
          << name << "[" << i << "]: " << ratio << " -> " << code;
    }
  }
  std::printf("block output error: nearest %.6g, layer-wise %.6g, region-wise %.6g\n", e_nearest,
              e_layer, e_region);
}

std::size_t count_ops(const Graph& g, const Region& r, const std::string& op) {
  return static_cast<std::size_t>(std::count_if(
      r.nodes.begin(), r.nodes.end(), [&](std::size_t i) { return g.nodes()[i].op_type == op; }));
}

TEST(RegionFinder, FindsTheResidualBlocksOfTheResNetStyleModel) {
  const Model m = host::load_onnx(ACT_SOURCE_DIR "/models/fashion_resnet.onnx");
  const std::vector<Target> targets = select_targets(m.graph, {"Conv", "Gemm"}, {}, {});
  const std::vector<Region> regions = find_regions(m.graph, targets);
  // The stem, three BasicBlocks, the head.
  ASSERT_EQ(regions.size(), 5U);
  EXPECT_EQ(regions[0].targets.size(), 1U);
  EXPECT_EQ(count_ops(m.graph, regions[0], "Add"), 0U);
  for (std::size_t b = 1; b <= 3; ++b) {
    EXPECT_EQ(count_ops(m.graph, regions[b], "Add"), 1U) << "block " << b;
    EXPECT_GE(regions[b].targets.size(), 2U) << "block " << b;
    EXPECT_LE(regions[b].targets.size(), 3U) << "block " << b << " (with its 1x1 shortcut)";
    EXPECT_EQ(regions[b].start, regions[b - 1].end);
  }
  EXPECT_EQ(m.graph.nodes()[targets[regions[4].targets[0]].node].op_type, "Gemm");
  EXPECT_EQ(regions[4].end, m.graph.outputs()[0].name);
  // Every quantized layer in exactly one region.
  std::vector<std::size_t> seen;
  for (const Region& r : regions) seen.insert(seen.end(), r.targets.begin(), r.targets.end());
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
  EXPECT_EQ(seen.size(), targets.size());
}

TEST(RegionFinder, APlainCnnGivesOneRegionPerLayer) {
  const Model m = host::load_onnx(ACT_SOURCE_DIR "/models/fashion_cnn.onnx");
  const std::vector<Target> targets = select_targets(m.graph, {"Conv", "Gemm"}, {}, {});
  const std::vector<Region> regions = find_regions(m.graph, targets);
  ASSERT_EQ(regions.size(), targets.size());
  for (const Region& r : regions) {
    EXPECT_EQ(r.targets.size(), 1U);
    EXPECT_EQ(r.inputs, std::vector<std::string>{r.start}) << "a chain has one input";
  }
}

TEST(RegionFinder, BadEndsAreNamed) {
  const Graph g = residual_block();
  const std::vector<Target> targets = select_targets(g, {"Conv"}, {}, {});
  const std::string typo = error_of([&] { make_region(g, "r_1", "y", targets, "Q.regions[0]"); });
  EXPECT_NE(typo.find("Q.regions[0]: the start 'r_1' is not a tensor of the model; did you mean "
                      "'r1'?"),
            std::string::npos)
      << typo;
  const std::string reversed = error_of([&] { make_region(g, "y", "x", targets, "R"); });
  EXPECT_NE(reversed.find("R: the region from 'y' to 'x' does not exist: 'x' is not computed from "
                          "'y'"),
            std::string::npos)
      << reversed;
  const std::string empty = error_of([&] { make_region(g, "a", "y", targets, "R"); });
  EXPECT_NE(empty.find("the region from 'a' to 'y' holds no quantized layer"), std::string::npos)
      << empty;
  // A region inside the block: the second conv alone, reading the first's Relu.
  const Region inner = make_region(g, "r1", "a", targets, "R");
  EXPECT_EQ(inner.targets, std::vector<std::size_t>{1});
  EXPECT_EQ(inner.inputs, (std::vector<std::string>{"r1", "x"})) << "the skip is an input too";
}

}  // namespace
}  // namespace act::quant
