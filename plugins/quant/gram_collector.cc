// GCC 12 reports Eigen's own AVX-512 GEMM kernels as maybe-uninitialized when they are
// instantiated here: a false positive inside Eigen (as in adaround.cc).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "gram_collector.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "act/kernel/error.h"

namespace act::quant {

GramCollector::GramCollector(const Graph& graph, const std::vector<Target>& targets,
                             const std::map<std::string, ActivationQuant>* input_quant)
    : simulate_(input_quant != nullptr) {
  for (const Target& t : targets) {
    const Node& n = graph.nodes()[t.node];
    const Tensor& w = *graph.initializer(t.weight);
    Layer layer;
    layer.value = t.activation;
    LayerGram gram;
    if (n.op_type == "Conv") {
      ACT_CHECK(w.rank() == 4, "recon_level: '", n.name, "' is a ", w.rank() - 2,
                "-D Conv; reconstruction handles 2-D Conv, Gemm and MatMul");
      const std::string pad_mode = n.attrs.has("auto_pad") ? n.attrs.get_string("auto_pad") : "";
      ACT_CHECK(pad_mode.empty() || pad_mode == "NOTSET", "recon_level: '", n.name,
                "' uses auto_pad ", pad_mode, "; re-export the model with explicit pads");
      ConvGeometry c;
      c.kh = w.shape()[2];
      c.kw = w.shape()[3];
      const auto strides = n.attrs.get_ints("strides", {1, 1});
      const auto pads = n.attrs.get_ints("pads", {0, 0, 0, 0});
      const auto dilations = n.attrs.get_ints("dilations", {1, 1});
      c.sh = strides.at(0);
      c.sw = strides.at(1);
      c.pt = pads.at(0);
      c.pl = pads.at(1);
      c.pb = pads.at(2);
      c.pr = pads.at(3);
      c.dh = dilations.at(0);
      c.dw = dilations.at(1);
      layer.conv = c;
      gram.groups = n.attrs.get_int("group", 1);
      layer.weight_k = w.shape()[1] * c.kh * c.kw;
    } else if (n.op_type == "Gemm" || n.op_type == "MatMul") {
      ACT_CHECK(n.op_type != "Gemm" || n.attrs.get_int("transA", 0) == 0, "recon_level: '", n.name,
                "' is a Gemm with transA; reconstruction handles transA = 0");
      ACT_CHECK(w.rank() == 2, "recon_level: '", n.name, "' has a rank-", w.rank(),
                " weight; reconstruction handles 2-D weights");
      layer.weight_k = t.weight_axis == 0 ? w.shape()[1] : w.shape()[0];
    } else {
      fail("recon_level: '", n.name, "' is a ", n.op_type,
           "; reconstruction handles 2-D Conv, Gemm and MatMul");
    }
    if (input_quant != nullptr) layer.quant = input_quant->at(t.activation);
    const auto k = static_cast<Eigen::Index>(layer.weight_k);
    for (std::int64_t g = 0; g < gram.groups; ++g) {
      gram.ff.push_back(Eigen::MatrixXd::Zero(k, k));
      if (simulate_) {
        gram.qq.push_back(Eigen::MatrixXd::Zero(k, k));
        gram.qf.push_back(Eigen::MatrixXd::Zero(k, k));
      }
    }
    layers_.push_back(std::move(layer));
    grams_.push_back(std::move(gram));
  }
}

sdk::Status GramCollector::consume(std::int64_t, const char* value, const Tensor& tensor) noexcept {
  try {
    ACT_CHECK(tensor.dtype() == DType::kF32, "recon_level: '", value, "' is not f32");
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (layers_[i].value == value) add(i, tensor);
    }
    return sdk::Status::success();
  } catch (const std::exception& e) {
    error_ = e.what();
    return sdk::Status::failure(error_.c_str());
  }
}

void GramCollector::add_columns(LayerGram& g, std::size_t group, const Eigen::MatrixXf& x,
                                const std::optional<ActivationQuant>& quant) {
  g.ff[group] += (x * x.transpose()).cast<double>();
  if (!simulate_) return;
  // The input as the deployed layer sees it: QuantizeLinear then DequantizeLinear.
  const float lo = quant->is_unsigned ? 0.0F : -128.0F, hi = quant->is_unsigned ? 255.0F : 127.0F;
  const float s = quant->scale, zp = static_cast<float>(quant->zero_point);
  const Eigen::MatrixXf xq = x.unaryExpr(
      [&](float v) { return (std::clamp(std::nearbyint(v / s) + zp, lo, hi) - zp) * s; });
  g.qq[group] += (xq * xq.transpose()).cast<double>();
  g.qf[group] += (xq * x.transpose()).cast<double>();
}

void GramCollector::add(std::size_t index, const Tensor& t) {
  const Layer& layer = layers_[index];
  LayerGram& gram = grams_[index];
  const float* x = t.data<float>();
  if (!layer.conv) {
    const std::int64_t k = layer.weight_k;
    ACT_CHECK(t.rank() >= 1 && t.shape().back() == k, "recon_level: '", layer.value, "' has ",
              t.rank() >= 1 ? t.shape().back() : 0, " features, the weight expects ", k);
    const std::int64_t rows = t.numel() / k;
    const Eigen::Map<const Eigen::MatrixXf> columns(x, k, rows);  // row-major [rows, K]
    add_columns(gram, 0, columns, layer.quant);
    gram.columns += rows;
    return;
  }
  const ConvGeometry& c = *layer.conv;
  ACT_CHECK(t.rank() == 4, "recon_level: '", layer.value, "' is not NCHW");
  const std::int64_t n = t.shape()[0], channels = t.shape()[1], h = t.shape()[2], w = t.shape()[3];
  const std::int64_t per_group = channels / gram.groups;
  ACT_CHECK(per_group * c.kh * c.kw == layer.weight_k, "recon_level: '", layer.value, "' has ",
            channels, " channels, the weight expects ",
            layer.weight_k / (c.kh * c.kw) * gram.groups);
  const std::int64_t ho = (h + c.pt + c.pb - c.dh * (c.kh - 1) - 1) / c.sh + 1;
  const std::int64_t wo = (w + c.pl + c.pr - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  const std::int64_t positions = n * ho * wo;
  const std::int64_t step =
      std::max<std::int64_t>(1, (positions + kMaxColumnsPerBatch - 1) / kMaxColumnsPerBatch);
  const std::int64_t taken = (positions + step - 1) / step;
  for (std::int64_t g = 0; g < gram.groups; ++g) {
    Eigen::MatrixXf cols(layer.weight_k, taken);
    std::int64_t col = 0;
    for (std::int64_t p = 0; p < positions; p += step, ++col) {
      const std::int64_t img = p / (ho * wo), oy = (p / wo) % ho, ox = p % wo;
      std::int64_t k = 0;
      for (std::int64_t ch = 0; ch < per_group; ++ch) {
        const float* plane = x + ((img * channels) + g * per_group + ch) * h * w;
        for (std::int64_t i = 0; i < c.kh; ++i) {
          const std::int64_t y = oy * c.sh - c.pt + i * c.dh;
          for (std::int64_t j = 0; j < c.kw; ++j, ++k) {
            const std::int64_t xx = ox * c.sw - c.pl + j * c.dw;
            cols(k, col) = y >= 0 && y < h && xx >= 0 && xx < w ? plane[y * w + xx] : 0.0F;
          }
        }
      }
    }
    add_columns(gram, static_cast<std::size_t>(g), cols, layer.quant);
  }
  gram.columns += taken;
}

}  // namespace act::quant
