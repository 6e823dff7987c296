// Models whose exporter listed every initializer as a graph input too (PyTorch's
// keep_initializers_as_inputs, ONNX IR 3 files such as the older Model Zoo ones). ONNX reads
// such an initializer as a default a caller may override, so ACT's passes, its trainer and
// its quantizer treat it as an input, not a weight: nothing would be trained or quantized.
// For compression the weights are what is being changed, so `act compress` and `act analyze`
// take them out of the inputs first (and raise IR 3 to 4, the first that allows it).
//
// Ownership: edits the caller's model. Threading: none.
#pragma once

#include <cstddef>

#include "act/kernel/graph.h"

namespace act::host {

// Removes every graph input that names an initializer; returns how many it removed.
std::size_t weights_out_of_inputs(Model& model);

}  // namespace act::host
