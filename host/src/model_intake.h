// How `act compress` and `act analyze` read the model they change: the file, its opset raised
// to Global.opset_version when that is set (ONNX's version converter), and its weights out of
// the graph inputs when the exporter listed them there too (PyTorch's
// keep_initializers_as_inputs, ONNX IR 3 files such as the older Model Zoo ones). ONNX reads
// such an initializer as a default a caller may override, so ACT's passes, its trainer and
// its quantizer treat it as an input, not a weight: nothing would be trained or quantized.
// For compression the weights are what is being changed, so they leave the inputs (and IR 3
// becomes 4, the first version that allows it). Each change is one line in `log`.
//
// Ownership: returns a Model that owns its tensors. Threading: none.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "act/kernel/graph.h"

namespace act::host {

// Throws act::Error naming the file when it cannot be read or converted.
Model load_model_to_compress(const std::string& path, std::int64_t opset_version, std::FILE* log);

}  // namespace act::host
