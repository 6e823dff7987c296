// Runs tests/plugins/quant/ort_check.py on a written model: ONNX Runtime's top-1 and the op
// counts of its optimized graph, as JSON. Callers skip first when onnxruntime is missing.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "compress/compress_test_util.h"

namespace act::test {

// ort_check.py's JSON for `model`; its optimized graph goes to `scratch`/ort_opt.onnx. A failed
// run is a test failure and gives "".
inline std::string ort_check(const std::string& model, const std::string& scratch) {
  const std::string json = scratch + "/ort.json";
  const std::string check = python() + " " ACT_SOURCE_DIR "/tests/plugins/quant/ort_check.py " +
                            model + " " + scratch + "/ort_opt.onnx > " + json;
  const int rc = std::system(check.c_str());
  EXPECT_EQ(rc, 0) << check;
  return rc == 0 ? read_bytes(json) : std::string();
}

}  // namespace act::test
