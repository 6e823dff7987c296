// Version of the act host and its build facts, for `act version` and run reports.
#pragma once

#include <string>

namespace act::host {

// "0.1.0"
std::string version();
// One line per component: act, ONNX, protobuf, BLAS, CUDA detection.
std::string build_info();

}  // namespace act::host
