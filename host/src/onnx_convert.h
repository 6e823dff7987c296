// Translation between onnx::ModelProto / TensorProto and act::Model / Tensor.
//
// Internal to act_host (tests include it through host/src). Functions are reentrant; returned
// objects own their data.
#pragma once

#include <filesystem>
#include <string>

#include "act/kernel/graph.h"
#include "act/kernel/tensor.h"
#include "onnx/onnx_pb.h"

namespace act::host::detail {

// Converts one TensorProto. `base_dir` is the folder external data locations are relative
// to (empty: external data is refused). `what` prefixes error messages (the file name).
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::filesystem::path& base_dir,
                         const std::string& what);
// Always writes raw_data (little-endian), never external data.
void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);

// `model_dir` is where external data lives; `what` prefixes error messages.
Model model_from_proto(const onnx::ModelProto& proto, const std::filesystem::path& model_dir,
                       const std::string& what);
onnx::ModelProto model_to_proto(const Model& model);

// ONNX TensorProto::DataType <-> act::DType. to_dtype returns false for types ACT lacks.
bool onnx_to_dtype(int onnx_type, DType* out);
int dtype_to_onnx(DType dtype);
// "FLOAT", "BFLOAT16", ... for messages.
std::string onnx_type_name(int onnx_type);

}  // namespace act::host::detail
