#include "bias_correction.h"

namespace act::quant {

int input_channel_axis(const Node& node) {
  if (node.op_type == "Conv") return 1;
  return -1;  // Gemm (transA = 0) and MatMul reduce over the last axis of their input
}

std::optional<std::vector<float>> output_shift(const Node& node, const Target& target,
                                               const Tensor& w, const Tensor& w_dequantized,
                                               const std::vector<double>& input_means) {
  const Shape& s = w.shape();
  const float* wf = w.data<float>();
  const float* wd = w_dequantized.data<float>();
  const auto means = static_cast<std::int64_t>(input_means.size());
  if (node.op_type == "Conv") {
    // W: [O, C / groups, k...]; output o reads the input channels of its group.
    if (s.size() < 2) return std::nullopt;
    const std::int64_t outputs = s[0], per_group = s[1];
    const std::int64_t groups = node.attrs.get_int("group", 1);
    if (groups < 1 || outputs % groups != 0 || per_group * groups != means) return std::nullopt;
    std::int64_t kernel = 1;
    for (std::size_t d = 2; d < s.size(); ++d) kernel *= s[d];
    std::vector<float> shift(static_cast<std::size_t>(outputs), 0.0F);
    for (std::int64_t o = 0; o < outputs; ++o) {
      const std::int64_t first_channel = (o / (outputs / groups)) * per_group;
      double sum = 0.0;
      for (std::int64_t c = 0; c < per_group; ++c) {
        const double mean = input_means[static_cast<std::size_t>(first_channel + c)];
        for (std::int64_t k = 0; k < kernel; ++k) {
          const std::int64_t i = (o * per_group + c) * kernel + k;
          sum += (static_cast<double>(wd[i]) - wf[i]) * mean;
        }
      }
      shift[static_cast<std::size_t>(o)] = static_cast<float>(sum);
    }
    return shift;
  }
  if (node.op_type != "Gemm" && node.op_type != "MatMul") return std::nullopt;
  if (s.size() != 2) return std::nullopt;
  if (node.op_type == "Gemm" &&
      (node.attrs.get_int("transA", 0) != 0 || node.attrs.get_float("beta", 1.0F) != 1.0F)) {
    return std::nullopt;
  }
  // W is [K, N], or [N, K] for Gemm with transB (its weight axis, the output axis, is then 0).
  const bool transposed = target.weight_axis == 0;
  const std::int64_t k_dim = transposed ? s[1] : s[0], n_dim = transposed ? s[0] : s[1];
  if (k_dim != means) return std::nullopt;
  std::vector<float> shift(static_cast<std::size_t>(n_dim), 0.0F);
  for (std::int64_t n = 0; n < n_dim; ++n) {
    double sum = 0.0;
    for (std::int64_t k = 0; k < k_dim; ++k) {
      const std::int64_t i = transposed ? n * k_dim + k : k * n_dim + n;
      sum += (static_cast<double>(wd[i]) - wf[i]) * input_means[static_cast<std::size_t>(k)];
    }
    shift[static_cast<std::size_t>(n)] = static_cast<float>(sum);
  }
  return shift;
}

}  // namespace act::quant
