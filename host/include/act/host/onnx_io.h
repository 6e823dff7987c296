// ONNX model files in and out, through Debian's libonnx (its own .proto and checker).
//
// Ownership: returned Models own their tensors. Threading: functions are reentrant.
#pragma once

#include <cstdint>
#include <string>

#include "act/kernel/graph.h"
#include "act/kernel/tensor.h"

namespace act::host {

// Loads a .onnx file, including tensors stored in external data files next to it. External
// data whose location escapes the model's folder (absolute, or through "..") is refused.
// Throws act::Error naming the file and what is wrong (missing, truncated, corrupt,
// unsupported attribute kind, ...).
Model load_onnx(const std::string& path);

// The same, with the model's default-domain opset raised to at least `min_opset` by ONNX's
// version converter (no change when it is already there or min_opset is 0). Throws act::Error
// naming the file and the converter's complaint when an op cannot be converted.
struct LoadedModel {
  Model model;
  std::int64_t opset_before = 0;  // the file's default-domain opset
};
LoadedModel load_onnx(const std::string& path, std::int64_t min_opset);

// The newest default-domain opset the linked ONNX library knows.
std::int64_t newest_onnx_opset();

// Writes `model` to `path` atomically (a temporary name in the same folder, then rename), then
// checks the written file with onnx::checker. Names, opsets and metadata are preserved.
// Throws act::Error if the model fails the checker (the target is then left untouched).
void save_onnx(const Model& model, const std::string& path);

// Reads a serialized onnx.TensorProto (the input_N.pb / output_N.pb files of ONNX's backend
// tests). Throws act::Error naming the file on failure.
Tensor load_tensor_pb(const std::string& path);

}  // namespace act::host
