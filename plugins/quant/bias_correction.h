// Bias correction (QuantPost's bias_correct): quantizing a weight shifts the mean of the layer's
// output by (W_q - W) E[x]; subtracting that shift from the bias restores the mean the float
// layer had on the calibration data (the correction of Nagel et al., "Data-Free Quantization",
// computed here from measured input means rather than from BatchNorm statistics). Padding is
// ignored: border outputs of a padded Conv see zeros, not the mean, so the correction is exact
// for interior outputs only.
//
// Units: as the tensors. Ownership: plain values. Threading: none.
#pragma once

#include <optional>
#include <vector>

#include "act/kernel/graph.h"
#include "quant_targets.h"

namespace act::quant {

// The mean output shift per output channel of `target` (node `node`, float weight `w`,
// dequantized weight `w_dequantized`) given its input's per-channel means, or nothing when the
// op's form has no per-channel bias to correct (MatMul weights of rank > 2, a Gemm with a
// transposed input or beta != 1, a channel count that does not match). Conv: means along axis 1
// (groups honoured); Gemm/MatMul: along the reduced axis.
std::optional<std::vector<float>> output_shift(const Node& node, const Target& target,
                                               const Tensor& w, const Tensor& w_dequantized,
                                               const std::vector<double>& input_means);

// The axis of a target's activation input along which output_shift() wants the means.
int input_channel_axis(const Node& node);

}  // namespace act::quant
