// Second moments of each quantized layer's input, for layer-wise reconstruction (adaround.h):
// a layer y = W x has output error ||W~ x~ - W x||^2 summed over the calibration data equal to
//   tr(W~ Gqq W~^T) - 2 tr(W~ Gqf W^T) + tr(W Gff W^T),
// with Gff = sum x x^T, Gqq = sum x~ x~^T and Gqf = sum x~ x^T over every column x the layer
// multiplies (one per sample for Gemm/MatMul; one im2col patch per output position and group
// for Conv), x~ being x after the input's own quantization. So the reconstruction optimizes
// against K x K matrices instead of the data: each step costs O(outputs * K^2), whatever the
// number of samples.
//
// Without `simulate` (the input's quantization ignored) only Gff is kept (x~ = x), and the
// collector can share the calibration pass.
// Conv columns are subsampled evenly to at most kMaxColumnsPerBatch per batch and group.
//
// Units: as the activations. Ownership: owns its matrices. Threading: one consume() at a time.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "act/sdk/model_data.h"
#include "qdq_writer.h"
#include "quant_targets.h"

namespace act::quant {

struct LayerGram {
  std::int64_t groups = 1;                  // Conv groups; 1 for Gemm/MatMul
  std::vector<Eigen::MatrixXd> ff, qq, qf;  // per group, K x K (qq/qf only when simulating)
  std::int64_t columns = 0;                 // columns summed (per group)
};

class GramCollector final : public sdk::ActivationSinkV1 {
 public:
  static constexpr std::int64_t kMaxColumnsPerBatch = 4096;

  // One entry per target (same order as `targets`); `input_quant` (nullptr: not simulated)
  // gives each target activation's quantization. Throws act::Error naming a node whose form
  // the reconstruction does not handle (Conv other than 2-D, auto_pad, Gemm with transA).
  GramCollector(const Graph& graph, const std::vector<Target>& targets,
                const std::map<std::string, ActivationQuant>* input_quant);

  sdk::Status consume(std::int64_t batch, const char* value,
                      const Tensor& tensor) noexcept override;

  const LayerGram& gram(std::size_t target) const { return grams_.at(target); }
  bool simulated() const { return simulate_; }

 private:
  struct ConvGeometry {
    std::int64_t kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0, dh = 1, dw = 1;
  };
  struct Layer {
    std::string value;
    std::optional<ConvGeometry> conv;
    std::optional<ActivationQuant> quant;
    std::int64_t weight_k = 0;  // K the weight expects per group
  };
  void add(std::size_t index, const Tensor& x);
  void add_columns(LayerGram& g, std::size_t group, const Eigen::MatrixXf& x,
                   const std::optional<ActivationQuant>& quant);

  std::vector<Layer> layers_;
  std::vector<LayerGram> grams_;
  bool simulate_ = false;
  std::string error_;
};

}  // namespace act::quant
