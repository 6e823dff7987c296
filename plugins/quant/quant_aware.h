// QuantAware: quantization-aware training with PaddleSlim ACT's keys, exported as the same
// QDQ ONNX that QuantPost writes (qdq_placement.h decides where, qdq_writer.h writes it).
//
// rewrite_graph: plans the Q/DQ placement of the float model, observes the planned activations
//   over the first kInitBatches x kInitBatchSize training samples with the configured observer
//   (so the first steps already quantize with sensible ranges), and inserts the training ops
//   of fake_quant_ops.h: a FakeQuantize on every planned value (a same-scale value such as a
//   MaxPool output reuses its source's range), a FakeQuantizeWeight on every target's weight,
//   and a QuantObserve per observed value whose output the trainer writes into the range
//   initializer after each step (Graph::set_state_update: training steps only, checkpointed).
//   Relu/Clip nodes stay; the u8-from-0 fake quant after them is what the export's absorbing Q
//   computes. With use_pact each observed value gets a trainable clip alpha (shape [1]).
// finalize: removes the training ops, restores the float value names, and writes the QDQ
//   model with the trained weights and the observed (PACT-narrowed) ranges.
//
// Keys (ACT's, with ACT's defaults): use_pact false, weight_bits 8 (2..8), activation_bits 8
// (only 8: ONNX QDQ activations are 8-bit), activation_quantize_type moving_average_abs_max
// (| abs_max | range_abs_max), weight_quantize_type channel_wise_abs_max (| abs_max),
// window_size 10000, moving_rate 0.9, quantize_op_types [conv2d, depthwise_conv2d, mul] (Paddle
// or ONNX names), not_quant_pattern [skip_quant], for_tensorrt false (true: s8 symmetric
// Q/DQ on the weighted ops only, TensorRT's rules), onnx_format true (false is refused),
// is_full_quantize false (true: every Conv, Gemm and MatMul); plus QuantPost's reduce_range
// (default: true unless for_tensorrt; 8-bit weights only; see docs/decisions.md
// "Quantization").
//
// Ownership: plain values; graph hooks edit the host's model. Threading: one hook at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "act/sdk/plugin.h"
#include "fake_quant_ops.h"
#include "qdq_placement.h"
#include "qdq_writer.h"

namespace act::quant {

class QuantAware final : public sdk::Strategy {
 public:
  static constexpr std::int64_t kInitBatches = 10;
  static constexpr std::int64_t kInitBatchSize = 32;

  void configure(const sdk::ConfigViewV1& config) override;
  void rewrite_graph(sdk::GraphEditorV1& editor) override;
  void finalize(sdk::GraphEditorV1& editor) override;
  void report(sdk::ReportWriterV1& report) override;

 private:
  // One fake-quantized activation of the training graph.
  struct FakeValue {
    std::string value;   // the planned (float-graph) name
    std::string raw;     // what the FakeQuantize reads: the renamed producer output, or the input
    std::string output;  // what the FakeQuantize writes: `value`, or a new name for an input
    bool graph_input = false;
    std::string state;  // range initializer (the source's for same-scale values)
    std::string alpha;  // PACT clip, or ""
  };

  std::string section_;
  Profile profile_ = Profile::kOrtCpu;
  Observer observer_ = Observer::kMovingAverage;
  float moving_rate_ = 0.9F;
  std::int64_t window_size_ = 10000;
  bool use_pact_ = false, per_channel_ = true, reduce_range_ = true;
  int weight_bits_ = 8;
  std::vector<std::string> onnx_types_, not_quant_patterns_;

  std::vector<FakeValue> fakes_;
  std::map<std::string, std::string> weight_fakes_;  // FakeQuantizeWeight output -> weight
  QdqSummary summary_;
  std::int64_t init_batches_ = 0;
  std::size_t quantized_values_ = 0;
};

}  // namespace act::quant
